//! Behaviour of the test app, read from environment variables.
//!
//! Every variable is optional; a malformed value is an error that names the
//! variable, never a silent fallback to the default.

use std::fmt;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

/// How the app tells the outside world that it is ready.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Readiness {
    /// `GET /healthz` answers 200 once ready and 503 while starting or draining.
    Http,
    /// The file is created once ready and removed when draining starts.
    File(PathBuf),
    /// PM2's `process.send('ready')`: the JSON line `"ready"` on the Node IPC
    /// channel named by `NODE_CHANNEL_FD`. A `"shutdown"` message read from the
    /// same channel starts a graceful drain, as PM2's `shutdown_with_message` does.
    Pm2,
}

/// What the app does when it receives SIGTERM or SIGINT.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopSignal {
    /// Stop accepting, finish in-flight requests, exit 0.
    Graceful,
    /// Keep serving as if nothing happened (only SIGKILL stops it).
    Ignore,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub host: IpAddr,
    /// 0 picks a free port; the chosen one is printed on stdout.
    pub port: u16,
    pub version: String,
    pub ready_delay: Duration,
    /// Accept connections during `ready_delay` (answering 503 on /healthz) instead
    /// of binding the port only once ready. Models apps that listen before they
    /// have finished starting, the case PM2's `wait_ready` exists for.
    pub listen_before_ready: bool,
    pub readiness: Readiness,
    pub stop_signal: StopSignal,
    pub drain_max: Duration,
    pub crash_on_start: bool,
    pub latency: Duration,
    pub allocate_mb: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub variable: &'static str,
    pub value: String,
    pub expected: &'static str,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "environment variable {}={:?} is invalid: expected {}",
            self.variable, self.value, self.expected
        )
    }
}

impl std::error::Error for ConfigError {}

impl Config {
    /// Reads the configuration through `lookup` (the process environment in
    /// `main`, a map in tests).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &'static str| lookup(name).filter(|v| !v.is_empty());
        let readiness = match get("READINESS").as_deref() {
            None | Some("http") => Readiness::Http,
            Some("file") => Readiness::File(
                get("READY_FILE")
                    .map(PathBuf::from)
                    .unwrap_or_else(|| PathBuf::from("/tmp/ready")),
            ),
            Some("pm2") => Readiness::Pm2,
            Some(other) => return Err(invalid("READINESS", other, "one of http, file, pm2")),
        };
        let stop_signal = match get("STOP_SIGNAL").as_deref() {
            None | Some("graceful") => StopSignal::Graceful,
            Some("ignore") => StopSignal::Ignore,
            Some(other) => return Err(invalid("STOP_SIGNAL", other, "graceful or ignore")),
        };
        let host = match get("HOST") {
            None => IpAddr::from([0, 0, 0, 0]),
            Some(v) => v
                .parse()
                .map_err(|_| invalid("HOST", &v, "an IPv4 or IPv6 address"))?,
        };
        Ok(Config {
            host,
            port: parse_number(&get, "PORT", 8080)?,
            version: get("VERSION").unwrap_or_else(|| "dev".to_owned()),
            ready_delay: millis(&get, "READY_DELAY_MS", 0)?,
            listen_before_ready: flag(&get, "LISTEN_BEFORE_READY")?,
            readiness,
            stop_signal,
            drain_max: millis(&get, "DRAIN_MS", 30_000)?,
            crash_on_start: flag(&get, "CRASH_ON_START")?,
            latency: millis(&get, "LATENCY_MS", 0)?,
            allocate_mb: parse_number(&get, "ALLOCATE_MB", 0)?,
        })
    }
}

fn invalid(variable: &'static str, value: &str, expected: &'static str) -> ConfigError {
    ConfigError {
        variable,
        value: value.to_owned(),
        expected,
    }
}

fn parse_number<T: std::str::FromStr>(
    get: &impl Fn(&'static str) -> Option<String>,
    name: &'static str,
    default: T,
) -> Result<T, ConfigError> {
    match get(name) {
        None => Ok(default),
        Some(v) => v
            .parse()
            .map_err(|_| invalid(name, &v, "a non-negative integer in range")),
    }
}

fn millis(
    get: &impl Fn(&'static str) -> Option<String>,
    name: &'static str,
    default: u64,
) -> Result<Duration, ConfigError> {
    parse_number(get, name, default).map(Duration::from_millis)
}

fn flag(
    get: &impl Fn(&'static str) -> Option<String>,
    name: &'static str,
) -> Result<bool, ConfigError> {
    match get(name).as_deref() {
        None | Some("0") | Some("false") => Ok(false),
        Some("1") | Some("true") => Ok(true),
        Some(other) => Err(invalid(name, other, "1, 0, true or false")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn parse(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let env: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|name| env.get(name).cloned())
    }

    #[test]
    fn defaults_serve_http_on_8080_with_graceful_stop() {
        let config = parse(&[]).expect("empty environment is valid");
        assert_eq!(config.port, 8080);
        assert_eq!(config.version, "dev");
        assert_eq!(config.readiness, Readiness::Http);
        assert_eq!(config.stop_signal, StopSignal::Graceful);
        assert_eq!(config.drain_max, Duration::from_secs(30));
        assert!(!config.crash_on_start);
    }

    #[test]
    fn reads_every_variable() {
        let config = parse(&[
            ("HOST", "127.0.0.1"),
            ("PORT", "9000"),
            ("VERSION", "v2"),
            ("READY_DELAY_MS", "1500"),
            ("LISTEN_BEFORE_READY", "1"),
            ("READINESS", "file"),
            ("READY_FILE", "/run/ready"),
            ("STOP_SIGNAL", "ignore"),
            ("DRAIN_MS", "100"),
            ("CRASH_ON_START", "true"),
            ("LATENCY_MS", "25"),
            ("ALLOCATE_MB", "64"),
        ])
        .expect("valid environment");
        assert_eq!(config.host, IpAddr::from([127, 0, 0, 1]));
        assert_eq!(config.port, 9000);
        assert_eq!(config.version, "v2");
        assert_eq!(config.ready_delay, Duration::from_millis(1500));
        assert!(config.listen_before_ready);
        assert_eq!(config.readiness, Readiness::File("/run/ready".into()));
        assert_eq!(config.stop_signal, StopSignal::Ignore);
        assert_eq!(config.drain_max, Duration::from_millis(100));
        assert!(config.crash_on_start);
        assert_eq!(config.latency, Duration::from_millis(25));
        assert_eq!(config.allocate_mb, 64);
    }

    #[test]
    fn bad_values_name_the_variable() {
        for (name, value) in [
            ("PORT", "70000"),
            ("PORT", "http"),
            ("READY_DELAY_MS", "-1"),
            ("READINESS", "tcp"),
            ("STOP_SIGNAL", "SIGKILL"),
            ("CRASH_ON_START", "yes"),
            ("HOST", "localhost"),
        ] {
            let err = parse(&[(name, value)]).expect_err(value);
            assert_eq!(err.variable, name);
            assert!(err.to_string().contains(name), "{err}");
            assert!(err.to_string().contains(value), "{err}");
        }
    }
}
