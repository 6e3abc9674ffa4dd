//! The small part of HTTP/1.1 the test app needs: request heads, bodies with
//! Content-Length, keep-alive, and responses with a fixed body.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// Longest request head accepted; test clients send a few hundred bytes.
const MAX_HEAD_BYTES: usize = 16 * 1024;
/// Longest request body accepted (and discarded).
const MAX_BODY_BYTES: usize = 1024 * 1024;
/// How long a started request may take to arrive completely.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub method: String,
    pub path: String,
    /// The client asked for the connection to stay open (HTTP/1.1 without
    /// `Connection: close`, or HTTP/1.0 with `Connection: keep-alive`).
    pub keep_alive: bool,
}

#[derive(Debug)]
pub enum ReadOutcome {
    Request(Request),
    /// The client closed the connection, or `stop_waiting` said to give up on
    /// an idle one, before a request began.
    Closed,
    /// The bytes received are not a request this server understands.
    Malformed(&'static str),
}

/// A client connection with the bytes read past the current request (pipelining).
pub struct Connection {
    stream: TcpStream,
    buffer: Vec<u8>,
    closed_by_peer: bool,
}

impl Connection {
    /// `poll` bounds each blocking read so an idle connection can notice a
    /// drain; it must be non-zero.
    pub fn new(stream: TcpStream, poll: Duration) -> io::Result<Self> {
        stream.set_read_timeout(Some(poll))?;
        stream.set_nodelay(true)?;
        Ok(Connection {
            stream,
            buffer: Vec::new(),
            closed_by_peer: false,
        })
    }

    /// Reads the next request. While no byte of it has arrived, `stop_waiting`
    /// is asked after every poll interval whether to give up on the connection.
    pub fn read_request(&mut self, stop_waiting: impl Fn() -> bool) -> io::Result<ReadOutcome> {
        let mut started: Option<Instant> = (!self.buffer.is_empty()).then(Instant::now);
        let head_end = loop {
            if let Some(end) = find_head_end(&self.buffer) {
                break end;
            }
            if self.buffer.len() > MAX_HEAD_BYTES {
                return Ok(ReadOutcome::Malformed("request head too large"));
            }
            match started {
                _ if self.closed_by_peer && self.buffer.is_empty() => {
                    return Ok(ReadOutcome::Closed)
                }
                _ if self.closed_by_peer => {
                    return Ok(ReadOutcome::Malformed("connection closed mid-request"))
                }
                None if stop_waiting() => return Ok(ReadOutcome::Closed),
                Some(at) if at.elapsed() > REQUEST_TIMEOUT => {
                    return Ok(ReadOutcome::Malformed("request head incomplete"))
                }
                _ => {}
            }
            self.fill()?;
            if started.is_none() && !self.buffer.is_empty() {
                started = Some(Instant::now());
            }
        };
        let head = String::from_utf8_lossy(&self.buffer[..head_end]).into_owned();
        self.buffer.drain(..head_end + 4);
        let (request, body_len) = match parse_head(&head) {
            Ok(parsed) => parsed,
            Err(reason) => return Ok(ReadOutcome::Malformed(reason)),
        };
        if body_len > MAX_BODY_BYTES {
            return Ok(ReadOutcome::Malformed("request body too large"));
        }
        let deadline = Instant::now() + REQUEST_TIMEOUT;
        while self.buffer.len() < body_len {
            if self.closed_by_peer || Instant::now() > deadline {
                return Ok(ReadOutcome::Malformed("request body incomplete"));
            }
            self.fill()?;
        }
        self.buffer.drain(..body_len);
        Ok(ReadOutcome::Request(request))
    }

