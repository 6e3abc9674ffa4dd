//! The HTTP/1.1 side of the load generator, on hyper's client connection: one `GET` on a
//! connection that may be kept open, with each way it can fail told apart.
use std::{
    future::Future,
    io,
    net::SocketAddr,
    pin::Pin,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc,
    },
    task::{Context, Poll},
    time::Duration,
};

use http_body_util::{BodyExt, Empty, Limited};
use hyper::{
    body::Bytes,
    client::conn::http1,
    header::{HeaderMap, CONNECTION, CONTENT_LENGTH, HOST, TRANSFER_ENCODING, USER_AGENT},
    Request,
};
use hyper_util::rt::TokioIo;
use serde::{Deserialize, Serialize};
use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    net::TcpStream,
};

use super::source_port::{Opening, SourcePort};

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
    sender: http1::SendRequest<Empty<Bytes>>,
    /// Moves the connection's bytes while a request is under way; gone once it ended.
    driver: Option<Pin<Box<Driver>>>,
    /// Bytes received on the connection so far.
    received: Arc<AtomicU64>,
    /// Responses received on it so far: a connection that served one is "reused".
    pub served: u64,
}

type Driver = http1::Connection<TokioIo<Counted>, Empty<Bytes>>;

/// A connect failure's detail with the port it came from and, for a load on loopback (a
/// NodePort, through kube-proxy), what conntrack holds for that 4-tuple.
async fn with_origin(detail: String, target: SocketAddr, port: Option<u16>) -> String {
    let Some(port) = port else {
        return detail;
    };
    if !target.ip().is_loopback() {
        return format!("{detail} (from port {port})");
    }
    let entries = super::conntrack::entries_towards(target, port).await;
    format!("{detail} (from port {port}; {entries})")
}

impl Connection {
    pub async fn open(
        addr: SocketAddr,
        timeout: Duration,
        source: SourcePort,
    ) -> Result<Self, AttemptError> {
        let opening = Opening::bind(addr, source)
            .map_err(|e| failed(FailureKind::ConnectError, format!("bind: {e}"), false))?;
        let port = opening.port;
        let stream = match tokio::time::timeout(timeout, opening.connect(addr)).await {
            Ok(Ok(stream)) => stream,
            Ok(Err(e)) => {
                let kind = match e.kind() {
                    io::ErrorKind::ConnectionRefused => FailureKind::ConnectRefused,
                    io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => {
                        FailureKind::ConnectTimeout
                    }
                    _ => FailureKind::ConnectError,
                };
                let detail = with_origin(e.to_string(), addr, port).await;
                return Err(failed(kind, detail, false));
            }
            Err(_elapsed) => {
                let detail = format!("not connected within {timeout:?}");
                return Err(failed(
                    FailureKind::ConnectTimeout,
                    with_origin(detail, addr, port).await,
                    false,
                ));
            }
        };
        stream
            .set_nodelay(true)
            .map_err(|e| failed(FailureKind::ConnectError, e.to_string(), false))?;
        let received = Arc::new(AtomicU64::new(0));
        let io = TokioIo::new(Counted {
            stream,
            received: Arc::clone(&received),
        });
        let (sender, driver) = http1::Builder::new()
            .max_buf_size(MAX_HEAD_BYTES)
            .handshake(io)
            .await
            .map_err(|e| failed(FailureKind::ConnectError, e.to_string(), false))?;
        Ok(Connection {
            sender,
            driver: Some(Box::pin(driver)),
            received,
            served: 0,
        })
    }

    /// Sends `GET path` and reads the whole response within `timeout`. Returns the answer
    /// and whether the connection may carry another request.
    pub async fn get(
        &mut self,
        host: &str,
        path: &str,
        keep_alive: bool,
        timeout: Duration,
    ) -> Result<(Answer, bool), AttemptError> {
        let request = Request::get(path)
            .header(HOST, host)
            .header(USER_AGENT, "readyroll-e2e-load")
            .header(CONNECTION, if keep_alive { "keep-alive" } else { "close" })
            .body(Empty::new())
            .map_err(|e| failed(FailureKind::Malformed, e.to_string(), false))?;
        let before = self.received.load(Ordering::Relaxed);
        let exchange = exchange(&mut self.sender, request);
        let outcome = tokio::time::timeout(timeout, drive(&mut self.driver, exchange)).await;
        let started = self.received.load(Ordering::Relaxed) > before;
        let headers = match outcome {
            Ok(Ok(headers)) => headers,
            Ok(Err((kind, detail))) => return Err(failed(kind, detail, started)),
            Err(_elapsed) => {
                return Err(failed(
                    FailureKind::Timeout,
                    "no complete response".into(),
                    started,
                ))
            }
        };
        self.served += 1;
        let (status, headers) = headers;
        if status != 200 {
            return Err(failed(
                FailureKind::Status(status),
                format!("status {status}"),
                true,
            ));
        }
        let close = header(&headers, CONNECTION.as_str()).eq_ignore_ascii_case("close");
        Ok((
            Answer {
                version: header(&headers, "x-version"),
                host: header(&headers, "x-hostname"),
            },
            keep_alive && !close,
        ))
    }
}

