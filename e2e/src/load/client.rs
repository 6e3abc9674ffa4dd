//! The HTTP/1.1 side of the load generator: one `GET` on a connection that may be kept
//! open, with each way it can fail told apart.
use std::{
    io::{self, Read, Write},
    net::{SocketAddr, TcpStream},
    time::{Duration, Instant},
};

use serde::{Deserialize, Serialize};

/// Longest response head accepted; the test apps send a few hundred bytes.
const MAX_HEAD_BYTES: usize = 16 * 1024;
/// Longest body accepted; the test apps answer with their version.
const MAX_BODY_BYTES: usize = 64 * 1024;

/// Why a request failed. Every kind counts as a failed request.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum FailureKind {
    /// The connection was refused: nothing listened behind the address.
    ConnectRefused,
    /// Connecting took longer than the request timeout.
    ConnectTimeout,
    /// Connecting failed another way.
    ConnectError,
    /// The connection was reset or aborted while sending or waiting.
    Reset,
    /// The server closed the connection before the response was complete.
    ClosedEarly,
    /// No complete response within the request timeout.
    Timeout,
    /// A response other than 200.
    Status(u16),
    /// Bytes that are not an HTTP/1.1 response this client understands.
    Malformed,
}

impl std::fmt::Display for FailureKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FailureKind::ConnectRefused => f.write_str("connection refused"),
            FailureKind::ConnectTimeout => f.write_str("connect timeout"),
            FailureKind::ConnectError => f.write_str("connect error"),
            FailureKind::Reset => f.write_str("connection reset"),
            FailureKind::ClosedEarly => f.write_str("closed before the response"),
            FailureKind::Timeout => f.write_str("response timeout"),
            FailureKind::Status(code) => write!(f, "HTTP {code}"),
            FailureKind::Malformed => f.write_str("malformed response"),
        }
    }
}

/// A failed attempt: the kind, a detail for the log, and whether any byte of a response
/// had arrived (a request that got nothing back on a reused connection may be retried).
#[derive(Debug, Clone)]
pub struct AttemptError {
    pub kind: FailureKind,
    pub detail: String,
    pub response_started: bool,
}

/// A 200 response: who answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// The `X-Version` header, empty when absent.
    pub version: String,
    /// The `X-Hostname` header (the pod name for the test app), empty when absent.
    pub host: String,
}

/// A client connection to one address, reused across requests while the server keeps it
/// open.
pub struct Connection {
    stream: TcpStream,
    /// Responses received on it so far: a connection that served one is "reused".
    pub served: u64,
}

impl Connection {
    pub fn open(addr: SocketAddr, timeout: Duration) -> Result<Self, AttemptError> {
        let stream = TcpStream::connect_timeout(&addr, timeout).map_err(|e| {
            let kind = match e.kind() {
                io::ErrorKind::ConnectionRefused => FailureKind::ConnectRefused,
                io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => FailureKind::ConnectTimeout,
                _ => FailureKind::ConnectError,
            };
            failed(kind, e.to_string(), false)
        })?;
        let setup = |stream: &TcpStream| -> io::Result<()> {
            stream.set_nodelay(true)?;
            stream.set_write_timeout(Some(timeout))
        };
        setup(&stream).map_err(|e| failed(FailureKind::ConnectError, e.to_string(), false))?;
        Ok(Connection { stream, served: 0 })
    }

    /// Sends `GET path` and reads the whole response within `timeout`. Returns the answer
    /// and whether the connection may carry another request.
    pub fn get(
        &mut self,
        host: &str,
        path: &str,
        keep_alive: bool,
        timeout: Duration,
    ) -> Result<(Answer, bool), AttemptError> {
        let connection = if keep_alive { "keep-alive" } else { "close" };
        let request = format!(
            "GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: readyroll-e2e-load\r\nConnection: {connection}\r\n\r\n"
        );
        self.stream
            .write_all(request.as_bytes())
            .map_err(|e| io_failure(&e, false))?;
        let response = read_response(&mut self.stream, Instant::now() + timeout)?;
        self.served += 1;
        if response.status != 200 {
            return Err(failed(
                FailureKind::Status(response.status),
                format!("status {}", response.status),
                true,
            ));
        }
        let reusable = keep_alive && !response.close;
        Ok((
            Answer {
                version: response.header("x-version"),
                host: response.header("x-hostname"),
            },
            reusable,
        ))
    }
}

