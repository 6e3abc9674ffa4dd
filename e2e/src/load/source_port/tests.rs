use std::collections::HashMap;

use super::*;
use tokio::net::TcpListener;

#[test]
fn the_probe_range_ends_below_the_ephemeral_and_the_node_port_ranges() {
    assert_eq!(probe_range(32768), Some(10000..=29999));
    assert_eq!(probe_range(20000), Some(10000..=19999));
    assert_eq!(probe_range(10001), Some(10000..=10000));
    assert_eq!(probe_range(10000), None);
    assert_eq!(probe_range(1024), None);
}

#[test]
fn a_walk_visits_every_port_of_its_range_before_it_repeats_one() {
    let range = 32768..=60999;
    let width = 60999 - 32768 + 1;
    let start = 4_000_000_000 - 17;
    let ports: Vec<u16> = (0..width).map(|i| nth_port(&range, start + i)).collect();
    let mut seen = ports.clone();
    seen.sort_unstable();
    seen.dedup();
    assert_eq!(seen.len(), width as usize, "a port came back early");
    assert_eq!(seen.first(), Some(&32768));
    assert_eq!(seen.last(), Some(&60999));
    assert_eq!(nth_port(&range, start + width), ports[0]);
}

#[tokio::test]
async fn a_probe_connects_from_outside_the_kernels_ephemeral_range() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let target = listener.local_addr().expect("addr");
    let range = probe_range(*ephemeral_range().start()).expect("room below the range");
    for _ in 0..20 {
        let opening = Opening::bind(target, SourcePort::Probe).expect("bind");
        let port = opening.port.expect("a chosen port");
        let client = opening.connect(target).await.expect("connect");
        let (_server, peer) = listener.accept().await.expect("accept");
        assert_eq!(peer, client.local_addr().expect("local"));
        assert_eq!(peer.port(), port);
        assert!(range.contains(&port), "{peer} outside {range:?}");
    }
}

/// The load's connects to one destination do not come back to a port while the range
/// has others: each connection here is closed before the next one opens, which is when
/// the kernel's own choice may hand the same port out again soon.
#[tokio::test]
async fn the_loads_connects_take_the_ephemeral_range_in_turn() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let target = listener.local_addr().expect("addr");
    let range = ephemeral_range();
    let connects = 2_000;
    let mut last_seen: HashMap<u16, usize> = HashMap::new();
    let mut ports = Vec::new();
    for i in 0..connects {
        let opening = Opening::bind(target, SourcePort::Rotating).expect("bind");
        let client = opening.connect(target).await.expect("connect");
        let (server, peer) = listener.accept().await.expect("accept");
        assert!(range.contains(&peer.port()), "{peer} outside {range:?}");
        if let Some(before) = last_seen.insert(peer.port(), i) {
            panic!("port {} again after {} connects", peer.port(), i - before);
        }
        ports.push(peer.port());
        drop(client);
        drop(server);
    }
    // In turn: each port follows the one before, but for ports that were taken.
    let steps_of_one = ports
        .windows(2)
        .filter(|w| nth_port(&range, u32::from(w[0] - range.start()) + 1) == w[1])
        .count();
    assert!(
        steps_of_one * 10 >= (connects - 1) * 9,
        "{steps_of_one} of {} steps went to the next port",
        connects - 1
    );
}
