//! Per-App metrics, read from the status the controller writes.
//!
//! Names (prefix `readyroll_app_`, labels `namespace` and `app` = the App's):
//!
//! | series | type | value |
//! |---|---|---|
//! | `info{revision}` | gauge | 1 for the App's `status.currentRevision` |
//! | `condition{condition}` | gauge | 1 while the condition is True, else 0 |
//! | `rollout_duration_seconds` | histogram | first status of a new revision → `Ready=True` |
//! | `rollbacks_total` | counter | failed rollouts rolled back to the last good revision |
//! | `memory_restarts_total` | counter | `status.memoryRestarts` (since the App was created) |
//! | `slow_starts` | gauge | pods in `status.slowStarts` (not ready past `listenTimeout`) |
//!
//! Cardinality is bounded per App: one `info` series (the old revision's is
//! removed when the revision changes), one `condition` series per known
//! type ([`CONDITION_TYPES`]; other types are not exported), one histogram
//! of [`ROLLOUT_BUCKETS`], and three single series: about 25 in all. No label
//! holds a reason, message or pod name. A deleted App's series are removed,
//! and a replica that is not the leader exports none (it writes no status,
//! so it would only repeat stale values).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};
use readyroll_core::crd::{
    AppStatus, CONDITION_AVAILABLE, CONDITION_DEGRADED, CONDITION_PROGRESSING, CONDITION_READY,
    CONDITION_RECONCILING, CONDITION_STALLED,
};
use readyroll_core::reason;

use crate::locked::Locked;

/// The condition types exported as `readyroll_app_condition`.
pub const CONDITION_TYPES: [&str; 6] = [
    CONDITION_AVAILABLE,
    CONDITION_PROGRESSING,
    CONDITION_DEGRADED,
    CONDITION_READY,
    CONDITION_RECONCILING,
    CONDITION_STALLED,
];

