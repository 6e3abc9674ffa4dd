//! PM2's stop contract on SIGTERM: not ready at once, the stop signal or the
//! 'shutdown' message, SIGKILL after the kill timeout; other signals forwarded.

mod common;

use std::time::{Duration, Instant};

use common::*;
use nix::sys::signal::Signal;

const SECOND: Duration = Duration::from_secs(1);

/// Starts the app and waits until it runs with its handlers installed.
fn started(builder: ShimBuilder) -> Shim {
    let shim = builder.spawn();
    shim.wait_started();
    shim
}

#[test]
fn sigterm_sends_sigint_reports_stopping_and_returns_the_app_exit_code() {
    let mut shim = started(
        ShimBuilder::new("sigterm")
            .env("ON_SIGINT", "exit:3:700")
            .flag("--kill-timeout-ms=5000"),
    );
    shim.wait_for_ready_status(200, 5 * SECOND).expect("ready");
    shim.signal(Signal::SIGTERM);
    assert!(
        shim.wait_for_marker("SIGINT", 5 * SECOND),
        "app's SIGINT handler did not run"
    );
    // The app takes 700 ms to exit; meanwhile the pod must be out of rotation.
    assert_eq!(
        http_get(shim.probe_port, "/ready"),
        Some((503, "stopping\n".to_string()))
    );
    assert_eq!(shell_code(shim.wait_exit(5 * SECOND)), 3);
}

#[test]
fn stop_signal_flag_chooses_the_signal() {
    let mut shim = started(
        ShimBuilder::new("stop-signal")
            .flag("--stop-signal")
            .flag("SIGUSR2")
            .flag("--kill-timeout-ms=500"),
    );
    shim.signal(Signal::SIGTERM);
    assert!(shim.wait_for_marker("SIGUSR2", 5 * SECOND));
    // The app only logs SIGUSR2, so the kill timeout ends it.
    assert_eq!(shell_code(shim.wait_exit(5 * SECOND)), 137);
    assert!(!shim.marker_lines().contains(&"SIGINT".to_string()));
}

#[test]
fn shutdown_with_message_reaches_process_on_message() {
    let mut shim = started(
        ShimBuilder::new("shutdown-message")
            .flag("--shutdown-with-message")
            .env("SHUTDOWN_EXIT", "4"),
    );
    shim.signal(Signal::SIGTERM);
    assert!(shim.wait_for_marker("message \"shutdown\"", 5 * SECOND));
    assert_eq!(shell_code(shim.wait_exit(5 * SECOND)), 4);
    assert!(
        !shim.marker_lines().contains(&"SIGINT".to_string()),
        "no signal when IPC works"
    );
}

#[test]
fn shutdown_with_message_falls_back_to_the_signal_when_ipc_is_closed() {
    let mut shim = started(
        ShimBuilder::new("shutdown-fallback")
            .flag("--shutdown-with-message")
            .env("DISCONNECT_IPC", "1")
            .env("ON_SIGINT", "exit:5:0"),
    );
    // Give the shim a moment to see the channel close.
    std::thread::sleep(SECOND / 2);
    shim.signal(Signal::SIGTERM);
    assert_eq!(shell_code(shim.wait_exit(5 * SECOND)), 5);
    assert!(shim.marker_lines().contains(&"SIGINT".to_string()));
    // stderr is collected by a thread that may lag behind the exit.
    assert!(shim.wait_for_stderr("IPC unavailable", 5 * SECOND));
}

#[test]
fn app_ignoring_the_stop_signal_is_killed_after_the_kill_timeout() {
    let mut shim = started(
        ShimBuilder::new("kill-timeout")
            .env("ON_SIGINT", "ignore")
            .env("SPAWN_CHILDREN", "1")
            .flag("--kill-timeout-ms=1000"),
    );
    let children = wait_for(5 * SECOND, || {
        let pids = shim.child_pids();
        (pids.len() == 2).then_some(pids)
    })
    .expect("app reported its children");
    let sent = Instant::now();
    shim.signal(Signal::SIGTERM);
    let status = shim.wait_exit(5 * SECOND);
    let took = sent.elapsed();
    eprintln!("SIGTERM to exit with --kill-timeout-ms=1000: {took:?}");
    assert!(shim.marker_lines().contains(&"SIGINT".to_string()));
    assert_eq!(shell_code(status), 137, "app killed by SIGKILL");
    assert!(took >= SECOND, "killed before the timeout: {took:?}");
    assert!(took < 2 * SECOND, "kill came too late: {took:?}");
    for pid in children {
        assert_eq!(proc_state(pid), None, "child {pid} survived the kill");
    }
}

#[test]
fn other_signals_are_forwarded_without_stopping_the_app() {
    let mut shim = started(ShimBuilder::new("forward"));
    shim.wait_for_ready_status(200, 5 * SECOND).expect("ready");
    for (signal, line) in [
        (Signal::SIGHUP, "SIGHUP"),
        (Signal::SIGUSR2, "SIGUSR2"),
        (Signal::SIGQUIT, "SIGQUIT"),
    ] {
        shim.signal(signal);
        assert!(
            shim.wait_for_marker(line, 5 * SECOND),
            "{line} not forwarded"
        );
    }
    assert_eq!(ready_status(shim.probe_port), Some(200), "still serving");
    // SIGINT is forwarded too, and the app's handler decides to exit.
    shim.signal(Signal::SIGINT);
    assert_eq!(shell_code(shim.wait_exit(5 * SECOND)), 0);
    assert!(shim.marker_lines().contains(&"SIGINT".to_string()));
}

#[test]
fn app_gets_default_dispositions_even_if_the_shim_inherited_ignored_ones() {
    // A shell's background job starts with SIGINT ignored; under PM2 or in a
    // container the app would not, so a plain `sleep` must die from SIGINT.
    let probe = format!("127.0.0.1:{}", free_port());
    let mut shim = std::process::Command::new("sh")
        .args([
            "-c",
            "trap '' INT; exec \"$0\" \"$@\"",
            &shim(),
            "--probe-addr",
            &probe,
        ])
        .args(["--kill-timeout-ms=5000", "--", "sleep", "30"])
        .spawn()
        .expect("start the shim with SIGINT ignored");
    let up = wait_for(5 * SECOND, || {
        (ready_status(probe_port(&probe)) == Some(200)).then_some(())
    });
    assert!(up.is_some(), "shim did not come up");
    let sent = Instant::now();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(shim.id() as i32),
        Signal::SIGTERM,
    )
    .expect("SIGTERM");
    let status = wait_for(10 * SECOND, || shim.try_wait().expect("try_wait")).expect("shim exits");
    assert_eq!(
        shell_code(status),
        130,
        "sleep should die from SIGINT, not be SIGKILLed"
    );
    assert!(sent.elapsed() < 2 * SECOND);
}

fn probe_port(addr: &str) -> u16 {
    addr.rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("port in address")
}

#[test]
fn a_kill_timeout_of_zero_means_pm2s_1600_ms() {
    let mut shim = started(
        ShimBuilder::new("kill-timeout-zero")
            .env("ON_SIGINT", "ignore")
            .flag("--kill-timeout-ms=0"),
    );
    let sent = Instant::now();
    shim.signal(Signal::SIGTERM);
    assert_eq!(shell_code(shim.wait_exit(5 * SECOND)), 137);
    let took = sent.elapsed();
    eprintln!("SIGTERM to exit with --kill-timeout-ms=0: {took:?}");
    assert!(took >= Duration::from_millis(1600), "killed after {took:?}");
    assert!(took < Duration::from_millis(2600), "killed after {took:?}");
}