/// Why an exchange failed, before it is known whether any byte of the response came.
type Failed = (FailureKind, String);

/// One request and its whole response: the status and the headers.
async fn exchange(
    sender: &mut http1::SendRequest<Empty<Bytes>>,
    request: Request<Empty<Bytes>>,
) -> Result<(u16, HeaderMap), Failed> {
    sender.ready().await.map_err(|e| http_failure(&e))?;
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| http_failure(&e))?;
    if let Some(problem) = unframed(response.headers()) {
        return Err((FailureKind::Malformed, problem));
    }
    let (parts, body) = response.into_parts();
    Limited::new(body, MAX_BODY_BYTES)
        .collect()
        .await
        .map_err(|e| match e.downcast_ref::<hyper::Error>() {
            Some(e) => http_failure(e),
            None => (FailureKind::Malformed, "body too long".into()),
        })?;
    Ok((parts.status.as_u16(), parts.headers))
}

fn http_failure(e: &hyper::Error) -> Failed {
    (classify(e), e.to_string())
}

/// The test apps frame every answer with a Content-Length (or by closing the connection
/// when they say so); an answer framed otherwise did not come from them.
fn unframed(headers: &HeaderMap) -> Option<String> {
    let encoding = header(headers, TRANSFER_ENCODING.as_str());
    if !encoding.is_empty() && !encoding.eq_ignore_ascii_case("identity") {
        return Some("chunked bodies are not supported".into());
    }
    let length = header(headers, CONTENT_LENGTH.as_str());
    if length.is_empty() {
        let close = header(headers, CONNECTION.as_str()).eq_ignore_ascii_case("close");
        return (!close).then(|| "no Content-Length on a kept-alive connection".into());
    }
    match length.parse::<usize>() {
        Ok(length) if length <= MAX_BODY_BYTES => None,
        _ => Some(format!("Content-Length {length}")),
    }
}

fn header(headers: &HeaderMap, name: &str) -> String {
    headers
        .get(name)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .unwrap_or_default()
}

fn classify(e: &hyper::Error) -> FailureKind {
    if let Some(io) = io_cause(e) {
        return match io.kind() {
            io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => FailureKind::Timeout,
            io::ErrorKind::UnexpectedEof => FailureKind::ClosedEarly,
            _ => FailureKind::Reset,
        };
    }
    if e.is_incomplete_message() || e.is_canceled() || e.is_closed() {
        FailureKind::ClosedEarly
    } else {
        FailureKind::Malformed
    }
}

fn io_cause(e: &hyper::Error) -> Option<&io::Error> {
    let mut cause = std::error::Error::source(e);
    while let Some(error) = cause {
        if let Some(io) = error.downcast_ref::<io::Error>() {
            return Some(io);
        }
        cause = error.source();
    }
    None
}

/// Runs `work` while the connection's driver moves its bytes. A driver that ended is
/// dropped, so a request it can no longer carry fails at once instead of waiting.
async fn drive<W: Future>(driver: &mut Option<Pin<Box<Driver>>>, work: W) -> W::Output {
    tokio::pin!(work);
    loop {
        let Some(running) = driver.as_mut() else {
            return work.await;
        };
        tokio::select! {
            output = &mut work => return output,
            _ended = running.as_mut() => *driver = None,
        }
    }
}

fn failed(kind: FailureKind, detail: String, response_started: bool) -> AttemptError {
    AttemptError {
        kind,
        detail,
        response_started,
    }
}

/// The TCP stream, counting the bytes that arrive: whether any byte of a response came
/// decides if a request on a reused connection may be sent again.
struct Counted {
    stream: TcpStream,
    received: Arc<AtomicU64>,
}

