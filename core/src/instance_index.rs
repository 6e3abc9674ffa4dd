//! PM2's `NODE_APP_INSTANCE`: which index each running pod of an App holds,
//! decided without I/O. The operator writes the result into the pods'
//! [`INDEX_ANNOTATION`]; the runtime shim reads it before the app starts
//! (see `build::instance`).
//!
//! The rules, as PM2's reload keeps them:
//! - a pod's index never changes once given (its app may have read it);
//! - a new pod takes the lowest index in 0..N-1 nobody holds, else one only
//!   a terminating pod still holds (the pod it replaces);
//! - in a rollout a new-revision pod takes over the index of an
//!   old-revision pod (the hand-over), and that old pod is marked to be the
//!   first the ReplicaSet controller deletes
//!   ([`DELETION_COST_ANNOTATION`] = [`FIRST_TO_GO`]);
//! - every other indexed pod costs `-index` to delete, so a scale down
//!   removes the highest indices and instance 0 stays;
//! - two running pods holding the same index outside a hand-over (only
//!   possible through outside edits) are reported in
//!   [`Assignment::shared`]; all but one are marked first to go.

use std::collections::{BTreeMap, BTreeSet};

use jiff::Timestamp;
use k8s_openapi::api::core::v1::Pod;

pub use crate::build::INDEX_ANNOTATION;
use crate::build::REVISION_ANNOTATION;

/// The ReplicaSet controller deletes pods with a lower cost first (among
/// pods equally ready).
pub const DELETION_COST_ANNOTATION: &str = "controller.kubernetes.io/pod-deletion-cost";
/// The cost of a pod that handed its index over: deleted before any other.
pub const FIRST_TO_GO: i32 = i32::MIN;

/// What the assignment needs to know about one pod.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PodFacts {
    pub name: String,
    pub uid: Option<String>,
    /// Its revision annotation.
    pub revision: Option<String>,
    pub ready: bool,
    /// It has a deletion timestamp: it is stopping.
    pub terminating: bool,
    /// It ran to completion or failed (an evicted pod, say): it holds no
    /// index any more.
    pub finished: bool,
    pub created: Option<Timestamp>,
    /// Its index annotation, when that holds an index.
    pub index: Option<u32>,
    /// Its deletion cost annotation, when that holds a number.
    pub cost: Option<i32>,
}

impl PodFacts {
    pub fn of(pod: &Pod) -> PodFacts {
        let meta = &pod.metadata;
        let annotation = |key: &str| meta.annotations.as_ref().and_then(|a| a.get(key));
        let status = pod.status.as_ref();
        let phase = status.and_then(|s| s.phase.as_deref());
        PodFacts {
            name: meta.name.clone().unwrap_or_default(),
            uid: meta.uid.clone(),
            revision: annotation(REVISION_ANNOTATION).cloned(),
            ready: status
                .and_then(|s| s.conditions.as_ref())
                .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True")),
            terminating: meta.deletion_timestamp.is_some(),
            finished: matches!(phase, Some("Succeeded" | "Failed")),
            created: meta.creation_timestamp.as_ref().map(|t| t.0),
            index: annotation(INDEX_ANNOTATION).and_then(|v| v.trim().parse().ok()),
            cost: annotation(DELETION_COST_ANNOTATION).and_then(|v| v.trim().parse().ok()),
        }
    }

    fn running(&self) -> bool {
        !self.finished && !self.terminating
    }
}

/// The annotations to write on one pod.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PodPatch {
    pub name: String,
    /// The pod the plan was made for: a same-named newcomer is not patched.
    pub uid: Option<String>,
    /// The index to give it, when it has none yet.
    pub index: Option<u32>,
    /// The deletion cost to set, when it changes.
    pub cost: Option<i32>,
}

impl PodPatch {
    /// The JSON merge patch that writes it.
    pub fn merge_patch(&self) -> serde_json::Value {
        let mut annotations = serde_json::Map::new();
        if let Some(index) = self.index {
            annotations.insert(INDEX_ANNOTATION.into(), index.to_string().into());
        }
        if let Some(cost) = self.cost {
            annotations.insert(DELETION_COST_ANNOTATION.into(), cost.to_string().into());
        }
        let mut metadata = serde_json::Map::new();
        if let Some(uid) = &self.uid {
            metadata.insert("uid".into(), uid.clone().into());
        }
        metadata.insert("annotations".into(), annotations.into());
        serde_json::json!({ "metadata": metadata })
    }
}

