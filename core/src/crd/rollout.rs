//! Rollout settings: how a new version replaces the old one.

use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::KubeSchema;
use serde::{Deserialize, Serialize};

/// Default pre-stop drain, milliseconds: long enough for endpoints and
/// proxies to stop routing to a pod before it is told to exit.
pub const DEFAULT_DRAIN_DELAY_MS: i64 = 5_000;

/// How rollouts proceed. `maxUnavailable` is always 0: a ready pod is only
/// removed once its replacement is ready.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RolloutSpec {
    /// How many extra pods may start at once during a rollout: a count of at
    /// least 1 or a percentage above 0%. Default 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new("type(self) == int ? self >= 1 : self.matches('^[0-9]*[1-9][0-9]*%$')").message("rollout.maxSurge must be at least 1 or a percentage above 0%: with maxUnavailable fixed at 0, a surge of 0 could never replace a pod"))]
    pub max_surge: Option<IntOrString>,

    /// Milliseconds a terminating pod keeps running, out of load balancing,
    /// before it gets its stop signal (pre-stop drain; rounded up to whole
    /// seconds). Default 5000. 0 disables the drain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 86_400_000))]
    pub drain_delay_ms: Option<i64>,

    /// Roll back to the last fully available revision when a rollout fails
    /// (progress deadline exceeded or new pods restarting past
    /// `maxRestarts`). The failed spec is not retried until it changes.
    /// Default true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_rollback: Option<bool>,

    /// Seconds without progress after which a rollout has failed. Default
    /// derived from `listenTimeout` and `minUptime` plus time to schedule
    /// and start a pod.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 86_400))]
    pub progress_deadline_seconds: Option<i32>,

    /// Old ReplicaSets kept for rollback. Default 10.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 100))]
    pub revision_history_limit: Option<i32>,
}
