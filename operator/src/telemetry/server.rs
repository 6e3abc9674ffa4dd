//! The small HTTP server behind `--metrics-addr`: `/metrics`, `/healthz`,
//! `/readyz`.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::header::{HeaderValue, ALLOW, CONTENT_TYPE};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;

use super::{Health, Metrics};

/// Where the server listens unless `--metrics-addr` says otherwise.
pub const DEFAULT_METRICS_ADDR: &str = "0.0.0.0:8080";

const OPENMETRICS_CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";
const TEXT_CONTENT_TYPE: &str = "text/plain; charset=utf-8";
/// A client that has not sent its request headers by then is dropped, so
/// idle connections cannot pile up.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Why the server could not run.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("--metrics-addr {addr}: cannot listen: {source}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("metrics server on {addr}: accepting connections failed: {source}")]
    Accept {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
}

/// A bound telemetry server, not yet serving. Binding first lets the caller
/// fail fast on a taken port and learn the port when it asked for port 0.
pub struct TelemetryServer {
    listener: TcpListener,
    addr: SocketAddr,
    metrics: Metrics,
    health: Health,
}

impl TelemetryServer {
    /// Binds `addr`.
    pub async fn bind(
        addr: SocketAddr,
        metrics: Metrics,
        health: Health,
    ) -> Result<Self, ServerError> {
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| ServerError::Bind { addr, source })?;
        let addr = listener
            .local_addr()
            .map_err(|source| ServerError::Bind { addr, source })?;
        Ok(Self {
            listener,
            addr,
            metrics,
            health,
        })
    }

    /// The address actually bound.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Serves until `shutdown` completes. Connections in flight finish on
    /// their own; they are short (one scrape or probe each).
    pub async fn run(self, shutdown: impl Future<Output = ()>) -> Result<(), ServerError> {
        tokio::pin!(shutdown);
        loop {
            let (stream, _peer) = tokio::select! {
                () = &mut shutdown => return Ok(()),
                accepted = self.listener.accept() => match accepted {
                    Ok(connection) => connection,
                    // Running out of file descriptors or a connection reset
                    // before accept: transient, keep serving.
                    Err(error) if is_transient(&error) => {
                        tracing::warn!(%error, "metrics server: accept failed, retrying");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                    Err(source) => return Err(ServerError::Accept { addr: self.addr, source }),
                },
            };
            let metrics = self.metrics.clone();
            let health = self.health.clone();
            tokio::spawn(async move {
                let service = service_fn(move |request| {
                    let response = respond(&request, &metrics, &health);
                    async move { Ok::<_, Infallible>(response) }
                });
                let connection = http1::Builder::new()
                    .timer(TokioTimer::new())
                    .header_read_timeout(HEADER_READ_TIMEOUT)
                    .serve_connection(TokioIo::new(stream), service);
                if let Err(error) = connection.await {
                    tracing::debug!(%error, "metrics server: connection ended with an error");
                }
            });
        }
    }
}

/// Binds `addr` and serves until `shutdown` completes.
pub async fn serve(
    addr: SocketAddr,
    metrics: Metrics,
    health: Health,
    shutdown: impl Future<Output = ()>,
) -> Result<(), ServerError> {
    TelemetryServer::bind(addr, metrics, health)
        .await?
        .run(shutdown)
        .await
}

fn is_transient(error: &std::io::Error) -> bool {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionReset, Interrupted, WouldBlock};
    matches!(error.kind(), ConnectionAborted | ConnectionReset | Interrupted | WouldBlock)
        // EMFILE / ENFILE: out of file descriptors, frees up as connections close.
        || matches!(error.raw_os_error(), Some(23 | 24))
}

fn respond(
    request: &Request<Incoming>,
    metrics: &Metrics,
    health: &Health,
) -> Response<Full<Bytes>> {
    if request.method() != Method::GET && request.method() != Method::HEAD {
        let mut response = text(
            StatusCode::METHOD_NOT_ALLOWED,
            "only GET and HEAD\n".to_owned(),
        );
        response
            .headers_mut()
            .insert(ALLOW, HeaderValue::from_static("GET, HEAD"));
        return response;
    }
    match request.uri().path() {
        "/metrics" => match metrics.encode() {
            Ok(body) => with_type(StatusCode::OK, body, OPENMETRICS_CONTENT_TYPE),
            Err(error) => text(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("encoding metrics failed: {error}\n"),
            ),
        },
        "/healthz" => match health.stopped_reason() {
            None => text(StatusCode::OK, "ok\n".to_owned()),
            Some(reason) => text(
                StatusCode::SERVICE_UNAVAILABLE,
                format!("stopped: {reason}\n"),
            ),
        },
        "/readyz" => {
            if health.is_ready() {
                text(StatusCode::OK, "ready\n".to_owned())
            } else if let Some(reason) = health.stopped_reason() {
                text(
                    StatusCode::SERVICE_UNAVAILABLE,
                    format!("stopped: {reason}\n"),
                )
            } else {
                text(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "caches not synced yet\n".to_owned(),
                )
            }
        }
        _ => text(
            StatusCode::NOT_FOUND,
            "not found: try /metrics, /healthz or /readyz\n".to_owned(),
        ),
    }
}

