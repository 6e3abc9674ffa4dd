//! The HTTP server (hyper, on a small runtime of its own) and the bookkeeping a graceful
//! drain needs: stop accepting, let open connections finish, know when all did.

use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::header::{HeaderValue, CONNECTION, CONTENT_TYPE};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode, Version};
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use tokio::runtime::Runtime;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// What every connection shares with the main thread.
pub struct Shared {
    pub version: String,
    pub hostname: String,
    pub latency: Duration,
    ready: AtomicBool,
    draining: watch::Sender<bool>,
    open_connections: watch::Sender<usize>,
}

impl Shared {
    pub fn new(version: String, hostname: String, latency: Duration) -> Arc<Self> {
        Arc::new(Shared {
            version,
            hostname,
            latency,
            ready: AtomicBool::new(false),
            draining: watch::Sender::new(false),
            open_connections: watch::Sender::new(0),
        })
    }

    pub fn set_ready(&self) {
        self.ready.store(true, Ordering::SeqCst);
    }

    fn is_ready(&self) -> bool {
        self.ready.load(Ordering::SeqCst) && !self.is_draining()
    }

    fn is_draining(&self) -> bool {
        *self.draining.borrow()
    }
}

/// One open connection; dropping it (also when the runtime cuts the connection off)
/// counts it closed.
struct Open(Arc<Shared>);

impl Open {
    fn new(shared: &Arc<Shared>) -> Self {
        shared.open_connections.send_modify(|open| *open += 1);
        Open(Arc::clone(shared))
    }
}

impl Drop for Open {
    fn drop(&mut self) {
        self.0.open_connections.send_modify(|open| *open -= 1);
    }
}

pub struct Server {
    runtime: Runtime,
    shared: Arc<Shared>,
    local_addr: SocketAddr,
    acceptor: JoinHandle<()>,
}

impl Server {
    pub fn start(addr: SocketAddr, shared: Arc<Shared>) -> io::Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("http")
            .enable_all()
            .build()?;
        let listener = runtime.block_on(TcpListener::bind(addr))?;
        let local_addr = listener.local_addr()?;
        let acceptor = runtime.spawn(accept_loop(listener, Arc::clone(&shared)));
        Ok(Server {
            runtime,
            shared,
            local_addr,
            acceptor,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Stops accepting: the port is closed when this returns. In-flight
    /// requests go on; their responses carry `Connection: close`, and idle
    /// keep-alive connections are closed.
    pub fn stop_accepting(self) -> Draining {
        self.shared.draining.send_replace(true);
        // The accept loop drops the listener as it ends.
        let _ = self.runtime.block_on(self.acceptor);
        Draining {
            runtime: self.runtime,
            shared: self.shared,
        }
    }
}

/// A server that no longer accepts connections.
pub struct Draining {
    runtime: Runtime,
    shared: Arc<Shared>,
}

impl Draining {
    /// Waits for open connections to finish, at most `max`; returns how many
    /// were still open then (they are cut off when this is dropped).
    pub fn wait(self, max: Duration) -> usize {
        let mut open = self.shared.open_connections.subscribe();
        let all_closed = open.wait_for(|open| *open == 0);
        let _ = self
            .runtime
            .block_on(async { tokio::time::timeout(max, all_closed).await });
        let left = *self.shared.open_connections.borrow();
        left
    }
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    let mut draining = shared.draining.subscribe();
    loop {
        let stream = tokio::select! {
            () = drain_started(&mut draining) => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => stream,
                Err(e) => {
                    println!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            },
        };
        // Counted here, not in the task, so a drain never sees zero while a
        // connection is about to start.
        let open = Open::new(&shared);
        tokio::spawn(async move {
            if let Err(e) = serve_connection(stream, &open.0).await {
                println!("connection error: {e}");
            }
            drop(open);
        });
    }
}

async fn drain_started(draining: &mut watch::Receiver<bool>) {
    // An error means the sender is gone: the server is being dropped anyway.
    let _ = draining.wait_for(|draining| *draining).await;
}

async fn serve_connection(stream: TcpStream, shared: &Arc<Shared>) -> hyper::Result<()> {
    stream.set_nodelay(true).ok();
    let handler = Arc::clone(shared);
    let service = service_fn(move |request| {
        let shared = Arc::clone(&handler);
        async move { Ok::<_, Infallible>(handle(&shared, &request).await) }
    });
    let connection = http1::Builder::new().serve_connection(TokioIo::new(stream), service);
    tokio::pin!(connection);
    let mut draining = shared.draining.subscribe();
    tokio::select! {
        served = connection.as_mut() => return served,
        () = drain_started(&mut draining) => {}
    }
    // An idle connection closes now; one in the middle of a request closes after
    // answering it.
    connection.as_mut().graceful_shutdown();
    connection.await
}

async fn handle(shared: &Shared, request: &Request<Incoming>) -> Response<Full<Bytes>> {
    let (status, body) = match request.uri().path() {
        "/healthz" if shared.is_ready() => (StatusCode::OK, "ready\n".to_owned()),
        "/healthz" if shared.is_draining() => {
            (StatusCode::SERVICE_UNAVAILABLE, "draining\n".to_owned())
        }
        "/healthz" => (StatusCode::SERVICE_UNAVAILABLE, "starting\n".to_owned()),
        "/livez" => (StatusCode::OK, "alive\n".to_owned()),
        _ => {
            if !shared.latency.is_zero() {
                tokio::time::sleep(shared.latency).await;
            }
            (StatusCode::OK, format!("{}\n", shared.version))
        }
    };
    // Read the flag after handling: a drain that began during a slow request
    // must still close this connection.
    let close = !wants_keep_alive(request) || shared.is_draining();
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    for (name, value) in [
        ("x-version", &shared.version),
        ("x-hostname", &shared.hostname),
    ] {
        if let Ok(value) = HeaderValue::from_str(value) {
            headers.insert(name, value);
        }
    }
    let connection = if close { "close" } else { "keep-alive" };
    headers.insert(CONNECTION, HeaderValue::from_static(connection));
    response
}

/// HTTP/1.1 keeps the connection unless told to close it; HTTP/1.0 closes it unless
/// told to keep it.
fn wants_keep_alive(request: &Request<Incoming>) -> bool {
    let tokens = request
        .headers()
        .get_all(CONNECTION)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(str::trim);
    let mut keep_alive = request.version() == Version::HTTP_11;
    for token in tokens {
        if token.eq_ignore_ascii_case("close") {
            keep_alive = false;
        } else if token.eq_ignore_ascii_case("keep-alive") {
            keep_alive = true;
        }
    }
    keep_alive
}
