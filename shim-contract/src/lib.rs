//! The runtime shim's command line, defined once.
//!
//! Two binaries meet here. The operator builds a [`ShimArgs`] from an App
//! (PM2's `script`, `interpreter`, `kill_timeout`, ...) and writes
//! `[BINARY_IN_POD] + args.to_args()` as the app container's `command`; the
//! shim, started by the kubelet with that command, calls [`ShimArgs::parse`]
//! on its own arguments. Neither side spells a flag: both use the constants
//! in [`flag`], and a unit test feeds `to_args()` back into `parse()`, so the
//! two cannot drift apart.
//!
//! ```
//! use readyroll_shim_contract::ShimArgs;
//!
//! // Operator side: the container command for `"script": "server"`.
//! let args = ShimArgs {
//!     script: Some("server".into()),
//!     wait_ready: true,
//!     kill_timeout_ms: 5000,
//!     ..ShimArgs::default()
//! };
//! let command: Vec<String> = std::iter::once("/readyroll/bin/readyroll-shim".to_string())
//!     .chain(args.to_args())
//!     .collect();
//! assert_eq!(
//!     command[1..],
//!     ["--kill-timeout-ms=5000", "--script=server", "--wait-ready", "--"]
//! );
//! // Shim side: the same settings back.
//! assert_eq!(ShimArgs::parse(command.into_iter().skip(1)), Ok(args));
//! ```
//!
//! The operator passes what the App says, unresolved: the script as written,
//! the interpreter (empty means "pick it as PM2 does"), the working
//! directory. Only the shim, inside the pod, can see the image's files and
//! `PATH`, so it resolves them.
//!
//! `parse` checks syntax only (numbers, ports, addresses, one value per
//! flag); what needs the system, such as whether a signal name exists, is
//! the shim's to check. No dependencies, so it links into the static shim.
#![forbid(unsafe_code)]

use std::fmt;
use std::net::SocketAddr;

mod drain;
pub use drain::{drain_flag, DrainArgs, DEFAULT_QUIET_MS, DRAIN_COMMAND};

/// Flag names, as written on the command line.
pub mod flag {
    pub const PORT: &str = "--port";
    pub const WAIT_READY: &str = "--wait-ready";
    pub const LISTEN_TIMEOUT_MS: &str = "--listen-timeout-ms";
    pub const READY_ON_LISTEN_TIMEOUT: &str = "--ready-on-listen-timeout";
    pub const KILL_TIMEOUT_MS: &str = "--kill-timeout-ms";
    pub const STOP_SIGNAL: &str = "--stop-signal";
    pub const SHUTDOWN_WITH_MESSAGE: &str = "--shutdown-with-message";
    pub const NO_TREEKILL: &str = "--no-treekill";
    pub const PROBE_ADDR: &str = "--probe-addr";
    pub const SCRIPT: &str = "--script";
    pub const INTERPRETER: &str = "--interpreter";
    pub const INTERPRETER_ARG: &str = "--interpreter-arg";
    pub const CWD: &str = "--cwd";
    pub const INSTANCE_FILE: &str = "--instance-file";
    pub const INSTANCE_VAR: &str = "--instance-var";
    pub const INCREMENT_VAR: &str = "--increment-var";
    pub const MAX_MEMORY_BYTES: &str = "--max-memory-bytes";
    pub const MEMORY_INTERVAL_MS: &str = "--memory-interval-ms";
    pub const DRAIN_MS: &str = "--drain-ms";
    pub const TERMINATION_LOG: &str = "--termination-log";
    /// Ends the shim's flags; the app's arguments (or command) follow.
    pub const END: &str = "--";
}

/// PM2's default `kill_timeout`; `0` on the command line means this too.
pub const DEFAULT_KILL_TIMEOUT_MS: u64 = 1600;
/// PM2's default `listen_timeout`; `0` on the command line means this too.
pub const DEFAULT_LISTEN_TIMEOUT_MS: u64 = 3000;
/// PM2's stop signal.
pub const DEFAULT_STOP_SIGNAL: &str = "SIGINT";
pub const DEFAULT_PROBE_ADDR: &str = "0.0.0.0:9797";
/// PM2's `instance_var` default.
pub const DEFAULT_INSTANCE_VAR: &str = "NODE_APP_INSTANCE";
/// PM2's memory check interval (its `worker_interval`).
pub const DEFAULT_MEMORY_INTERVAL_MS: u64 = 30_000;
/// Time between readiness turning off and the stop signal in a memory
/// restart, so endpoints stop routing to the pod first.
pub const DEFAULT_DRAIN_MS: u64 = 5_000;
/// The kubelet's default `terminationMessagePath`.
pub const DEFAULT_TERMINATION_LOG: &str = "/dev/termination-log";
/// `interpreter` value that runs the script itself, as in PM2.
pub const INTERPRETER_NONE: &str = "none";