fn text(status: StatusCode, body: String) -> Response<Full<Bytes>> {
    with_type(status, body, TEXT_CONTENT_TYPE)
}

fn with_type(
    status: StatusCode,
    body: String,
    content_type: &'static str,
) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::telemetry::probe;

    async fn start() -> (String, Metrics, Health, tokio::sync::oneshot::Sender<()>) {
        let metrics = Metrics::new();
        let health = Health::new();
        let loopback = SocketAddr::from(([127, 0, 0, 1], 0));
        let server = TelemetryServer::bind(loopback, metrics.clone(), health.clone())
            .await
            .expect("bind loopback");
        let base = format!("http://{}", server.local_addr());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(server.run(async {
            let _ = stopped.await;
        }));
        (base, metrics, health, stop)
    }

    async fn get(url: &str) -> probe::ProbeResponse {
        probe::probe(url, Duration::from_secs(5))
            .await
            .expect("request")
    }

    #[tokio::test]
    async fn serves_metrics_as_openmetrics() {
        let (base, metrics, _health, _stop) = start().await;
        metrics.set_leader(true);
        metrics.record_error(Duration::from_millis(2), "KubeError");
        let response = get(&format!("{base}/metrics")).await;
        assert_eq!(response.status, 200);
        assert!(
            response.body.contains("readyroll_leader 1"),
            "{}",
            response.body
        );
        assert!(
            response
                .body
                .contains("readyroll_reconcile_errors_total{error=\"KubeError\"} 1"),
            "{}",
            response.body
        );
        assert!(
            response
                .headers
                .iter()
                .any(|(name, value)| name.eq_ignore_ascii_case("content-type")
                    && value.starts_with("application/openmetrics-text")),
            "{:?}",
            response.headers
        );
    }

    #[tokio::test]
    async fn readyz_follows_the_ready_flag_and_healthz_the_loops() {
        let (base, _metrics, health, _stop) = start().await;
        assert_eq!(get(&format!("{base}/healthz")).await.status, 200);
        let unready = get(&format!("{base}/readyz")).await;
        assert_eq!(unready.status, 503);
        assert!(unready.body.contains("not synced"), "{}", unready.body);

        health.set_ready(true);
        assert_eq!(get(&format!("{base}/readyz")).await.status, 200);

        health.set_stopped("App watch ended");
        let dead = get(&format!("{base}/healthz")).await;
        assert_eq!(dead.status, 503);
        assert!(dead.body.contains("App watch ended"), "{}", dead.body);
        assert_eq!(get(&format!("{base}/readyz")).await.status, 503);
    }

    #[tokio::test]
    async fn unknown_paths_and_methods_are_refused() {
        let (base, _metrics, _health, _stop) = start().await;
        assert_eq!(get(&format!("{base}/nope")).await.status, 404);
        let response = probe::request(
            Method::DELETE,
            &format!("{base}/metrics"),
            Duration::from_secs(5),
        )
        .await
        .expect("request");
        assert_eq!(response.status, 405);
    }

    #[tokio::test]
    async fn stops_accepting_after_shutdown() {
        let (base, _metrics, _health, stop) = start().await;
        assert_eq!(get(&format!("{base}/healthz")).await.status, 200);
        stop.send(()).expect("server still running");
        // The accept loop ends on its next poll; give it a moment.
        let mut refused = false;
        for _ in 0..50 {
            if probe::probe(&format!("{base}/healthz"), Duration::from_secs(1))
                .await
                .is_err()
            {
                refused = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(refused, "server still answering after shutdown");
    }

    #[tokio::test]
    async fn a_taken_port_names_the_flag() {
        let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = taken.local_addr().expect("addr");
        let err = TelemetryServer::bind(addr, Metrics::new(), Health::new())
            .await
            .err()
            .expect("port is taken");
        assert!(err.to_string().contains("--metrics-addr"), "{err}");
    }
}
