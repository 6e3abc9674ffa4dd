//! Exit statuses, start failures, flag errors and `install`, through the real
//! binary.

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use common::*;

const SECOND: Duration = Duration::from_secs(1);

fn run_shim(args: &[&str]) -> (Output, Duration) {
    let probe = format!("127.0.0.1:{}", free_port());
    let started = Instant::now();
    let output = Command::new(shim())
        .args(["--probe-addr", &probe])
        .args(args)
        .output()
        .expect("run the shim");
    (output, started.elapsed())
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn app_exit_code_propagates() {
    let mut shim = ShimBuilder::new("exit-3")
        .env("EXIT_AFTER_MS", "0")
        .env("EXIT_CODE", "3")
        .spawn();
    assert_eq!(shell_code(shim.wait_exit(10 * SECOND)), 3);
}

#[test]
fn app_killed_by_a_signal_gives_128_plus_the_signal() {
    for (signal, code) in [("SIGKILL", 137), ("SIGTERM", 143)] {
        let mut shim = ShimBuilder::new(&format!("killed-{signal}"))
            .env("KILL_SELF", signal)
            .spawn();
        assert_eq!(shell_code(shim.wait_exit(10 * SECOND)), code, "{signal}");
    }
}

#[test]
fn command_not_found_exits_127_quickly() {
    let (output, took) = run_shim(&["--", "readyroll-no-such-command", "arg"]);
    assert_eq!(output.status.code(), Some(127));
    assert!(took < SECOND, "took {took:?}");
    let text = stderr(&output);
    assert!(
        text.contains("`readyroll-no-such-command`: command not found"),
        "{text}"
    );
}

#[test]
fn command_that_is_not_executable_exits_126() {
    let dir = scratch_dir("not-executable");
    let script = dir.join("script.sh");
    fs::write(&script, "#!/bin/sh\nexit 0\n").expect("write script");
    fs::set_permissions(&script, fs::Permissions::from_mode(0o644)).expect("chmod");
    let (output, _) = run_shim(&["--", script.to_str().expect("utf8 path")]);
    assert_eq!(output.status.code(), Some(126));
    assert!(
        stderr(&output).contains("permission denied"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn command_is_found_on_path_and_gets_its_arguments() {
    let (output, _) = run_shim(&["--", "sh", "-c", "exit $1", "sh", "9"]);
    assert_eq!(output.status.code(), Some(9));
}

#[test]
fn bad_flags_exit_2_and_name_the_flag() {
    for (args, named) in [
        (&["--port", "0", "--", "true"][..], "--port"),
        (&["--port", "65536", "--", "true"][..], "--port"),
        (
            &["--stop-signal", "SIGBOGUS", "--", "true"][..],
            "--stop-signal",
        ),
        (
            &["--kill-timeout-ms", "soon", "--", "true"][..],
            "--kill-timeout-ms",
        ),
        (&["--unknown", "--", "true"][..], "--unknown"),
        (&["true"][..], "true"),
        (&["--wait-ready"][..], "--"),
        (&["--wait-ready", "--"][..], "--"),
    ] {
        let (output, _) = run_shim(args);
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        let text = stderr(&output);
        assert!(
            text.starts_with(&format!("readyroll-shim: {named}: ")),
            "{args:?}: {text}"
        );
    }
}

#[test]
fn probe_address_in_use_fails_before_starting_the_app() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = taken.local_addr().expect("addr").to_string();
    let dir = scratch_dir("probe-in-use");
    let marker = dir.join("marker");
    let output = Command::new(shim())
        .args([
            "--probe-addr",
            &addr,
            "--",
            "sh",
            "-c",
            "touch \"$0\"",
            marker.to_str().expect("utf8"),
        ])
        .output()
        .expect("run the shim");
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains(&format!("--probe-addr {addr}: cannot listen")),
        "{}",
        stderr(&output)
    );
    assert!(
        !marker.exists(),
        "the app must not start without its probe endpoint"
    );
}

#[test]
fn install_copies_the_binary_atomically_with_mode_0755() {
    let dir = scratch_dir("install");
    let dest = dir.join("readyroll/bin/readyroll-shim");
    let output = Command::new(shim())
        .args(["install", dest.to_str().expect("utf8")])
        .output()
        .expect("run install");
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(
        fs::read(&dest).expect("read copy"),
        fs::read(shim()).expect("read shim")
    );
    let mode = fs::metadata(&dest).expect("stat").permissions().mode();
    assert_eq!(mode & 0o777, 0o755);
    let version = Command::new(&dest)
        .arg("--version")
        .output()
        .expect("run the copy");
    assert_eq!(
        String::from_utf8_lossy(&version.stdout).trim(),
        format!("readyroll-shim {}", env!("CARGO_PKG_VERSION"))
    );
    let entries: Vec<_> = fs::read_dir(dest.parent().expect("parent"))
        .expect("ls")
        .flatten()
        .collect();
    assert_eq!(entries.len(), 1, "no temporary file left");
}

#[test]
fn install_failure_names_the_path() {
    let dir = scratch_dir("install-fail");
    let blocker = dir.join("file");
    fs::write(&blocker, "not a directory").expect("write");
    let dest = blocker.join("readyroll-shim");
    let output = Command::new(shim())
        .args(["install", dest.to_str().expect("utf8")])
        .output()
        .expect("run install");
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains(blocker.to_str().expect("utf8")),
        "{}",
        stderr(&output)
    );
}
