//! A minimal blocking HTTP/1.1 client for requests from the test process to loopback
//! (NodePorts on 127.0.0.1). One request per connection, `Connection: close`.
use std::{
    io::{self, Read, Write},
    net::{SocketAddr, TcpStream},
    time::Duration,
};

/// A response: status, headers in order, body as text.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Reply {
    /// The first header called `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// `GET path` on `addr`; `timeout` bounds connecting and each read and write.
pub fn get(addr: SocketAddr, path: &str, timeout: Duration) -> io::Result<Reply> {
    let mut stream = TcpStream::connect_timeout(&addr, timeout)?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    parse(&raw)
}

fn parse(raw: &[u8]) -> io::Result<Reply> {
    let invalid = |what: &str| io::Error::new(io::ErrorKind::InvalidData, what.to_owned());
    let head_end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| invalid("response has no complete head"))?;
    let head = String::from_utf8_lossy(&raw[..head_end]);
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| invalid("response has no status line"))?;
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
        .collect();
    Ok(Reply {
        status,
        headers,
        body: String::from_utf8_lossy(&raw[head_end + 4..]).into_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn parses_status_headers_and_body() {
        let reply = parse(b"HTTP/1.1 200 OK\r\nX-Version: v1\r\nContent-Length: 3\r\n\r\nv1\n")
            .expect("valid response");
        assert_eq!(reply.status, 200);
        assert_eq!(reply.header("x-version"), Some("v1"));
        assert_eq!(reply.body, "v1\n");
    }

    #[test]
    fn rejects_a_truncated_head() {
        assert!(parse(b"HTTP/1.1 200 OK\r\nX-Version").is_err());
        assert!(parse(b"\r\n\r\n").is_err());
    }
}
