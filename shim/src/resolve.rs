//! Finds the app's script and its interpreter the way PM2 does
//! (`Common.prepareAppConf` and `resolveInterpreter`): the script against
//! `cwd`, then `PATH` like `which`; the interpreter from PM2's table of
//! extensions; any other existing file with node unless it looks binary.
//! Only the shim can do this: the operator never sees the image's files.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use nix::unistd::{access, AccessFlags};
use readyroll_shim_contract::INTERPRETER_NONE;

use crate::cli::AppSpec;

/// What to start: `command[0]` is a path, or a name for `posix_spawnp`.
#[derive(Debug, PartialEq)]
pub struct Launch {
    pub command: Vec<String>,
    /// Variables PM2 sets for this interpreter.
    pub env: Vec<(String, String)>,
}

/// Why nothing could be started; every path that was tried is named.
#[derive(Debug, PartialEq)]
pub struct NotFound(pub String);

/// PM2's `lib/API/interpreter.json`. Current PM2 maps `.ts`/`.tsx` to bun;
/// earlier versions mapped them to ts-node, which the shim falls back to
/// when bun is not in the image. Extensions not listed here (`.cjs`, `.mjs`, none) take
/// the "unknown extension" path, which also ends at node for text files.
fn interpreters_for(extension: &str) -> &'static [&'static str] {
    match extension {
        "js" => &["node"],
        "sh" => &["bash"],
        "py" => &["python", "python3"],
        "rb" => &["ruby"],
        "php" => &["php"],
        "pl" => &["perl"],
        "coffee" => &["coffee"],
        "ls" => &["lsc"],
        "ts" | "tsx" => &["bun", "ts-node"],
        _ => &[],
    }
}

pub fn resolve(app: &AppSpec, cwd: &Path, path: &str) -> Result<Launch, NotFound> {
    let (script, interpreter, interpreter_args, args) = match app {
        AppSpec::Command(command) => {
            return Ok(Launch {
                command: command.clone(),
                env: Vec::new(),
            })
        }
        AppSpec::Script {
            script,
            interpreter,
            interpreter_args,
            args,
        } => (script, interpreter, interpreter_args, args),
    };
    let exec_path = find_script(script, cwd, path)?;
    let interpreter = match interpreter.as_deref() {
        Some(INTERPRETER_NONE) => None,
        Some(named) => Some(find_interpreter(&[named], &exec_path, cwd, path)?),
        None => match exec_path.extension().and_then(|e| e.to_str()) {
            Some(ext) if !interpreters_for(ext).is_empty() => Some(find_interpreter(
                interpreters_for(ext),
                &exec_path,
                cwd,
                path,
            )?),
            _ if looks_binary(&exec_path) => None,
            _ => Some(find_interpreter(&["node"], &exec_path, cwd, path)?),
        },
    };
    let exec_path = exec_path.to_string_lossy().into_owned();
    let mut command = Vec::new();
    let mut env = Vec::new();
    if let Some(interpreter) = interpreter {
        if Path::new(&interpreter)
            .file_name()
            .is_some_and(|n| n.to_string_lossy().contains("python"))
        {
            env.push(("PYTHONUNBUFFERED".to_string(), "1".to_string()));
        }
        command.push(interpreter);
        command.extend(interpreter_args.iter().cloned());
    }
    command.push(exec_path);
    command.extend(args.iter().cloned());
    Ok(Launch { command, env })
}

/// PM2: `path.resolve(cwd, script)` if it exists, else `which(script)`.
fn find_script(script: &str, cwd: &Path, path: &str) -> Result<PathBuf, NotFound> {
    let in_cwd = cwd.join(script);
    if in_cwd.exists() {
        return Ok(in_cwd);
    }
    let mut tried = vec![in_cwd];
    if !script.contains('/') {
        for candidate in path_candidates(script, cwd, path) {
            if is_executable_file(&candidate) {
                return Ok(candidate);
            }
            tried.push(candidate);
        }
    }
    Err(NotFound(format!(
        "script `{script}` not found; tried {}",
        list(&tried)
    )))
}

/// The first of `names` found as an executable in PATH (or the name itself
/// when it is a path).
fn find_interpreter(
    names: &[&str],
    script: &Path,
    cwd: &Path,
    path: &str,
) -> Result<String, NotFound> {
    let mut tried = Vec::new();
    for name in names {
        let candidates = if name.contains('/') {
            vec![cwd.join(name)]
        } else {
            path_candidates(name, cwd, path)
        };
        for candidate in candidates {
            if is_executable_file(&candidate) {
                return Ok(candidate.to_string_lossy().into_owned());
            }
            tried.push(candidate);
        }
    }
    Err(NotFound(format!(
        "interpreter {} for `{}` not found; tried {}",
        names
            .iter()
            .map(|n| format!("`{n}`"))
            .collect::<Vec<_>>()
            .join(" or "),
        script.display(),
        list(&tried)
    )))
}