/// The outcome of [`assign`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Assignment {
    /// In order: first the pods marked to go first, then the new indices,
    /// so a hand-over never leaves two pods with one index and neither
    /// marked.
    pub patches: Vec<PodPatch>,
    /// Indices that more than one running pod holds outside a hand-over,
    /// with the pods' names.
    pub shared: BTreeMap<u32, Vec<String>>,
}

/// Whether the pods need any write: the assignment of `pods` (as a cache
/// has them) is not empty.
pub fn needs_index(instances: i32, revision: &str, pods: &[PodFacts]) -> bool {
    !assign(instances, revision, pods).patches.is_empty()
}

/// The indices of the App's pods, for `instances` pods of `revision` (the
/// revision the Deployment rolls towards).
pub fn assign(instances: i32, revision: &str, pods: &[PodFacts]) -> Assignment {
    let n = u32::try_from(instances).unwrap_or(0);
    let current = |p: &PodFacts| p.revision.as_deref() == Some(revision);

    // Who keeps each held index: a new-revision holder over an old one
    // (the hand-over), then the oldest.
    let mut holders: BTreeMap<u32, Vec<&PodFacts>> = BTreeMap::new();
    let mut held_by_any: BTreeSet<u32> = BTreeSet::new();
    for pod in pods.iter().filter(|p| !p.finished) {
        if let Some(i) = pod.index {
            held_by_any.insert(i);
            if !pod.terminating {
                holders.entry(i).or_default().push(pod);
            }
        }
    }
    let mut first_to_go: BTreeSet<&str> = BTreeSet::new();
    let mut shared = BTreeMap::new();
    // Indices a running pod of the desired revision holds.
    let mut current_holds: BTreeSet<u32> = BTreeSet::new();
    for (&i, hs) in holders.iter_mut() {
        hs.sort_by_key(|p| (!current(p), p.created, p.name.clone()));
        let keeper = hs[0];
        if current(keeper) {
            current_holds.insert(i);
        }
        for other in &hs[1..] {
            first_to_go.insert(other.name.as_str());
            if !current(keeper) || current(other) {
                shared
                    .entry(i)
                    .or_insert_with(|| vec![keeper.name.clone()])
                    .push(other.name.clone());
            }
        }
    }
    let mut held_running: BTreeSet<u32> = holders.keys().copied().collect();

    // New pods, oldest first, as the ReplicaSets created them.
    let mut newcomers: Vec<&PodFacts> = pods
        .iter()
        .filter(|p| p.running() && p.index.is_none())
        .collect();
    newcomers.sort_by_key(|p| (p.created, p.name.clone()));
    let mut given: BTreeMap<&str, u32> = BTreeMap::new();
    for pod in newcomers {
        let free = (0..n).find(|i| !held_by_any.contains(i));
        let left_by_terminating = || (0..n).find(|i| !held_running.contains(i));
        let handed_over = || {
            if !current(pod) {
                return None;
            }
            // The old holder already marked goes first, then the lowest index.
            (0..n)
                .filter(|i| held_running.contains(i) && !current_holds.contains(i))
                .filter_map(|i| Some((i, holders.get(&i)?[0])))
                .min_by_key(|(i, old)| (old.cost != Some(FIRST_TO_GO), *i))
        };
        let index = if let Some(i) = free.or_else(left_by_terminating) {
            i
        } else if let Some((i, old)) = handed_over() {
            first_to_go.insert(old.name.as_str());
            i
        } else {
            // More running pods than instances and none to replace (a scale
            // down in flight): an index above the range, until one goes.
            (n..).find(|i| !held_by_any.contains(i)).unwrap_or(u32::MAX)
        };
        held_by_any.insert(index);
        held_running.insert(index);
        if current(pod) {
            current_holds.insert(index);
        }
        given.insert(pod.name.as_str(), index);
    }

    let mut marks = Vec::new();
    let mut rest = Vec::new();
    for pod in pods.iter().filter(|p| p.running()) {
        let new_index = given.get(pod.name.as_str()).copied();
        let Some(index) = pod.index.or(new_index) else {
            continue;
        };
        let goes_first = first_to_go.contains(pod.name.as_str());
        let cost = if goes_first {
            FIRST_TO_GO
        } else {
            0i32.saturating_sub_unsigned(index)
        };
        let patch = PodPatch {
            name: pod.name.clone(),
            uid: pod.uid.clone(),
            index: new_index,
            cost: (pod.cost != Some(cost)).then_some(cost),
        };
        if patch.index.is_none() && patch.cost.is_none() {
            continue;
        }
        if goes_first {
            marks.push(patch);
        } else {
            rest.push(patch);
        }
    }
    marks.extend(rest);
    Assignment {
        patches: marks,
        shared,
    }
}

#[cfg(test)]
#[path = "instance_index_tests.rs"]
mod tests;
