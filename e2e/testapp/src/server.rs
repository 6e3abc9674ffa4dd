//! The listener, one thread per connection, and the bookkeeping a graceful
//! drain needs: stop accepting, let open connections finish, know when all did.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crate::http::{Connection, ReadOutcome, Request, Response};

/// How often an idle keep-alive connection checks whether a drain started.
const IDLE_POLL: Duration = Duration::from_millis(50);

/// What every connection thread shares with the main thread.
pub struct Shared {
    pub version: String,
    pub hostname: String,
    pub latency: Duration,
    ready: AtomicBool,
    draining: AtomicBool,
    open_connections: Mutex<usize>,
    all_closed: Condvar,
}

impl Shared {
    pub fn new(version: String, hostname: String, latency: Duration) -> Arc<Self> {
        Arc::new(Shared {
            version,
            hostname,
            latency,
            ready: AtomicBool::new(false),
            draining: AtomicBool::new(false),
            open_connections: Mutex::new(0),
            all_closed: Condvar::new(),
        })
    }

    pub fn set_ready(&self) {
        self.ready.store(true, Ordering::SeqCst);
    }

    fn is_ready(&self) -> bool {
        self.ready.load(Ordering::SeqCst) && !self.is_draining()
    }

    fn is_draining(&self) -> bool {
        self.draining.load(Ordering::SeqCst)
    }

    fn connection_opened(&self) {
        *lock(&self.open_connections) += 1;
    }

    fn connection_closed(&self) {
        let mut open = lock(&self.open_connections);
        *open -= 1;
        if *open == 0 {
            self.all_closed.notify_all();
        }
    }

    /// Waits until every connection closed or `deadline` passed; returns how
    /// many were still open.
    fn wait_all_closed(&self, deadline: Instant) -> usize {
        let mut open = lock(&self.open_connections);
        while *open > 0 {
            let Some(left) = deadline.checked_duration_since(Instant::now()) else {
                break;
            };
            open = match self.all_closed.wait_timeout(open, left) {
                Ok((guard, _)) => guard,
                Err(poisoned) => poisoned.into_inner().0,
            };
        }
        *open
    }
}

/// A counter stays meaningful even if a connection thread panicked holding it.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

pub struct Server {
    shared: Arc<Shared>,
    local_addr: SocketAddr,
    acceptor: JoinHandle<()>,
}

impl Server {
    pub fn start(addr: SocketAddr, shared: Arc<Shared>) -> io::Result<Self> {
        let listener = TcpListener::bind(addr)?;
        let local_addr = listener.local_addr()?;
        let accept_shared = Arc::clone(&shared);
        let acceptor = thread::Builder::new()
            .name("accept".into())
            .spawn(move || accept_loop(listener, accept_shared))?;
        Ok(Server {
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
        self.shared.draining.store(true, Ordering::SeqCst);
        // accept() blocks; a connection of our own wakes it to see the flag.
        let _ = TcpStream::connect_timeout(&wake_addr(self.local_addr), Duration::from_secs(1));
        let _ = self.acceptor.join();
        Draining {
            shared: self.shared,
        }
    }
}

/// A server that no longer accepts connections.
pub struct Draining {
    shared: Arc<Shared>,
}

impl Draining {
    /// Waits for open connections to finish, at most `max`; returns how many
    /// were still open then.
    pub fn wait(self, max: Duration) -> usize {
        self.shared.wait_all_closed(Instant::now() + max)
    }
}

/// Where to connect to reach our own listener (an unspecified bind address
/// is reachable on loopback).
fn wake_addr(local: SocketAddr) -> SocketAddr {
    let ip = match local.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    SocketAddr::new(ip, local.port())
}

fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    for stream in listener.incoming() {
        let stream = match stream {
            Ok(stream) => stream,
            Err(e) => {
                println!("accept failed: {e}");
                thread::sleep(Duration::from_millis(10));
                continue;
            }
        };
        // Counted here, not in the thread, so a drain never sees zero while a
        // connection is about to start.
        shared.connection_opened();
        let conn_shared = Arc::clone(&shared);
        let spawned = thread::Builder::new().name("conn".into()).spawn(move || {
            if let Err(e) = serve_connection(stream, &conn_shared) {
                println!("connection error: {e}");
            }
            conn_shared.connection_closed();
        });
        if let Err(e) = spawned {
            println!("cannot start connection thread: {e}");
            shared.connection_closed();
        }
        if shared.is_draining() {
            break;
        }
    }
    // Dropping the listener here closes the port: new connections are refused.
}

fn serve_connection(stream: TcpStream, shared: &Shared) -> io::Result<()> {
    let mut conn = Connection::new(stream, IDLE_POLL)?;
    loop {
        let request = match conn.read_request(|| shared.is_draining())? {
            ReadOutcome::Request(request) => request,
            ReadOutcome::Closed => return Ok(()),
            ReadOutcome::Malformed(reason) => {
                let mut response = respond_to(shared, 400, format!("{reason}\n"));
                response.close = true;
                return conn.respond(&response);
            }
        };
        let mut response = handle(shared, &request);
        // Read the flag after handling: a drain that began during a slow
        // request must still close this connection.
        response.close = !request.keep_alive || shared.is_draining();
        conn.respond(&response)?;
        if response.close {
            return Ok(());
        }
    }
}

fn handle(shared: &Shared, request: &Request) -> Response {
    match request.path.as_str() {
        "/healthz" if shared.is_ready() => respond_to(shared, 200, "ready\n".into()),
        "/healthz" if shared.is_draining() => respond_to(shared, 503, "draining\n".into()),
        "/healthz" => respond_to(shared, 503, "starting\n".into()),
        "/livez" => respond_to(shared, 200, "alive\n".into()),
        _ => {
            if !shared.latency.is_zero() {
                thread::sleep(shared.latency);
            }
            respond_to(shared, 200, format!("{}\n", shared.version))
        }
    }
}

fn respond_to(shared: &Shared, status: u16, body: String) -> Response {
    Response {
        status,
        body,
        version: shared.version.clone(),
        hostname: shared.hostname.clone(),
        close: false,
    }
}
