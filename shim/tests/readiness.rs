//! /ready follows the app: PM2's 'ready' message, the listening port, or
//! immediately; the probe server stays responsive whatever clients do.

mod common;

use std::io::Write;
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::*;
use nix::sys::signal::Signal;

const SECOND: Duration = Duration::from_secs(1);

#[test]
fn ready_message_turns_ready_from_503_into_200() {
    let shim = ShimBuilder::new("ready-message")
        .flag("--wait-ready")
        .env("READY_AFTER_MS", "800")
        .spawn();
    let first_503 = shim
        .wait_for_ready_status(503, 5 * SECOND)
        .expect("/ready answers 503 while the app starts");
    assert!(
        shim.marker_lines().iter().all(|l| !l.starts_with("sent")),
        "503 came before the message"
    );
    assert_eq!(http_get(shim.probe_port, "/live").map(|r| r.0), Some(200));

    let first_200 = shim
        .wait_for_ready_status(200, 10 * SECOND)
        .expect("/ready turns 200");
    assert!(shim.wait_for_marker("sent \"ready\"", SECOND));
    let became_ready = first_200 - shim.started;
    eprintln!(
        "first 503 after {:?}, first 200 after {became_ready:?} (app sends 'ready' 800 ms after it starts)",
        first_503 - shim.started
    );
    assert!(
        became_ready >= Duration::from_millis(800),
        "ready too early: {became_ready:?}"
    );
    assert_eq!(
        http_get(shim.probe_port, "/ready"),
        Some((200, "ready\n".to_string()))
    );
    // stderr is collected by a thread that may lag behind the probe's answer.
    assert!(shim.wait_for_stderr("app ready after", 5 * SECOND));
}

#[test]
fn app_that_never_sends_ready_stays_503_and_the_listen_timeout_is_logged() {
    let mut shim = ShimBuilder::new("never-ready")
        .flag("--wait-ready")
        .flag("--listen-timeout-ms=300")
        .spawn();
    assert!(
        shim.wait_for_stderr("app not ready after --listen-timeout-ms=300", 5 * SECOND),
        "listen-timeout message missing; stderr:\n{}",
        shim.stderr()
    );
    std::thread::sleep(SECOND / 2);
    assert_eq!(
        http_get(shim.probe_port, "/ready"),
        Some((503, "not ready\n".to_string()))
    );
    assert!(
        shim.child.try_wait().expect("try_wait").is_none(),
        "the shim must not stop the app itself"
    );
    assert_eq!(
        shim.stderr().matches("not ready after").count(),
        1,
        "logged once"
    );
}

#[test]
fn ready_on_listen_timeout_turns_ready_anyway_as_pm2_proceeds() {
    let mut shim = ShimBuilder::new("ready-anyway")
        .flag("--wait-ready")
        .flag("--listen-timeout-ms=300")
        .flag("--ready-on-listen-timeout")
        .spawn();
    assert_eq!(
        shim.wait_for_ready_status(503, 5 * SECOND).map(|_| ()),
        Some(()),
        "503 while the budget lasts"
    );
    let first_200 = shim
        .wait_for_ready_status(200, 5 * SECOND)
        .expect("/ready turns 200 once the listen timeout expires");
    assert!(
        first_200 - shim.started >= Duration::from_millis(300),
        "ready before the budget ran out"
    );
    assert!(
        shim.wait_for_stderr("/ready answers 200 anyway", 5 * SECOND),
        "stderr:\n{}",
        shim.stderr()
    );
    assert!(shim.child.try_wait().expect("try_wait").is_none());
}

#[test]
fn a_ready_object_is_not_the_ready_message() {
    // PM2 only counts the raw string 'ready'; an object is an ordinary message.
    let shim = ShimBuilder::new("ready-object")
        .flag("--wait-ready")
        .env("READY_AFTER_MS", "0")
        .env("READY_MESSAGE", r#"{"type":"process:msg","data":"ready"}"#)
        .spawn();
    assert!(shim.wait_for_marker(r#"sent {"type":"process:msg","data":"ready"}"#, 5 * SECOND));
    std::thread::sleep(SECOND / 2);
    assert_eq!(ready_status(shim.probe_port), Some(503));
}

#[test]
fn without_wait_ready_the_app_is_ready_once_its_port_listens() {
    let app_port = free_port();
    let shim = ShimBuilder::new("port")
        .flag("--port")
        .flag(&app_port.to_string())
        .env("LISTEN_PORT", &app_port.to_string())
        .env("LISTEN_AFTER_MS", "700")
        .env("READY_AFTER_MS", "0") // a 'ready' message must not count here
        .spawn();
    assert!(shim.wait_for_marker("sent \"ready\"", 5 * SECOND));
    assert!(!shim.marker_lines().contains(&"listening".to_string()));
    assert_eq!(ready_status(shim.probe_port), Some(503));

    let first_200 = shim
        .wait_for_ready_status(200, 10 * SECOND)
        .expect("ready once listening");
    assert!(
        shim.marker_lines().contains(&"listening".to_string()),
        "200 before the app listened"
    );
    let became_ready = first_200 - shim.started;
    eprintln!("ready after {became_ready:?} (app listens 700 ms after it starts)");
    assert!(became_ready >= Duration::from_millis(700));
    // stderr is collected by a thread that may lag behind the probe's answer.
    assert!(shim.wait_for_stderr(&format!("port {app_port} accepts connections"), 5 * SECOND));
}

#[test]
fn with_neither_wait_ready_nor_port_the_app_is_ready_at_once() {
    let shim = ShimBuilder::new("immediate").spawn();
    let first_200 = shim.wait_for_ready_status(200, 5 * SECOND).expect("ready");
    assert!(first_200 - shim.started < 2 * SECOND);
}

#[test]
fn slow_and_garbage_clients_do_not_block_the_probe() {
    let mut shim = ShimBuilder::new("slow-clients").spawn();
    shim.wait_started();
    assert_eq!(ready_status(shim.probe_port), Some(200));
    // Clients that connect and never finish a request, more than the server
    // keeps open at once, and some that send junk.
    let mut idle: Vec<TcpStream> = (0..40)
        .filter_map(|_| TcpStream::connect(("127.0.0.1", shim.probe_port)).ok())
        .collect();
    for stream in idle.iter_mut().take(10) {
        let _ = stream.write_all(b"\x16\x03\x01\x02\x00garbage without a newline");
    }
    let mut junk = TcpStream::connect(("127.0.0.1", shim.probe_port)).expect("connect");
    junk.write_all(b"\x00\x01\x02\r\n\r\n").expect("write junk");

    let asked = Instant::now();
    assert_eq!(http_get(shim.probe_port, "/ready").map(|r| r.0), Some(200));
    let took = asked.elapsed();
    eprintln!(
        "/ready answered in {took:?} with {} idle connections open",
        idle.len()
    );
    assert!(took < SECOND / 2, "probe blocked for {took:?}");
    assert_eq!(http_get(shim.probe_port, "/nope").map(|r| r.0), Some(404));

    // Signals are still handled promptly with all those sockets open.
    shim.signal(Signal::SIGTERM);
    assert_eq!(shell_code(shim.wait_exit(5 * SECOND)), 0);
    drop(idle);
}
