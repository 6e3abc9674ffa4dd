//! The Node IPC channel the app sees as `process.send` / `process.on('message')`.
//!
//! Node opens the descriptor named by `NODE_CHANNEL_FD` at startup; with
//! `NODE_CHANNEL_SERIALIZATION_MODE=json` every message is one line of JSON.
//! `process.send('ready')` therefore arrives as the line `"ready"`. PM2 counts
//! a message as the ready signal only when the raw message is exactly the
//! string `'ready'` (`packet.raw === 'ready'` in its God module), so objects
//! carrying "ready" somewhere inside do not count here either.

use std::io::{self, ErrorKind, Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::time::Duration;

use nix::fcntl::{fcntl, FcntlArg, FdFlag};

/// Longest message kept in memory; longer ones are skipped up to their newline
/// so an app sending large payloads cannot grow the shim without bound.
const MAX_LINE: usize = 64 * 1024;
/// How long a send may wait for room in the socket buffer.
const SEND_TIMEOUT: Duration = Duration::from_millis(500);

/// True when a JSON line is exactly the JSON string `expected`. Node's
/// `JSON.stringify` never escapes plain ASCII letters, so a byte comparison of
/// the unescaped form is exact for the words the shim looks for.
pub fn is_json_string(line: &[u8], expected: &str) -> bool {
    let line = line.trim_ascii();
    line.len() == expected.len() + 2
        && line.first() == Some(&b'"')
        && line.last() == Some(&b'"')
        && &line[1..line.len() - 1] == expected.as_bytes()
}

/// Splits a byte stream into newline-terminated lines.
#[derive(Default)]
pub struct LineDecoder {
    pending: Vec<u8>,
    /// Inside an over-long line that is being skipped.
    skipping: bool,
}

impl LineDecoder {
    /// Feeds bytes and calls `on_line` for each complete line (without `\n`).
    pub fn feed(&mut self, mut data: &[u8], mut on_line: impl FnMut(&[u8])) {
        while let Some(newline) = data.iter().position(|&b| b == b'\n') {
            if self.skipping {
                self.skipping = false;
            } else {
                self.pending.extend_from_slice(&data[..newline]);
                on_line(&self.pending);
            }
            self.pending.clear();
            data = &data[newline + 1..];
        }
        if self.skipping {
            return;
        }
        self.pending.extend_from_slice(data);
        if self.pending.len() > MAX_LINE {
            self.pending.clear();
            self.skipping = true;
        }
    }
}

/// What one read of the channel brought.
#[derive(Debug, Default, PartialEq)]
pub struct Received {
    pub ready_messages: usize,
    /// The app closed its end (exited or called `process.disconnect()`).
    pub closed: bool,
}

/// The shim's end of the channel.
pub struct IpcChannel {
    stream: UnixStream,
    decoder: LineDecoder,
    open: bool,
}

impl IpcChannel {
    /// Creates the channel. The returned descriptor is the app's end: it is
    /// inheritable (no close-on-exec) so the app receives it across exec, and
    /// the caller must drop it once the app is started.
    pub fn pair() -> io::Result<(IpcChannel, OwnedFd)> {
        let (ours, theirs) = UnixStream::pair()?;
        ours.set_nonblocking(true)?;
        let theirs = OwnedFd::from(theirs);
        fcntl(&theirs, FcntlArg::F_SETFD(FdFlag::empty()))?;
        let channel = IpcChannel {
            stream: ours,
            decoder: LineDecoder::default(),
            open: true,
        };
        Ok((channel, theirs))
    }

    /// Environment that tells Node to open `app_end` as its IPC channel.
    pub fn child_env(app_end: &OwnedFd) -> [(&'static str, String); 2] {
        [
            ("NODE_CHANNEL_FD", app_end.as_raw_fd().to_string()),
            ("NODE_CHANNEL_SERIALIZATION_MODE", "json".to_string()),
        ]
    }

    pub fn is_open(&self) -> bool {
        self.open
    }

    /// Reads everything available without blocking.
    pub fn receive(&mut self) -> Received {
        let mut received = Received::default();
        let mut buf = [0u8; 8192];
        while self.open {
            match self.stream.read(&mut buf) {
                Ok(0) => self.open = false,
                Ok(n) => self.decoder.feed(&buf[..n], |line| {
                    if is_json_string(line, "ready") {
                        received.ready_messages += 1;
                    }
                }),
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(_) => self.open = false,
            }
        }
        received.closed = !self.open;
        received
    }

    /// Sends `message` as a JSON string, as `child.send(message)` would.
    /// Fails when the app has closed its end.
    pub fn send_string(&mut self, message: &str) -> io::Result<()> {
        if !self.open {
            return Err(io::Error::new(
                ErrorKind::NotConnected,
                "IPC channel is closed",
            ));
        }
        let line = format!("\"{message}\"\n");
        self.stream.set_nonblocking(false)?;
        self.stream.set_write_timeout(Some(SEND_TIMEOUT))?;
        let result = self.stream.write_all(line.as_bytes());
        self.stream.set_nonblocking(true)?;
        if result.is_err() {
            self.open = false;
        }
        result
    }
}

impl AsFd for IpcChannel {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.stream.as_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(decoder: &mut LineDecoder, data: &[u8]) -> Vec<String> {
        let mut out = Vec::new();
        decoder.feed(data, |line| {
            out.push(String::from_utf8_lossy(line).into_owned())
        });
        out
    }

    #[test]
    fn only_the_bare_string_counts_as_ready() {
        assert!(is_json_string(b"\"ready\"", "ready"));
        assert!(is_json_string(b" \"ready\"\r", "ready"));
        assert!(!is_json_string(b"ready", "ready"));
        assert!(!is_json_string(b"\"ready \"", "ready"));
        assert!(!is_json_string(b"\"Ready\"", "ready"));
        assert!(!is_json_string(
            b"{\"type\":\"process:msg\",\"data\":\"ready\"}",
            "ready"
        ));
        assert!(!is_json_string(b"[\"ready\"]", "ready"));
        assert!(!is_json_string(b"\"", "ready"));
        assert!(!is_json_string(b"", "ready"));
    }

    #[test]
    fn lines_split_across_reads_are_joined() {
        let mut decoder = LineDecoder::default();
        assert!(lines(&mut decoder, b"\"rea").is_empty());
        assert_eq!(
            lines(&mut decoder, b"dy\"\n{\"a\":1}\n\"x"),
            ["\"ready\"", "{\"a\":1}"]
        );
        assert_eq!(lines(&mut decoder, b"\"\n"), ["\"x\""]);
    }

    #[test]
    fn over_long_lines_are_skipped_and_decoding_resumes() {
        let mut decoder = LineDecoder::default();
        let big = vec![b'a'; MAX_LINE + 10];
        assert!(lines(&mut decoder, &big).is_empty());
        assert!(lines(&mut decoder, &big).is_empty());
        assert_eq!(lines(&mut decoder, b"tail\n\"ready\"\n"), ["\"ready\""]);
    }

    #[test]
    fn channel_counts_ready_messages_and_sees_close() {
        let (mut channel, app_end) = IpcChannel::pair().expect("socketpair");
        let flags = fcntl(&app_end, FcntlArg::F_GETFD).expect("F_GETFD");
        assert_eq!(
            flags & FdFlag::FD_CLOEXEC.bits(),
            0,
            "app end must survive exec"
        );

        let mut app = UnixStream::from(app_end);
        app.write_all(b"{\"cmd\":\"x\"}\n\"ready\"\n\"ready\"\n")
            .expect("write");
        assert_eq!(
            channel.receive(),
            Received {
                ready_messages: 2,
                closed: false
            }
        );

        channel.send_string("shutdown").expect("send");
        let mut got = [0u8; 11];
        app.read_exact(&mut got).expect("read");
        assert_eq!(&got, b"\"shutdown\"\n");

        drop(app);
        assert!(channel.receive().closed);
        assert!(channel.send_string("shutdown").is_err());
    }
}
