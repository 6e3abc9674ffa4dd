//! Signal names and the shim's signal inbox.
//!
//! The shim blocks every signal it cares about and reads them from a
//! `signalfd`, so signal handling is just another readable descriptor in the
//! event loop. Blocked signals are also what lets the shim receive SIGTERM as
//! PID 1 of a container: the kernel drops signals aimed at a namespace's init
//! only when they would hit the default disposition, and blocked signals never
//! do (see `sig_ignored()` in the kernel).

use std::io;
use std::os::fd::{AsFd, BorrowedFd};
use std::str::FromStr;

use nix::sys::signal::{SigSet, SigmaskHow, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};

/// Signals the shim passes on to the app unchanged, like PM2's daemon would
/// if the user signalled the managed process.
pub const FORWARDED: [Signal; 5] = [
    Signal::SIGINT,
    Signal::SIGHUP,
    Signal::SIGUSR1,
    Signal::SIGUSR2,
    Signal::SIGQUIT,
];

/// Parses a signal given as a name (`SIGINT`, `INT`, any case) or a number.
pub fn parse_signal(text: &str) -> Option<Signal> {
    let text = text.trim();
    if let Ok(number) = text.parse::<i32>() {
        return Signal::try_from(number).ok();
    }
    let upper = text.to_ascii_uppercase();
    let name = if upper.starts_with("SIG") {
        upper
    } else {
        format!("SIG{upper}")
    };
    Signal::from_str(&name).ok()
}

/// The 128+n exit status shells and container runtimes use for "killed by n".
pub fn exit_code_for(signal: Signal) -> i32 {
    128 + signal as i32
}

/// Pending signals, readable through a non-blocking `signalfd`.
pub struct SignalInbox {
    fd: SignalFd,
}

impl SignalInbox {
    /// Blocks SIGCHLD, SIGTERM and the forwarded signals and opens the fd that
    /// delivers them. The app must not inherit this mask: see `spawn`.
    pub fn open() -> io::Result<Self> {
        let mut set = SigSet::empty();
        set.add(Signal::SIGCHLD);
        set.add(Signal::SIGTERM);
        for signal in FORWARDED {
            set.add(signal);
        }
        nix::sys::signal::sigprocmask(SigmaskHow::SIG_BLOCK, Some(&set), None)?;
        let fd = SignalFd::with_flags(&set, SfdFlags::SFD_NONBLOCK | SfdFlags::SFD_CLOEXEC)?;
        Ok(Self { fd })
    }

    /// Every signal queued since the last call.
    pub fn drain(&self) -> io::Result<Vec<Signal>> {
        let mut received = Vec::new();
        while let Some(info) = self.fd.read_signal()? {
            // The signal set only contains valid signals, so a failed
            // conversion cannot happen; skipping it is still the safe choice.
            if let Ok(signal) = Signal::try_from(info.ssi_signo as i32) {
                received.push(signal);
            }
        }
        Ok(received)
    }
}

impl AsFd for SignalInbox {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_names_with_and_without_prefix_in_any_case() {
        assert_eq!(parse_signal("SIGINT"), Some(Signal::SIGINT));
        assert_eq!(parse_signal("sigterm"), Some(Signal::SIGTERM));
        assert_eq!(parse_signal("QUIT"), Some(Signal::SIGQUIT));
        assert_eq!(parse_signal("hup"), Some(Signal::SIGHUP));
        assert_eq!(parse_signal("SIGUSR2"), Some(Signal::SIGUSR2));
    }

    #[test]
    fn parses_numbers() {
        assert_eq!(parse_signal("2"), Some(Signal::SIGINT));
        assert_eq!(parse_signal("15"), Some(Signal::SIGTERM));
        assert_eq!(parse_signal("9"), Some(Signal::SIGKILL));
    }

    #[test]
    fn rejects_unknown_signals() {
        assert_eq!(parse_signal("SIGNOPE"), None);
        assert_eq!(parse_signal(""), None);
        assert_eq!(parse_signal("0"), None);
        assert_eq!(parse_signal("999"), None);
        assert_eq!(parse_signal("-2"), None);
    }

    #[test]
    fn exit_code_is_128_plus_signal_number() {
        assert_eq!(exit_code_for(Signal::SIGKILL), 137);
        assert_eq!(exit_code_for(Signal::SIGINT), 130);
    }
}
