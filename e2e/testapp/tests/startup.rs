//! Startup behaviour: version reporting, readiness timing in each mode,
//! crashes and bad configuration.

mod support;

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::time::Duration;

use support::{free_port, get, wait_status, App};

const SECOND: Duration = Duration::from_secs(1);

#[test]
fn every_response_carries_the_version() {
    let app = App::spawn(&[("VERSION", "v7")]);
    let addr = app.listening_addr();
    for path in ["/", "/anything?x=1", "/healthz"] {
        let reply = get(addr, path).expect("request succeeds");
        assert_eq!(reply.header("X-Version"), Some("v7"), "{path}");
    }
    let reply = get(addr, "/").expect("request succeeds");
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body, "v7\n");
}

#[test]
fn port_opens_only_after_the_ready_delay() {
    let port = free_port();
    let port_text = port.to_string();
    let app = App::spawn(&[("PORT", &port_text), ("READY_DELAY_MS", "800")]);
    let addr = format!("127.0.0.1:{port}").parse().expect("address");
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        get(addr, "/healthz").is_err(),
        "port must be closed during READY_DELAY_MS"
    );
    let ready_at = wait_status(addr, "/healthz", 200, 5 * SECOND);
    let took = ready_at - app.started;
    assert!(took >= Duration::from_millis(800), "ready after {took:?}");
}

#[test]
fn listening_before_ready_answers_503_until_the_delay_passed() {
    let app = App::spawn(&[("READY_DELAY_MS", "800"), ("LISTEN_BEFORE_READY", "1")]);
    let addr = app.listening_addr();
    let early = get(addr, "/healthz").expect("port is open early");
    assert_eq!(early.status, 503);
    assert_eq!(early.body, "starting\n");
    let ready_at = wait_status(addr, "/healthz", 200, 5 * SECOND);
    let took = ready_at - app.started;
    assert!(took >= Duration::from_millis(800), "ready after {took:?}");
}

#[test]
fn file_readiness_creates_the_file_when_ready_and_removes_it_on_drain() {
    let file = std::env::temp_dir().join(format!("testapp-ready-{}", std::process::id()));
    let _ = std::fs::remove_file(&file);
    let file_text = file.to_string_lossy().into_owned();
    let mut app = App::spawn(&[
        ("READINESS", "file"),
        ("READY_FILE", &file_text),
        ("READY_DELAY_MS", "300"),
    ]);
    assert!(!file.exists(), "file must not exist before the delay");
    app.listening_addr();
    app.wait_line("ready after", 5 * SECOND);
    assert!(file.exists(), "file must exist once ready");
    app.signal("TERM");
    assert!(app.wait_exit(5 * SECOND).success());
    assert!(!file.exists(), "file must be removed by the drain");
}

/// Spawns the app with one end of a socket pair as its Node IPC channel (fd 3).
fn spawn_with_node_channel(env: &[(&str, &str)]) -> (App, UnixStream) {
    use std::os::fd::AsRawFd;
    use std::os::unix::process::CommandExt;
    let (parent, child) = UnixStream::pair().expect("socket pair");
    let child_fd = child.as_raw_fd();
    let mut env = env.to_vec();
    env.push(("NODE_CHANNEL_FD", "3"));
    let app = App::spawn_with(&env, |command| {
        // SAFETY: dup2 is async-signal-safe; it only duplicates a descriptor
        // this process owns onto fd 3 (clearing close-on-exec) in the child.
        unsafe {
            command.pre_exec(move || {
                if libc::dup2(child_fd, 3) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
    });
    drop(child);
    (app, parent)
}

#[test]
fn pm2_readiness_sends_ready_on_the_node_channel_and_obeys_shutdown() {
    let (mut app, mut channel) =
        spawn_with_node_channel(&[("READINESS", "pm2"), ("READY_DELAY_MS", "400")]);
    channel
        .set_read_timeout(Some(5 * SECOND))
        .expect("set timeout");
    let mut message = [0u8; 8];
    channel.read_exact(&mut message).expect("ready message");
    assert_eq!(&message, b"\"ready\"\n");
    let took = app.started.elapsed();
    assert!(took >= Duration::from_millis(400), "ready after {took:?}");

    channel.write_all(b"\"shutdown\"\n").expect("send shutdown");
    app.wait_line("draining (IPC message 'shutdown')", 5 * SECOND);
    assert!(app.wait_exit(5 * SECOND).success());
}

#[test]
fn pm2_readiness_without_a_channel_fails_like_node_does() {
    let mut app = App::spawn(&[("READINESS", "pm2")]);
    let status = app.wait_exit(5 * SECOND);
    assert_eq!(status.code(), Some(1));
    assert!(app.stderr().contains("NODE_CHANNEL_FD"), "{}", app.stderr());
}

#[test]
fn crash_on_start_exits_1_at_once() {
    let mut app = App::spawn(&[("CRASH_ON_START", "1")]);
    let status = app.wait_exit(2 * SECOND);
    assert_eq!(status.code(), Some(1));
    assert!(app.started.elapsed() < SECOND);
}

#[test]
fn invalid_configuration_exits_2_naming_the_variable() {
    let mut app = App::spawn(&[("LATENCY_MS", "soon")]);
    let status = app.wait_exit(2 * SECOND);
    assert_eq!(status.code(), Some(2));
    assert!(
        app.stderr().contains("LATENCY_MS=\"soon\""),
        "{}",
        app.stderr()
    );
}

#[test]
fn allocate_mb_makes_the_memory_resident() {
    let app = App::spawn(&[("ALLOCATE_MB", "64")]);
    app.wait_line("allocated 64 MiB", 10 * SECOND);
    let status =
        std::fs::read_to_string(format!("/proc/{}/status", app.child.id())).expect("proc status");
    let rss_kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS line");
    assert!(rss_kib >= 64 * 1024, "VmRSS {rss_kib} kB");
}
