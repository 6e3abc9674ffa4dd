//! What the App's status remembers about individual pods, so each memory
//! restart is counted once and each slow start reported once, however many
//! reconciles see them.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The memory restarts counted on one current pod.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PodMemoryRestarts {
    /// The pod's name.
    pub pod: String,
    /// The pod's uid: a pod re-created under the same name starts afresh.
    pub uid: String,
    /// The app container's restart count at the last memory restart
    /// counted; a memory restart at a higher count is a new one.
    pub restart_count: i32,
    /// Memory restarts counted on this pod; they are left out of its
    /// restarts against `maxRestarts`.
    pub count: i32,
}

/// The most recent memory restart.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LastMemoryRestart {
    /// The pod whose app was restarted.
    pub pod: String,
    /// When the app exited for it (RFC 3339), as the kubelet reports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<String>,
    /// The runtime shim's account: the memory used and the threshold.
    pub message: String,
}

/// A pod of the desired revision reported as a slow start (not ready past
/// `listenTimeout`).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SlowStartRecord {
    /// The pod's name.
    pub pod: String,
    /// When its app container started (RFC 3339); a restarted container is
    /// a new start.
    pub started_at: String,
}