/// First line of the termination message of a memory restart, followed by
/// ` rss_bytes=N threshold_bytes=M`. The operator matches on this prefix in
/// `lastState.terminated.message` to count memory restarts.
pub const MEMORY_RESTART_PREFIX: &str = "readyroll-shim: memory restart:";
/// The shim's exit status after a memory restart (`EX_TEMPFAIL`): the
/// kubelet restarts the container, the operator sees it in the Pod status.
pub const MEMORY_RESTART_EXIT_CODE: i32 = 75;

/// Every setting of the shim. `Default` is PM2's defaults with no app.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShimArgs {
    /// PM2's `listening`: ready once `127.0.0.1:PORT` accepts connections.
    pub port: Option<u16>,
    /// PM2's `wait_ready`: ready only after `process.send('ready')`.
    pub wait_ready: bool,
    /// Startup budget; `0` means PM2's 3000.
    pub listen_timeout_ms: u64,
    /// PM2's "proceed anyway": when the startup budget runs out before the
    /// app is ready, report it ready. Off: `/ready` keeps answering 503.
    pub ready_on_listen_timeout: bool,
    /// Stop signal (or message) to SIGKILL; `0` means PM2's 1600.
    pub kill_timeout_ms: u64,
    /// Name (`SIGINT`, `INT`) or number.
    pub stop_signal: String,
    /// Send the IPC message `'shutdown'` instead of the stop signal.
    pub shutdown_with_message: bool,
    /// PM2's `treekill`: signal the whole process tree (deepest first), or
    /// only the app's main process.
    pub treekill: bool,
    /// `IP:PORT` of `/ready` and `/live`.
    pub probe_addr: SocketAddr,
    /// PM2's `script`, resolved by the shim against `cwd`, then `PATH`.
    /// `None`: `args` is a ready-made command (`argv[0]` looked up in PATH).
    pub script: Option<String>,
    /// PM2's `interpreter`: `None` (or empty) picks it from the script as
    /// PM2 does, [`INTERPRETER_NONE`] runs the script itself.
    pub interpreter: Option<String>,
    /// PM2's `interpreter_args` / `node_args`, one per entry.
    pub interpreter_args: Vec<String>,
    /// PM2's `cwd`.
    pub cwd: Option<String>,
    /// File holding the instance index (a downward-API file of a pod
    /// annotation).
    pub instance_file: Option<String>,
    /// Variable that receives the index (PM2's `instance_var`).
    pub instance_var: String,
    /// PM2's `increment_var`: set to its value in the environment (or 0)
    /// plus the index.
    pub increment_var: Option<String>,
    /// PM2's `max_memory_restart`, in bytes, of the app's process tree.
    pub max_memory_bytes: Option<u64>,
    /// How often memory is sampled.
    pub memory_interval_ms: u64,
    /// Readiness off to stop signal, in a memory restart.
    pub drain_ms: u64,
    /// Where the termination message of a memory restart goes.
    pub termination_log: String,
    /// After [`flag::END`]: the script's arguments (PM2's `args`), or the
    /// whole command when there is no `script`.
    pub args: Vec<String>,
}

impl Default for ShimArgs {
    fn default() -> Self {
        ShimArgs {
            port: None,
            wait_ready: false,
            listen_timeout_ms: DEFAULT_LISTEN_TIMEOUT_MS,
            ready_on_listen_timeout: false,
            kill_timeout_ms: DEFAULT_KILL_TIMEOUT_MS,
            stop_signal: DEFAULT_STOP_SIGNAL.to_string(),
            shutdown_with_message: false,
            treekill: true,
            probe_addr: DEFAULT_PROBE_ADDR.parse().expect("valid default address"),
            script: None,
            interpreter: None,
            interpreter_args: Vec::new(),
            cwd: None,
            instance_file: None,
            instance_var: DEFAULT_INSTANCE_VAR.to_string(),
            increment_var: None,
            max_memory_bytes: None,
            memory_interval_ms: DEFAULT_MEMORY_INTERVAL_MS,
            drain_ms: DEFAULT_DRAIN_MS,
            termination_log: DEFAULT_TERMINATION_LOG.to_string(),
            args: Vec::new(),
        }
    }
}

