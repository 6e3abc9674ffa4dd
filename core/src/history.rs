//! The App's revision history: `status.history` lists the last
//! [`HISTORY_LIMIT`] specs readyroll rolled out, and each one's spec is
//! kept in a ControllerRevision the App owns (`<app>-rev-<hash>`), as a
//! Deployment keeps old templates in ReplicaSets and a StatefulSet in
//! ControllerRevisions.
//!
//! A revision is a spec, not a pod template: the App's spec is the source
//! of truth, so `readyroll rollback --to-revision N` writes revision N's
//! spec back into the App (the same change a GitOps source can commit),
//! and readyroll rolls it out like any other. The instance count
//! (`instances`, `replicas`, which a scaler may own) and `paused` are not
//! part of a revision: scaling makes no revision, and a rollback keeps the
//! current count, as a Deployment's does.
//!
//! The name carries a hash of the saved spec, so a name always means the
//! same (immutable) data: applying it again is harmless, and a spec that
//! comes back (a rollback) gets a new revision number with the same object.

use std::collections::BTreeSet;

use k8s_openapi::api::apps::v1::{ControllerRevision, Deployment};
use k8s_openapi::apimachinery::pkg::runtime::RawExtension;
use k8s_openapi::jiff::Timestamp;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::crd::{App, AppSpec, RevisionRecord, HISTORY_LIMIT};
use crate::rollout::{Decision, Phase};

/// Outcomes of a revision's rollout.
pub const PROGRESSING: &str = "Progressing";
pub const COMPLETE: &str = "Complete";
pub const FAILED: &str = "Failed";
pub const ROLLED_BACK: &str = "RolledBack";
pub const SUPERSEDED: &str = "Superseded";

/// Longest `change` summary kept in the status.
const CHANGE_LEN: usize = 240;
/// Longest value shown in a summary.
const VALUE_LEN: usize = 40;

/// The spec a revision keeps: the App's without its count and pause.
pub fn saved_spec(spec: &AppSpec) -> AppSpec {
    AppSpec {
        instances: None,
        replicas: None,
        paused: None,
        ..spec.clone()
    }
}

/// The ControllerRevision name of the App `app` with spec `spec`.
pub fn object_name(app: &str, spec: &AppSpec) -> String {
    let json = serde_json::to_vec(&saved_spec(spec)).unwrap_or_default();
    let hex: String = Sha256::digest(&json)
        .iter()
        .take(5)
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("{app}-rev-{hex}")
}

/// The spec saved in a revision's ControllerRevision.
pub fn spec_of(saved: &ControllerRevision) -> Option<AppSpec> {
    let data = saved.data.as_ref()?.0.get("spec")?;
    serde_json::from_value(data.clone()).ok()
}

/// The ControllerRevision saving `app`'s spec as revision `revision`,
/// labelled and owned like the App's Deployment.
pub fn save(app: &App, deployment: &Deployment, revision: i64) -> Option<ControllerRevision> {
    let mut metadata = deployment.metadata.clone();
    metadata.name = Some(object_name(metadata.name.as_deref()?, &app.spec));
    metadata.annotations = None;
    let spec = serde_json::to_value(saved_spec(&app.spec)).ok()?;
    Some(ControllerRevision {
        metadata,
        data: Some(RawExtension(serde_json::json!({ "spec": spec }))),
        revision,
    })
}

/// What one reconcile knows about the App's current spec.
#[derive(Clone, Debug, PartialEq)]
pub struct Current {
    /// Its ControllerRevision name ([`object_name`]).
    pub name: String,
    /// The pod template revision it rolls out.
    pub pod_revision: String,
    /// What changed from the newest recorded revision.
    pub change: String,
}

impl Current {
    /// The current spec of `app`; `previous` is the spec saved for the
    /// newest recorded revision, when it could be read.
    pub fn of(app: &App, pod_revision: &str, previous: Option<&AppSpec>) -> Current {
        let name = object_name(app.metadata.name.as_deref().unwrap_or_default(), &app.spec);
        let change = match (app.status.as_ref().map(|s| s.history.is_empty()), previous) {
            (None | Some(true), _) => "created".to_string(),
            (Some(false), Some(previous)) => summary(previous, &app.spec),
            (Some(false), None) => "spec changed".to_string(),
        };
        Current {
            name,
            pod_revision: pod_revision.to_string(),
            change,
        }
    }
}

