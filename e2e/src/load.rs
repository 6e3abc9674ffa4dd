//! Continuous HTTP/1.1 load against an address on loopback (a NodePort on 127.0.0.1),
//! recording every request. Each worker is a thread with its own runtime and hyper client
//! connection, so no worker's request waits for another's.
//!
//! Two kinds of clients run at once: ones that keep their connection open across requests
//! (what proxies and most HTTP client libraries do) and ones that open a new connection
//! for every request (what a stream of new visitors does). Each worker sends at a fixed
//! rate. A load is bounded in time and in request count and stops by itself at either
//! limit; [`LoadRun::ended_by`] tells whether it was stopped by the test instead.
//!
//! A request counts as failed on a connect error, a reset, a close before the response
//! was complete, a timeout or any status but 200. One retry is made, like common HTTP
//! clients (Go's `net/http`, hyper) make it, only when a request sent on a reused
//! keep-alive connection got no byte of response because the server had just closed that
//! idle connection (RFC 9112 §9.3.1): the retry's outcome is the request's outcome and
//! the retry is counted ([`Tally::retried`]).
mod client;
mod conntrack;
mod pod_target;
mod source_port;
mod tally;

use std::{
    io,
    net::{IpAddr, SocketAddr},
    sync::{
        atomic::{AtomicBool, AtomicU64, Ordering},
        Arc, Mutex,
    },
    thread::{self, JoinHandle},
    time::{Duration, Instant},
};

use serde::{Deserialize, Serialize};
use tokio::runtime::Runtime;

pub use client::{Answer, FailureKind};
pub use source_port::configured_ephemeral_low;
pub use tally::{ClientTally, Tally};

use client::{AttemptError, Connection};
use source_port::SourcePort;

/// How to load a target.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LoadConfig {
    pub target: SocketAddr,
    pub path: String,
    pub keep_alive_workers: usize,
    pub new_connection_workers: usize,
    /// Requests per second each worker aims for (fewer when responses are slower).
    pub rate_per_worker: f64,
    /// The load stops by itself after this many requests...
    pub max_requests: u64,
    /// ...or after this long.
    pub max_duration: Duration,
    /// Bound on connecting and on receiving a whole response.
    pub request_timeout: Duration,
}

impl LoadConfig {
    /// Two keep-alive and two new-connection workers at 50 requests per second each, for at
    /// most 30 minutes or a million requests.
    pub fn new(target: SocketAddr) -> Self {
        LoadConfig {
            target,
            path: "/".to_owned(),
            keep_alive_workers: 2,
            new_connection_workers: 2,
            rate_per_worker: 50.0,
            max_requests: 1_000_000,
            max_duration: Duration::from_secs(30 * 60),
            request_timeout: Duration::from_secs(5),
        }
    }
}

/// Which kind of client sent a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ClientKind {
    KeepAlive,
    NewConnection,
}

/// One request and what came of it.
#[derive(Debug, Clone)]
pub struct Sample {
    pub client: ClientKind,
    /// When it was sent, from the start of the load.
    pub at: Duration,
    pub latency: Duration,
    pub outcome: Result<Answer, Failure>,
    /// It was sent a second time after a reused connection turned out closed.
    pub retried: bool,
}

/// A failed request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub kind: FailureKind,
    pub detail: String,
}

/// What ended a load.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum EndedBy {
    /// [`Load::finish`] was called.
    Stopped,
    /// `max_duration` passed first.
    Deadline,
    /// `max_requests` were sent first.
    RequestLimit,
}

/// Why a load cannot start.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error(
        "load target {0} is not a loopback address; the tests only ever send to 127.0.0.0/8 or ::1"
    )]
    NotLoopback(SocketAddr),
    #[error("load target {target} is not a pod of this run's node: {why}")]
    NotThisRunsPod { target: SocketAddr, why: String },
    #[error("a load needs at least one worker")]
    NoWorkers,
    #[error("rate per worker must be a positive number of requests per second, not {0}")]
    BadRate(f64),
    #[error("cannot start a load worker: {0}")]
    Thread(#[from] io::Error),
}

/// A running load.
pub struct Load {
    config: LoadConfig,
    started: Instant,
    stop: Arc<AtomicBool>,
    ended_by: Arc<Mutex<Option<EndedBy>>>,
    workers: Vec<JoinHandle<Vec<Sample>>>,
}

/// What the workers share.
struct Shared {
    config: LoadConfig,
    started: Instant,
    stop: Arc<AtomicBool>,
    ended_by: Arc<Mutex<Option<EndedBy>>>,
    sent: AtomicU64,
}

