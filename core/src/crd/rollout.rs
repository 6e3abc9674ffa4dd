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
#[x_kube(validation = Rule::new("!has(self.drainMaxMs) || self.drainMaxMs >= (has(self.drainDelayMs) ? self.drainDelayMs : 5000)").message("rollout.drainMaxMs must be at least rollout.drainDelayMs (default 5000): it is the longest drain, drainDelayMs the shortest").reason(kube::core::Reason::FieldValueInvalid).field_path(".drainMaxMs"))]
pub struct RolloutSpec {
    /// How many extra pods may start at once during a rollout: a count of at
    /// least 1 or a percentage above 0%. Default 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new("type(self) == int ? self >= 1 : self.matches('^[0-9]*[1-9][0-9]*%$')").message("rollout.maxSurge must be at least 1 or a percentage above 0%: with maxUnavailable fixed at 0, a surge of 0 could never replace a pod"))]
    pub max_surge: Option<IntOrString>,

    /// Milliseconds a terminating pod keeps running, out of load balancing,
    /// before it gets its stop signal (the pre-stop drain). Default 5000. 0
    /// disables the drain. With the runtime shim this is the shortest drain
    /// (see `drainMaxMs`); without it, a fixed sleep rounded up to whole
    /// seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 86_400_000))]
    pub drain_delay_ms: Option<i64>,

    /// With the runtime shim, the drain goes on past `drainDelayMs` while new
    /// connections still reach the pod (a proxy that has not caught up yet)
    /// and ends 1 s after the last one, or at this many milliseconds.
    /// `terminationGracePeriodSeconds` covers it plus `killTimeout`. Default
    /// `drainDelayMs` + 25000; at least `drainDelayMs`. Without the shim it
    /// has no effect.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 86_400_000))]
    pub drain_max_ms: Option<i64>,

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
