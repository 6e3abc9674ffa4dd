//! Command-line parsing. The flags themselves are the shared contract
//! (`readyroll-shim-contract`), which the operator also uses to write them;
//! this module adds `install`, `--help` and `--version`, turns the
//! contract's values into the shim's types, and keeps every error naming
//! the flag it is about.

use std::ffi::OsString;
use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use nix::sys::signal::Signal;
use readyroll_shim_contract::{
    self as contract, flag, DrainArgs, ParseError, ShimArgs, DRAIN_COMMAND,
};

use crate::signals::parse_signal;

pub const USAGE: &str = "\
usage:
  readyroll-shim install DEST
  readyroll-shim drain --min-ms N [--max-ms N] [--quiet-ms N] [--ignore-port N ...]
  readyroll-shim [FLAGS] --script SCRIPT [FLAGS] -- [ARGS...]
  readyroll-shim [FLAGS] -- COMMAND [ARGS...]

readiness:
  --port N                  ready once 127.0.0.1:N accepts connections (PM2's listening)
  --wait-ready              ready only after the app calls process.send('ready')
  --listen-timeout-ms N     startup budget; logged when exceeded (default and 0: 3000)
  --ready-on-listen-timeout ready anyway once the startup budget runs out (PM2's behaviour)
  --probe-addr ADDR         HTTP address of GET /ready and /live (default 0.0.0.0:9797)
stop:
  --stop-signal SIG         signal sent on SIGTERM (default SIGINT)
  --shutdown-with-message   send 'shutdown' over IPC instead of the stop signal
  --no-treekill             signal only the app's main process, not its tree
  --kill-timeout-ms N       stop request to SIGKILL (default and 0: 1600)
app (resolved as PM2 does):
  --script PATH             script, looked up in --cwd, then PATH
  --interpreter NAME        interpreter; empty: by extension; 'none': run the script itself
  --interpreter-arg ARG     one interpreter argument (repeatable)
  --cwd DIR                 working directory
instance:
  --instance-file PATH      file holding the instance index (e.g. a downward-API file)
  --instance-var NAME       variable set to the index (default NODE_APP_INSTANCE)
  --increment-var NAME      variable set to its own value (or 0) plus the index
memory:
  --max-memory-bytes N      graceful restart when the app's tree uses more than N bytes
  --memory-interval-ms N    sampling interval (default 30000)
  --drain-ms N              readiness off to stop signal in a memory restart (default 5000)
  --termination-log PATH    termination message file (default /dev/termination-log)
";

#[derive(Debug, PartialEq)]
pub enum Invocation {
    Install {
        dest: PathBuf,
    },
    /// The pre-stop drain (`crate::drain`).
    Drain(DrainArgs),
    Run(Box<RunConfig>),
    Help,
    Version,
}

/// What to start; resolved into a command by `resolve`.
#[derive(Debug, Clone, PartialEq)]
pub enum AppSpec {
    /// A PM2 script, found and given an interpreter as PM2 does.
    Script {
        script: String,
        interpreter: Option<String>,
        interpreter_args: Vec<String>,
        args: Vec<String>,
    },
    /// A ready-made command; never empty.
    Command(Vec<String>),
}

/// Where the instance index comes from and which variables receive it.
#[derive(Debug, Clone, PartialEq)]
pub struct InstanceConfig {
    pub file: PathBuf,
    pub var: String,
    pub increment_var: Option<String>,
}

/// PM2's `max_memory_restart`.
#[derive(Debug, Clone, PartialEq)]
pub struct MemoryConfig {
    pub max_bytes: u64,
    pub interval: Duration,
    pub drain: Duration,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RunConfig {
    pub port: Option<u16>,
    pub wait_ready: bool,
    pub listen_timeout: Duration,
    pub ready_on_listen_timeout: bool,
    pub kill_timeout: Duration,
    pub stop_signal: Signal,
    pub shutdown_with_message: bool,
    pub treekill: bool,
    pub probe_addr: SocketAddr,
    pub app: AppSpec,
    pub cwd: Option<PathBuf>,
    pub instance: Option<InstanceConfig>,
    pub memory: Option<MemoryConfig>,
    pub termination_log: PathBuf,
}

#[derive(Debug, PartialEq)]
pub struct CliError {
    /// The flag or argument the error is about, e.g. `--port`.
    pub subject: String,
    pub message: String,
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.subject, self.message)
    }
}

impl std::error::Error for CliError {}

impl From<ParseError> for CliError {
    fn from(e: ParseError) -> Self {
        CliError {
            subject: e.subject,
            message: e.message,
        }
    }
}

fn error(subject: &str, message: impl Into<String>) -> CliError {
    CliError {
        subject: subject.to_string(),
        message: message.into(),
    }
}

/// Parses the arguments after the program name.
pub fn parse(args: Vec<OsString>) -> Result<Invocation, CliError> {
    match args.first().and_then(|a| a.to_str()) {
        Some("install") => return parse_install(&args[1..]),
        Some(DRAIN_COMMAND) => return parse_drain(&args[1..]),
        Some("--help") | Some("-h") => return Ok(Invocation::Help),
        Some("--version") => return Ok(Invocation::Version),
        _ => {}
    }
    parse_run(args).map(|config| Invocation::Run(Box::new(config)))
}

fn parse_install(rest: &[OsString]) -> Result<Invocation, CliError> {
    match rest {
        [dest] if !dest.is_empty() => Ok(Invocation::Install {
            dest: PathBuf::from(dest),
        }),
        [] => Err(error("install", "missing DEST path")),
        _ => Err(error("install", "expects exactly one argument, DEST")),
    }
}

fn parse_drain(rest: &[OsString]) -> Result<Invocation, CliError> {
    let rest = utf8(rest.to_vec())?;
    Ok(Invocation::Drain(DrainArgs::parse(rest)?))
}

/// Kubernetes hands every argument over as a string; a non-UTF-8 one
/// cannot come from the operator.
fn utf8(args: Vec<OsString>) -> Result<Vec<String>, CliError> {
    args.into_iter()
        .map(|arg| {
            arg.into_string().map_err(|arg| {
                error(
                    &arg.to_string_lossy(),
                    "not valid UTF-8 (flags and the app command must be)",
                )
            })
        })
        .collect()
}

fn parse_run(args: Vec<OsString>) -> Result<RunConfig, CliError> {
    let a = ShimArgs::parse(utf8(args)?)?;
    let stop_signal = parse_signal(&a.stop_signal).ok_or_else(|| {
        error(
            flag::STOP_SIGNAL,
            format!(
                "unknown signal `{}` (use a name like SIGINT or a number)",
                a.stop_signal
            ),
        )
    })?;
    let app = match a.script {
        Some(script) => AppSpec::Script {
            script,
            interpreter: a.interpreter,
            interpreter_args: a.interpreter_args,
            args: a.args,
        },
        None if a.interpreter.is_some() || !a.interpreter_args.is_empty() => {
            return Err(error(
                flag::INTERPRETER,
                "needs --script (a plain command after `--` runs as it is)",
            ))
        }
        None => AppSpec::Command(a.args),
    };
    let instance = a.instance_file.map(|file| InstanceConfig {
        file: PathBuf::from(file),
        var: a.instance_var,
        increment_var: a.increment_var,
    });
    let memory = a.max_memory_bytes.map(|max_bytes| MemoryConfig {
        max_bytes,
        interval: Duration::from_millis(a.memory_interval_ms),
        drain: Duration::from_millis(a.drain_ms),
    });
    Ok(RunConfig {
        port: a.port,
        wait_ready: a.wait_ready,
        listen_timeout: pm2_millis(a.listen_timeout_ms, contract::DEFAULT_LISTEN_TIMEOUT_MS),
        ready_on_listen_timeout: a.ready_on_listen_timeout,
        kill_timeout: pm2_millis(a.kill_timeout_ms, contract::DEFAULT_KILL_TIMEOUT_MS),
        stop_signal,
        shutdown_with_message: a.shutdown_with_message,
        treekill: a.treekill,
        probe_addr: a.probe_addr,
        app,
        cwd: a.cwd.map(PathBuf::from),
        instance,
        memory,
        termination_log: PathBuf::from(a.termination_log),
    })
}

/// PM2 reads a timeout of 0 as its default.
fn pm2_millis(ms: u64, default: u64) -> Duration {
    Duration::from_millis(if ms == 0 { default } else { ms })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<OsString> {
        list.iter().map(OsString::from).collect()
    }

    fn run(list: &[&str]) -> RunConfig {
        match parse(args(list)) {
            Ok(Invocation::Run(config)) => *config,
            other => panic!("expected a run invocation, got {other:?}"),
        }
    }

    fn fails(list: &[&str]) -> CliError {
        match parse(args(list)) {
            Err(err) => err,
            Ok(other) => panic!("expected an error, got {other:?}"),
        }
    }

    #[test]
    fn defaults_follow_pm2() {
        let config = run(&["--", "node", "app.js"]);
        assert_eq!(config.port, None);
        assert!(!config.wait_ready);
        assert_eq!(config.listen_timeout, Duration::from_millis(3000));
        assert_eq!(config.kill_timeout, Duration::from_millis(1600));
        assert_eq!(config.stop_signal, Signal::SIGINT);
        assert!(!config.shutdown_with_message);
        assert_eq!(config.probe_addr.to_string(), "0.0.0.0:9797");
        assert!(config.treekill);
        assert_eq!(config.instance, None);
        assert_eq!(config.memory, None);
        assert_eq!(config.app, AppSpec::Command(strings(&["node", "app.js"])));
    }

    fn strings(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn zero_timeouts_mean_pm2s_defaults() {
        let config = run(&["--kill-timeout-ms=0", "--listen-timeout-ms=0", "--", "x"]);
        assert_eq!(config.kill_timeout, Duration::from_millis(1600));
        assert_eq!(config.listen_timeout, Duration::from_millis(3000));
    }

    #[test]
    fn script_instance_and_memory_settings() {
        let config = run(&[
            "--script=server",
            "--interpreter-arg=--inspect",
            "--cwd=/srv",
            "--no-treekill",
            "--instance-file=/etc/podinfo/instance",
            "--increment-var=PORT",
            "--max-memory-bytes=1000",
            "--memory-interval-ms=50",
            "--drain-ms=0",
            "--",
            "a",
        ]);
        assert_eq!(
            config.app,
            AppSpec::Script {
                script: "server".into(),
                interpreter: None,
                interpreter_args: strings(&["--inspect"]),
                args: strings(&["a"]),
            }
        );
        assert!(!config.treekill);
        assert_eq!(config.cwd, Some(PathBuf::from("/srv")));
        assert_eq!(
            config.instance,
            Some(InstanceConfig {
                file: PathBuf::from("/etc/podinfo/instance"),
                var: "NODE_APP_INSTANCE".into(),
                increment_var: Some("PORT".into()),
            })
        );
        assert_eq!(
            config.memory,
            Some(MemoryConfig {
                max_bytes: 1000,
                interval: Duration::from_millis(50),
                drain: Duration::ZERO,
            })
        );
        assert_eq!(
            config.termination_log,
            PathBuf::from("/dev/termination-log")
        );
    }

    #[test]
    fn the_operators_command_line_is_what_the_shim_reads() {
        let written = ShimArgs {
            script: Some("server".into()),
            kill_timeout_ms: 5000,
            stop_signal: "SIGTERM".into(),
            treekill: false,
            args: strings(&["--port", "3000"]),
            ..ShimArgs::default()
        };
        let config = run(&written
            .to_args()
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>());
        assert_eq!(config.kill_timeout, Duration::from_millis(5000));
        assert_eq!(config.stop_signal, Signal::SIGTERM);
        assert!(!config.treekill);
    }

    #[test]
    fn reads_every_flag_in_both_forms() {
        let config = run(&[
            "--port",
            "8080",
            "--wait-ready",
            "--listen-timeout-ms=10000",
            "--ready-on-listen-timeout",
            "--kill-timeout-ms",
            "5000",
            "--stop-signal=SIGTERM",
            "--shutdown-with-message",
            "--probe-addr",
            "127.0.0.1:1234",
            "--",
            "node",
            "--port",
            "--",
        ]);
        assert_eq!(config.port, Some(8080));
        assert!(config.wait_ready);
        assert_eq!(config.listen_timeout, Duration::from_millis(10000));
        assert!(config.ready_on_listen_timeout);
        assert_eq!(config.kill_timeout, Duration::from_millis(5000));
        assert_eq!(config.stop_signal, Signal::SIGTERM);
        assert!(config.shutdown_with_message);
        assert_eq!(config.probe_addr.to_string(), "127.0.0.1:1234");
        // Everything after the first `--` belongs to the app, flags included.
        assert_eq!(
            config.app,
            AppSpec::Command(strings(&["node", "--port", "--"]))
        );
    }

    #[test]
    fn bad_values_name_their_flag() {
        assert_eq!(fails(&["--port", "0", "--", "x"]).subject, "--port");
        assert_eq!(fails(&["--port", "70000", "--", "x"]).subject, "--port");
        assert_eq!(fails(&["--port=abc", "--", "x"]).subject, "--port");
        assert_eq!(
            fails(&["--stop-signal", "SIGNOPE", "--", "x"]).subject,
            "--stop-signal"
        );
        assert_eq!(
            fails(&["--kill-timeout-ms", "-1", "--", "x"]).subject,
            "--kill-timeout-ms"
        );
        assert_eq!(
            fails(&["--listen-timeout-ms", "1.5", "--", "x"]).subject,
            "--listen-timeout-ms"
        );
        assert_eq!(
            fails(&["--probe-addr", "localhost", "--", "x"]).subject,
            "--probe-addr"
        );
        assert_eq!(
            fails(&["--wait-ready=yes", "--", "x"]).subject,
            "--wait-ready"
        );
        assert_eq!(fails(&["--bogus", "--", "x"]).subject, "--bogus");
        assert_eq!(
            fails(&["--interpreter=python", "--", "x"]).subject,
            "--interpreter"
        );
    }

    #[test]
    fn a_flag_missing_its_value_is_reported() {
        let err = fails(&["--port", "--", "x"]);
        assert_eq!(err.subject, "--port");
        assert_eq!(err.message, "missing value");
        assert_eq!(fails(&["--port"]).subject, "--port");
    }

    #[test]
    fn the_command_must_follow_a_double_dash() {
        assert_eq!(fails(&["node", "app.js"]).subject, "node");
        assert_eq!(fails(&["--wait-ready"]).subject, "--");
        assert_eq!(fails(&["--wait-ready", "--"]).subject, "--");
        assert_eq!(fails(&[]).subject, "--");
    }

    #[test]
    fn install_takes_exactly_one_destination() {
        assert_eq!(
            parse(args(&["install", "/readyroll/bin/readyroll-shim"])),
            Ok(Invocation::Install {
                dest: PathBuf::from("/readyroll/bin/readyroll-shim")
            })
        );
        assert_eq!(fails(&["install"]).subject, "install");
        assert_eq!(fails(&["install", "a", "b"]).subject, "install");
    }

    #[test]
    fn drain_is_a_subcommand_with_its_own_flags() {
        assert_eq!(
            parse(args(&[
                "drain",
                "--min-ms=5000",
                "--max-ms=30000",
                "--ignore-port=9797"
            ])),
            Ok(Invocation::Drain(DrainArgs {
                min_ms: 5000,
                max_ms: 30_000,
                quiet_ms: contract::DEFAULT_QUIET_MS,
                ignore_ports: vec![9797],
            }))
        );
        assert_eq!(fails(&["drain"]).subject, "--min-ms");
        assert_eq!(
            fails(&["drain", "--min-ms=1", "--port=3"]).subject,
            "--port"
        );
    }

    #[test]
    fn help_and_version() {
        assert_eq!(parse(args(&["--help"])), Ok(Invocation::Help));
        assert_eq!(parse(args(&["--version"])), Ok(Invocation::Version));
    }
}