fn failed(kind: FailureKind, detail: String, response_started: bool) -> AttemptError {
    AttemptError {
        kind,
        detail,
        response_started,
    }
}

fn io_failure(e: &io::Error, response_started: bool) -> AttemptError {
    let kind = match e.kind() {
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => FailureKind::Timeout,
        io::ErrorKind::UnexpectedEof => FailureKind::ClosedEarly,
        _ => FailureKind::Reset,
    };
    failed(kind, e.to_string(), response_started)
}

struct Response {
    status: u16,
    headers: Vec<(String, String)>,
    close: bool,
}

impl Response {
    fn header(&self, name: &str) -> String {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    }
}

/// Reads one response: the head, then a body of `Content-Length` bytes (or up to the end
/// of the connection when the server closes it and gives no length).
fn read_response(stream: &mut TcpStream, deadline: Instant) -> Result<Response, AttemptError> {
    let mut buffer = Vec::with_capacity(512);
    let head_end = loop {
        if let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break end;
        }
        if buffer.len() > MAX_HEAD_BYTES {
            return Err(failed(
                FailureKind::Malformed,
                "response head too long".into(),
                true,
            ));
        }
        if read_some(stream, &mut buffer, deadline)? == 0 {
            return Err(failed(
                FailureKind::ClosedEarly,
                format!("connection closed after {} bytes of the head", buffer.len()),
                !buffer.is_empty(),
            ));
        }
    };
    let head = String::from_utf8_lossy(&buffer[..head_end]).into_owned();
    let (status, headers) = parse_head(&head)
        .ok_or_else(|| failed(FailureKind::Malformed, format!("bad head {head:?}"), true))?;
    let find = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.to_ascii_lowercase())
    };
    let close = find("connection").is_some_and(|v| v == "close");
    if find("transfer-encoding").is_some_and(|v| v != "identity") {
        return Err(failed(
            FailureKind::Malformed,
            "chunked bodies are not supported".into(),
            true,
        ));
    }
    let body_start = head_end + 4;
    match find("content-length") {
        Some(length) => {
            let length: usize = length
                .parse()
                .ok()
                .filter(|l| *l <= MAX_BODY_BYTES)
                .ok_or_else(|| {
                    failed(
                        FailureKind::Malformed,
                        format!("Content-Length {length}"),
                        true,
                    )
                })?;
            while buffer.len() < body_start + length {
                if read_some(stream, &mut buffer, deadline)? == 0 {
                    return Err(failed(
                        FailureKind::ClosedEarly,
                        "connection closed mid-body".into(),
                        true,
                    ));
                }
            }
        }
        None if close => {
            while read_some(stream, &mut buffer, deadline)? > 0 {
                if buffer.len() > body_start + MAX_BODY_BYTES {
                    return Err(failed(FailureKind::Malformed, "body too long".into(), true));
                }
            }
        }
        None => {
            return Err(failed(
                FailureKind::Malformed,
                "no Content-Length on a kept-alive connection".into(),
                true,
            ))
        }
    }
    Ok(Response {
        status,
        headers,
        close,
    })
}

/// One read into `buffer`, bounded by `deadline`; 0 means the server closed.
fn read_some(
    stream: &mut TcpStream,
    buffer: &mut Vec<u8>,
    deadline: Instant,
) -> Result<usize, AttemptError> {
    let started = !buffer.is_empty();
    let left = deadline
        .checked_duration_since(Instant::now())
        .filter(|d| !d.is_zero())
        .ok_or_else(|| failed(FailureKind::Timeout, "no complete response".into(), started))?;
    stream
        .set_read_timeout(Some(left))
        .map_err(|e| io_failure(&e, started))?;
    let mut chunk = [0u8; 4096];
    let n = stream
        .read(&mut chunk)
        .map_err(|e| io_failure(&e, started))?;
    buffer.extend_from_slice(&chunk[..n]);
    Ok(n)
}