/// The history after this reconcile: a new revision when the spec is new,
/// the newest revision's outcome from the rollout decision, at most
/// [`HISTORY_LIMIT`] revisions.
pub fn record(
    previous: &[RevisionRecord],
    current: &Current,
    decision: &Decision,
    now: Timestamp,
) -> Vec<RevisionRecord> {
    let mut history = previous.to_vec();
    let is_new = history
        .last()
        .is_none_or(|last| last.controller_revision != current.name);
    if is_new {
        if let Some(last) = history.last_mut().filter(|l| l.outcome == PROGRESSING) {
            last.outcome = SUPERSEDED.to_string();
        }
        history.push(RevisionRecord {
            revision: history.last().map_or(1, |l| l.revision + 1),
            at: now.to_string(),
            change: current.change.clone(),
            outcome: PROGRESSING.to_string(),
            pod_revision: current.pod_revision.clone(),
            controller_revision: current.name.clone(),
        });
    }
    let excess = history.len().saturating_sub(HISTORY_LIMIT);
    history.drain(..excess);
    if let Some(last) = history.last_mut() {
        // A cron restart rolls a new template for the same spec.
        last.pod_revision = current.pod_revision.clone();
        if let Some(outcome) = outcome(decision, &last.outcome) {
            last.outcome = outcome.to_string();
        }
    }
    history
}

/// The newest revision's outcome under `decision`; `None` keeps it.
fn outcome(decision: &Decision, was: &str) -> Option<&'static str> {
    match decision {
        Decision::Proceed(Phase::Complete) => Some(COMPLETE),
        Decision::Proceed(Phase::Starting | Phase::InProgress) if was != COMPLETE => {
            Some(PROGRESSING)
        }
        Decision::Proceed(_) => None,
        Decision::Fail {
            rollback_to: Some(_),
            ..
        } => Some(ROLLED_BACK),
        Decision::Fail {
            rollback_to: None, ..
        } => Some(FAILED),
        Decision::Hold { .. } => None,
    }
}

/// The ControllerRevisions of revisions `history` no longer lists (and
/// no kept revision shares).
pub fn dropped(previous: &[RevisionRecord], history: &[RevisionRecord]) -> Vec<String> {
    let kept: BTreeSet<&str> = history
        .iter()
        .map(|r| r.controller_revision.as_str())
        .collect();
    let gone: BTreeSet<&str> = previous
        .iter()
        .map(|r| r.controller_revision.as_str())
        .filter(|name| !kept.contains(name))
        .collect();
    gone.into_iter().map(str::to_string).collect()
}

/// `image: web:1 -> web:2; env.LEVEL: debug -> info; +cronRestart`: the
/// top-level fields (and the entries of maps) that differ.
pub fn summary(before: &AppSpec, after: &AppSpec) -> String {
    let as_map = |spec: &AppSpec| match serde_json::to_value(saved_spec(spec)) {
        Ok(Value::Object(map)) => map,
        _ => Map::new(),
    };
    let mut parts = Vec::new();
    diff("", &as_map(before), &as_map(after), &mut parts);
    if parts.is_empty() {
        return "no spec change".to_string();
    }
    let mut text = parts.join("; ");
    if text.len() > CHANGE_LEN {
        let cut = (0..=CHANGE_LEN)
            .rev()
            .find(|i| text.is_char_boundary(*i))
            .unwrap_or(0);
        text.truncate(cut);
        text.push_str("...");
    }
    text
}

fn diff(
    prefix: &str,
    before: &Map<String, Value>,
    after: &Map<String, Value>,
    out: &mut Vec<String>,
) {
    let keys: BTreeSet<&String> = before.keys().chain(after.keys()).collect();
    for key in keys {
        let path = format!("{prefix}{key}");
        match (before.get(key), after.get(key)) {
            (Some(a), Some(b)) if a == b => {}
            (None, Some(_)) => out.push(format!("+{path}")),
            (Some(_), None) => out.push(format!("-{path}")),
            // One level down for `env`, `labels`, `rollout` and the like.
            (Some(Value::Object(a)), Some(Value::Object(b))) if prefix.is_empty() => {
                diff(&format!("{path}."), a, b, out)
            }
            (Some(a), Some(b)) if is_scalar(a) && is_scalar(b) => {
                out.push(format!("{path}: {} -> {}", short(a), short(b)))
            }
            _ => out.push(format!("{path} changed")),
        }
    }
}

fn is_scalar(value: &Value) -> bool {
    !matches!(value, Value::Object(_) | Value::Array(_))
}

fn short(value: &Value) -> String {
    let text = match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    if text.chars().count() > VALUE_LEN {
        let mut cut: String = text.chars().take(VALUE_LEN).collect();
        cut.push_str("...");
        cut
    } else {
        text
    }
}

#[cfg(test)]
mod tests;
