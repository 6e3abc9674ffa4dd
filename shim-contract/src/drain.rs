//! The pre-stop drain command, `readyroll-shim drain [FLAGS]`, which the
//! operator writes as the app container's `preStop` exec hook.
//!
//! A fixed sleep assumes every proxy stops routing to a terminating pod
//! within it. After an API-server outage, or on a loaded node, kube-proxy
//! can take longer, and the app would then be stopped while connections
//! still arrive. The drain therefore lasts at least `min_ms`, then goes on
//! while new connections keep reaching the pod, until `quiet_ms` pass
//! without one or `max_ms` is reached.

use crate::{error, millis, port, take_value, ParseError};

/// The subcommand's name, the first argument after the binary.
pub const DRAIN_COMMAND: &str = "drain";

/// Flag names of the drain command.
pub mod drain_flag {
    pub const MIN_MS: &str = "--min-ms";
    pub const MAX_MS: &str = "--max-ms";
    pub const QUIET_MS: &str = "--quiet-ms";
    pub const IGNORE_PORT: &str = "--ignore-port";
}

/// How long after the last new connection the drain may end: kube-proxy
/// batches its rule updates (`--iptables-min-sync-period`, 1 s by default),
/// so a second without a new connection means routing has moved on.
pub const DEFAULT_QUIET_MS: u64 = 1_000;

/// The drain's settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DrainArgs {
    /// The drain always lasts this long (the App's `rollout.drainDelayMs`).
    pub min_ms: u64,
    /// and never longer than this (`rollout.drainMaxMs`).
    pub max_ms: u64,
    /// Past `min_ms`, the drain ends once this long passed without a new
    /// connection.
    pub quiet_ms: u64,
    /// Local ports whose connections do not count: the shim's own probe
    /// port, which the kubelet keeps probing while the pod terminates.
    pub ignore_ports: Vec<u16>,
}

impl DrainArgs {
    /// The arguments after the binary, starting with [`DRAIN_COMMAND`].
    pub fn to_args(&self) -> Vec<String> {
        let mut out = vec![
            DRAIN_COMMAND.to_string(),
            format!("{}={}", drain_flag::MIN_MS, self.min_ms),
            format!("{}={}", drain_flag::MAX_MS, self.max_ms),
        ];
        if self.quiet_ms != DEFAULT_QUIET_MS {
            out.push(format!("{}={}", drain_flag::QUIET_MS, self.quiet_ms));
        }
        for p in &self.ignore_ports {
            out.push(format!("{}={p}", drain_flag::IGNORE_PORT));
        }
        out
    }

    /// Parses the arguments after [`DRAIN_COMMAND`].
    pub fn parse<I>(args: I) -> Result<DrainArgs, ParseError>
    where
        I: IntoIterator<Item = String>,
    {
        let (mut min, mut max) = (None, None);
        let mut out = DrainArgs {
            min_ms: 0,
            max_ms: 0,
            quiet_ms: DEFAULT_QUIET_MS,
            ignore_ports: Vec::new(),
        };
        let mut args = args.into_iter();
        while let Some(arg) = args.next() {
            let (name, inline) = match arg.split_once('=') {
                Some((name, value)) if name.starts_with("--") => (name, Some(value.to_string())),
                _ => (arg.as_str(), None),
            };
            let value = take_value(name, inline, &mut args)?;
            match name {
                drain_flag::MIN_MS => min = Some(millis(name, &value)?),
                drain_flag::MAX_MS => max = Some(millis(name, &value)?),
                drain_flag::QUIET_MS => out.quiet_ms = millis(name, &value)?,
                drain_flag::IGNORE_PORT => out.ignore_ports.push(port(name, &value)?),
                _ if name.starts_with('-') => return Err(error(name, "unknown flag")),
                _ => return Err(error(name, "unexpected argument")),
            }
        }
        out.min_ms = min.ok_or_else(|| error(drain_flag::MIN_MS, "is required"))?;
        out.max_ms = max.unwrap_or(out.min_ms);
        if out.max_ms < out.min_ms {
            return Err(error(
                drain_flag::MAX_MS,
                format!(
                    "{} ms is below {} {} ms",
                    out.max_ms,
                    drain_flag::MIN_MS,
                    out.min_ms
                ),
            ));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn to_args_parses_back() {
        for args in [
            DrainArgs {
                min_ms: 5000,
                max_ms: 30_000,
                quiet_ms: DEFAULT_QUIET_MS,
                ignore_ports: vec![9797],
            },
            DrainArgs {
                min_ms: 2500,
                max_ms: 2500,
                quiet_ms: 250,
                ignore_ports: vec![9797, 9100],
            },
        ] {
            let line = args.to_args();
            assert_eq!(line[0], DRAIN_COMMAND);
            assert_eq!(DrainArgs::parse(line[1..].to_vec()), Ok(args));
        }
    }

    #[test]
    fn max_defaults_to_min() {
        let a = DrainArgs::parse(strings(&["--min-ms", "800"])).expect("parse");
        assert_eq!((a.min_ms, a.max_ms, a.quiet_ms), (800, 800, 1000));
    }

    #[test]
    fn errors_name_their_flag() {
        for (list, subject) in [
            (&["--max-ms=10"][..], "--min-ms"),
            (&["--min-ms=10", "--max-ms=9"], "--max-ms"),
            (&["--min-ms=x"], "--min-ms"),
            (&["--min-ms=1", "--ignore-port=0"], "--ignore-port"),
            (&["--min-ms=1", "--quiet-ms"], "--quiet-ms"),
            (&["--min-ms=1", "--bogus=1"], "--bogus"),
            (&["--min-ms=1", "stray"], "stray"),
        ] {
            let err = DrainArgs::parse(strings(list)).expect_err("must fail");
            assert_eq!(err.subject, subject, "{list:?}: {err}");
        }
    }
}