impl Load {
    /// Starts the workers; they send until [`Load::finish`] or a limit.
    pub fn start(config: LoadConfig) -> Result<Load, LoadError> {
        if !is_loopback(config.target.ip()) {
            return Err(LoadError::NotLoopback(config.target));
        }
        Load::start_checked(config)
    }

    /// Starts a load straight at a pod, bypassing its Service, as a proxy that still routes
    /// to it does. Only a pod in a network namespace this run created: the target must be
    /// `pod`'s own IP, inside `pod_network` (the local cluster's pod CIDR, e.g.
    /// `10.88.0.0/16`), and not the host's network.
    pub fn start_to_pod(
        config: LoadConfig,
        pod: &k8s_openapi::api::core::v1::Pod,
        pod_network: &str,
    ) -> Result<Load, LoadError> {
        pod_target::check(config.target, pod, pod_network).map_err(|why| {
            LoadError::NotThisRunsPod {
                target: config.target,
                why,
            }
        })?;
        Load::start_checked(config)
    }

    fn start_checked(config: LoadConfig) -> Result<Load, LoadError> {
        if config.keep_alive_workers + config.new_connection_workers == 0 {
            return Err(LoadError::NoWorkers);
        }
        if !(config.rate_per_worker.is_finite() && config.rate_per_worker > 0.0) {
            return Err(LoadError::BadRate(config.rate_per_worker));
        }
        let started = Instant::now();
        let stop = Arc::new(AtomicBool::new(false));
        let ended_by = Arc::new(Mutex::new(None));
        let shared = Arc::new(Shared {
            config: config.clone(),
            started,
            stop: Arc::clone(&stop),
            ended_by: Arc::clone(&ended_by),
            sent: AtomicU64::new(0),
        });
        let kinds = std::iter::repeat_n(ClientKind::KeepAlive, config.keep_alive_workers).chain(
            std::iter::repeat_n(ClientKind::NewConnection, config.new_connection_workers),
        );
        let mut workers = Vec::new();
        for (i, kind) in kinds.enumerate() {
            let shared = Arc::clone(&shared);
            // Each worker drives its own requests, so none waits for another's.
            let spawned = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .and_then(|runtime| {
                    thread::Builder::new()
                        .name(format!("load-{i}"))
                        .spawn(move || run_worker(&shared, kind, &runtime))
                });
            match spawned {
                Ok(handle) => workers.push(handle),
                Err(err) => {
                    stop.store(true, Ordering::SeqCst);
                    for worker in workers {
                        let _ = worker.join();
                    }
                    return Err(LoadError::Thread(err));
                }
            }
        }
        Ok(Load {
            config,
            started,
            stop,
            ended_by,
            workers,
        })
    }

    /// Time since the load started: the clock of [`Sample::at`], for marking windows.
    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// Whether a limit already stopped the workers.
    pub fn has_ended(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    /// Stops the workers (if no limit did) and returns every request, in sending order.
    pub fn finish(mut self) -> LoadRun {
        record_end(&self.ended_by, EndedBy::Stopped);
        self.stop.store(true, Ordering::SeqCst);
        let duration = self.started.elapsed();
        let mut samples: Vec<Sample> = std::mem::take(&mut self.workers)
            .into_iter()
            .flat_map(|w| w.join().unwrap_or_default())
            .collect();
        samples.sort_by_key(|s| s.at);
        let ended_by = lock(&self.ended_by).unwrap_or(EndedBy::Stopped);
        LoadRun {
            config: self.config.clone(),
            duration,
            ended_by,
            samples,
        }
    }
}

/// A load dropped without [`Load::finish`] (a test failed midway) stops its workers.
impl Drop for Load {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

/// One request on a new connection: whether `target` serves, and who answers. Sent from a
/// source port no [`Load`] uses (`source_port` says why), so it may be refused as often as
/// it likes before the Service serves without costing a later load a request.
pub async fn get_once(target: SocketAddr, timeout: Duration) -> Result<Answer, Failure> {
    if !is_loopback(target.ip()) {
        return Err(Failure {
            kind: FailureKind::ConnectError,
            detail: format!("{target} is not a loopback address"),
        });
    }
    let config = LoadConfig {
        request_timeout: timeout,
        ..LoadConfig::new(target)
    };
    fresh_request(&config, &target.to_string(), false, SourcePort::Probe)
        .await
        .map(|(answer, _)| answer)
        .map_err(|e| Failure {
            kind: e.kind,
            detail: e.detail,
        })
}

/// A finished load.
#[derive(Debug, Clone)]
pub struct LoadRun {
    pub config: LoadConfig,
    pub duration: Duration,
    pub ended_by: EndedBy,
    pub samples: Vec<Sample>,
}

impl LoadRun {
    /// Counts over every request.
    pub fn tally(&self) -> Tally {
        Tally::of(self.samples.iter())
    }