/// A flag the parser refused, with the flag it is about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    /// The flag or argument, e.g. `--port`.
    pub subject: String,
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.subject, self.message)
    }
}

impl std::error::Error for ParseError {}

pub(crate) fn error(subject: &str, message: impl Into<String>) -> ParseError {
    ParseError {
        subject: subject.to_string(),
        message: message.into(),
    }
}

impl ShimArgs {
    /// The shim's arguments (without the binary itself): every setting that
    /// differs from the default, then [`flag::END`] and `args`. Each flag is
    /// one argument, `--flag=value`, so a value that looks like a flag (or is
    /// `--`) stays a value, and nothing is ever split or quoted.
    pub fn to_args(&self) -> Vec<String> {
        let d = ShimArgs::default();
        let mut out = Vec::new();
        let mut value = |name: &str, v: String| out.push(format!("{name}={v}"));
        if let Some(port) = self.port {
            value(flag::PORT, port.to_string());
        }
        if self.listen_timeout_ms != d.listen_timeout_ms {
            value(flag::LISTEN_TIMEOUT_MS, self.listen_timeout_ms.to_string());
        }
        if self.kill_timeout_ms != d.kill_timeout_ms {
            value(flag::KILL_TIMEOUT_MS, self.kill_timeout_ms.to_string());
        }
        if self.stop_signal != d.stop_signal {
            value(flag::STOP_SIGNAL, self.stop_signal.clone());
        }
        if self.probe_addr != d.probe_addr {
            value(flag::PROBE_ADDR, self.probe_addr.to_string());
        }
        if let Some(script) = &self.script {
            value(flag::SCRIPT, script.clone());
        }
        if let Some(interpreter) = self.interpreter.as_ref().filter(|i| !i.is_empty()) {
            value(flag::INTERPRETER, interpreter.clone());
        }
        for arg in &self.interpreter_args {
            value(flag::INTERPRETER_ARG, arg.clone());
        }
        if let Some(cwd) = &self.cwd {
            value(flag::CWD, cwd.clone());
        }
        if let Some(file) = &self.instance_file {
            value(flag::INSTANCE_FILE, file.clone());
        }
        if self.instance_var != d.instance_var {
            value(flag::INSTANCE_VAR, self.instance_var.clone());
        }
        if let Some(var) = &self.increment_var {
            value(flag::INCREMENT_VAR, var.clone());
        }
        if let Some(bytes) = self.max_memory_bytes {
            value(flag::MAX_MEMORY_BYTES, bytes.to_string());
        }
        if self.memory_interval_ms != d.memory_interval_ms {
            value(
                flag::MEMORY_INTERVAL_MS,
                self.memory_interval_ms.to_string(),
            );
        }
        if self.drain_ms != d.drain_ms {
            value(flag::DRAIN_MS, self.drain_ms.to_string());
        }
        if self.termination_log != d.termination_log {
            value(flag::TERMINATION_LOG, self.termination_log.clone());
        }
        for (on, name) in [
            (self.wait_ready, flag::WAIT_READY),
            (self.ready_on_listen_timeout, flag::READY_ON_LISTEN_TIMEOUT),
            (self.shutdown_with_message, flag::SHUTDOWN_WITH_MESSAGE),
            (!self.treekill, flag::NO_TREEKILL),
        ] {
            if on {
                out.push(name.to_string());
            }
        }
        out.push(flag::END.to_string());
        out.extend(self.args.iter().cloned());
        out
    }

