//! Command-line parsing. Hand-written to keep the binary small; every error
//! names the flag it is about.

use std::ffi::OsString;
use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use nix::sys::signal::Signal;

use crate::signals::parse_signal;

pub const DEFAULT_PROBE_ADDR: &str = "0.0.0.0:9797";
/// PM2's default `kill_timeout`.
pub const DEFAULT_KILL_TIMEOUT_MS: u64 = 1600;
/// PM2's default `listen_timeout` (GRACEFUL_LISTEN_TIMEOUT).
pub const DEFAULT_LISTEN_TIMEOUT_MS: u64 = 3000;

pub const USAGE: &str = "\
usage:
  readyroll-shim install DEST
  readyroll-shim [FLAGS] -- COMMAND [ARGS...]

flags:
  --port N                 app port; ready once 127.0.0.1:N accepts connections
  --wait-ready             ready only after the app calls process.send('ready')
  --listen-timeout-ms N    startup budget; a message is logged when exceeded (default 3000)
  --kill-timeout-ms N      time between the stop signal and SIGKILL (default 1600)
  --stop-signal SIG        signal sent on SIGTERM (default SIGINT)
  --shutdown-with-message  send 'shutdown' over IPC instead of the stop signal
  --probe-addr ADDR        HTTP address for GET /ready and GET /live (default 0.0.0.0:9797)
";

#[derive(Debug, PartialEq)]
pub enum Invocation {
    Install { dest: PathBuf },
    Run(RunConfig),
    Help,
    Version,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RunConfig {
    pub port: Option<u16>,
    pub wait_ready: bool,
    pub listen_timeout: Duration,
    pub kill_timeout: Duration,
    pub stop_signal: Signal,
    pub shutdown_with_message: bool,
    pub probe_addr: SocketAddr,
    /// Never empty: the parser rejects a missing command.
    pub command: Vec<OsString>,
}

#[derive(Debug, PartialEq)]
pub struct CliError {
    /// The flag or argument the error is about, e.g. `--port`.
    pub subject: String,
    pub message: String,
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.subject, self.message)
    }
}

impl std::error::Error for CliError {}

fn error(subject: &str, message: impl Into<String>) -> CliError {
    CliError {
        subject: subject.to_string(),
        message: message.into(),
    }
}

/// Parses the arguments after the program name.
pub fn parse(args: Vec<OsString>) -> Result<Invocation, CliError> {
    match args.first().and_then(|a| a.to_str()) {
        Some("install") => return parse_install(&args[1..]),
        Some("--help") | Some("-h") => return Ok(Invocation::Help),
        Some("--version") => return Ok(Invocation::Version),
        _ => {}
    }
    parse_run(args).map(Invocation::Run)
}

fn parse_install(rest: &[OsString]) -> Result<Invocation, CliError> {
    match rest {
        [dest] if !dest.is_empty() => Ok(Invocation::Install {
            dest: PathBuf::from(dest),
        }),
        [] => Err(error("install", "missing DEST path")),
        _ => Err(error("install", "expects exactly one argument, DEST")),
    }
}

fn parse_run(args: Vec<OsString>) -> Result<RunConfig, CliError> {
    let mut config = RunConfig {
        port: None,
        wait_ready: false,
        listen_timeout: Duration::from_millis(DEFAULT_LISTEN_TIMEOUT_MS),
        kill_timeout: Duration::from_millis(DEFAULT_KILL_TIMEOUT_MS),
        stop_signal: Signal::SIGINT,
        shutdown_with_message: false,
        probe_addr: DEFAULT_PROBE_ADDR
            .parse()
            .expect("default probe address is valid"),
        command: Vec::new(),
    };
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let Some(text) = arg.to_str() else {
            return Err(error(
                &arg.to_string_lossy(),
                "not a valid flag (not UTF-8)",
            ));
        };
        if text == "--" {
            config.command = args.collect();
            if config.command.is_empty() {
                return Err(error("--", "missing command after `--`"));
            }
            return Ok(config);
        }
        let (flag, inline_value) = match text.split_once('=') {
            Some((flag, value)) if flag.starts_with("--") => (flag, Some(value.to_string())),
            _ => (text, None),
        };
        let mut value = || take_value(flag, inline_value.clone(), &mut args);
        match flag {
            "--port" => config.port = Some(parse_port(flag, &value()?)?),
            "--listen-timeout-ms" => config.listen_timeout = parse_millis(flag, &value()?)?,
            "--kill-timeout-ms" => config.kill_timeout = parse_millis(flag, &value()?)?,
            "--stop-signal" => {
                let text = value()?;
                config.stop_signal = parse_signal(&text).ok_or_else(|| {
                    error(
                        flag,
                        format!("unknown signal `{text}` (use a name like SIGINT or a number)"),
                    )
                })?;
            }
            "--probe-addr" => {
                let text = value()?;
                config.probe_addr = text.parse().map_err(|_| {
                    error(
                        flag,
                        format!("`{text}` is not an IP:PORT address (e.g. 0.0.0.0:9797)"),
                    )
                })?;
            }
            "--wait-ready" => config.wait_ready = no_value(flag, &inline_value)?,
            "--shutdown-with-message" => {
                config.shutdown_with_message = no_value(flag, &inline_value)?
            }
            _ if flag.starts_with('-') => return Err(error(flag, "unknown flag")),
            _ => {
                return Err(error(
                    flag,
                    "unexpected argument; put the app command after `--`",
                ))
            }
        }
    }
    Err(error("--", "missing `--` followed by the app command"))
}

