//! The source ports connections are opened from. Both choices exist because the node's
//! conntrack table outlives the connections it tracked, and a SYN whose 4-tuple matches a
//! live entry follows that entry instead of kube-proxy's rules of the moment.
//!
//! **Probes** ([`super::get_once`]) take ports below the kernel's ephemeral range. A probe
//! sent while a NodePort Service has no endpoint yet is refused by kube-proxy's REJECT rule,
//! which runs on the INPUT hook, after the probe's conntrack entry was confirmed on its way
//! out with no NAT. That entry stays for `nf_conntrack_tcp_timeout_syn_sent` (120 s); a
//! later SYN of the same 4-tuple reaches the node's own loopback port, where nothing
//! listens, and is refused (kubernetes/kubernetes#48719, #101607).
//!
//! **The load's connections** take the ephemeral range's ports in turn, so a 4-tuple comes
//! back only after every other port of the range was used once: at the node tier's ~100
//! new connections per second, after about 280 s. That is longer than any entry a closed
//! connection can leave which a SYN cannot reopen: a connection whose pod went away before
//! its close was acknowledged stays in FIN_WAIT (120 s) or LAST_ACK (30 s), refreshed by
//! each retransmitted FIN, and conntrack lets a SYN reopen an entry only from TIME_WAIT or
//! CLOSE, so a SYN of that 4-tuple would be DNAT-ed to the gone pod and never answered.
//! The kernel's own choice promises no such interval. This rules one explanation out of
//! the rare connect timeout the node tier met (1 in ~25,000 requests, twice); it is not
//! shown to be the cause (a sampler of the conntrack table every 2 s over a whole node
//! tier saw no entry towards a gone pod), so a failed connect also reports its source port
//! and the conntrack entry its SYN followed (`super::conntrack`).
use std::{
    collections::hash_map::RandomState,
    hash::BuildHasher,
    io,
    net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr},
    ops::RangeInclusive,
    sync::atomic::{AtomicU32, Ordering},
};

use tokio::net::{TcpSocket, TcpStream};

/// Where the kernel's ephemeral range is configured (Linux).
const EPHEMERAL_RANGE_FILE: &str = "/proc/sys/net/ipv4/ip_local_port_range";
/// Linux's default ephemeral range.
const DEFAULT_EPHEMERAL: RangeInclusive<u16> = 32768..=60999;
/// Probe ports start here: well above the ports services commonly listen on.
const PROBE_LOW: u16 = 10000;
/// ...and stay below Kubernetes' NodePort range, where a kind cluster's port forwarder
/// listens on the host.
const PROBE_HIGH_LIMIT: u16 = 30000;
/// Ports tried before giving up when they are taken.
const ATTEMPTS: u32 = 256;

/// Which ports a connection may come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourcePort {
    /// The kernel's ephemeral range, each port in turn: the load's connections.
    Rotating,
    /// Below the kernel's range: one-off probes, which may be refused before a Service
    /// serves and must not leave that behind for the load.
    Probe,
}

/// A connection being opened: the port it comes from, when this module chose one.
pub struct Opening {
    pub port: Option<u16>,
    socket: Option<TcpSocket>,
}

impl Opening {
    /// Binds a socket for `target` to the next free port of `source`'s range; with no
    /// range (a kernel that leaves no room), the kernel picks at connect.
    pub fn bind(target: SocketAddr, source: SourcePort) -> io::Result<Self> {
        let ephemeral = ephemeral_range();
        let (range, rotation) = match source {
            SourcePort::Rotating => (Some(ephemeral), &LOAD_NEXT),
            SourcePort::Probe => (probe_range(*ephemeral.start()), &PROBE_NEXT),
        };
        let Some(range) = range else {
            return Ok(Opening {
                port: None,
                socket: None,
            });
        };
        let local = match (source, target.ip()) {
            // A probe leaves from the address it probes (loopback).
            (SourcePort::Probe, ip) => ip,
            (SourcePort::Rotating, IpAddr::V4(_)) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            (SourcePort::Rotating, IpAddr::V6(_)) => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
        };
        let mut last_error = None;
        for _ in 0..ATTEMPTS {
            let port = nth_port(&range, rotation.next());
            let socket = if target.is_ipv4() {
                TcpSocket::new_v4()?
            } else {
                TcpSocket::new_v6()?
            };
            match socket.bind(SocketAddr::new(local, port)) {
                Ok(()) => {
                    return Ok(Opening {
                        port: Some(port),
                        socket: Some(socket),
                    })
                }
                // Taken by a listener or by another connection: the next one.
                Err(e) if e.kind() == io::ErrorKind::AddrInUse => last_error = Some(e),
                Err(e) => return Err(e),
            }
        }
        Err(last_error.unwrap_or_else(|| io::Error::other("no free source port")))
    }

    pub async fn connect(self, target: SocketAddr) -> io::Result<TcpStream> {
        match self.socket {
            Some(socket) => socket.connect(target).await,
            None => TcpStream::connect(target).await,
        }
    }
}

/// Ports probes may use: from [`PROBE_LOW`] to below both the kernel's ephemeral range and
/// the NodePort range. `None` when the ephemeral range leaves no room below it.
pub fn probe_range(ephemeral_low: u16) -> Option<RangeInclusive<u16>> {
    let high = ephemeral_low.min(PROBE_HIGH_LIMIT);
    (high > PROBE_LOW).then(|| PROBE_LOW..=high - 1)
}

/// The first port of the kernel's ephemeral range, as configured now; `None` where the
/// kernel does not say (not Linux).
pub fn configured_ephemeral_low() -> Option<u16> {
    configured_ephemeral_range().map(|range| *range.start())
}

fn configured_ephemeral_range() -> Option<RangeInclusive<u16>> {
    let text = std::fs::read_to_string(EPHEMERAL_RANGE_FILE).ok()?;
    let mut bounds = text.split_whitespace().map(str::parse::<u16>);
    let (Some(Ok(low)), Some(Ok(high))) = (bounds.next(), bounds.next()) else {
        return None;
    };
    (low <= high).then_some(low..=high)
}

/// The kernel's ephemeral range, Linux's default where it does not say.
fn ephemeral_range() -> RangeInclusive<u16> {
    configured_ephemeral_range().unwrap_or(DEFAULT_EPHEMERAL)
}

/// The port `offset` steps into `range`, wrapping around.
fn nth_port(range: &RangeInclusive<u16>, offset: u32) -> u16 {
    let width = u32::from(range.end() - range.start()) + 1;
    range.start() + (offset % width) as u16
}

/// A process-wide walk through a range; starts at a random place so that two test
/// processes do not walk it in step.
struct Rotation(AtomicU32);

static LOAD_NEXT: Rotation = Rotation(AtomicU32::new(u32::MAX));
static PROBE_NEXT: Rotation = Rotation(AtomicU32::new(u32::MAX));

impl Rotation {
    fn next(&self) -> u32 {
        let _ = self.0.compare_exchange(
            u32::MAX,
            (RandomState::new().hash_one(std::process::id()) % u64::from(u32::MAX / 2)) as u32,
            Ordering::Relaxed,
            Ordering::Relaxed,
        );
        self.0.fetch_add(1, Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests;
