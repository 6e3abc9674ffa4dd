use std::{
    io::{Read, Write},
    net::{Ipv4Addr, TcpListener, TcpStream},
    sync::atomic::AtomicUsize,
};

use super::*;

/// How a test server treats a connection after answering on it.
#[derive(Clone, Copy)]
enum AfterAnswer {
    /// Keep it for more requests.
    KeepOpen,
    /// Close it silently once idle, although the answer promised keep-alive: the race a
    /// reused connection can lose.
    CloseIdle,
}

/// A loopback HTTP server answering `X-Version: version` until dropped.
struct TestServer {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    connections: Arc<AtomicUsize>,
}

impl TestServer {
    fn start(version: &'static str, after: AfterAnswer) -> TestServer {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind");
        listener.set_nonblocking(true).expect("nonblocking");
        let addr = listener.local_addr().expect("addr");
        let stop = Arc::new(AtomicBool::new(false));
        let connections = Arc::new(AtomicUsize::new(0));
        let (stop_flag, count) = (Arc::clone(&stop), Arc::clone(&connections));
        thread::spawn(move || {
            while !stop_flag.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        count.fetch_add(1, Ordering::SeqCst);
                        thread::spawn(move || serve(stream, version, after));
                    }
                    Err(_) => thread::sleep(Duration::from_millis(2)),
                }
            }
            // The listener drops here: connecting is refused from now on.
        });
        TestServer {
            addr,
            stop,
            connections,
        }
    }

    fn shut_down(&self) {
        self.stop.store(true, Ordering::SeqCst);
        thread::sleep(Duration::from_millis(50));
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

fn serve(mut stream: TcpStream, version: &str, after: AfterAnswer) {
    loop {
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            match stream.read(&mut byte) {
                Ok(1) => head.push(byte[0]),
                _ => return,
            }
        }
        let close = String::from_utf8_lossy(&head).contains("Connection: close");
        let reply = format!(
            "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nX-Version: {version}\r\nX-Hostname: test\r\n\
             Connection: {}\r\n\r\n{version}\n",
            if close { "close" } else { "keep-alive" }
        );
        if stream.write_all(reply.as_bytes()).is_err() || close {
            return;
        }
        if let AfterAnswer::CloseIdle = after {
            return;
        }
    }
}

fn config(addr: SocketAddr) -> LoadConfig {
    LoadConfig {
        rate_per_worker: 100.0,
        request_timeout: Duration::from_secs(2),
        ..LoadConfig::new(addr)
    }
}

#[test]
fn both_kinds_of_client_send_until_stopped() {
    let server = TestServer::start("v1", AfterAnswer::KeepOpen);
    let load = Load::start(config(server.addr)).expect("start");
    thread::sleep(Duration::from_millis(500));
    let run = load.finish();
    let tally = run.tally();

    assert_eq!(run.ended_by, EndedBy::Stopped);
    assert_eq!(tally.failed, 0, "{tally:?}");
    assert_eq!(tally.versions_seen(), ["v1"]);
    assert_eq!(tally.hosts.keys().collect::<Vec<_>>(), ["test"]);
    // 4 workers at 100/s for 0.5 s: about 200 requests.
    assert!(
        (100..=260).contains(&tally.requests),
        "{} requests",
        tally.requests
    );
    assert!(tally.keep_alive.requests > 20 && tally.new_connection.requests > 20);
    // Keep-alive workers hold one connection each; the others open one per request.
    let connections = server.connections.load(Ordering::SeqCst) as u64;
    assert_eq!(connections, tally.new_connection.requests + 2);
    assert!(run.samples.windows(2).all(|w| w[0].at <= w[1].at));
}

#[test]
fn stops_by_itself_at_either_limit() {
    let server = TestServer::start("v1", AfterAnswer::KeepOpen);
    let run = Load::start(LoadConfig {
        max_requests: 30,
        ..config(server.addr)
    })
    .expect("start");
    let started = Instant::now();
    while !run.has_ended() && started.elapsed() < Duration::from_secs(5) {
        thread::sleep(Duration::from_millis(10));
    }
    let run = run.finish();
    assert_eq!(run.ended_by, EndedBy::RequestLimit);
    assert_eq!(run.tally().requests, 30);

    let run = Load::start(LoadConfig {
        max_duration: Duration::from_millis(200),
        ..config(server.addr)
    })
    .expect("start");
    thread::sleep(Duration::from_millis(400));
    assert!(run.has_ended());
    let run = run.finish();
    assert_eq!(run.ended_by, EndedBy::Deadline);
    assert!(run
        .samples
        .iter()
        .all(|s| s.at < Duration::from_millis(200)));
}

#[test]
fn a_reused_connection_closed_while_idle_is_retried_once_and_counted() {
    let server = TestServer::start("v2", AfterAnswer::CloseIdle);
    let load = Load::start(LoadConfig {
        new_connection_workers: 0,
        ..config(server.addr)
    })
    .expect("start");
    thread::sleep(Duration::from_millis(300));
    let tally = load.finish().tally();
    assert_eq!(tally.failed, 0, "{tally:?}");
    assert!(tally.requests > 10);
    // Every request after a worker's first finds its connection closed.
    assert!(tally.retried + 2 >= tally.requests, "{tally:?}");
}

#[test]
fn refused_connections_are_failures_in_their_window() {
    let server = TestServer::start("v1", AfterAnswer::KeepOpen);
    let load = Load::start(config(server.addr)).expect("start");
    thread::sleep(Duration::from_millis(300));
    let down_at = load.elapsed();
    server.shut_down();
    thread::sleep(Duration::from_millis(300));
    let run = load.finish();

    // A request in flight as the listener closes may fail either way; leave it out.
    let before = run.window(Duration::ZERO, down_at - Duration::from_millis(50));
    assert_eq!(before.failed, 0, "{before:?}");
    let after = run.window(down_at + Duration::from_millis(100), run.duration);
    assert!(after.new_connection.failed > 0, "{after:?}");
    assert!(after
        .failures
        .contains_key(&FailureKind::ConnectRefused.to_string()));
    assert_eq!(
        run.failures().count() as u64,
        run.tally().failed,
        "failures() lists every failed request"
    );
}

#[test]
fn refuses_targets_off_loopback_and_bad_settings() {
    let off = SocketAddr::from(([10, 0, 0, 1], 80));
    assert!(matches!(
        Load::start(LoadConfig::new(off)),
        Err(LoadError::NotLoopback(_))
    ));
    let local = SocketAddr::from(([127, 0, 0, 1], 9));
    assert!(matches!(
        Load::start(LoadConfig {
            keep_alive_workers: 0,
            new_connection_workers: 0,
            ..LoadConfig::new(local)
        }),
        Err(LoadError::NoWorkers)
    ));
    assert!(matches!(
        Load::start(LoadConfig {
            rate_per_worker: 0.0,
            ..LoadConfig::new(local)
        }),
        Err(LoadError::BadRate(_))
    ));
}
