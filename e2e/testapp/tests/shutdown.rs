//! Stop behaviour: graceful drain of in-flight and idle connections, the
//! drain deadline, and apps that ignore stop signals.

mod support;

use std::net::TcpStream;
use std::thread;
use std::time::{Duration, Instant};

use support::{get, request, App};

const SECOND: Duration = Duration::from_secs(1);

#[test]
fn graceful_drain_finishes_an_in_flight_slow_request() {
    for signal in ["TERM", "INT"] {
        let mut app = App::spawn(&[("VERSION", "v1"), ("LATENCY_MS", "1500")]);
        let addr = app.listening_addr();
        let slow = thread::spawn(move || {
            let mut stream = TcpStream::connect(addr).expect("connect");
            stream
                .set_read_timeout(Some(10 * SECOND))
                .expect("set timeout");
            request(&mut stream, "/", true)
        });
        thread::sleep(Duration::from_millis(300));
        let signalled = Instant::now();
        app.signal(signal);
        app.wait_line("stopped accepting connections", 5 * SECOND);
        assert!(
            TcpStream::connect(addr).is_err(),
            "SIG{signal}: new connections must be refused while draining"
        );
        let reply = slow.join().expect("client thread").expect("slow request");
        assert_eq!(reply.status, 200);
        assert_eq!(reply.body, "v1\n");
        assert_eq!(reply.header("Connection"), Some("close"));
        let status = app.wait_exit(5 * SECOND);
        assert!(status.success(), "SIG{signal}: exit status {status}");
        assert!(
            signalled.elapsed() < 3 * SECOND,
            "SIG{signal}: exit took {:?}",
            signalled.elapsed()
        );
    }
}

#[test]
fn idle_keep_alive_connections_are_closed_by_the_drain() {
    let mut app = App::spawn(&[]);
    let addr = app.listening_addr();
    let mut idle = TcpStream::connect(addr).expect("connect");
    idle.set_read_timeout(Some(5 * SECOND)).expect("timeout");
    let reply = request(&mut idle, "/", true).expect("first request");
    assert_eq!(reply.header("Connection"), Some("keep-alive"));
    let signalled = Instant::now();
    app.signal("TERM");
    let status = app.wait_exit(5 * SECOND);
    assert!(status.success());
    assert!(
        signalled.elapsed() < SECOND,
        "an idle connection held the drain for {:?}",
        signalled.elapsed()
    );
    assert!(
        request(&mut idle, "/", true).is_err(),
        "the idle connection must be closed"
    );
}

#[test]
fn healthz_reports_draining_to_open_connections() {
    let mut app = App::spawn(&[("LATENCY_MS", "1000")]);
    let addr = app.listening_addr();
    let mut conn = TcpStream::connect(addr).expect("connect");
    conn.set_read_timeout(Some(5 * SECOND)).expect("timeout");
    assert_eq!(
        request(&mut conn, "/healthz", true).expect("ready").status,
        200
    );
    // A slow request on another connection keeps the drain going.
    let slow = thread::spawn(move || get(addr, "/"));
    thread::sleep(Duration::from_millis(200));
    app.signal("TERM");
    app.wait_line("draining", 5 * SECOND);
    // The keep-alive connection may already be closed by the drain; if it is
    // still open it must not report ready.
    if let Ok(reply) = request(&mut conn, "/healthz", true) {
        assert_eq!(reply.status, 503);
        assert_eq!(reply.body, "draining\n");
    }
    assert_eq!(slow.join().expect("thread").expect("slow").status, 200);
    assert!(app.wait_exit(5 * SECOND).success());
}

#[test]
fn drain_ms_bounds_the_wait_for_in_flight_requests() {
    let mut app = App::spawn(&[("LATENCY_MS", "10000"), ("DRAIN_MS", "300")]);
    let addr = app.listening_addr();
    let _slow = thread::spawn(move || get(addr, "/"));
    thread::sleep(Duration::from_millis(200));
    let signalled = Instant::now();
    app.signal("TERM");
    let status = app.wait_exit(5 * SECOND);
    assert!(status.success());
    let took = signalled.elapsed();
    assert!(
        took >= Duration::from_millis(300) && took < 2 * SECOND,
        "exit after {took:?}"
    );
    app.wait_line("drained in", SECOND);
}

#[test]
fn ignore_mode_keeps_serving_after_sigterm_and_sigint() {
    let mut app = App::spawn(&[("STOP_SIGNAL", "ignore"), ("VERSION", "v3")]);
    let addr = app.listening_addr();
    app.signal("TERM");
    app.signal("INT");
    app.wait_line("received SIGTERM; ignoring it", 5 * SECOND);
    thread::sleep(Duration::from_millis(300));
    assert!(
        app.child.try_wait().expect("try_wait").is_none(),
        "app exited"
    );
    let reply = get(addr, "/").expect("still serving");
    assert_eq!(reply.body, "v3\n");
    assert_eq!(get(addr, "/healthz").expect("healthz").status, 200);
    app.signal("KILL");
    assert!(!app.wait_exit(5 * SECOND).success());
}