    /// Reads the shim's arguments (without the program name). Flags take
    /// `--flag value` or `--flag=value`; everything after the first
    /// [`flag::END`] is `args`. Without `--script`, `args` must not be empty.
    pub fn parse<I>(args: I) -> Result<ShimArgs, ParseError>
    where
        I: IntoIterator<Item = String>,
    {
        let mut out = ShimArgs::default();
        let mut args = args.into_iter();
        while let Some(arg) = args.next() {
            if arg == flag::END {
                out.args = args.collect();
                if out.script.is_none() && out.args.is_empty() {
                    return Err(error(flag::END, "missing command after `--`"));
                }
                return Ok(out);
            }
            let (name, inline) = match arg.split_once('=') {
                Some((name, value)) if name.starts_with("--") => (name, Some(value.to_string())),
                _ => (arg.as_str(), None),
            };
            let mut value = || take_value(name, inline.clone(), &mut args);
            match name {
                flag::PORT => out.port = Some(port(name, &value()?)?),
                flag::LISTEN_TIMEOUT_MS => out.listen_timeout_ms = millis(name, &value()?)?,
                flag::KILL_TIMEOUT_MS => out.kill_timeout_ms = millis(name, &value()?)?,
                flag::STOP_SIGNAL => out.stop_signal = non_empty(name, value()?)?,
                flag::PROBE_ADDR => {
                    let text = value()?;
                    out.probe_addr = text.parse().map_err(|_| {
                        error(
                            name,
                            format!("`{text}` is not an IP:PORT address (e.g. 0.0.0.0:9797)"),
                        )
                    })?;
                }
                flag::SCRIPT => out.script = Some(non_empty(name, value()?)?),
                flag::INTERPRETER => out.interpreter = Some(value()?).filter(|i| !i.is_empty()),
                flag::INTERPRETER_ARG => out.interpreter_args.push(value()?),
                flag::CWD => out.cwd = Some(non_empty(name, value()?)?),
                flag::INSTANCE_FILE => out.instance_file = Some(non_empty(name, value()?)?),
                flag::INSTANCE_VAR => out.instance_var = env_name(name, value()?)?,
                flag::INCREMENT_VAR => out.increment_var = Some(env_name(name, value()?)?),
                flag::MAX_MEMORY_BYTES => match value()?.parse::<u64>() {
                    Ok(bytes) if bytes > 0 => out.max_memory_bytes = Some(bytes),
                    _ => return Err(error(name, "is not a positive number of bytes")),
                },
                flag::MEMORY_INTERVAL_MS => match millis(name, &value()?)? {
                    0 => return Err(error(name, "must be at least 1 ms")),
                    ms => out.memory_interval_ms = ms,
                },
                flag::DRAIN_MS => out.drain_ms = millis(name, &value()?)?,
                flag::TERMINATION_LOG => out.termination_log = non_empty(name, value()?)?,
                flag::WAIT_READY => out.wait_ready = switch(name, &inline)?,
                flag::READY_ON_LISTEN_TIMEOUT => {
                    out.ready_on_listen_timeout = switch(name, &inline)?
                }
                flag::SHUTDOWN_WITH_MESSAGE => out.shutdown_with_message = switch(name, &inline)?,
                flag::NO_TREEKILL => out.treekill = !switch(name, &inline)?,
                _ if name.starts_with('-') => return Err(error(name, "unknown flag")),
                _ => {
                    return Err(error(
                        name,
                        "unexpected argument; put the app command after `--`",
                    ))
                }
            }
        }
        Err(error(flag::END, "missing `--` followed by the app command"))
    }
}

pub(crate) fn take_value(
    name: &str,
    inline: Option<String>,
    rest: &mut impl Iterator<Item = String>,
) -> Result<String, ParseError> {
    if let Some(value) = inline {
        return Ok(value);
    }
    match rest.next() {
        Some(value) if value != flag::END => Ok(value),
        _ => Err(error(name, "missing value")),
    }
}

fn switch(name: &str, inline: &Option<String>) -> Result<bool, ParseError> {
    match inline {
        None => Ok(true),
        Some(_) => Err(error(name, "takes no value")),
    }
}

pub(crate) fn port(name: &str, text: &str) -> Result<u16, ParseError> {
    match text.parse::<u16>() {
        Ok(port) if port > 0 => Ok(port),
        _ => Err(error(
            name,
            format!("`{text}` is not a port number (1-65535)"),
        )),
    }
}

pub(crate) fn millis(name: &str, text: &str) -> Result<u64, ParseError> {
    text.parse::<u64>()
        .map_err(|_| error(name, format!("`{text}` is not a number of milliseconds")))
}

fn non_empty(name: &str, text: String) -> Result<String, ParseError> {
    if text.is_empty() {
        Err(error(name, "must not be empty"))
    } else {
        Ok(text)
    }
}

