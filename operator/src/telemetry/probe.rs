//! One HTTP/1.1 GET, enough for `readyroll probe URL`: the chart's `helm test` pod runs the
//! operator image (which has nothing but the operator binaries) against the operator's
//! `/readyz`.

use std::time::Duration;

use http_body_util::{BodyExt, Empty};
use hyper::body::{Bytes, Incoming};
use hyper::client::conn::http1;
use hyper::header::{ACCEPT, CONNECTION, HOST, USER_AGENT};
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// Responses larger than this are cut off: a probe only needs the status.
const MAX_RESPONSE_BYTES: usize = 1 << 20;

/// What came back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

/// Why a probe got no HTTP answer.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    #[error("{url:?}: only http://HOST:PORT/PATH URLs are supported")]
    Url { url: String },
    #[error("{authority}: cannot resolve or connect: {source}")]
    Connect {
        authority: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{authority}: no complete answer within {timeout:?}")]
    Timeout {
        authority: String,
        timeout: Duration,
    },
    #[error("{authority}: reading the answer failed: {source}")]
    Io {
        authority: String,
        #[source]
        source: hyper::Error,
    },
    #[error("{authority}: not an HTTP response: {source}")]
    Malformed {
        authority: String,
        #[source]
        source: hyper::Error,
    },
}

/// GETs `url` (plain `http://`) within `timeout`, whatever the status.
pub async fn probe(url: &str, timeout: Duration) -> Result<ProbeResponse, ProbeError> {
    request(Method::GET, url, timeout).await
}

/// Sends `method url` on a new connection, asking the server to close it after answering.
pub(crate) async fn request(
    method: Method,
    url: &str,
    timeout: Duration,
) -> Result<ProbeResponse, ProbeError> {
    let (authority, path) = split_url(url)?;
    let host = authority
        .rsplit_once(':')
        .map_or(authority, |(host, _port)| host);
    let address = if has_port(authority) {
        authority.to_owned()
    } else {
        format!("{authority}:80")
    };
    let request = Request::builder()
        .method(method)
        .uri(path)
        .header(HOST, host)
        .header(USER_AGENT, "readyroll-probe")
        .header(ACCEPT, "*/*")
        .header(CONNECTION, "close")
        .body(Empty::<Bytes>::new())
        .map_err(|_| ProbeError::Url {
            url: url.to_owned(),
        })?;
    tokio::time::timeout(timeout, exchange(&address, request))
        .await
        .map_err(|_elapsed| ProbeError::Timeout {
            authority: address.clone(),
            timeout,
        })?
}

async fn exchange(
    authority: &str,
    request: Request<Empty<Bytes>>,
) -> Result<ProbeResponse, ProbeError> {
    let stream = TcpStream::connect(authority)
        .await
        .map_err(|source| ProbeError::Connect {
            authority: authority.to_owned(),
            source,
        })?;
    let http_error = |source: hyper::Error| {
        let authority = authority.to_owned();
        if source.is_parse() {
            ProbeError::Malformed { authority, source }
        } else {
            ProbeError::Io { authority, source }
        }
    };
    let (mut sender, connection) = http1::handshake(TokioIo::new(stream))
        .await
        .map_err(http_error)?;
    // Ends by itself once the answer is read: the request asked to close the connection.
    tokio::spawn(connection);
    let answer = async {
        let response = sender.send_request(request).await?;
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .map(|(name, value)| {
                let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
                (name.as_str().to_owned(), value)
            })
            .collect();
        let body = read_capped(response.into_body()).await?;
        Ok(ProbeResponse {
            status,
            headers,
            body: String::from_utf8_lossy(&body).into_owned(),
        })
    };
    answer.await.map_err(http_error)
}

/// The body up to [`MAX_RESPONSE_BYTES`]; the rest is not read.
async fn read_capped(mut body: Incoming) -> Result<Vec<u8>, hyper::Error> {
    let mut bytes = Vec::new();
    while bytes.len() < MAX_RESPONSE_BYTES {
        let Some(frame) = body.frame().await else {
            break;
        };
        if let Ok(data) = frame?.into_data() {
            bytes.extend_from_slice(&data);
        }
    }
    bytes.truncate(MAX_RESPONSE_BYTES);
    Ok(bytes)
}

