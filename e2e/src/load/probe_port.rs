//! Source ports for one-off probes ([`super::get_once`]), taken from below the range the
//! kernel hands out to `connect()`, so that no connection of a [`super::Load`] ever reuses
//! the 4-tuple of a probe.
//!
//! Why: a probe sent while a NodePort Service has no endpoint yet is refused by
//! kube-proxy's REJECT rule, which runs on the INPUT hook, after the probe's conntrack entry
//! was confirmed on its way out with no NAT. That entry stays for
//! `nf_conntrack_tcp_timeout_syn_sent` (120 s). A later SYN with the same source port
//! follows the entry instead of the Service's DNAT, reaches the node's own loopback port,
//! where nothing listens, and is refused (kubernetes/kubernetes#48719, #101607). Probes run
//! before a Service serves and are refused on purpose; the load starts right after, and its
//! kernel-chosen ports cycle through the whole ephemeral range in a minute or two, so one
//! of them now and then met a probe's entry: one refused request in ~25,000, seen by a
//! packet capture as a SYN answered by the node itself, never DNAT-ed to a pod.
use std::{
    collections::hash_map::RandomState,
    hash::BuildHasher,
    io,
    net::SocketAddr,
    ops::Range,
    sync::atomic::{AtomicU32, Ordering},
};

use tokio::net::{TcpSocket, TcpStream};

/// Where the kernel's ephemeral range is configured (Linux).
const EPHEMERAL_RANGE_FILE: &str = "/proc/sys/net/ipv4/ip_local_port_range";
/// Linux's default ephemeral range starts here.
const DEFAULT_EPHEMERAL_LOW: u16 = 32768;
/// Probe ports start here: well above the ports services commonly listen on.
const PROBE_LOW: u16 = 10000;
/// ...and stay below Kubernetes' NodePort range, where a kind cluster's port forwarder
/// listens on the host.
const PROBE_HIGH_LIMIT: u16 = 30000;
/// Ports tried before giving up when they are taken.
const ATTEMPTS: u32 = 64;

/// The next probe port, as an offset into the probe range; starts at a random place so that
/// two test processes do not walk the range in step.
static NEXT: AtomicU32 = AtomicU32::new(u32::MAX);

/// Ports probes may use: from [`PROBE_LOW`] to below both the kernel's ephemeral range and
/// the NodePort range. `None` when the ephemeral range leaves no room below it.
pub fn probe_range(ephemeral_low: u16) -> Option<Range<u16>> {
    let high = ephemeral_low.min(PROBE_HIGH_LIMIT);
    (high > PROBE_LOW).then_some(PROBE_LOW..high)
}

/// The first port of the kernel's ephemeral range, as configured now; `None` where the
/// kernel does not say (not Linux).
pub fn configured_ephemeral_low() -> Option<u16> {
    std::fs::read_to_string(EPHEMERAL_RANGE_FILE)
        .ok()
        .and_then(|text| text.split_whitespace().next()?.parse().ok())
}

/// The first port of the kernel's ephemeral range, Linux's default where it does not say.
fn ephemeral_low() -> u16 {
    configured_ephemeral_low().unwrap_or(DEFAULT_EPHEMERAL_LOW)
}

/// Connects to `target` from a port of the probe range on the same loopback address; when
/// the range is empty, from a port the kernel picks (as any connect).
pub async fn connect_from_probe_port(target: SocketAddr) -> io::Result<TcpStream> {
    let Some(range) = probe_range(ephemeral_low()) else {
        return TcpStream::connect(target).await;
    };
    let width = u32::from(range.end - range.start);
    let mut last_error = None;
    for _ in 0..ATTEMPTS {
        let port = range.start + (next_offset() % width) as u16;
        let socket = if target.is_ipv4() {
            TcpSocket::new_v4()?
        } else {
            TcpSocket::new_v6()?
        };
        match socket.bind(SocketAddr::new(target.ip(), port)) {
            Ok(()) => return socket.connect(target).await,
            // Taken by a listener or by another connection: the next one.
            Err(e) if e.kind() == io::ErrorKind::AddrInUse => last_error = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last_error.unwrap_or_else(|| io::Error::other("no free probe port")))
}

fn next_offset() -> u32 {
    let _ = NEXT.compare_exchange(
        u32::MAX,
        (RandomState::new().hash_one(std::process::id()) % u64::from(u32::MAX / 2)) as u32,
        Ordering::Relaxed,
        Ordering::Relaxed,
    );
    NEXT.fetch_add(1, Ordering::Relaxed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::net::TcpListener;

    #[test]
    fn the_probe_range_ends_below_the_ephemeral_and_the_node_port_ranges() {
        assert_eq!(probe_range(32768), Some(10000..30000));
        assert_eq!(probe_range(20000), Some(10000..20000));
        assert_eq!(probe_range(10000), None);
        assert_eq!(probe_range(1024), None);
    }

    #[tokio::test]
    async fn a_probe_connects_from_outside_the_kernels_ephemeral_range() {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let target = listener.local_addr().expect("addr");
        let range = probe_range(ephemeral_low()).expect("room below the ephemeral range");
        for _ in 0..20 {
            let client = connect_from_probe_port(target).await.expect("connect");
            let (_server, peer) = listener.accept().await.expect("accept");
            assert_eq!(peer, client.local_addr().expect("local"));
            assert!(range.contains(&peer.port()), "{peer} outside {range:?}");
            assert!(peer.port() < ephemeral_low(), "{peer}");
        }
        // An ordinary connect, as the load makes, gets a port of the ephemeral range.
        let ordinary = TcpStream::connect(target).await.expect("connect");
        let port = ordinary.local_addr().expect("local").port();
        assert!(port >= ephemeral_low(), "{port}");
    }
}
