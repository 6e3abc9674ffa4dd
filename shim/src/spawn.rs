//! Starting the app the way PM2 (through libuv) would: its own process group,
//! an empty signal mask and every signal at its default disposition, plus the
//! IPC channel descriptor and its environment variables.
//!
//! `posix_spawnp` does all of that in the child without any code of ours
//! running between fork and exec. The standard library's `Command` is not
//! enough: the child would inherit the shim's blocked signals (the app would
//! never see SIGINT) and any signal ignored by whoever started the shim.

use std::ffi::{CString, OsStr};
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStringExt;

use nix::errno::Errno;
use nix::spawn::{posix_spawnp, PosixSpawnAttr, PosixSpawnFileActions, PosixSpawnFlags};
use nix::sys::signal::SigSet;
use nix::unistd::Pid;

use crate::ipc::IpcChannel;

/// A failure before the app runs, with the exit status to report.
pub struct StartError {
    pub exit_code: i32,
    pub message: String,
}

/// Starts `command` (looked up in PATH when it has no `/`) with `extra_env`
/// added to the environment and returns its pid, which is also its process
/// group id.
pub fn spawn_app(
    command: &[String],
    extra_env: &[(String, String)],
    app_end: &OwnedFd,
) -> Result<Pid, StartError> {
    let Some(program) = command.first() else {
        return Err(StartError {
            exit_code: 2,
            message: "missing app command".to_string(),
        });
    };
    let args = command
        .iter()
        .map(|arg| c_string(arg.as_bytes()))
        .collect::<Result<Vec<_>, _>>()?;
    let mut set: Vec<(String, String)> = IpcChannel::child_env(app_end)
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
    set.extend(extra_env.iter().cloned());
    let env = app_environment(&set)?;
    let attr = spawn_attributes().map_err(|e| StartError {
        exit_code: 1,
        message: format!("cannot prepare to start the app: {e}"),
    })?;
    let no_file_actions = PosixSpawnFileActions::init().map_err(|e| StartError {
        exit_code: 1,
        message: format!("cannot prepare to start the app: {e}"),
    })?;
    posix_spawnp(&args[0], &no_file_actions, &attr, &args, &env).map_err(|errno| {
        let (exit_code, problem) = match errno {
            // The shell's conventions: 127 not found, 126 found but not runnable.
            Errno::ENOENT | Errno::ENOTDIR => (127, "command not found"),
            Errno::EACCES | Errno::EPERM => (126, "permission denied"),
            _ => (126, "cannot execute"),
        };
        StartError {
            exit_code,
            message: format!("cannot run `{program}`: {problem} ({})", errno.desc()),
        }
    })
}

fn spawn_attributes() -> nix::Result<PosixSpawnAttr> {
    let mut attr = PosixSpawnAttr::init()?;
    // Own process group (pgid = the app's pid), so the group can be
    // signalled as a whole and a terminal's Ctrl-C reaches only the shim.
    attr.set_pgroup(Pid::from_raw(0))?;
    attr.set_sigmask(&SigSet::empty())?;
    attr.set_sigdefault(&SigSet::all())?;
    attr.set_flags(
        PosixSpawnFlags::POSIX_SPAWN_SETPGROUP
            | PosixSpawnFlags::POSIX_SPAWN_SETSIGMASK
            | PosixSpawnFlags::POSIX_SPAWN_SETSIGDEF,
    )?;
    Ok(attr)
}

/// The shim's environment with `set` added (replacing any variable of the
/// same name the shim itself inherited; a later entry of `set` wins).
fn app_environment(set: &[(String, String)]) -> Result<Vec<CString>, StartError> {
    let mut env = Vec::new();
    for (key, value) in std::env::vars_os() {
        if set.iter().any(|(name, _)| OsStr::new(name) == key) {
            continue;
        }
        let mut entry = key.into_vec();
        entry.push(b'=');
        entry.extend(value.into_vec());
        env.push(c_string(&entry)?);
    }
    for (i, (key, value)) in set.iter().enumerate() {
        if set[i + 1..].iter().any(|(later, _)| later == key) {
            continue;
        }
        env.push(c_string(format!("{key}={value}").as_bytes())?);
    }
    Ok(env)
}

fn c_string(bytes: &[u8]) -> Result<CString, StartError> {
    // Arguments and environment entries from the kernel never contain NUL.
    CString::new(bytes).map_err(|_| StartError {
        exit_code: 2,
        message: format!("`{}` contains a NUL byte", String::from_utf8_lossy(bytes)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environment_carries_the_ipc_variables_once() {
        let env = app_environment(&[
            ("NODE_CHANNEL_FD".to_string(), "7".to_string()),
            (
                "NODE_CHANNEL_SERIALIZATION_MODE".to_string(),
                "json".to_string(),
            ),
            ("NODE_APP_INSTANCE".to_string(), "1".to_string()),
            ("NODE_APP_INSTANCE".to_string(), "2".to_string()),
        ])
        .ok()
        .expect("environment");
        let entries: Vec<_> = env
            .iter()
            .map(|e| e.to_string_lossy().into_owned())
            .collect();
        let fd_entries: Vec<_> = entries
            .iter()
            .filter(|e| e.starts_with("NODE_CHANNEL_FD="))
            .collect();
        assert_eq!(fd_entries, ["NODE_CHANNEL_FD=7"]);
        assert!(entries.contains(&"NODE_CHANNEL_SERIALIZATION_MODE=json".to_string()));
        let instance: Vec<_> = entries
            .iter()
            .filter(|e| e.starts_with("NODE_APP_INSTANCE="))
            .collect();
        assert_eq!(instance, ["NODE_APP_INSTANCE=2"], "the later entry wins");
        assert!(
            entries.iter().any(|e| e.starts_with("PATH=")),
            "inherits the rest"
        );
    }
}
