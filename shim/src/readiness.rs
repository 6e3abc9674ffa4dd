//! When the app counts as ready: PM2's `wait_ready` ('ready' message),
//! `listening` (the app port accepts connections) or, with neither, as soon
//! as it runs. Pure state; the supervisor feeds it events and clock readings.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// First wait between two port checks.
const FIRST_CHECK_DELAY: Duration = Duration::from_millis(20);
/// Longest wait between two port checks: it bounds how late readiness is
/// noticed, and one loopback connect every 200 ms costs nothing.
const MAX_CHECK_DELAY: Duration = Duration::from_millis(200);
/// A loopback connect either succeeds or is refused at once; this only bounds
/// the odd case of a full accept backlog.
const CONNECT_TIMEOUT: Duration = Duration::from_millis(200);

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Mode {
    /// Ready after `process.send('ready')`.
    Message,
    /// Ready once the port accepts TCP connections.
    Port(u16),
    /// Ready as soon as the app is running.
    Immediate,
}

impl Mode {
    pub fn from_flags(wait_ready: bool, port: Option<u16>) -> Mode {
        match (wait_ready, port) {
            (true, _) => Mode::Message,
            (false, Some(port)) => Mode::Port(port),
            (false, None) => Mode::Immediate,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Phase {
    Starting,
    Ready,
    Stopping,
}

#[derive(Debug)]
pub struct Readiness {
    mode: Mode,
    phase: Phase,
    started: Instant,
    /// End of the startup budget; `None` once reported or when unbounded.
    budget_end: Option<Instant>,
    next_check: Instant,
    check_delay: Duration,
}

impl Readiness {
    pub fn new(mode: Mode, listen_timeout: Duration, now: Instant) -> Self {
        let phase = match mode {
            Mode::Immediate => Phase::Ready,
            Mode::Message | Mode::Port(_) => Phase::Starting,
        };
        Readiness {
            mode,
            phase,
            started: now,
            budget_end: now.checked_add(listen_timeout),
            next_check: now,
            check_delay: FIRST_CHECK_DELAY,
        }
    }

    pub fn phase(&self) -> Phase {
        self.phase
    }

    /// Handles a 'ready' message; returns the time since start when it made
    /// the app ready.
    pub fn on_ready_message(&mut self, now: Instant) -> Option<Duration> {
        (self.mode == Mode::Message)
            .then(|| self.become_ready(now))
            .flatten()
    }

    /// The port to check now, if a check is due.
    pub fn port_check_due(&self, now: Instant) -> Option<u16> {
        match self.mode {
            Mode::Port(port) if self.phase == Phase::Starting && now >= self.next_check => {
                Some(port)
            }
            _ => None,
        }
    }

    /// Records a port check; returns the time since start when it made the
    /// app ready. Failed checks back off exponentially.
    pub fn on_port_check(&mut self, now: Instant, accepted: bool) -> Option<Duration> {
        if accepted {
            return self.become_ready(now);
        }
        self.next_check = now + self.check_delay;
        self.check_delay = (self.check_delay * 2).min(MAX_CHECK_DELAY);
        None
    }

    /// Returns the budget once, the first time it runs out before the app is
    /// ready. Like PM2, expiry changes nothing else: the kubelet's startup
    /// probe decides whether to restart the container.
    pub fn budget_expired(&mut self, now: Instant) -> Option<Duration> {
        match self.budget_end {
            Some(end) if self.phase == Phase::Starting && now >= end => {
                self.budget_end = None;
                Some(end - self.started)
            }
            _ => None,
        }
    }

    /// PM2's "proceed anyway" after the startup budget: ready without the
    /// signal the mode waits for. Returns the time since start when it made
    /// the app ready.
    pub fn assume_ready(&mut self, now: Instant) -> Option<Duration> {
        self.become_ready(now)
    }

    pub fn begin_stopping(&mut self) {
        self.phase = Phase::Stopping;
    }

    /// The next moment something here needs attention.
    pub fn next_deadline(&self) -> Option<Instant> {
        if self.phase != Phase::Starting {
            return None;
        }
        let check = matches!(self.mode, Mode::Port(_)).then_some(self.next_check);
        [check, self.budget_end].into_iter().flatten().min()
    }

    fn become_ready(&mut self, now: Instant) -> Option<Duration> {
        if self.phase != Phase::Starting {
            return None;
        }
        self.phase = Phase::Ready;
        self.budget_end = None;
        Some(now.saturating_duration_since(self.started))
    }
}

/// Whether the app accepts connections on `port` over loopback (IPv4, then
/// IPv6 for apps bound to `::1` only).
pub fn port_accepts(port: u16) -> bool {
    [
        SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
        SocketAddr::from((Ipv6Addr::LOCALHOST, port)),
    ]
    .iter()
    .any(|addr| TcpStream::connect_timeout(addr, CONNECT_TIMEOUT).is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    const BUDGET: Duration = Duration::from_millis(1000);

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn mode_follows_pm2_flags() {
        assert_eq!(Mode::from_flags(true, Some(80)), Mode::Message);
        assert_eq!(Mode::from_flags(false, Some(80)), Mode::Port(80));
        assert_eq!(Mode::from_flags(false, None), Mode::Immediate);
    }

    #[test]
    fn immediate_mode_is_ready_at_once_and_has_no_deadlines() {
        let t0 = Instant::now();
        let mut r = Readiness::new(Mode::Immediate, BUDGET, t0);
        assert_eq!(r.phase(), Phase::Ready);
        assert_eq!(r.next_deadline(), None);
        assert_eq!(r.budget_expired(t0 + ms(5000)), None);
    }

    #[test]
    fn message_mode_waits_for_ready_message() {
        let t0 = Instant::now();
        let mut r = Readiness::new(Mode::Message, BUDGET, t0);
        assert_eq!(r.phase(), Phase::Starting);
        assert_eq!(r.port_check_due(t0), None);
        assert_eq!(r.next_deadline(), Some(t0 + BUDGET));
        assert_eq!(r.on_ready_message(t0 + ms(250)), Some(ms(250)));
        assert_eq!(r.phase(), Phase::Ready);
        assert_eq!(
            r.on_ready_message(t0 + ms(300)),
            None,
            "only the first counts"
        );
        assert_eq!(r.next_deadline(), None);
    }

    #[test]
    fn ready_message_is_ignored_in_port_mode() {
        let t0 = Instant::now();
        let mut r = Readiness::new(Mode::Port(8080), BUDGET, t0);
        assert_eq!(r.on_ready_message(t0), None);
        assert_eq!(r.phase(), Phase::Starting);
    }

    #[test]
    fn port_checks_back_off_up_to_a_cap() {
        let t0 = Instant::now();
        let mut r = Readiness::new(Mode::Port(8080), Duration::from_secs(60), t0);
        let mut now = t0;
        let mut delays = Vec::new();
        for _ in 0..8 {
            assert_eq!(r.port_check_due(now), Some(8080));
            assert_eq!(r.on_port_check(now, false), None);
            let next = r.next_deadline().expect("next check scheduled");
            assert_eq!(r.port_check_due(next - ms(1)), None);
            delays.push((next - now).as_millis());
            now = next;
        }
        assert_eq!(delays, [20, 40, 80, 160, 200, 200, 200, 200]);
        assert_eq!(r.on_port_check(now, true), Some(now - t0));
        assert_eq!(r.phase(), Phase::Ready);
        assert_eq!(r.port_check_due(now + ms(1000)), None);
    }

    #[test]
    fn budget_expiry_is_reported_once_and_keeps_starting() {
        let t0 = Instant::now();
        let mut r = Readiness::new(Mode::Message, BUDGET, t0);
        assert_eq!(r.budget_expired(t0 + ms(999)), None);
        assert_eq!(r.budget_expired(t0 + ms(1000)), Some(BUDGET));
        assert_eq!(r.budget_expired(t0 + ms(2000)), None);
        assert_eq!(r.phase(), Phase::Starting);
        assert_eq!(r.next_deadline(), None);
        // A late ready message still makes the app ready.
        assert_eq!(r.on_ready_message(t0 + ms(3000)), Some(ms(3000)));
    }

    #[test]
    fn ready_anyway_after_the_budget_when_asked() {
        let t0 = Instant::now();
        let mut r = Readiness::new(Mode::Port(8080), BUDGET, t0);
        assert_eq!(r.budget_expired(t0 + BUDGET), Some(BUDGET));
        assert_eq!(r.assume_ready(t0 + BUDGET), Some(BUDGET));
        assert_eq!(r.phase(), Phase::Ready);
        assert_eq!(r.port_check_due(t0 + ms(5000)), None);
        assert_eq!(r.next_deadline(), None);
        // Never over a stop.
        let mut stopping = Readiness::new(Mode::Message, BUDGET, t0);
        stopping.begin_stopping();
        assert_eq!(stopping.assume_ready(t0 + BUDGET), None);
        assert_eq!(stopping.phase(), Phase::Stopping);
    }

    #[test]
    fn stopping_wins_over_ready() {
        let t0 = Instant::now();
        let mut r = Readiness::new(Mode::Message, BUDGET, t0);
        r.begin_stopping();
        assert_eq!(r.on_ready_message(t0), None);
        assert_eq!(r.phase(), Phase::Stopping);
        assert_eq!(r.next_deadline(), None);
    }

    #[test]
    fn port_accepts_sees_a_listener_and_its_absence() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        assert!(port_accepts(port));
        drop(listener);
        assert!(!port_accepts(port));
    }
}