fn split_url(url: &str) -> Result<(&str, &str), ProbeError> {
    let bad = || ProbeError::Url {
        url: url.to_owned(),
    };
    let rest = url.strip_prefix("http://").ok_or_else(bad)?;
    let (authority, path) = match rest.find('/') {
        Some(slash) => rest.split_at(slash),
        None => (rest, "/"),
    };
    if authority.is_empty() || authority.contains('@') || authority.chars().any(char::is_whitespace)
    {
        return Err(bad());
    }
    if path.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad());
    }
    Ok((authority, path))
}

/// `host:port` or `[v6]:port`, as opposed to a bare host or `[v6]`.
fn has_port(authority: &str) -> bool {
    match authority.rsplit_once(':') {
        Some((host, port)) => {
            !port.is_empty()
                && port.bytes().all(|b| b.is_ascii_digit())
                && (!host.contains(':') || host.ends_with(']'))
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_split_into_authority_and_path() {
        assert_eq!(
            split_url("http://10.0.0.1:8080/readyz").ok(),
            Some(("10.0.0.1:8080", "/readyz"))
        );
        assert_eq!(
            split_url("http://svc.ns:8080").ok(),
            Some(("svc.ns:8080", "/"))
        );
        assert_eq!(
            split_url("http://[::1]:9/x?y=1").ok(),
            Some(("[::1]:9", "/x?y=1"))
        );
        for bad in [
            "https://x/",
            "x:80/readyz",
            "http:///readyz",
            "http://u@h/",
            "http://h/a b",
        ] {
            assert!(split_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn ports_are_recognised() {
        assert!(has_port("h:8080"));
        assert!(has_port("[::1]:8080"));
        assert!(!has_port("h"));
        assert!(!has_port("[::1]"));
        assert!(!has_port("h:"));
    }

    /// A server that answers one connection with `raw`, whatever was asked, then closes it.
    async fn answering(raw: &'static [u8]) -> String {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.expect("accept");
            let mut request = [0u8; 1024];
            let _ = socket.read(&mut request).await;
            let _ = socket.write_all(raw).await;
        });
        format!("http://{addr}/readyz")
    }

    async fn probe_answered_with(raw: &'static [u8]) -> Result<ProbeResponse, ProbeError> {
        probe(&answering(raw).await, Duration::from_secs(2)).await
    }

    #[tokio::test]
    async fn responses_parse() {
        let response = probe_answered_with(
            b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/plain\r\n\r\nnot yet\n",
        )
        .await
        .expect("valid");
        assert_eq!(response.status, 503);
        assert_eq!(
            response.headers,
            vec![("content-type".to_owned(), "text/plain".to_owned())]
        );
        assert_eq!(response.body, "not yet\n");
        assert!(probe_answered_with(b"SSH-2.0-OpenSSH\r\n").await.is_err());
        assert!(probe_answered_with(b"HTTP/1.1 abc\r\n\r\n").await.is_err());
        assert!(probe_answered_with(b"").await.is_err());
    }

    #[tokio::test]
    async fn a_closed_port_is_a_connect_error() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        drop(listener);
        let err = probe(&format!("http://{addr}/readyz"), Duration::from_secs(2))
            .await
            .expect_err("nothing listens");
        assert!(matches!(err, ProbeError::Connect { .. }), "{err}");
    }

    #[tokio::test]
    async fn a_silent_server_times_out() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let _hold = tokio::spawn(async move {
            let (_socket, _) = listener.accept().await.expect("accept");
            tokio::time::sleep(Duration::from_secs(30)).await;
        });
        let err = probe(&format!("http://{addr}/readyz"), Duration::from_millis(200))
            .await
            .expect_err("never answers");
        assert!(matches!(err, ProbeError::Timeout { .. }), "{err}");
    }
}
