//! A minimal HTTP/1.1 GET, enough for `readyroll probe URL`: the chart's
//! `helm test` pod runs the operator image (which has nothing but the
//! operator binaries) against the operator's `/readyz`.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Responses larger than this are cut off: a probe only needs the status.
const MAX_RESPONSE_BYTES: u64 = 1 << 20;

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
        source: std::io::Error,
    },
    #[error("{authority}: not an HTTP response (first line {first_line:?})")]
    Malformed {
        authority: String,
        first_line: String,
    },
}

/// GETs `url` (plain `http://`) within `timeout`, whatever the status.
pub async fn probe(url: &str, timeout: Duration) -> Result<ProbeResponse, ProbeError> {
    let (authority, path) = split_url(url)?;
    let host = authority
        .rsplit_once(':')
        .map_or(authority, |(host, _port)| host);
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: readyroll-probe\r\nAccept: */*\r\nConnection: close\r\n\r\n"
    );
    let address = if has_port(authority) {
        authority.to_owned()
    } else {
        format!("{authority}:80")
    };
    send_raw(&address, &request, timeout).await
}

/// Sends `request` verbatim to `authority` (`host:port`) and parses the
/// answer; the server must close the connection after it.
pub(crate) async fn send_raw(
    authority: &str,
    request: &str,
    timeout: Duration,
) -> Result<ProbeResponse, ProbeError> {
    let exchange = async {
        let mut stream =
            TcpStream::connect(authority)
                .await
                .map_err(|source| ProbeError::Connect {
                    authority: authority.to_owned(),
                    source,
                })?;
        let io_error = |source| ProbeError::Io {
            authority: authority.to_owned(),
            source,
        };
        stream
            .write_all(request.as_bytes())
            .await
            .map_err(io_error)?;
        let mut raw = Vec::new();
        stream
            .take(MAX_RESPONSE_BYTES)
            .read_to_end(&mut raw)
            .await
            .map_err(io_error)?;
        parse_response(authority, &raw)
    };
    tokio::time::timeout(timeout, exchange)
        .await
        .map_err(|_elapsed| ProbeError::Timeout {
            authority: authority.to_owned(),
            timeout,
        })?
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

fn parse_response(authority: &str, raw: &[u8]) -> Result<ProbeResponse, ProbeError> {
    let text = String::from_utf8_lossy(raw);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.split("\r\n");
    let first_line = lines.next().unwrap_or_default();
    let malformed = || ProbeError::Malformed {
        authority: authority.to_owned(),
        first_line: first_line.chars().take(80).collect(),
    };
    let mut parts = first_line.splitn(3, ' ');
    let version = parts.next().unwrap_or_default();
    if !version.starts_with("HTTP/1.") {
        return Err(malformed());
    }
    let status = parts
        .next()
        .and_then(|code| code.parse::<u16>().ok())
        .filter(|code| (100..600).contains(code))
        .ok_or_else(malformed)?;
    let headers = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_owned(), value.trim().to_owned()))
        .collect();
    Ok(ProbeResponse {
        status,
        headers,
        body: body.to_owned(),
    })
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

    #[test]
    fn responses_parse() {
        let response = parse_response(
            "a",
            b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/plain\r\n\r\nnot yet\n",
        )
        .expect("valid");
        assert_eq!(response.status, 503);
        assert_eq!(
            response.headers,
            vec![("content-type".to_owned(), "text/plain".to_owned())]
        );
        assert_eq!(response.body, "not yet\n");
        assert!(parse_response("a", b"SSH-2.0-OpenSSH\r\n").is_err());
        assert!(parse_response("a", b"HTTP/1.1 abc\r\n\r\n").is_err());
        assert!(parse_response("a", b"").is_err());
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