fn take_value(
    flag: &str,
    inline: Option<String>,
    rest: &mut impl Iterator<Item = OsString>,
) -> Result<String, CliError> {
    if let Some(value) = inline {
        return Ok(value);
    }
    match rest.next() {
        Some(value) if value != "--" => value
            .into_string()
            .map_err(|_| error(flag, "value is not valid UTF-8")),
        _ => Err(error(flag, "missing value")),
    }
}

fn no_value(flag: &str, inline: &Option<String>) -> Result<bool, CliError> {
    match inline {
        None => Ok(true),
        Some(_) => Err(error(flag, "takes no value")),
    }
}

fn parse_port(flag: &str, text: &str) -> Result<u16, CliError> {
    match text.parse::<u16>() {
        Ok(port) if port > 0 => Ok(port),
        _ => Err(error(
            flag,
            format!("`{text}` is not a port number (1-65535)"),
        )),
    }
}

fn parse_millis(flag: &str, text: &str) -> Result<Duration, CliError> {
    text.parse::<u64>()
        .map(Duration::from_millis)
        .map_err(|_| error(flag, format!("`{text}` is not a number of milliseconds")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<OsString> {
        list.iter().map(OsString::from).collect()
    }

    fn run(list: &[&str]) -> RunConfig {
        match parse(args(list)) {
            Ok(Invocation::Run(config)) => config,
            other => panic!("expected a run invocation, got {other:?}"),
        }
    }

    fn fails(list: &[&str]) -> CliError {
        match parse(args(list)) {
            Err(err) => err,
            Ok(other) => panic!("expected an error, got {other:?}"),
        }
    }

    #[test]
    fn defaults_follow_pm2() {
        let config = run(&["--", "node", "app.js"]);
        assert_eq!(config.port, None);
        assert!(!config.wait_ready);
        assert_eq!(config.listen_timeout, Duration::from_millis(3000));
        assert_eq!(config.kill_timeout, Duration::from_millis(1600));
        assert_eq!(config.stop_signal, Signal::SIGINT);
        assert!(!config.shutdown_with_message);
        assert_eq!(config.probe_addr.to_string(), "0.0.0.0:9797");
        assert_eq!(config.command, args(&["node", "app.js"]));
    }

    #[test]
    fn reads_every_flag_in_both_forms() {
        let config = run(&[
            "--port",
            "8080",
            "--wait-ready",
            "--listen-timeout-ms=10000",
            "--kill-timeout-ms",
            "5000",
            "--stop-signal=SIGTERM",
            "--shutdown-with-message",
            "--probe-addr",
            "127.0.0.1:1234",
            "--",
            "node",
            "--port",
            "--",
        ]);
        assert_eq!(config.port, Some(8080));
        assert!(config.wait_ready);
        assert_eq!(config.listen_timeout, Duration::from_millis(10000));
        assert_eq!(config.kill_timeout, Duration::from_millis(5000));
        assert_eq!(config.stop_signal, Signal::SIGTERM);
        assert!(config.shutdown_with_message);
        assert_eq!(config.probe_addr.to_string(), "127.0.0.1:1234");
        // Everything after the first `--` belongs to the app, flags included.
        assert_eq!(config.command, args(&["node", "--port", "--"]));
    }

    #[test]
    fn bad_values_name_their_flag() {
        assert_eq!(fails(&["--port", "0", "--", "x"]).subject, "--port");
        assert_eq!(fails(&["--port", "70000", "--", "x"]).subject, "--port");
        assert_eq!(fails(&["--port=abc", "--", "x"]).subject, "--port");
        assert_eq!(
            fails(&["--stop-signal", "SIGNOPE", "--", "x"]).subject,
            "--stop-signal"
        );
        assert_eq!(
            fails(&["--kill-timeout-ms", "-1", "--", "x"]).subject,
            "--kill-timeout-ms"
        );
        assert_eq!(
            fails(&["--listen-timeout-ms", "1.5", "--", "x"]).subject,
            "--listen-timeout-ms"
        );
        assert_eq!(
            fails(&["--probe-addr", "localhost", "--", "x"]).subject,
            "--probe-addr"
        );
        assert_eq!(
            fails(&["--wait-ready=yes", "--", "x"]).subject,
            "--wait-ready"
        );
        assert_eq!(fails(&["--bogus", "--", "x"]).subject, "--bogus");
    }

    #[test]
    fn a_flag_missing_its_value_is_reported() {
        let err = fails(&["--port", "--", "x"]);
        assert_eq!(err.subject, "--port");
        assert_eq!(err.message, "missing value");
        assert_eq!(fails(&["--port"]).subject, "--port");
    }

    #[test]
    fn the_command_must_follow_a_double_dash() {
        assert_eq!(fails(&["node", "app.js"]).subject, "node");
        assert_eq!(fails(&["--wait-ready"]).subject, "--");
        assert_eq!(fails(&["--wait-ready", "--"]).subject, "--");
        assert_eq!(fails(&[]).subject, "--");
    }

    #[test]
    fn install_takes_exactly_one_destination() {
        assert_eq!(
            parse(args(&["install", "/readyroll/bin/readyroll-shim"])),
            Ok(Invocation::Install {
                dest: PathBuf::from("/readyroll/bin/readyroll-shim")
            })
        );
        assert_eq!(fails(&["install"]).subject, "install");
        assert_eq!(fails(&["install", "a", "b"]).subject, "install");
    }

    #[test]
    fn help_and_version() {
        assert_eq!(parse(args(&["--help"])), Ok(Invocation::Help));
        assert_eq!(parse(args(&["--version"])), Ok(Invocation::Version));
    }
}
