//! The kubelet-facing HTTP endpoint: `GET /ready` and `GET /live`.
//!
//! Runs inside the shim's single-threaded event loop: sockets are
//! non-blocking, each connection has a deadline and a size cap, and the number
//! of open connections is bounded, so a slow or hostile client can never stall
//! the shim's signal handling.
//!
//! A flood of clients that connect and send nothing must not crowd out the
//! kubelet, which sends its whole request right after connecting: a
//! connection that has sent nothing is closed after [`IDLE_TIMEOUT`], only
//! such silent connections are evicted to make room, and a connection whose
//! request has started arriving is never evicted (a new client is turned
//! away instead).

use std::io::{self, ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::{AsFd, BorrowedFd};
use std::time::{Duration, Instant};

use crate::readiness::Phase;

/// Time a client has to send its request head.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(2);
/// Time a client has to send its first byte. The kubelet writes its request
/// as soon as it is connected; a client silent for this long is not a probe.
const IDLE_TIMEOUT: Duration = Duration::from_millis(500);
/// Largest request head accepted; the kubelet sends about 150 bytes.
const MAX_REQUEST: usize = 8 * 1024;
/// Open connections kept at once (one descriptor and at most
/// [`MAX_REQUEST`] bytes each). Room is made by evicting the oldest silent
/// connection; with none, the new connection is closed.
const MAX_CONNECTIONS: usize = 1024;

#[derive(Debug, PartialEq)]
pub struct Response {
    pub status: u16,
    pub body: &'static str,
    pub head_only: bool,
}

impl Response {
    fn new(status: u16, body: &'static str) -> Self {
        Response {
            status,
            body,
            head_only: false,
        }
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let reason = match self.status {
            200 => "OK",
            400 => "Bad Request",
            404 => "Not Found",
            405 => "Method Not Allowed",
            431 => "Request Header Fields Too Large",
            _ => "Service Unavailable",
        };
        let allow = if self.status == 405 {
            "Allow: GET, HEAD\r\n"
        } else {
            ""
        };
        let mut out = format!(
            "HTTP/1.1 {} {reason}\r\nContent-Type: text/plain; charset=utf-8\r\n\
             Content-Length: {}\r\n{allow}Connection: close\r\n\r\n",
            self.status,
            self.body.len()
        )
        .into_bytes();
        if !self.head_only {
            out.extend_from_slice(self.body.as_bytes());
        }
        out
    }
}

/// Answers one request head (request line plus headers).
pub fn respond(head: &[u8], phase: Phase) -> Response {
    let line_end = head.iter().position(|&b| b == b'\n').unwrap_or(head.len());
    let line = String::from_utf8_lossy(&head[..line_end]);
    let mut parts = line.split_ascii_whitespace();
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Response::new(400, "bad request\n");
    };
    if !version.starts_with("HTTP/") {
        return Response::new(400, "bad request\n");
    }
    let head_only = match method {
        "GET" => false,
        "HEAD" => true,
        _ => return Response::new(405, "method not allowed\n"),
    };
    let path = target.split('?').next().unwrap_or(target);
    let mut response = match path {
        "/ready" => match phase {
            Phase::Ready => Response::new(200, "ready\n"),
            Phase::Starting => Response::new(503, "not ready\n"),
            Phase::Stopping => Response::new(503, "stopping\n"),
        },
        "/live" => Response::new(200, "alive\n"),
        _ => Response::new(404, "not found\n"),
    };
    response.head_only = head_only;
    response
}

/// Where a request head ends (after the blank line), if it is complete.
fn head_end(buf: &[u8]) -> Option<usize> {
    let crlf = buf.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4);
    let lf = buf.windows(2).position(|w| w == b"\n\n").map(|i| i + 2);
    [crlf, lf].into_iter().flatten().min()
}

struct Connection {
    stream: TcpStream,
    buf: Vec<u8>,
    accepted: Instant,
}

impl Connection {
    /// When it is closed if still unanswered: silent ones go early.
    fn deadline(&self) -> Instant {
        let budget = if self.buf.is_empty() {
            IDLE_TIMEOUT
        } else {
            REQUEST_TIMEOUT
        };
        self.accepted + budget
    }
}

enum Progress {
    Waiting,
    Done,
}

