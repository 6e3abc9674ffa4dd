//! `readyroll-shim drain`: the pre-stop hook. It runs in the app container,
//! so it sees the pod's network namespace: it lasts at least the minimum,
//! then goes on while new connections still reach the app's listening
//! ports, and ends once none arrived for the quiet time (or at the maximum).

mod sockets;

use std::collections::HashSet;
use std::fs::OpenOptions;
use std::io::Write;
use std::thread::sleep;
use std::time::{Duration, Instant};

use readyroll_shim_contract::DrainArgs;

pub use sockets::{inbound_connections, Connection};

/// How often the sockets are read. Short connections that open and close
/// between two reads can be missed; under the traffic that matters (a
/// proxy still routing a Service's load here) most are seen.
const POLL: Duration = Duration::from_millis(50);

/// What a drain saw.
#[derive(Debug, PartialEq, Eq)]
pub struct Outcome {
    pub elapsed: Duration,
    pub new_connections: u64,
    /// Time from the start to the last new connection seen.
    pub last_new: Option<Duration>,
    pub hit_max: bool,
}

/// Where the drain watches the connections; a trait so tests can feed it.
pub trait Sockets {
    /// The inbound connections now, or `None` when they cannot be read.
    fn read(&mut self) -> Option<Vec<Connection>>;
}

/// The pod's own `/proc/net/tcp` and `/proc/net/tcp6`.
pub struct ProcSockets {
    pub ignore_ports: Vec<u16>,
}

impl Sockets for ProcSockets {
    fn read(&mut self) -> Option<Vec<Connection>> {
        inbound_connections(&["/proc/net/tcp", "/proc/net/tcp6"], &self.ignore_ports).ok()
    }
}

/// The decision, apart from the clock: may the drain end at `elapsed`?
pub fn may_end(args: &DrainArgs, elapsed: Duration, last_new: Option<Duration>) -> bool {
    let min = Duration::from_millis(args.min_ms);
    let max = Duration::from_millis(args.max_ms);
    let quiet = Duration::from_millis(args.quiet_ms);
    elapsed >= max || (elapsed >= min && last_new.is_none_or(|at| elapsed >= at + quiet))
}

/// Runs the drain with a real clock.
pub fn drain(args: &DrainArgs, sockets: &mut impl Sockets) -> Outcome {
    let start = Instant::now();
    let mut seen: HashSet<Connection> = HashSet::new();
    let mut readable = match sockets.read() {
        Some(now) => {
            seen.extend(now);
            true
        }
        None => false,
    };
    let (mut new_connections, mut last_new) = (0, None);
    loop {
        let elapsed = start.elapsed();
        if may_end(args, elapsed, last_new) {
            return Outcome {
                elapsed,
                new_connections,
                last_new,
                hit_max: elapsed >= Duration::from_millis(args.max_ms),
            };
        }
        sleep(POLL);
        if !readable {
            // Without the socket tables the drain is the fixed minimum.
            continue;
        }
        match sockets.read() {
            Some(now) => {
                let before = seen.len();
                seen.extend(now);
                let added = (seen.len() - before) as u64;
                if added > 0 {
                    new_connections += added;
                    last_new = Some(start.elapsed());
                }
            }
            None => readable = false,
        }
    }
}

/// `readyroll-shim drain`: the exit status for the kubelet (always 0: a
/// failing hook would only delay the stop signal by the grace period).
pub fn run(args: DrainArgs) -> i32 {
    let mut sockets = ProcSockets {
        ignore_ports: args.ignore_ports.clone(),
    };
    let readable = sockets.read().is_some();
    let outcome = drain(&args, &mut sockets);
    report(&describe(&args, &outcome, readable));
    0
}

fn describe(args: &DrainArgs, o: &Outcome, readable: bool) -> String {
    let secs = |d: Duration| format!("{:.1} s", d.as_secs_f64());
    let mut line = format!(
        "drain: {} ({} new connection(s)",
        secs(o.elapsed),
        o.new_connections
    );
    if let Some(at) = o.last_new {
        line.push_str(&format!(", the last at {}", secs(at)));
    }
    line.push(')');
    if !readable {
        line.push_str("; the pod's socket tables were unreadable, so only the minimum was waited");
    } else if o.hit_max {
        line.push_str(&format!(
            "; connections still arrived at the maximum ({} ms, rollout.drainMaxMs): a proxy kept routing to this pod",
            args.max_ms
        ));
    } else if o.elapsed > Duration::from_millis(args.min_ms + POLL.as_millis() as u64) {
        line.push_str(&format!(
            "; extended past the minimum ({} ms) while connections still arrived",
            args.min_ms
        ));
    }
    line
}

/// The kubelet keeps a hook's output only when it fails, so the summary
/// goes to the container's log through the stderr of its PID 1, which is
/// the shim when it is the entry point; else to the hook's own stderr.
fn report(line: &str) {
    let text = format!("readyroll-shim: {line}\n");
    let written = OpenOptions::new()
        .append(true)
        .open("/proc/1/fd/2")
        .and_then(|mut f| f.write_all(text.as_bytes()));
    if written.is_err() {
        crate::log(line);
    }
}

#[cfg(test)]
mod tests;
