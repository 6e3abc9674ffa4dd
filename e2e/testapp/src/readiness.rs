//! Telling the outside world that the app is ready, in the three ways the
//! tests need: HTTP (handled by the server), a file, or PM2's IPC message.

use std::fs;
use std::io::{self, BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::sync::mpsc::Sender;
use std::thread;

use crate::config::Readiness;
use crate::Event;

pub enum Reporter {
    Http,
    File(PathBuf),
    Pm2(UnixStream),
}

impl Reporter {
    /// Prepares the reporter. In PM2 mode this opens the IPC channel and starts
    /// listening on it for PM2's `'shutdown'` message; it fails the way
    /// `process.send('ready')` fails in Node when no parent gave it a channel.
    pub fn open(readiness: &Readiness, events: Sender<Event>) -> io::Result<Self> {
        match readiness {
            Readiness::Http => Ok(Reporter::Http),
            Readiness::File(path) => Ok(Reporter::File(path.clone())),
            Readiness::Pm2 => {
                let channel = node_channel()?;
                let reader = channel.try_clone()?;
                thread::Builder::new()
                    .name("ipc".into())
                    .spawn(move || watch_for_shutdown(reader, events))?;
                Ok(Reporter::Pm2(channel))
            }
        }
    }

    pub fn report_ready(&mut self) -> io::Result<()> {
        match self {
            Reporter::Http => Ok(()),
            Reporter::File(path) => fs::write(path, b"ready\n"),
            // Node's default "json" serialization: one JSON value per line.
            Reporter::Pm2(channel) => channel.write_all(b"\"ready\"\n"),
        }
    }

    /// Withdraws readiness when a drain starts (HTTP answers 503 by itself).
    pub fn report_draining(&mut self) -> io::Result<()> {
        match self {
            Reporter::File(path) => match fs::remove_file(path) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
                _ => Ok(()),
            },
            Reporter::Http | Reporter::Pm2(_) => Ok(()),
        }
    }
}

/// The Node IPC channel a parent passes in `NODE_CHANNEL_FD`.
fn node_channel() -> io::Result<UnixStream> {
    let value = std::env::var("NODE_CHANNEL_FD").map_err(|_| {
        io::Error::other(
            "READINESS=pm2 needs a PM2-style parent: NODE_CHANNEL_FD is not set \
             (in Node, process.send is undefined here)",
        )
    })?;
    let fd: i32 = value.trim().parse().map_err(|_| {
        io::Error::other(format!(
            "NODE_CHANNEL_FD={value:?} is not a file descriptor number"
        ))
    })?;
    if fd < 3 {
        return Err(io::Error::other(format!(
            "NODE_CHANNEL_FD={fd} names a standard stream, not an IPC channel"
        )));
    }
    adopt_fd(fd)
}

#[allow(unsafe_code)]
fn adopt_fd(fd: i32) -> io::Result<UnixStream> {
    use std::os::fd::FromRawFd;
    // The descriptor must be open; fstat-ing it through /proc tells us without
    // taking ownership of a number that might be unused.
    fs::metadata(format!("/proc/self/fd/{fd}"))
        .map_err(|e| io::Error::other(format!("NODE_CHANNEL_FD={fd} is not open: {e}")))?;
    // SAFETY: the parent passed this descriptor to us for exactly this use, it
    // is open (checked above), and nothing else in this process refers to it,
    // so the UnixStream becomes its only owner.
    Ok(unsafe { UnixStream::from_raw_fd(fd) })
}

fn watch_for_shutdown(channel: UnixStream, events: Sender<Event>) {
    for line in BufReader::new(channel).lines() {
        let Ok(line) = line else { return };
        if line.trim() == "\"shutdown\"" {
            let _ = events.send(Event::Stop("IPC message 'shutdown'"));
        }
    }
}
