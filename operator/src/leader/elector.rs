//! The election task: kube-lease-manager acquires, renews and releases the
//! Lease; around it this task keeps the write fence and notices releases.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use k8s_openapi::api::coordination::v1::Lease;
use kube::api::{Patch, PatchParams};
use kube::{Api, Client};
use kube_lease_manager::{LeaseCreateMode, LeaseManager, LeaseManagerError, LeaseParams};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::config::{ConfigError, LeaderConfig};
use super::fence::{observe, Observation};
use super::handle::Leadership;
use super::retry::Retry;

/// Longest wait for the Lease release on shutdown: a standby takes over at
/// expiry anyway, shutdown must not hang on an unreachable API server.
const RELEASE_TIMEOUT: Duration = Duration::from_secs(5);

/// Why leader election could not start or stop cleanly.
#[derive(Debug, thiserror::Error)]
pub enum LeaderError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("leader election on Lease {namespace}/{name}: {source}")]
    Lease {
        namespace: String,
        name: String,
        #[source]
        source: LeaseManagerError,
    },
    #[error("leader election on Lease {namespace}/{name}: releasing the Lease took longer than {RELEASE_TIMEOUT:?}")]
    ReleaseTimeout { namespace: String, name: String },
    #[error("leader election on Lease {namespace}/{name}: releasing the Lease failed: {source}")]
    Release {
        namespace: String,
        name: String,
        #[source]
        source: kube::Error,
    },
    #[error("leader election task failed: {0}")]
    Task(String),
}

/// A running election. Call [`LeaderElection::release`] on shutdown.
pub struct LeaderElection {
    leadership: Leadership,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<Result<(), LeaderError>>,
}

impl LeaderElection {
    /// Creates the Lease if missing and starts competing for it. Returns
    /// once the Lease is reachable; leadership comes later, through
    /// [`Leadership::changes`].
    pub async fn start(client: Client, config: LeaderConfig) -> Result<Self, LeaderError> {
        config.validate()?;
        let manager = new_manager(&client, &config).await?;
        let leadership = Leadership::follower();
        let (stop, stopped) = oneshot::channel();
        let cap = Duration::from_secs(config.lease_duration_secs);
        let elector = Elector {
            leases: Api::namespaced(client.clone(), &config.namespace),
            lease_reads: Retry::new(config.retry_period, cap),
            renewals: Retry::new(config.retry_period, cap),
            client,
            manager: Arc::new(manager),
            claimed: false,
            held_since: None,
            rebuilt_for_release: false,
            leadership: leadership.clone(),
            config,
        };
        let task = tokio::spawn(elector.run(stopped));
        Ok(Self {
            leadership,
            stop: Some(stop),
            task,
        })
    }

    /// The handle to gate writes on.
    pub fn leadership(&self) -> Leadership {
        self.leadership.clone()
    }

    /// Stops writing at once, then releases the Lease so a standby takes
    /// over without waiting for it to expire.
    pub async fn release(mut self) -> Result<(), LeaderError> {
        self.leadership.set_writes_until(None);
        if let Some(stop) = self.stop.take() {
            // The task may already have ended; its result tells.
            let _ = stop.send(());
        }
        match (&mut self.task).await {
            Ok(result) => result,
            Err(join) => Err(LeaderError::Task(join.to_string())),
        }
    }
}

impl Drop for LeaderElection {
    fn drop(&mut self) {
        // Dropped without release(): stop writing; the task sees the closed
        // channel and releases the Lease on its own.
        self.leadership.set_writes_until(None);
    }
}

async fn new_manager(client: &Client, config: &LeaderConfig) -> Result<LeaseManager, LeaderError> {
    let params = LeaseParams::new(
        config.identity.clone(),
        config.lease_duration_secs,
        config.renew_before_secs,
    );
    LeaseManager::new(
        client.clone(),
        config.lease_name.clone(),
        config.namespace.clone(),
        params,
        LeaseCreateMode::AutoCreate,
    )
    .await
    .map_err(|source| LeaderError::Lease {
        namespace: config.namespace.clone(),
        name: config.lease_name.clone(),
        source,
    })
}

type Changed = Pin<Box<dyn Future<Output = Result<bool, LeaseManagerError>> + Send>>;

/// `manager.changed()` as an owned future, optionally after a pause.
fn changed(manager: &Arc<LeaseManager>, after: Duration) -> Changed {
    let manager = Arc::clone(manager);
    Box::pin(async move {
        tokio::time::sleep(after).await;
        manager.changed().await
    })
}