/// POSIX-style names only: the app's environment must be able to carry it.
fn env_name(name: &str, text: String) -> Result<String, ParseError> {
    let valid = text
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && text.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if valid {
        Ok(text)
    } else {
        Err(error(
            name,
            format!("`{text}` is not an environment variable name (letters, digits, `_`)"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    fn full() -> ShimArgs {
        ShimArgs {
            port: Some(8080),
            wait_ready: true,
            listen_timeout_ms: 10_000,
            ready_on_listen_timeout: true,
            kill_timeout_ms: 5_000,
            stop_signal: "SIGTERM".into(),
            shutdown_with_message: true,
            treekill: false,
            probe_addr: "[::]:9000".parse().expect("addr"),
            script: Some("server".into()),
            interpreter: Some("node".into()),
            interpreter_args: strings(&["--max-old-space-size=512", "--", "a b"]),
            cwd: Some("/srv/app dir".into()),
            instance_file: Some("/etc/podinfo/instance".into()),
            instance_var: "INSTANCE_ID".into(),
            increment_var: Some("PORT".into()),
            max_memory_bytes: Some(300 << 20),
            memory_interval_ms: 1_000,
            drain_ms: 2_500,
            termination_log: "/tmp/termination".into(),
            args: strings(&["--port", "--", "x=1", ""]),
        }
    }

    #[test]
    fn a_full_config_round_trips() {
        let args = full();
        assert_eq!(ShimArgs::parse(args.to_args()), Ok(args));
    }

    #[test]
    fn a_minimal_config_round_trips_and_writes_only_the_command() {
        let script = ShimArgs {
            script: Some("app.js".into()),
            ..ShimArgs::default()
        };
        assert_eq!(script.to_args(), strings(&["--script=app.js", "--"]));
        assert_eq!(ShimArgs::parse(script.to_args()), Ok(script));
        let command = ShimArgs {
            args: strings(&["node", "app.js"]),
            ..ShimArgs::default()
        };
        assert_eq!(command.to_args(), strings(&["--", "node", "app.js"]));
        assert_eq!(ShimArgs::parse(command.to_args()), Ok(command));
    }

    #[test]
    fn defaults_are_pm2s() {
        let d = ShimArgs::parse(strings(&["--", "x"])).expect("parse");
        assert_eq!(d.kill_timeout_ms, 1600);
        assert_eq!(d.listen_timeout_ms, 3000);
        assert_eq!(d.stop_signal, "SIGINT");
        assert!(d.treekill);
        assert_eq!(d.instance_var, "NODE_APP_INSTANCE");
        assert_eq!(d.memory_interval_ms, 30_000);
        assert_eq!(d.termination_log, "/dev/termination-log");
    }

    #[test]
    fn both_value_forms_and_an_empty_interpreter() {
        let a = ShimArgs::parse(strings(&[
            "--kill-timeout-ms=0",
            "--interpreter=",
            "--script",
            "s",
            "--",
        ]))
        .expect("parse");
        assert_eq!(a.kill_timeout_ms, 0);
        assert_eq!(a.interpreter, None, "empty means: pick as PM2 does");
        assert!(a.args.is_empty());
    }

    #[test]
    fn errors_name_their_flag() {
        for (list, subject) in [
            (&["--port", "0", "--", "x"][..], "--port"),
            (&["--port=abc", "--", "x"], "--port"),
            (&["--kill-timeout-ms", "-1", "--", "x"], "--kill-timeout-ms"),
            (&["--probe-addr", "localhost", "--", "x"], "--probe-addr"),
            (&["--wait-ready=yes", "--", "x"], "--wait-ready"),
            (
                &["--ready-on-listen-timeout=1", "--", "x"],
                "--ready-on-listen-timeout",
            ),
            (&["--instance-var", "1X", "--", "x"], "--instance-var"),
            (&["--increment-var", "MY VAR", "--", "x"], "--increment-var"),
            (
                &["--max-memory-bytes", "0", "--", "x"],
                "--max-memory-bytes",
            ),
            (
                &["--memory-interval-ms", "0", "--", "x"],
                "--memory-interval-ms",
            ),
            (&["--script", "", "--"], "--script"),
            (&["--bogus", "--", "x"], "--bogus"),
            (&["node"], "node"),
            (&["--port"], "--port"),
            (&["--port", "--", "x"], "--port"),
            (&["--wait-ready"], "--"),
            (&["--wait-ready", "--"], "--"),
        ] {
            let err = ShimArgs::parse(strings(list)).expect_err("must fail");
            assert_eq!(err.subject, subject, "{list:?}: {err}");
        }
    }
}
