use std::collections::VecDeque;
use std::net::TcpListener;
use std::time::Duration;

use readyroll_shim_contract::DrainArgs;

use super::sockets::parse_inbound;
use super::*;

const HEADER: &str = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n";

fn table(rows: &[(&str, &str, &str)]) -> String {
    let mut text = HEADER.to_string();
    for (i, (local, remote, state)) in rows.iter().enumerate() {
        text.push_str(&format!(
            "   {i}: {local} {remote} {state} 00000000:00000000 00:00000000 00000000  1000        0 {i} 1 0000000000000000 20 4 30 10 -1\n"
        ));
    }
    text
}

fn args(min_ms: u64, max_ms: u64) -> DrainArgs {
    DrainArgs {
        min_ms,
        max_ms,
        quiet_ms: 1000,
        ignore_ports: vec![9797],
    }
}

#[test]
fn only_connections_to_listening_ports_count_and_probes_do_not() {
    let tcp = table(&[
        ("00000000:0BB8", "00000000:0000", "0A"), // app listens on 3000
        ("00000000:2645", "00000000:0000", "0A"), // shim probes on 9797
        ("0A000005:0BB8", "0A000001:A1B2", "01"), // load on 3000
        ("0A000005:0BB8", "0A000001:A1B3", "06"), // load, in TIME_WAIT
        ("0A000005:2645", "0A000001:C000", "01"), // kubelet probe
        ("0A000005:D431", "0A000009:1F90", "01"), // the app's own outbound call
    ]);
    let tcp6 = table(&[(
        "0000000000000000FFFF00000500000A:0BB8",
        "0000000000000000FFFF00000100000A:B000",
        "01",
    )]);
    let found = parse_inbound(&[tcp, tcp6], &[9797]);
    let remotes: Vec<&str> = found.iter().map(|c| c.remote.as_str()).collect();
    assert_eq!(
        remotes,
        [
            "0A000001:A1B2",
            "0A000001:A1B3",
            "0000000000000000FFFF00000100000A:B000"
        ]
    );
}

#[test]
fn malformed_lines_are_skipped() {
    let text = format!("{HEADER}garbage\n   1: 00000000:ZZZZ 00000000:0000 0A\n");
    assert!(parse_inbound(&[text], &[]).is_empty());
}

#[test]
fn reads_this_process_own_connection() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let _client = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    let (_server, _) = listener.accept().expect("accept");
    let found = inbound_connections(&["/proc/net/tcp", "/proc/net/tcp6"], &[]).expect("read");
    let wanted = format!(":{port:04X}");
    assert!(
        found.iter().any(|c| c.local.ends_with(&wanted)),
        "no inbound connection on port {port} in {found:?}"
    );
    let ignored = inbound_connections(&["/proc/net/tcp"], &[port]).expect("read");
    assert!(!ignored.iter().any(|c| c.local.ends_with(&wanted)));
}

#[test]
fn ends_at_min_when_quiet_after_quiet_time_and_always_at_max() {
    let a = args(5000, 30_000);
    let s = Duration::from_secs_f64;
    assert!(!may_end(&a, s(4.9), None));
    assert!(may_end(&a, s(5.0), None));
    assert!(may_end(&a, s(5.0), Some(s(3.9))), "quiet since 3.9 s");
    assert!(!may_end(&a, s(5.0), Some(s(4.5))), "a connection 0.5 s ago");
    assert!(may_end(&a, s(5.5), Some(s(4.5))));
    assert!(!may_end(&a, s(29.0), Some(s(28.5))));
    assert!(may_end(&a, s(30.0), Some(s(29.9))), "the maximum wins");
}

/// Connections keep arriving for a while (each read adds one), then stop.
struct Arriving {
    reads: VecDeque<Vec<Connection>>,
    last: Vec<Connection>,
}

impl Sockets for Arriving {
    fn read(&mut self) -> Option<Vec<Connection>> {
        if let Some(next) = self.reads.pop_front() {
            self.last = next;
        }
        Some(self.last.clone())
    }
}

fn arriving(count: usize) -> Arriving {
    let conn = |i: usize| Connection {
        local: "0A000005:0BB8".into(),
        remote: format!("0A000001:{i:04X}"),
    };
    Arriving {
        reads: (0..count).map(|n| (0..=n).map(conn).collect()).collect(),
        last: Vec::new(),
    }
}

#[test]
fn extends_while_connections_arrive_then_ends_after_the_quiet_time() {
    // 12 reads with a new connection each (about 0.6 s at 50 ms a read),
    // against a minimum of 0.2 s and a quiet time of 0.3 s.
    let a = DrainArgs {
        min_ms: 200,
        max_ms: 5000,
        quiet_ms: 300,
        ignore_ports: vec![],
    };
    let outcome = drain(&a, &mut arriving(12));
    assert_eq!(
        outcome.new_connections, 11,
        "the first read is the baseline"
    );
    let last = outcome.last_new.expect("connections were seen");
    assert!(last >= Duration::from_millis(500), "{outcome:?}");
    assert!(
        outcome.elapsed >= last + Duration::from_millis(300),
        "{outcome:?}"
    );
    assert!(!outcome.hit_max);
}

#[test]
fn stops_at_the_maximum_when_connections_never_stop() {
    let a = DrainArgs {
        min_ms: 100,
        max_ms: 400,
        quiet_ms: 300,
        ignore_ports: vec![],
    };
    let outcome = drain(&a, &mut arriving(1000));
    assert!(outcome.hit_max, "{outcome:?}");
    assert!(outcome.elapsed < Duration::from_millis(600), "{outcome:?}");
}

struct Unreadable;

impl Sockets for Unreadable {
    fn read(&mut self) -> Option<Vec<Connection>> {
        None
    }
}

#[test]
fn unreadable_tables_give_the_fixed_minimum() {
    let outcome = drain(&args(150, 5000), &mut Unreadable);
    assert!(outcome.elapsed >= Duration::from_millis(150));
    assert!(outcome.elapsed < Duration::from_millis(1000), "{outcome:?}");
    assert_eq!(outcome.new_connections, 0);
}

#[test]
fn the_summary_says_why_it_lasted() {
    let a = args(5000, 30_000);
    let extended = Outcome {
        elapsed: Duration::from_millis(12_300),
        new_connections: 420,
        last_new: Some(Duration::from_millis(11_240)),
        hit_max: false,
    };
    let line = describe(&a, &extended, true);
    assert!(line.contains("12.3 s"), "{line}");
    assert!(
        line.contains("420 new connection(s), the last at 11.2 s"),
        "{line}"
    );
    assert!(line.contains("extended past the minimum"), "{line}");
    let capped = Outcome {
        elapsed: Duration::from_millis(30_000),
        hit_max: true,
        ..extended
    };
    assert!(describe(&a, &capped, true).contains("rollout.drainMaxMs"));
}