struct Elector {
    client: Client,
    leases: Api<Lease>,
    config: LeaderConfig,
    manager: Arc<LeaseManager>,
    /// kube-lease-manager believes it holds the Lease.
    claimed: bool,
    /// When we first saw the Lease held by us (and claimed) in a row of
    /// checks; writes start one check period later.
    held_since: Option<Instant>,
    /// The manager was rebuilt for the current release of the Lease.
    rebuilt_for_release: bool,
    leadership: Leadership,
    /// Our own reads of the Lease, backed off while they fail.
    lease_reads: Retry,
    /// kube-lease-manager's acquire/renew calls, backed off while they fail.
    renewals: Retry,
}

/// What one read of the Lease asks of the election loop.
#[derive(Debug, Default)]
struct Checked {
    /// The manager was rebuilt: its pending `changed()` must be replaced.
    rebuilt: bool,
    /// The read failed: look again after this pause instead of the period.
    retry_in: Option<Duration>,
}

impl Elector {
    async fn run(mut self, mut stopped: oneshot::Receiver<()>) -> Result<(), LeaderError> {
        let mut next = changed(&self.manager, Duration::ZERO);
        let mut checks = tokio::time::interval(self.config.retry_period);
        checks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let fence = self.leadership.writes_until();
            tokio::select! {
                biased;
                _ = &mut stopped => break,
                result = &mut next => {
                    let pause = match result {
                        Ok(claimed) => {
                            if let Some(failures) = self.renewals.succeeded() {
                                tracing::info!(failures, "leader election: the Lease is reachable again");
                            }
                            self.claimed = claimed;
                            self.held_since = None;
                            if claimed {
                                tracing::info!(identity = %self.config.identity, "acquired the leader Lease");
                                let checked = self.check_lease().await;
                                // The confirming check comes one full period later.
                                checks.reset_after(checked.retry_in.unwrap_or(self.config.retry_period));
                            } else {
                                tracing::warn!(identity = %self.config.identity, "lost the leader Lease");
                                self.leadership.set_writes_until(None);
                            }
                            Duration::ZERO
                        }
                        Err(error) => {
                            let failed = self.renewals.failed(Instant::now());
                            if failed.log {
                                tracing::warn!(%error, failures = failed.failures, retry_in_ms = failed.delay.as_millis(),
                                    "leader election: renewing or acquiring the Lease failed; retrying with backoff");
                            }
                            failed.delay
                        }
                    };
                    next = changed(&self.manager, pause);
                }
                _ = checks.tick() => {
                    let checked = self.check_lease().await;
                    if let Some(pause) = checked.retry_in {
                        checks.reset_after(pause);
                    }
                    if checked.rebuilt {
                        next = changed(&self.manager, Duration::ZERO);
                    }
                }
                () = sleep_until(fence), if fence.is_some() => {
                    if !self.leadership.publish() {
                        tracing::warn!("leader Lease not confirmed in time: stopped writing");
                        // A fence in the past would wake this branch again at
                        // once, forever. Clearing it also means a later
                        // successful read must confirm the hold anew (one
                        // retry period) before writes resume.
                        self.leadership.set_writes_until(None);
                        self.held_since = None;
                    }
                }
            }
        }
        // Stop writing first, then hand the Lease over. The pending
        // changed() may hold the manager's state lock: drop it.
        self.leadership.set_writes_until(None);
        drop(next);
        self.release().await
    }

    /// Reads the Lease and moves the fence.
    async fn check_lease(&mut self) -> Checked {
        let read = tokio::time::timeout(
            self.config.retry_period,
            self.leases.get_opt(&self.config.lease_name),
        )
        .await;
        let lease = match read {
            Ok(Ok(Some(lease))) => lease,
            Ok(Ok(None)) => Lease::default(),
            Ok(Err(error)) => return self.read_failed(&error.to_string()),
            Err(_elapsed) => return self.read_failed("timed out"),
        };
        if let Some(failures) = self.lease_reads.succeeded() {
            tracing::info!(failures, "leader election: reading the Lease works again");
        }
        Checked {
            rebuilt: self.observe_lease(&lease).await,
            retry_in: None,
        }
    }

    /// A failed read of the Lease: back off, and log only the first
    /// failure of a series and then one a minute.
    fn read_failed(&mut self, error: &str) -> Checked {
        let failed = self.lease_reads.failed(Instant::now());
        if failed.log {
            tracing::warn!(%error, failures = failed.failures, retry_in_ms = failed.delay.as_millis(),
                "leader election: reading the Lease failed; retrying with backoff");
        }
        Checked {
            rebuilt: false,
            retry_in: Some(failed.delay),
        }
    }

    /// Moves the fence from one read of the Lease. Returns true when the
    /// manager was rebuilt (its pending `changed()` must be replaced).
    async fn observe_lease(&mut self, lease: &Lease) -> bool {
        let observation = observe(
            lease,
            &self.config.identity,
            SystemTime::now(),
            self.config.max_clock_skew,
        );
        match observation {
            Observation::Ours { writes_until } => {
                self.rebuilt_for_release = false;
                // Holding the Lease is not enough: kube-lease-manager must
                // also know, or nobody renews it.
                if !self.claimed {
                    self.held_since = None;
                    self.leadership.set_writes_until(None);
                    return false;
                }
                // A new holder confirms its hold one check later before it
                // writes: kube-lease-manager takes an expired Lease with
                // unconditional patches, so two standbys racing for it can
                // both believe they won for a moment; the loser's patch
                // lands right after the winner's and shows up by then.
                let since = *self.held_since.get_or_insert_with(Instant::now);
                let confirmed = self.leadership.writes_until().is_some()
                    || since.elapsed() >= self.config.retry_period;
                self.leadership
                    .set_writes_until(confirmed.then(|| to_instant(writes_until)));
                false
            }
            Observation::Theirs { holder } => {
                self.rebuilt_for_release = false;
                self.held_since = None;
                if self.leadership.writes_until().is_some() {
                    tracing::warn!(%holder, "leader Lease taken by another replica: stopped writing");
                }
                self.leadership.set_writes_until(None);
                false
            }
            Observation::Free => {
                self.held_since = None;
                self.leadership.set_writes_until(None);
                if self.claimed || self.rebuilt_for_release {
                    return false;
                }
                // The manager sleeps until the expiry it last saw; a fresh
                // one looks again now and takes a released Lease at once.
                match new_manager(&self.client, &self.config).await {
                    Ok(manager) => {
                        tracing::debug!("leader Lease is free: competing for it now");
                        self.manager = Arc::new(manager);
                        self.rebuilt_for_release = true;
                        true
                    }
                    Err(error) => {
                        tracing::warn!(%error, "leader election: could not re-read the free Lease");
                        false
                    }
                }
            }
        }
    }

    /// Clears the Lease if, and only if, we still hold it. Guarded by the
    /// Lease's resourceVersion: kube-lease-manager's own release patches
    /// unconditionally from a cached view, and would clear the Lease of a
    /// replica that took over while we were cut off.
    async fn release(&self) -> Result<(), LeaderError> {
        match tokio::time::timeout(RELEASE_TIMEOUT, self.release_if_ours()).await {
            Ok(Ok(released)) => {
                if released {
                    tracing::info!(identity = %self.config.identity, "released the leader Lease");
                }
                Ok(())
            }
            Ok(Err(source)) => Err(LeaderError::Release {
                namespace: self.config.namespace.clone(),
                name: self.config.lease_name.clone(),
                source,
            }),
            Err(_elapsed) => Err(LeaderError::ReleaseTimeout {
                namespace: self.config.namespace.clone(),
                name: self.config.lease_name.clone(),
            }),
        }
    }

    async fn release_if_ours(&self) -> Result<bool, kube::Error> {
        loop {
            let Some(lease) = self.leases.get_opt(&self.config.lease_name).await? else {
                return Ok(false);
            };
            let holder = lease
                .spec
                .as_ref()
                .and_then(|s| s.holder_identity.as_deref());
            if holder != Some(self.config.identity.as_str()) {
                return Ok(false);
            }
            // The same empty spec kube-lease-manager writes on release, so
            // its standbys see a free Lease.
            let patch = serde_json::json!({
                "metadata": { "resourceVersion": lease.metadata.resource_version },
                "spec": {
                    "holderIdentity": null,
                    "acquireTime": null,
                    "renewTime": null,
                    "leaseDurationSeconds": null,
                },
            });
            let params = PatchParams::default();
            match self
                .leases
                .patch(&self.config.lease_name, &params, &Patch::Merge(&patch))
                .await
            {
                Ok(_) => return Ok(true),
                // Changed since we read it (e.g. our own renewal): look again.
                Err(kube::Error::Api(status)) if status.code == 409 => continue,
                Err(error) => return Err(error),
            }
        }
    }
}

/// The monotonic instant matching wall-clock `at` (now if already past).
fn to_instant(at: SystemTime) -> Instant {
    let left = at
        .duration_since(SystemTime::now())
        .unwrap_or(Duration::ZERO);
    Instant::now() + left
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}