impl AsyncRead for Counted {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.stream).poll_read(cx, buf);
        let read = (buf.filled().len() - before) as u64;
        self.received.fetch_add(read, Ordering::Relaxed);
        polled
    }
}

impl AsyncWrite for Counted {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
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

    #[tokio::test]
    async fn keeps_a_connection_for_several_responses() {
        let ok: &[u8] =
            b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nX-Version: v2\r\nX-Hostname: web-1\r\n\r\nv2\n";
        let addr = serve(vec![ok, ok], false);
        let mut conn = Connection::open(addr, TIMEOUT, SourcePort::Rotating)
            .await
            .expect("connect");
        for _ in 0..2 {
            let (answer, reusable) = conn.get("h", "/", true, TIMEOUT).await.expect("answer");
            assert_eq!(answer.version, "v2");
            assert_eq!(answer.host, "web-1");
            assert!(reusable);
        }
        assert_eq!(conn.served, 2);
    }

    #[tokio::test]
    async fn connection_close_ends_reuse_and_body_may_run_to_eof() {
        let addr = serve(
            vec![b"HTTP/1.1 200 OK\r\nConnection: close\r\nX-Version: v1\r\n\r\nv1\n"],
            true,
        );
        let mut conn = Connection::open(addr, TIMEOUT, SourcePort::Rotating)
            .await
            .expect("connect");
        let (answer, reusable) = conn.get("h", "/", true, TIMEOUT).await.expect("answer");
        assert_eq!(answer.version, "v1");
        assert!(!reusable);
    }

    #[tokio::test]
    async fn failures_are_told_apart() {
        let addr = serve(
            vec![b"HTTP/1.1 503 Unavailable\r\nContent-Length: 0\r\n\r\n"],
            true,
        );
        let mut conn = Connection::open(addr, TIMEOUT, SourcePort::Rotating)
            .await
            .expect("connect");
        let err = conn.get("h", "/", true, TIMEOUT).await.expect_err("503");
        assert_eq!(err.kind, FailureKind::Status(503));

        let addr = serve(
            vec![b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nv1"],
            true,
        );
        let mut conn = Connection::open(addr, TIMEOUT, SourcePort::Rotating)
            .await
            .expect("connect");
        let err = conn
            .get("h", "/", true, TIMEOUT)
            .await
            .expect_err("short body");
        assert_eq!(err.kind, FailureKind::ClosedEarly);
        assert!(err.response_started);

        let addr = serve(vec![], true);
        let mut conn = Connection::open(addr, TIMEOUT, SourcePort::Rotating)
            .await
            .expect("connect");
        let err = conn.get("h", "/", true, TIMEOUT).await.expect_err("closed");
        assert!(matches!(
            err.kind,
            FailureKind::ClosedEarly | FailureKind::Reset
        ));
        assert!(!err.response_started);

        let addr = serve(vec![b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n"], false);
        let mut conn = Connection::open(addr, TIMEOUT, SourcePort::Rotating)
            .await
            .expect("connect");
        let err = conn
            .get("h", "/", true, Duration::from_millis(300))
            .await
            .expect_err("body never comes");
        assert_eq!(err.kind, FailureKind::Timeout);

        let closed = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = closed.local_addr().expect("addr");
        drop(closed);
        let err = Connection::open(addr, TIMEOUT, SourcePort::Rotating)
            .await
            .err()
            .expect("refused");
        assert_eq!(err.kind, FailureKind::ConnectRefused);
    }

    #[tokio::test]
    async fn rejects_what_it_cannot_frame() {
        let addr = serve(
            vec![b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nv1\n\r\n0\r\n\r\n"],
            true,
        );
        let mut conn = Connection::open(addr, TIMEOUT, SourcePort::Rotating)
            .await
            .expect("connect");
        assert_eq!(
            conn.get("h", "/", true, TIMEOUT)
                .await
                .expect_err("chunked")
                .kind,
            FailureKind::Malformed
        );
        for reply in [&b"SSH-2.0-OpenSSH\r\n\r\n"[..], b"HTTP/1.1 abc OK\r\n\r\n"] {
            let addr = serve(vec![reply], true);
            let mut conn = Connection::open(addr, TIMEOUT, SourcePort::Rotating)
                .await
                .expect("connect");
            assert_eq!(
                conn.get("h", "/", true, TIMEOUT)
                    .await
                    .expect_err("not HTTP")
                    .kind,
                FailureKind::Malformed
            );
        }
    }
}