    /// Reads once into the buffer, waiting at most one poll interval.
    fn fill(&mut self) -> io::Result<()> {
        let mut chunk = [0u8; 4096];
        match self.stream.read(&mut chunk) {
            Ok(0) => self.closed_by_peer = true,
            Ok(n) => self.buffer.extend_from_slice(&chunk[..n]),
            Err(e) if is_timeout(&e) || e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
        Ok(())
    }

    pub fn respond(&mut self, response: &Response) -> io::Result<()> {
        self.stream.write_all(&response.to_bytes())?;
        self.stream.flush()
    }
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

fn find_head_end(buffer: &[u8]) -> Option<usize> {
    buffer.windows(4).position(|w| w == b"\r\n\r\n")
}

/// Parses a request head into the request and its body length.
fn parse_head(head: &str) -> Result<(Request, usize), &'static str> {
    let mut lines = head.split("\r\n");
    let request_line = lines.next().ok_or("empty request")?;
    let mut parts = request_line.split(' ');
    let (Some(method), Some(target), Some(protocol), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err("request line is not METHOD TARGET VERSION");
    };
    let http10 = match protocol {
        "HTTP/1.1" => false,
        "HTTP/1.0" => true,
        _ => return Err("unsupported HTTP version"),
    };
    let mut keep_alive = !http10;
    let mut body_len = 0usize;
    for line in lines {
        let (name, value) = line.split_once(':').ok_or("header line without a colon")?;
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            body_len = value.parse().map_err(|_| "invalid Content-Length")?;
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            return Err("chunked request bodies are not supported");
        } else if name.eq_ignore_ascii_case("connection") {
            for token in value.split(',').map(str::trim) {
                if token.eq_ignore_ascii_case("close") {
                    keep_alive = false;
                } else if token.eq_ignore_ascii_case("keep-alive") {
                    keep_alive = true;
                }
            }
        }
    }
    let path = target.split('?').next().unwrap_or(target).to_owned();
    Ok((
        Request {
            method: method.to_owned(),
            path,
            keep_alive,
        },
        body_len,
    ))
}

#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub body: String,
    pub version: String,
    pub hostname: String,
    pub close: bool,
}

impl Response {
    fn to_bytes(&self) -> Vec<u8> {
        let reason = match self.status {
            200 => "OK",
            400 => "Bad Request",
            404 => "Not Found",
            503 => "Service Unavailable",
            _ => "Unknown",
        };
        let connection = if self.close { "close" } else { "keep-alive" };
        format!(
            "HTTP/1.1 {} {reason}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\
             X-Version: {}\r\nX-Hostname: {}\r\nConnection: {connection}\r\n\r\n{}",
            self.status,
            self.body.len(),
            self.version,
            self.hostname,
            self.body
        )
        .into_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http11_keeps_alive_unless_told_to_close() {
        let (req, len) = parse_head("GET /x?y=1 HTTP/1.1\r\nHost: a").expect("valid");
        assert_eq!(req.path, "/x");
        assert!(req.keep_alive);
        assert_eq!(len, 0);
        let (req, _) = parse_head("GET / HTTP/1.1\r\nConnection: close").expect("valid");
        assert!(!req.keep_alive);
    }

    #[test]
    fn http10_closes_unless_keep_alive() {
        let (req, _) = parse_head("GET / HTTP/1.0").expect("valid");
        assert!(!req.keep_alive);
        let (req, _) = parse_head("GET / HTTP/1.0\r\nconnection: Keep-Alive").expect("valid");
        assert!(req.keep_alive);
    }

    #[test]
    fn reads_body_length_and_rejects_what_it_cannot_frame() {
        let (_, len) = parse_head("POST / HTTP/1.1\r\nContent-Length: 12").expect("valid");
        assert_eq!(len, 12);
        assert!(parse_head("POST / HTTP/1.1\r\nTransfer-Encoding: chunked").is_err());
        assert!(parse_head("POST / HTTP/1.1\r\nContent-Length: x").is_err());
        assert!(parse_head("GET / HTTP/2").is_err());
        assert!(parse_head("GET /").is_err());
        assert!(parse_head("GET / HTTP/1.1\r\nbroken").is_err());
    }
}
