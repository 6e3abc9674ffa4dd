//! The operator's Prometheus metrics.
//!
//! Names (OpenMetrics text, prefix `readyroll_`):
//! `reconciliations_total{result}`, `reconcile_duration_seconds`,
//! `reconcile_errors_total{error}`, `rollouts_in_progress`,
//! `rollouts_failed_total`, `rollbacks_total`, `leader`; and the per-App
//! series of [`super::app_metrics`] (`app_info`, `app_condition`, ...).

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use prometheus_client::encoding::text::encode;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::{Registry, Unit};

use super::app_metrics::AppMetrics;
use crate::crd::AppStatus;
use crate::leader::Leadership;
use crate::locked::Locked;

const RESULT_SUCCESS: &str = "success";
const RESULT_ERROR: &str = "error";

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResultLabel {
    result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ErrorLabel {
    error: String,
}

/// Every metric the operator exports. Cheap to clone: clones share the
/// underlying counters.
#[derive(Clone)]
pub struct Metrics {
    registry: Arc<Registry>,
    reconciliations: Family<ResultLabel, Counter>,
    reconcile_duration: Histogram,
    reconcile_errors: Family<ErrorLabel, Counter>,
    rollouts_in_progress: Gauge,
    progressing_apps: Arc<Locked<HashSet<String>>>,
    rollouts_failed: Counter,
    rollbacks: Counter,
    leader: Gauge,
    apps: AppMetrics,
}

impl Metrics {
    /// A fresh registry with every metric at zero.
    pub fn new() -> Self {
        let reconciliations = Family::<ResultLabel, Counter>::default();
        // Both series exist from the start so rate() and alerts see a 0, not
        // an absent series, before the first error.
        for result in [RESULT_SUCCESS, RESULT_ERROR] {
            let _series_created = reconciliations.get_or_create(&ResultLabel { result });
        }
        // 1 ms .. ~16 s: a reconcile is a handful of API calls, slow ones
        // mean the API server or the network is struggling.
        let reconcile_duration = Histogram::new(exponential_buckets(0.001, 2.0, 15));
        let reconcile_errors = Family::<ErrorLabel, Counter>::default();
        let rollouts_in_progress = Gauge::default();
        let rollouts_failed = Counter::default();
        let rollbacks = Counter::default();
        let leader = Gauge::default();

        let mut registry = Registry::with_prefix("readyroll");
        registry.register(
            "reconciliations",
            "App reconciliations by result (success or error)",
            reconciliations.clone(),
        );
        registry.register_with_unit(
            "reconcile_duration",
            "Time one App reconciliation took",
            Unit::Seconds,
            reconcile_duration.clone(),
        );
        registry.register(
            "reconcile_errors",
            "Failed App reconciliations by error kind",
            reconcile_errors.clone(),
        );
        registry.register(
            "rollouts_in_progress",
            "Apps whose rollout is in progress",
            rollouts_in_progress.clone(),
        );
        registry.register(
            "rollouts_failed",
            "Rollouts that failed (progress deadline exceeded or crash-looping pods)",
            rollouts_failed.clone(),
        );
        registry.register(
            "rollbacks",
            "Failed rollouts rolled back to the last good revision",
            rollbacks.clone(),
        );
        registry.register(
            "leader",
            "1 while this replica holds the leader Lease and may write, else 0",
            leader.clone(),
        );
        let apps = AppMetrics::register(&mut registry);

        Self {
            registry: Arc::new(registry),
            reconciliations,
            reconcile_duration,
            reconcile_errors,
            rollouts_in_progress,
            progressing_apps: Arc::default(),
            rollouts_failed,
            rollbacks,
            leader,
            apps,
        }
    }

    /// Starts timing one reconciliation; finish it with
    /// [`ReconcileTimer::succeeded`] or [`ReconcileTimer::failed`].
    pub fn reconcile_timer(&self) -> ReconcileTimer {
        ReconcileTimer {
            metrics: self.clone(),
            started: Instant::now(),
        }
    }

    /// Records a successful reconciliation that took `elapsed`.
    pub fn record_success(&self, elapsed: Duration) {
        self.reconcile_duration.observe(elapsed.as_secs_f64());
        self.reconciliations
            .get_or_create(&ResultLabel {
                result: RESULT_SUCCESS,
            })
            .inc();
    }

    /// Records a failed reconciliation; `error` is the error kind (the
    /// controller's error variant name), used as the `error` label.
    pub fn record_error(&self, elapsed: Duration, error: &str) {
        self.reconcile_duration.observe(elapsed.as_secs_f64());
        self.reconciliations
            .get_or_create(&ResultLabel {
                result: RESULT_ERROR,
            })
            .inc();
        self.reconcile_errors
            .get_or_create(&ErrorLabel {
                error: error.to_owned(),
            })
            .inc();
    }

    /// Records whether the App `key` (`namespace/name`) is rolling out.
    /// Idempotent: the gauge counts distinct Apps, so repeated reconciles of
    /// the same App never inflate it. Call with `false` when an App is deleted.
    pub fn set_rollout_in_progress(&self, key: &str, in_progress: bool) {
        let mut apps = self.progressing_apps.lock();
        if in_progress {
            apps.insert(key.to_owned());
        } else {
            apps.remove(key);
        }
        self.rollouts_in_progress
            .set(i64::try_from(apps.len()).unwrap_or(i64::MAX));
    }

    /// Counts a rollout that failed.
    pub fn record_rollout_failed(&self) {
        self.rollouts_failed.inc();
    }

    /// Counts a failed rollout that was rolled back.
    pub fn record_rollback(&self) {
        self.rollbacks.inc();
    }

    /// Sets the leader gauge (1 while this replica may write). A replica
    /// that may not write drops its per-App series: it no longer writes the
    /// statuses they come from.
    pub fn set_leader(&self, leader: bool) {
        self.leader.set(i64::from(leader));
        if !leader {
            self.apps.forget_all();
        }
    }

    /// Records the status of the App `namespace/name` as a reconcile left
    /// it: the one the controller wrote, or the unchanged `previous` one.
    pub fn observe_app_status(
        &self,
        namespace: &str,
        name: &str,
        previous: Option<&AppStatus>,
        status: &AppStatus,
    ) {
        self.apps
            .observe(namespace, name, previous, status, Instant::now());
    }

    /// Removes the per-App series of a deleted App.
    pub fn forget_app(&self, namespace: &str, name: &str) {
        self.apps.forget(namespace, name);
    }

    /// Keeps the leader gauge equal to `leadership` until it is dropped
    /// everywhere; the returned task can be aborted on shutdown.
    pub fn follow_leadership(&self, leadership: &Leadership) -> tokio::task::JoinHandle<()> {
        let metrics = self.clone();
        let mut changes = leadership.changes();
        tokio::spawn(async move {
            loop {
                metrics.set_leader(*changes.borrow_and_update());
                if changes.changed().await.is_err() {
                    return;
                }
            }
        })
    }

    /// The OpenMetrics text exposition of every metric.
    pub fn encode(&self) -> Result<String, std::fmt::Error> {
        let mut body = String::new();
        encode(&mut body, &self.registry)?;
        Ok(body)
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

/// Times one reconciliation. Dropping it unfinished records nothing (the
/// reconcile was cancelled, e.g. on shutdown).
#[must_use = "finish the timer with succeeded() or failed()"]
pub struct ReconcileTimer {
    metrics: Metrics,
    started: Instant,
}

impl ReconcileTimer {
    /// The reconciliation succeeded.
    pub fn succeeded(self) {
        self.metrics.record_success(self.started.elapsed());
    }

    /// The reconciliation failed with the error kind `error`.
    pub fn failed(self, error: &str) {
        self.metrics.record_error(self.started.elapsed(), error);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(body: &str, series: &str) -> Option<f64> {
        body.lines()
            .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
            .and_then(|value| value.trim().parse().ok())
    }

    #[test]
    fn exports_every_metric_at_zero() {
        let body = Metrics::new().encode().expect("encode");
        for name in [
            "readyroll_reconciliations",
            "readyroll_reconcile_duration_seconds",
            "readyroll_rollouts_in_progress",
            "readyroll_rollouts_failed",
            "readyroll_rollbacks",
            "readyroll_leader",
        ] {
            assert!(
                body.contains(&format!("# TYPE {name} ")),
                "{name} in\n{body}"
            );
        }
        assert_eq!(sample(&body, "readyroll_leader"), Some(0.0));
        assert_eq!(sample(&body, "readyroll_rollouts_failed_total"), Some(0.0));
        assert_eq!(
            sample(&body, "readyroll_reconciliations_total{result=\"error\"}"),
            Some(0.0)
        );
        // Error kinds appear with their first occurrence.
        assert!(
            !body.contains("readyroll_reconcile_errors_total{"),
            "{body}"
        );
        assert!(
            body.ends_with("# EOF\n"),
            "OpenMetrics terminator in\n{body}"
        );
    }

    #[test]
    fn counts_reconciles_by_result_and_errors_by_kind() {
        let metrics = Metrics::new();
        metrics.record_success(Duration::from_millis(3));
        metrics.record_success(Duration::from_millis(4));
        metrics.record_error(Duration::from_millis(5), "KubeError");
        metrics.reconcile_timer().failed("SpecError");
        let body = metrics.encode().expect("encode");

        let total = |labels: &str| {
            sample(
                &body,
                &format!("readyroll_reconciliations_total{{{labels}}}"),
            )
        };
        assert_eq!(total("result=\"success\""), Some(2.0));
        assert_eq!(total("result=\"error\""), Some(2.0));
        let errors = |kind: &str| {
            sample(
                &body,
                &format!("readyroll_reconcile_errors_total{{error=\"{kind}\"}}"),
            )
        };
        assert_eq!(errors("KubeError"), Some(1.0));
        assert_eq!(errors("SpecError"), Some(1.0));
        assert_eq!(
            sample(&body, "readyroll_reconcile_duration_seconds_count"),
            Some(4.0)
        );
    }

    #[test]
    fn rollouts_in_progress_counts_distinct_apps() {
        let metrics = Metrics::new();
        metrics.set_rollout_in_progress("ns/a", true);
        metrics.set_rollout_in_progress("ns/a", true);
        metrics.set_rollout_in_progress("ns/b", true);
        let gauge = |m: &Metrics| {
            sample(
                &m.encode().expect("encode"),
                "readyroll_rollouts_in_progress",
            )
        };
        assert_eq!(gauge(&metrics), Some(2.0));
        metrics.set_rollout_in_progress("ns/a", false);
        metrics.set_rollout_in_progress("ns/unknown", false);
        assert_eq!(gauge(&metrics), Some(1.0));
    }

    #[test]
    fn failed_rollouts_rollbacks_and_leadership() {
        let metrics = Metrics::new();
        metrics.record_rollout_failed();
        metrics.record_rollout_failed();
        metrics.record_rollback();
        metrics.set_leader(true);
        let body = metrics.encode().expect("encode");
        assert_eq!(sample(&body, "readyroll_rollouts_failed_total"), Some(2.0));
        assert_eq!(sample(&body, "readyroll_rollbacks_total"), Some(1.0));
        assert_eq!(sample(&body, "readyroll_leader"), Some(1.0));
        metrics.set_leader(false);
        assert_eq!(
            sample(&metrics.encode().expect("encode"), "readyroll_leader"),
            Some(0.0)
        );
    }

    #[tokio::test]
    async fn the_leader_gauge_follows_leadership() {
        let metrics = Metrics::new();
        let leadership = Leadership::follower();
        let follower = metrics.follow_leadership(&leadership);
        let gauge = |m: &Metrics| sample(&m.encode().expect("encode"), "readyroll_leader");
        let settle = || tokio::time::sleep(Duration::from_millis(50));

        leadership.set_writes_until(Some(tokio::time::Instant::now() + Duration::from_secs(60)));
        settle().await;
        assert_eq!(gauge(&metrics), Some(1.0));
        leadership.set_writes_until(None);
        settle().await;
        assert_eq!(gauge(&metrics), Some(0.0));
        follower.abort();
    }

    #[test]
    fn error_label_values_are_escaped() {
        let metrics = Metrics::new();
        metrics.record_error(Duration::ZERO, "odd\"kind");
        let body = metrics.encode().expect("encode");
        assert!(body.contains(r#"error="odd\"kind""#), "{body}");
    }
}
