//! Spawning the test app on loopback and talking raw HTTP/1.1 to it.

// Each test binary uses a different subset of these helpers.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::thread;
use std::time::{Duration, Instant};

pub struct App {
    pub child: Child,
    lines: Receiver<String>,
    pub started: Instant,
    pub stderr_path: std::path::PathBuf,
}

impl App {
    pub fn spawn(env: &[(&str, &str)]) -> App {
        Self::spawn_with(env, |_| {})
    }

    pub fn spawn_with(env: &[(&str, &str)], customize: impl FnOnce(&mut Command)) -> App {
        let stderr_path = std::env::temp_dir().join(format!(
            "testapp-stderr-{}-{}",
            std::process::id(),
            unique()
        ));
        let stderr = std::fs::File::create(&stderr_path).expect("create stderr file");
        let mut command = Command::new(env!("CARGO_BIN_EXE_readyroll-testapp"));
        command
            .env_clear()
            .env("HOST", "127.0.0.1")
            .env("PORT", "0")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr);
        customize(&mut command);
        let started = Instant::now();
        let mut child = command.spawn().expect("spawn readyroll-testapp");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, lines) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        App {
            child,
            lines,
            started,
            stderr_path,
        }
    }

    /// Waits for a stdout line starting with `prefix` and returns its rest.
    pub fn wait_line(&self, prefix: &str, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    if let Some(rest) = line.strip_prefix(prefix) {
                        return rest.to_owned();
                    }
                }
                Err(e) => panic!("no line starting with {prefix:?} within {timeout:?}: {e}"),
            }
        }
    }

    pub fn listening_addr(&self) -> SocketAddr {
        self.wait_line("listening on ", Duration::from_secs(10))
            .parse()
            .expect("listening line carries a socket address")
    }

    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .args([format!("-{name}"), self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{name} failed");
    }

    pub fn wait_exit(&mut self, timeout: Duration) -> ExitStatus {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "app still running {timeout:?} after it was expected to exit"
            );
            thread::sleep(Duration::from_millis(10));
        }
    }

    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }
}

impl Drop for App {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.stderr_path);
    }
}

fn unique() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::SeqCst)
}

/// A port that was free a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind an ephemeral port")
        .port()
}

#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Sends one request on `stream` and reads one response.
pub fn request(stream: &mut TcpStream, path: &str, keep_alive: bool) -> std::io::Result<Reply> {
    let connection = if keep_alive { "keep-alive" } else { "close" };
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: test\r\nConnection: {connection}\r\n\r\n"
    )?;
    read_reply(stream)
}

pub fn get(addr: SocketAddr, path: &str) -> std::io::Result<Reply> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    stream.set_read_timeout(Some(Duration::from_secs(20)))?;
    request(&mut stream, path, false)
}

fn read_reply(stream: &mut TcpStream) -> std::io::Result<Reply> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if stream.read(&mut byte)? == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "connection closed before a response",
            ));
        }
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    let mut lines = head.split("\r\n");
    let status: u16 = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .expect("status line");
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let length: usize = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())
        .expect("content-length header");
    let mut body = vec![0u8; length];
    stream.read_exact(&mut body)?;
    Ok(Reply {
        status,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    })
}

/// Polls `path` until it answers `status`; returns when that happened.
pub fn wait_status(addr: SocketAddr, path: &str, status: u16, timeout: Duration) -> Instant {
    let deadline = Instant::now() + timeout;
    loop {
        if matches!(get(addr, path), Ok(reply) if reply.status == status) {
            return Instant::now();
        }
        assert!(
            Instant::now() < deadline,
            "{path} did not answer {status} within {timeout:?}"
        );
        thread::sleep(Duration::from_millis(20));
    }
}
