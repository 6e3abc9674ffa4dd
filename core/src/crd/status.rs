//! What the operator reports about an App.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::history::RevisionRecord;
use super::pod_reports::{LastMemoryRestart, PodMemoryRestarts, SlowStartRecord};

/// Condition types an App reports.
pub const CONDITION_AVAILABLE: &str = "Available";
pub const CONDITION_PROGRESSING: &str = "Progressing";
pub const CONDITION_DEGRADED: &str = "Degraded";
/// The summary conditions kstatus reads (Flux, `kubectl wait`, Argo CD's
/// health check): see `readyroll_core::kstatus`.
pub const CONDITION_READY: &str = "Ready";
pub const CONDITION_RECONCILING: &str = "Reconciling";
pub const CONDITION_STALLED: &str = "Stalled";
/// True while `spec.paused` holds rollouts (see `readyroll_core::paused`).
pub const CONDITION_PAUSED: &str = "Paused";

/// The observed state of an App.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AppStatus {
    /// The `metadata.generation` this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,

    /// The resolved instance count (PM2 `instances` after 0 / "max" / -N
    /// were worked out against the cluster's CPUs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instances: Option<i32>,

    /// Pods of the App that exist.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replicas: Option<i32>,

    /// The label selector of the App's pods, for the scale subresource
    /// (what an HPA counts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<String>,

    /// Pods that are Ready.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ready_replicas: Option<i32>,

    /// Pods that run the current revision.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_replicas: Option<i32>,

    /// Pods that have been Ready for at least `minUptime`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub available_replicas: Option<i32>,

    /// Revision (hash of the pod template) the Deployment is rolling to or runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_revision: Option<String>,

    /// The last revision that was fully available: the rollback target.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_good_revision: Option<String>,

    /// A revision whose rollout failed; it is not retried until the spec changes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed_revision: Option<String>,

    /// Highest container restart count among the App's current pods,
    /// memory restarts left out: these are what `maxRestarts` limits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restarts: Option<i32>,

    /// Graceful memory restarts (`maxMemoryRestart`, by the runtime shim)
    /// seen on the App's pods since it was created, each counted once. Not
    /// counted in `restarts` against `maxRestarts`: PM2 does not count them
    /// either.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_restarts: Option<i32>,

    /// The most recent memory restart: which pod, when, and the memory
    /// used against the threshold.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_memory_restart: Option<LastMemoryRestart>,

    /// Memory restarts per current pod, which keep each restart from being
    /// counted twice and out of the pod's restarts against `maxRestarts`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub memory_restarts_by_pod: Vec<PodMemoryRestarts>,

    /// Pods of the desired revision not ready past `listenTimeout`, as
    /// reported by the `SlowStart` reason and Event.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub slow_starts: Vec<SlowStartRecord>,

    /// When the last `cronRestart` rolling restart was started (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_cron_restart: Option<String>,

    /// When the next `cronRestart` is due (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cron_restart: Option<String>,

    /// The last revisions of the spec, oldest first (at most 10): when each
    /// was seen, what changed, how its rollout ended. Each one's spec is
    /// kept in a ControllerRevision the App owns, which
    /// `readyroll rollback --to-revision N` writes back into the App.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 10))]
    pub history: Vec<RevisionRecord>,

    /// `Available`, `Progressing` and `Degraded`, with reasons and messages;
    /// and the summary GitOps tools read: `Ready` (the rollout of this
    /// generation is complete and every instance available), `Reconciling`
    /// (a rollout is in progress) and `Stalled` (the App is Degraded). Each
    /// carries the `observedGeneration` it describes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    pub conditions: Vec<Condition>,
}