impl Connection {
    fn advance(&mut self, phase: Phase) -> Progress {
        let mut chunk = [0u8; 1024];
        loop {
            match self.stream.read(&mut chunk) {
                Ok(0) => return Progress::Done,
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == ErrorKind::WouldBlock => return Progress::Waiting,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(_) => return Progress::Done,
            }
            let response = match head_end(&self.buf) {
                Some(end) => respond(&self.buf[..end], phase),
                None if self.buf.len() > MAX_REQUEST => Response::new(431, "request too large\n"),
                None => continue,
            };
            // The reply is far smaller than a fresh socket's send buffer, so
            // one non-blocking write delivers it; a client that cannot take it
            // is not worth waiting for.
            let _ = self.stream.write_all(&response.to_bytes());
            return Progress::Done;
        }
    }
}

pub struct ProbeServer {
    listener: TcpListener,
    connections: Vec<Connection>,
}

impl ProbeServer {
    pub fn bind(addr: SocketAddr) -> io::Result<Self> {
        let listener = TcpListener::bind(addr)?;
        listener.set_nonblocking(true)?;
        Ok(ProbeServer {
            listener,
            connections: Vec::new(),
        })
    }

    pub fn listener_fd(&self) -> BorrowedFd<'_> {
        self.listener.as_fd()
    }

    pub fn connection_fds(&self) -> impl Iterator<Item = BorrowedFd<'_>> {
        self.connections.iter().map(|c| c.stream.as_fd())
    }

    /// Accepts waiting clients, answers every complete request and drops
    /// connections that are finished or past their deadline. `readable`
    /// tells, in the order of [`Self::connection_fds`], which connections
    /// poll reported readable; only those (and new ones) are read, so idle
    /// connections cost no system call per loop.
    pub fn serve(&mut self, now: Instant, phase: Phase, readable: &[bool]) {
        let mut keep = Vec::with_capacity(self.connections.len());
        for (i, mut c) in std::mem::take(&mut self.connections)
            .into_iter()
            .enumerate()
        {
            let waiting = !readable.get(i).copied().unwrap_or(false)
                || matches!(c.advance(phase), Progress::Waiting);
            if waiting && now < c.deadline() {
                keep.push(c);
            }
        }
        self.connections = keep;
        loop {
            match self.listener.accept() {
                Ok((stream, _)) => {
                    if stream.set_nonblocking(true).is_err() {
                        continue;
                    }
                    let mut c = Connection {
                        stream,
                        buf: Vec::new(),
                        accepted: now,
                    };
                    // The request often arrives with the connection.
                    if matches!(c.advance(phase), Progress::Done)
                        || !self.make_room(MAX_CONNECTIONS)
                    {
                        continue;
                    }
                    self.connections.push(c);
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                // WouldBlock ends the batch; errors such as EMFILE or an
                // aborted handshake must not take the shim down either.
                Err(_) => break,
            }
        }
    }

    /// Answers probes for `period` on its own, before the supervisor's loop
    /// runs (the app is not started yet).
    pub fn serve_for(&mut self, period: Duration, phase: Phase) {
        use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
        let end = Instant::now() + period;
        loop {
            let now = Instant::now();
            if now >= end {
                return;
            }
            let wait = end - now;
            let ms = u16::try_from(wait.as_millis().max(1)).unwrap_or(u16::MAX);
            let readable = {
                let mut fds = vec![PollFd::new(self.listener.as_fd(), PollFlags::POLLIN)];
                fds.extend(
                    self.connections
                        .iter()
                        .map(|c| PollFd::new(c.stream.as_fd(), PollFlags::POLLIN)),
                );
                let _ = poll(&mut fds, PollTimeout::from(ms));
                fds[1..]
                    .iter()
                    .map(|fd| fd.any().unwrap_or(false))
                    .collect::<Vec<_>>()
            };
            self.serve(Instant::now(), phase, &readable);
        }
    }

    /// Frees a slot when the table is full by dropping the oldest connection
    /// that has sent nothing; `false` when every one has a request under way.
    fn make_room(&mut self, limit: usize) -> bool {
        if self.connections.len() < limit {
            return true;
        }
        match self.connections.iter().position(|c| c.buf.is_empty()) {
            Some(i) => {
                self.connections.remove(i);
                true
            }
            None => false,
        }
    }

    /// When the next open connection times out.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.connections.iter().map(Connection::deadline).min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    const KUBELET: &[u8] = b"GET /ready HTTP/1.1\r\nHost: 10.0.0.1:9797\r\n\
        User-Agent: kube-probe/1.34\r\nAccept: */*\r\nConnection: close\r\n\r\n";

    #[test]
    fn ready_reflects_the_phase() {
        assert_eq!(
            respond(KUBELET, Phase::Ready),
            Response::new(200, "ready\n")
        );
        assert_eq!(
            respond(KUBELET, Phase::Starting),
            Response::new(503, "not ready\n")
        );
        assert_eq!(
            respond(KUBELET, Phase::Stopping),
            Response::new(503, "stopping\n")
        );
    }

    #[test]
    fn live_is_always_ok() {
        for phase in [Phase::Starting, Phase::Ready, Phase::Stopping] {
            assert_eq!(respond(b"GET /live HTTP/1.0\r\n\r\n", phase).status, 200);
        }
    }

    #[test]
    fn query_strings_head_and_unknown_paths() {
        assert_eq!(
            respond(b"GET /ready?x=1 HTTP/1.1\r\n\r\n", Phase::Ready).status,
            200
        );
        let head = respond(b"HEAD /ready HTTP/1.1\r\n\r\n", Phase::Ready);
        assert!(head.head_only);
        assert!(!String::from_utf8_lossy(&head.to_bytes()).contains("ready\n"));
        assert_eq!(respond(b"GET / HTTP/1.1\r\n\r\n", Phase::Ready).status, 404);
        assert_eq!(
            respond(b"POST /ready HTTP/1.1\r\n\r\n", Phase::Ready).status,
            405
        );
    }

    #[test]
    fn garbage_is_a_bad_request() {
        for garbage in [
            &b""[..],
            b"\x00\xff\r\n\r\n",
            b"GET\r\n\r\n",
            b"GET /ready FTP/1\r\n\r\n",
        ] {
            assert_eq!(respond(garbage, Phase::Ready).status, 400, "{garbage:?}");
        }
    }

    #[test]
    fn response_bytes_are_well_formed() {
        let text = String::from_utf8(Response::new(503, "not ready\n").to_bytes()).expect("utf8");
        assert!(text.starts_with("HTTP/1.1 503 Service Unavailable\r\n"));
        assert!(text.contains("Content-Length: 10\r\n"));
        assert!(text.ends_with("\r\n\r\nnot ready\n"));
        let text =
            String::from_utf8(Response::new(405, "method not allowed\n").to_bytes()).expect("utf8");
        assert!(text.contains("Allow: GET, HEAD\r\n"));
    }

    /// A server holding one connection per entry, oldest first: `true` for
    /// one that sent part of a request, `false` for a silent one; plus the
    /// client ends, which must stay open.
    fn server_with(started: &[bool]) -> (ProbeServer, Vec<TcpStream>) {
        let mut server = ProbeServer::bind("127.0.0.1:0".parse().expect("addr")).expect("bind");
        let addr = server.listener.local_addr().expect("addr");
        let mut clients = Vec::new();
        let now = Instant::now();
        for &sent in started {
            let mut client = TcpStream::connect(addr).expect("connect");
            if sent {
                client.write_all(b"GET /re").expect("write");
            }
            clients.push(client);
            let (stream, _) = loop {
                match server.listener.accept() {
                    Ok(pair) => break pair,
                    Err(_) => std::thread::sleep(Duration::from_millis(1)),
                }
            };
            stream.set_nonblocking(true).expect("nonblocking");
            // Loopback delivers at once; a moment makes sure of it.
            std::thread::sleep(Duration::from_millis(5));
            let mut c = Connection {
                stream,
                buf: Vec::new(),
                accepted: now,
            };
            assert!(matches!(c.advance(Phase::Ready), Progress::Waiting));
            server.connections.push(c);
        }
        (server, clients)
    }

    #[test]
    fn room_is_made_by_evicting_the_oldest_silent_connection_only() {
        // Oldest first: a partial request, then two silent connections.
        let (mut server, _clients) = server_with(&[true, false, false]);
        let silent_peers: Vec<_> = server.connections[1..]
            .iter()
            .map(|c| c.stream.peer_addr().expect("peer"))
            .collect();
        assert!(server.make_room(3));
        assert_eq!(server.connections.len(), 2);
        assert!(!server.connections[0].buf.is_empty(), "the request stays");
        assert_eq!(
            server.connections[1].stream.peer_addr().expect("peer"),
            silent_peers[1],
            "the oldest silent one went"
        );
        assert!(server.make_room(3), "below the limit: nothing to do");
    }

    #[test]
    fn a_connection_with_a_request_under_way_is_never_evicted() {
        let (mut server, _clients) = server_with(&[true, true]);
        assert!(!server.make_room(2), "the new client is turned away");
        assert_eq!(server.connections.len(), 2);
    }

    #[test]
    fn head_end_accepts_crlf_and_bare_lf() {
        assert_eq!(head_end(b"GET / HTTP/1.1\r\n\r\nrest"), Some(18));
        assert_eq!(head_end(b"GET / HTTP/1.1\n\n"), Some(16));
        assert_eq!(head_end(b"GET / HTTP/1.1\r\nHost: x\r\n"), None);
    }
}