    /// Counts over the requests sent in `from..to`.
    pub fn window(&self, from: Duration, to: Duration) -> Tally {
        Tally::of(self.samples.iter().filter(|s| s.at >= from && s.at < to))
    }

    /// The failed requests, in sending order.
    pub fn failures(&self) -> impl Iterator<Item = (&Sample, &Failure)> {
        self.samples
            .iter()
            .filter_map(|s| s.outcome.as_ref().err().map(|f| (s, f)))
    }
}

fn is_loopback(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_loopback(),
        IpAddr::V6(v6) => {
            v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
    }
}

fn lock<T: Copy>(mutex: &Mutex<T>) -> T {
    *mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The first reason to end wins.
fn record_end(ended_by: &Mutex<Option<EndedBy>>, why: EndedBy) {
    let mut slot = ended_by
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    slot.get_or_insert(why);
}

fn run_worker(shared: &Shared, kind: ClientKind, runtime: &Runtime) -> Vec<Sample> {
    let config = &shared.config;
    let interval = Duration::from_secs_f64(1.0 / config.rate_per_worker);
    let deadline = shared.started + config.max_duration;
    let host = config.target.to_string();
    let mut samples = Vec::new();
    let mut connection: Option<Connection> = None;
    let mut next = Instant::now();
    loop {
        if shared.stop.load(Ordering::SeqCst) {
            break;
        }
        let now = Instant::now();
        let send_at = next.max(now);
        if send_at >= deadline {
            end(shared, EndedBy::Deadline);
            break;
        }
        if shared.sent.fetch_add(1, Ordering::SeqCst) >= config.max_requests {
            end(shared, EndedBy::RequestLimit);
            break;
        }
        thread::sleep(send_at - now);
        next = send_at + interval;
        let at = shared.started.elapsed();
        let sent = Instant::now();
        let (outcome, retried) = runtime.block_on(async {
            match kind {
                ClientKind::KeepAlive => keep_alive_request(&mut connection, config, &host).await,
                ClientKind::NewConnection => (
                    fresh_request(config, &host, false, SourcePort::Rotating)
                        .await
                        .map(|(a, _)| a),
                    false,
                ),
            }
        });
        samples.push(Sample {
            client: kind,
            at,
            latency: sent.elapsed(),
            outcome: outcome.map_err(|e| Failure {
                kind: e.kind,
                detail: e.detail,
            }),
            retried,
        });
    }
    samples
}

fn end(shared: &Shared, why: EndedBy) {
    record_end(&shared.ended_by, why);
    shared.stop.store(true, Ordering::SeqCst);
}

/// A request on the kept connection (opened if there is none). When a reused connection
/// turns out closed before any byte of the answer, the request goes once more on a new one.
async fn keep_alive_request(
    connection: &mut Option<Connection>,
    config: &LoadConfig,
    host: &str,
) -> (Result<Answer, AttemptError>, bool) {
    let Some(mut conn) = connection.take() else {
        return (
            keep(
                connection,
                fresh_request(config, host, true, SourcePort::Rotating).await,
            ),
            false,
        );
    };
    let reused = conn.served > 0;
    match conn
        .get(host, &config.path, true, config.request_timeout)
        .await
    {
        Ok((answer, reusable)) => {
            if reusable {
                *connection = Some(conn);
            }
            (Ok(answer), false)
        }
        Err(err) if reused && !err.response_started => (
            keep(
                connection,
                fresh_request(config, host, true, SourcePort::Rotating).await,
            ),
            true,
        ),
        Err(err) => (Err(err), false),
    }
}

/// Stores a connection that may be reused and passes the answer on.
fn keep(
    slot: &mut Option<Connection>,
    result: Result<(Answer, Option<Connection>), AttemptError>,
) -> Result<Answer, AttemptError> {
    result.map(|(answer, conn)| {
        *slot = conn;
        answer
    })
}

/// A request on a new connection; returns the connection when it may carry another.
async fn fresh_request(
    config: &LoadConfig,
    host: &str,
    keep_alive: bool,
    source: SourcePort,
) -> Result<(Answer, Option<Connection>), AttemptError> {
    let mut conn = Connection::open(config.target, config.request_timeout, source).await?;
    let (answer, reusable) = conn
        .get(host, &config.path, keep_alive, config.request_timeout)
        .await?;
    Ok((answer, reusable.then_some(conn)))
}

#[cfg(test)]
mod tests;