fn path_candidates(name: &str, cwd: &Path, path: &str) -> Vec<PathBuf> {
    // PM2's `which` searches nothing when PATH is unset or empty.
    if path.is_empty() {
        return Vec::new();
    }
    path.split(':')
        // An empty entry means the current directory, as for the shell.
        .map(|dir| cwd.join(if dir.is_empty() { "." } else { dir }).join(name))
        .collect()
}

/// `which`'s test: exists, not a directory, executable by us.
fn is_executable_file(path: &Path) -> bool {
    path.metadata().is_ok_and(|m| !m.is_dir()) && access(path, AccessFlags::X_OK).is_ok()
}

fn list(paths: &[PathBuf]) -> String {
    if paths.is_empty() {
        return "nothing (PATH is empty)".to_string();
    }
    paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// How much of a file PM2 looks at to decide.
const SNIFF_BYTES: usize = 512;

/// PM2's "is this file binary" rule (`lib/tools/isbinaryfile.js`): not a
/// regular file or empty: no. Otherwise, within the first 512 bytes, a NUL
/// byte, or more than 10 % bytes that are neither printable ASCII, nor
/// common control characters, nor part of a UTF-8 sequence, make it binary.
pub fn looks_binary(path: &Path) -> bool {
    if !path.metadata().is_ok_and(|m| m.is_file()) {
        return false;
    }
    let mut head = Vec::with_capacity(SNIFF_BYTES);
    match File::open(path) {
        Ok(file) => {
            if file
                .take(SNIFF_BYTES as u64)
                .read_to_end(&mut head)
                .is_err()
            {
                return false;
            }
        }
        Err(_) => return false,
    }
    bytes_look_binary(&head)
}

fn bytes_look_binary(head: &[u8]) -> bool {
    if head.is_empty() || head.starts_with(&[0xEF, 0xBB, 0xBF]) {
        return false;
    }
    let total = head.len();
    let continuation = |b: Option<&u8>| b.is_some_and(|b| (0x80..0xC0).contains(b));
    let mut odd = 0;
    let mut i = 0;
    while i < total {
        let b = head[i];
        if b == 0 {
            return true;
        }
        let plain = (7..=14).contains(&b) || (32..=127).contains(&b);
        if !plain {
            // A two- or three-byte UTF-8 sequence is text.
            let len = match b {
                0xC2..=0xDF if i + 1 < total => 2,
                0xE0..=0xEF if i + 2 < total => 3,
                _ => 1,
            };
            if len > 1 && (1..len).all(|k| continuation(head.get(i + k))) {
                i += len;
                continue;
            }
            odd += 1;
            if i > 32 && odd * 100 / total > 10 {
                return true;
            }
        }
        i += 1;
    }
    odd * 100 / total > 10
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::os::unix::fs::PermissionsExt;

    fn dir(name: &str) -> PathBuf {
        let d =
            std::env::temp_dir().join(format!("readyroll-resolve-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(d.join("bin")).expect("mkdir");
        d
    }

    fn file(path: &Path, text: &[u8], mode: u32) {
        fs::write(path, text).expect("write");
        fs::set_permissions(path, fs::Permissions::from_mode(mode)).expect("chmod");
    }

    fn script(name: &str) -> AppSpec {
        AppSpec::Script {
            script: name.into(),
            interpreter: None,
            interpreter_args: vec!["--x".into()],
            args: vec!["a".into()],
        }
    }

    /// A PATH with fake interpreters, so the test does not depend on the host.
    fn with_interpreters(d: &Path, names: &[&str]) -> String {
        for name in names {
            file(&d.join("bin").join(name), b"#!/bin/sh\n", 0o755);
        }
        d.join("bin").display().to_string()
    }

    fn command(d: &Path, app: &AppSpec, path: &str) -> Vec<String> {
        let root = d.display().to_string();
        resolve(app, d, path)
            .expect("resolves")
            .command
            .into_iter()
            .map(|c| c.replace(&root, "D"))
            .collect()
    }

    #[test]
    fn extensions_pick_pm2s_interpreter() {
        let d = dir("ext");
        let path = with_interpreters(
            &d,
            &["node", "bash", "python3", "ruby", "php", "perl", "bun"],
        );
        for (name, interpreter) in [
            ("app.js", "node"),
            ("run.sh", "bash"),
            ("main.py", "python3"),
            ("app.rb", "ruby"),
            ("index.php", "php"),
            ("x.pl", "perl"),
            ("api.ts", "bun"),
            ("ui.tsx", "bun"),
            ("esm.mjs", "node"),
            ("cjs.cjs", "node"),
        ] {
            file(&d.join(name), b"text\n", 0o644);
            assert_eq!(
                command(&d, &script(name), &path),
                [
                    format!("D/bin/{interpreter}"),
                    "--x".into(),
                    format!("D/{name}"),
                    "a".into()
                ],
                "{name}"
            );
        }
        let launch = resolve(&script("main.py"), &d, &path).expect("python");
        assert_eq!(launch.env, [("PYTHONUNBUFFERED".into(), "1".into())]);
    }

    #[test]
    fn ts_falls_back_to_ts_node_without_bun() {
        let d = dir("ts");
        let path = with_interpreters(&d, &["ts-node"]);
        file(&d.join("api.ts"), b"let x = 1\n", 0o644);
        assert_eq!(command(&d, &script("api.ts"), &path)[0], "D/bin/ts-node");
    }

    #[test]
    fn a_text_file_without_known_extension_runs_with_node_a_binary_runs_itself() {
        let d = dir("noext");
        let path = with_interpreters(&d, &["node"]);
        file(&d.join("server"), b"require('http')\n", 0o644);
        assert_eq!(
            command(&d, &script("server"), &path),
            ["D/bin/node", "--x", "D/server", "a"]
        );
        let mut elf = b"\x7fELF\x02\x01\x01\x00".to_vec();
        elf.resize(600, 0);
        file(&d.join("server-bin"), &elf, 0o755);
        assert_eq!(
            command(&d, &script("server-bin"), &path),
            ["D/server-bin", "a"]
        );
    }

    #[test]
    fn a_bare_command_on_path_runs_with_node_when_it_is_a_script() {
        let d = dir("npm");
        let path = with_interpreters(&d, &["node"]);
        file(
            &d.join("bin/npm"),
            b"#!/usr/bin/env node\nrequire('npm')\n",
            0o755,
        );
        assert_eq!(
            command(&d, &script("npm"), &path),
            ["D/bin/node", "--x", "D/bin/npm", "a"]
        );
    }

    #[test]
    fn interpreter_none_and_a_named_interpreter() {
        let d = dir("named");
        let path = with_interpreters(&d, &["node", "deno"]);
        file(&d.join("app.js"), b"x\n", 0o755);
        let mut app = script("app.js");
        if let AppSpec::Script { interpreter, .. } = &mut app {
            *interpreter = Some("none".into());
        }
        assert_eq!(command(&d, &app, &path), ["D/app.js", "a"]);
        if let AppSpec::Script { interpreter, .. } = &mut app {
            *interpreter = Some("deno".into());
        }
        assert_eq!(
            command(&d, &app, &path),
            ["D/bin/deno", "--x", "D/app.js", "a"]
        );
    }

    #[test]
    fn nothing_found_names_every_path_tried() {
        let d = dir("missing");
        let path = format!("{}:/nonexistent-dir", d.join("bin").display());
        let err = resolve(&script("server"), &d, &path).expect_err("missing");
        let text = err.0.replace(&d.display().to_string(), "D");
        assert_eq!(
            text,
            "script `server` not found; tried D/server, D/bin/server, /nonexistent-dir/server"
        );
        file(&d.join("app.rb"), b"puts 1\n", 0o644);
        let err = resolve(&script("app.rb"), &d, &path).expect_err("no ruby");
        assert!(err.0.contains("interpreter `ruby` for"), "{}", err.0);
        assert!(err.0.contains("/nonexistent-dir/ruby"), "{}", err.0);
    }

    #[test]
    fn an_empty_path_searches_nothing() {
        let d = dir("emptypath");
        let err = resolve(&script("tool"), &d, "").expect_err("missing");
        assert_eq!(
            err.0.replace(&d.display().to_string(), "D"),
            "script `tool` not found; tried D/tool"
        );
    }

    #[test]
    fn a_non_executable_file_on_path_does_not_count() {
        let d = dir("noexec");
        file(&d.join("bin/tool"), b"x\n", 0o644);
        let path = d.join("bin").display().to_string();
        assert!(resolve(&script("tool"), &d, &path).is_err());
    }

    #[test]
    fn binary_detection_follows_pm2() {
        assert!(!bytes_look_binary(b""));
        assert!(!bytes_look_binary(
            "const s = 'héllo wörld ✓';\n".as_bytes()
        ));
        assert!(!bytes_look_binary(b"\xEF\xBB\xBF\x01\x02\x03"));
        assert!(bytes_look_binary(b"#!/bin/sh\n\x00"));
        let mut noisy = vec![b'a'; 40];
        noisy.extend([0x80u8; 10]);
        assert!(bytes_look_binary(&noisy));
    }
}