/// Upper bounds (seconds) of the rollout duration histogram: from a quick
/// rollout of a few pods to the hour a large, slow-starting App may take.
pub const ROLLOUT_BUCKETS: [f64; 11] = [
    5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1200.0, 1800.0, 3600.0,
];

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct AppLabels {
    namespace: String,
    app: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct InfoLabels {
    namespace: String,
    app: String,
    revision: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ConditionLabels {
    namespace: String,
    app: String,
    condition: &'static str,
}

fn rollout_histogram() -> Histogram {
    Histogram::new(ROLLOUT_BUCKETS)
}

/// What the metrics last saw of one App, to tell changes apart.
#[derive(Debug)]
struct Seen {
    revision: Option<String>,
    failed_revision: Option<String>,
    memory_restarts: i64,
    /// The revision being rolled out and when its first status was seen.
    rollout: Option<(String, Instant)>,
}

/// The per-App families; clones share them.
#[derive(Clone)]
pub struct AppMetrics {
    info: Family<InfoLabels, Gauge>,
    condition: Family<ConditionLabels, Gauge>,
    rollout_duration: Family<AppLabels, Histogram, fn() -> Histogram>,
    rollbacks: Family<AppLabels, Counter>,
    memory_restarts: Family<AppLabels, Counter>,
    slow_starts: Family<AppLabels, Gauge>,
    seen: Arc<Locked<HashMap<AppLabels, Seen>>>,
}

impl AppMetrics {
    /// Registers the families in `registry` (which carries the `readyroll`
    /// prefix).
    pub fn register(registry: &mut Registry) -> Self {
        let metrics = AppMetrics {
            info: Family::default(),
            condition: Family::default(),
            rollout_duration: Family::new_with_constructor(rollout_histogram),
            rollbacks: Family::default(),
            memory_restarts: Family::default(),
            slow_starts: Family::default(),
            seen: Arc::default(),
        };
        registry.register(
            "app_info",
            "The revision (pod template hash) an App runs or rolls to; always 1",
            metrics.info.clone(),
        );
        registry.register(
            "app_condition",
            "1 while the App's condition of this type is True, else 0",
            metrics.condition.clone(),
        );
        registry.register_with_unit(
            "app_rollout_duration",
            "Time from the first status of a new revision to Ready=True",
            Unit::Seconds,
            metrics.rollout_duration.clone(),
        );
        registry.register(
            "app_rollbacks",
            "Failed rollouts of the App rolled back to its last good revision",
            metrics.rollbacks.clone(),
        );
        registry.register(
            "app_memory_restarts",
            "Graceful memory restarts (maxMemoryRestart) of the App's pods since it was created",
            metrics.memory_restarts.clone(),
        );
        registry.register(
            "app_slow_starts",
            "Pods of the App's desired revision not ready past listenTimeout",
            metrics.slow_starts.clone(),
        );
        metrics
    }

    /// Records the App's status as the controller left it after a
    /// reconcile (the status it wrote, or the unchanged one). `previous` is
    /// the status the App had before, used the first time an App is seen so
    /// that an operator restart does not count old rollbacks again.
    pub fn observe(
        &self,
        namespace: &str,
        name: &str,
        previous: Option<&AppStatus>,
        status: &AppStatus,
        now: Instant,
    ) {
        let labels = AppLabels {
            namespace: namespace.to_owned(),
            app: name.to_owned(),
        };
        let mut seen = self.seen.lock();
        let app = seen.entry(labels.clone()).or_insert_with(|| Seen {
            revision: None,
            failed_revision: previous.and_then(|p| p.failed_revision.clone()),
            memory_restarts: 0,
            rollout: None,
        });

        if app.revision != status.current_revision {
            if let Some(old) = app.revision.take() {
                self.info.remove(&info_labels(&labels, old));
            }
            if let Some(new) = &status.current_revision {
                self.info
                    .get_or_create(&info_labels(&labels, new.clone()))
                    .set(1);
            }
            app.revision.clone_from(&status.current_revision);
        }

        for type_ in CONDITION_TYPES {
            let series = ConditionLabels {
                namespace: labels.namespace.clone(),
                app: labels.app.clone(),
                condition: type_,
            };
            match condition_status(status, type_) {
                Some(true_) => {
                    self.condition.get_or_create(&series).set(i64::from(true_));
                }
                None => {
                    self.condition.remove(&series);
                }
            }
        }

        self.time_rollout(app, &labels, status, now);

        let rollbacks = self.rollbacks.get_or_create(&labels);
        let rolled_back = status.failed_revision.is_some()
            && status.failed_revision != app.failed_revision
            && progressing_reason(status) == Some(reason::ROLLED_BACK);
        if rolled_back {
            rollbacks.inc();
        }
        app.failed_revision.clone_from(&status.failed_revision);

        let memory_restarts = i64::from(status.memory_restarts.unwrap_or(0));
        let counter = self.memory_restarts.get_or_create(&labels);
        if let Ok(more) = u64::try_from(memory_restarts - app.memory_restarts) {
            counter.inc_by(more);
        }
        app.memory_restarts = app.memory_restarts.max(memory_restarts);

        self.slow_starts
            .get_or_create(&labels)
            .set(i64::try_from(status.slow_starts.len()).unwrap_or(i64::MAX));
    }

    /// A rollout starts with the first status of a revision that is not
    /// Ready, ends when that revision is Ready; a Degraded App's rollout
    /// failed and is not timed (its rollback is counted instead).
    fn time_rollout(&self, app: &mut Seen, labels: &AppLabels, status: &AppStatus, now: Instant) {
        let Some(revision) = &status.current_revision else {
            return;
        };
        if condition_status(status, CONDITION_DEGRADED) == Some(true) {
            app.rollout = None;
        } else if condition_status(status, CONDITION_READY) == Some(true) {
            if let Some((rolling, started)) = app.rollout.take() {
                if &rolling == revision {
                    self.rollout_duration
                        .get_or_create(labels)
                        .observe(now.duration_since(started).as_secs_f64());
                }
            }
        } else if app.rollout.as_ref().map(|(rolling, _)| rolling) != Some(revision) {
            app.rollout = Some((revision.clone(), now));
        }
    }

    /// Removes every series of the App (it was deleted).
    pub fn forget(&self, namespace: &str, name: &str) {
        let labels = AppLabels {
            namespace: namespace.to_owned(),
            app: name.to_owned(),
        };
        let mut seen = self.seen.lock();
        if let Some(revision) = seen.remove(&labels).and_then(|app| app.revision) {
            self.info.remove(&info_labels(&labels, revision));
        }
        for condition in CONDITION_TYPES {
            self.condition.remove(&ConditionLabels {
                namespace: labels.namespace.clone(),
                app: labels.app.clone(),
                condition,
            });
        }
        self.rollout_duration.remove(&labels);
        self.rollbacks.remove(&labels);
        self.memory_restarts.remove(&labels);
        self.slow_starts.remove(&labels);
    }

    /// Removes the series of every App: this replica stopped writing
    /// statuses (it lost leadership), so its values would go stale.
    pub fn forget_all(&self) {
        let mut seen = self.seen.lock();
        seen.clear();
        self.info.clear();
        self.condition.clear();
        self.rollout_duration.clear();
        self.rollbacks.clear();
        self.memory_restarts.clear();
        self.slow_starts.clear();
    }
}

fn info_labels(app: &AppLabels, revision: String) -> InfoLabels {
    InfoLabels {
        namespace: app.namespace.clone(),
        app: app.app.clone(),
        revision,
    }
}

fn condition_status(status: &AppStatus, type_: &str) -> Option<bool> {
    status
        .conditions
        .iter()
        .find(|c| c.type_ == type_)
        .map(|c| c.status == "True")
}

fn progressing_reason(status: &AppStatus) -> Option<&str> {
    status
        .conditions
        .iter()
        .find(|c| c.type_ == CONDITION_PROGRESSING)
        .map(|c| c.reason.as_str())
}

#[cfg(test)]
#[path = "app_metrics_tests.rs"]
mod tests;
