//! One revision of an App as `status.history` lists it (see
//! `crate::history`).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// How many revisions `status.history` keeps (a Deployment's default
/// `revisionHistoryLimit`); older ones and their saved specs are removed.
pub const HISTORY_LIMIT: usize = 10;

/// A spec of the App that readyroll rolled out, newest last.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RevisionRecord {
    /// Counts up from 1, one per distinct spec: what
    /// `readyroll rollback --to-revision N` takes.
    pub revision: i64,
    /// When readyroll first saw this spec (RFC 3339).
    pub at: String,
    /// What changed from the revision before, e.g. `image: web:1 -> web:2`.
    pub change: String,
    /// `Progressing`, `Complete`, `Failed` (no rollback), `RolledBack`
    /// (failed, the last good revision runs) or `Superseded` (replaced by a
    /// newer spec before it completed).
    pub outcome: String,
    /// The pod template revision it rolls out (as `status.currentRevision`).
    pub pod_revision: String,
    /// The ControllerRevision, owned by the App, that keeps this
    /// revision's spec for `readyroll rollback`.
    pub controller_revision: String,
}