fn parse_head(head: &str) -> Option<(u16, Vec<(String, String)>)> {
    let mut lines = head.split("\r\n");
    let status_line = lines.next()?;
    let mut parts = status_line.splitn(3, ' ');
    if !parts.next()?.starts_with("HTTP/1.") {
        return None;
    }
    let status = parts.next()?.parse().ok()?;
    let headers = lines
        .map(|l| {
            l.split_once(':')
                .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
        })
        .collect::<Option<Vec<_>>>()?;
    Some((status, headers))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    /// A one-shot server that reads a request head and writes `reply`, then closes or not.
    fn serve(replies: Vec<&'static [u8]>, close_after: bool) -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        std::thread::spawn(move || {
            let (mut stream, _) = listener.accept().expect("accept");
            for reply in replies {
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") {
                    if stream.read(&mut byte).unwrap_or(0) == 0 {
                        return;
                    }
                    head.push(byte[0]);
                }
                let _ = stream.write_all(reply);
            }
            if !close_after {
                std::thread::sleep(Duration::from_secs(2));
            }
        });
        addr
    }

    const TIMEOUT: Duration = Duration::from_secs(2);

    #[test]
    fn keeps_a_connection_for_several_responses() {
        let ok: &[u8] =
            b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nX-Version: v2\r\nX-Hostname: web-1\r\n\r\nv2\n";
        let addr = serve(vec![ok, ok], false);
        let mut conn = Connection::open(addr, TIMEOUT).expect("connect");
        for _ in 0..2 {
            let (answer, reusable) = conn.get("h", "/", true, TIMEOUT).expect("answer");
            assert_eq!(answer.version, "v2");
            assert_eq!(answer.host, "web-1");
            assert!(reusable);
        }
        assert_eq!(conn.served, 2);
    }

    #[test]
    fn connection_close_ends_reuse_and_body_may_run_to_eof() {
        let addr = serve(
            vec![b"HTTP/1.1 200 OK\r\nConnection: close\r\nX-Version: v1\r\n\r\nv1\n"],
            true,
        );
        let mut conn = Connection::open(addr, TIMEOUT).expect("connect");
        let (answer, reusable) = conn.get("h", "/", true, TIMEOUT).expect("answer");
        assert_eq!(answer.version, "v1");
        assert!(!reusable);
    }

    #[test]
    fn failures_are_told_apart() {
        let addr = serve(
            vec![b"HTTP/1.1 503 Unavailable\r\nContent-Length: 0\r\n\r\n"],
            true,
        );
        let mut conn = Connection::open(addr, TIMEOUT).expect("connect");
        let err = conn.get("h", "/", true, TIMEOUT).expect_err("503");
        assert_eq!(err.kind, FailureKind::Status(503));

        let addr = serve(
            vec![b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nv1"],
            true,
        );
        let mut conn = Connection::open(addr, TIMEOUT).expect("connect");
        let err = conn.get("h", "/", true, TIMEOUT).expect_err("short body");
        assert_eq!(err.kind, FailureKind::ClosedEarly);
        assert!(err.response_started);

        let addr = serve(vec![], true);
        let mut conn = Connection::open(addr, TIMEOUT).expect("connect");
        let err = conn.get("h", "/", true, TIMEOUT).expect_err("closed");
        assert!(matches!(
            err.kind,
            FailureKind::ClosedEarly | FailureKind::Reset
        ));
        assert!(!err.response_started);

        let addr = serve(vec![b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n"], false);
        let mut conn = Connection::open(addr, TIMEOUT).expect("connect");
        let err = conn
            .get("h", "/", true, Duration::from_millis(300))
            .expect_err("body never comes");
        assert_eq!(err.kind, FailureKind::Timeout);

        let closed = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = closed.local_addr().expect("addr");
        drop(closed);
        let err = Connection::open(addr, TIMEOUT).err().expect("refused");
        assert_eq!(err.kind, FailureKind::ConnectRefused);
    }

    #[test]
    fn rejects_what_it_cannot_frame() {
        let addr = serve(
            vec![b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nv1\n\r\n0\r\n\r\n"],
            true,
        );
        let mut conn = Connection::open(addr, TIMEOUT).expect("connect");
        assert_eq!(
            conn.get("h", "/", true, TIMEOUT).expect_err("chunked").kind,
            FailureKind::Malformed
        );
        assert!(parse_head("SSH-2.0-OpenSSH").is_none());
        assert!(parse_head("HTTP/1.1 abc OK").is_none());
    }
}
