//! What a reconcile read from the cluster, handed to [`crate::plan`]: the
//! observe step fills it (from caches where it can), nothing else reads.

use k8s_openapi::api::apps::v1::{ControllerRevision, Deployment};
use k8s_openapi::api::core::v1::{Node, Pod, PodTemplateSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::jiff::Timestamp;

use crate::build::{APP_CONTAINER, REVISION_ANNOTATION};
use crate::crd::PodMemoryRestarts;
use crate::instance_index::PodFacts;
use crate::last_good;
use crate::memory_restart::{self, MemoryRestart};
use crate::slow_start;

/// Label the Deployment controller adds to a ReplicaSet's template; it must
/// not be part of a template readyroll applies.
const POD_TEMPLATE_HASH: &str = "pod-template-hash";

/// Everything the plan for one App looks at besides the App itself.
#[derive(Clone, Debug, Default)]
pub struct Observed {
    /// The App's Deployment as it is before this reconcile writes anything.
    pub deployment: Option<Deployment>,
    /// The pod templates of the Deployment's ReplicaSets, which keep old
    /// revisions for rollback.
    pub replica_set_templates: Vec<PodTemplateSpec>,
    /// The App's pods, reduced to what the plan needs.
    pub pods: Vec<PodRestarts>,
    /// Every node, for `instances: 0 / max / -N`.
    pub nodes: Vec<Node>,
    /// The App's Service as it exists, if it does.
    pub service: Option<ObjectMeta>,
    /// The App's PodDisruptionBudget as it exists, if it does.
    pub pdb: Option<ObjectMeta>,
    /// The last good pod template as saved (see `last_good`), if it is.
    pub last_good: Option<ControllerRevision>,
    /// The saved spec of the newest revision `status.history` lists (see
    /// `history`), if it exists.
    pub history_latest: Option<ControllerRevision>,
    /// The App's pods as the API server lists them (not a cache: a stale
    /// one could give one index twice), when they may need an instance
    /// index; `None` leaves the indices alone.
    pub instance_pods: Option<Vec<PodFacts>>,
}

/// One pod: which revision it runs, how often its containers restarted
/// and why the last time, and since when it is starting. Everything is read
/// off the Pod as it was; how long ago is the plan's to work out, from its
/// `now`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PodRestarts {
    /// The pod's name.
    pub name: String,
    /// The pod's uid.
    pub uid: Option<String>,
    /// The revision annotation of the pod.
    pub revision: Option<String>,
    /// Highest restart count among its containers: the larger of the two
    /// below.
    pub restarts: i32,
    /// The app container's restart count.
    pub app_restarts: i32,
    /// Highest restart count among its other containers (sidecars).
    pub other_restarts: i32,
    /// When the app container started, while it runs and is not ready and
    /// the pod is neither terminating nor finished (see `slow_start`).
    pub unready_since: Option<Timestamp>,
    /// The app container's last termination, when it was the runtime shim's
    /// memory restart.
    pub memory_restart: Option<MemoryRestart>,
}

impl PodRestarts {
    /// What the plan needs of `pod`.
    pub fn from_pod(pod: &Pod) -> Self {
        let containers = pod
            .status
            .iter()
            .flat_map(|s| s.container_statuses.iter().flatten());
        let (mut app_restarts, mut other_restarts) = (0, 0);
        for c in containers {
            if c.name == APP_CONTAINER {
                app_restarts = app_restarts.max(c.restart_count);
            } else {
                other_restarts = other_restarts.max(c.restart_count);
            }
        }
        PodRestarts {
            name: pod.metadata.name.clone().unwrap_or_default(),
            uid: pod.metadata.uid.clone(),
            revision: pod
                .metadata
                .annotations
                .as_ref()
                .and_then(|a| a.get(REVISION_ANNOTATION))
                .cloned(),
            restarts: app_restarts.max(other_restarts),
            app_restarts,
            other_restarts,
            unready_since: slow_start::unready_since(pod),
            memory_restart: memory_restart::memory_restart(pod),
        }
    }

    /// Its restarts that count against `maxRestarts`: `memory_restarts` of
    /// the app container's were graceful memory restarts, not crashes.
    pub fn crash_restarts(&self, memory_restarts: i32) -> i32 {
        if memory_restarts <= 0 {
            return self.restarts;
        }
        let app = self.app_restarts.saturating_sub(memory_restarts).max(0);
        app.max(self.other_restarts)
    }
}

impl Observed {
    /// Highest restart count among the App's pods, or among those running
    /// `revision` only.
    pub fn max_restarts(&self, revision: Option<&str>) -> i32 {
        self.pods
            .iter()
            .filter(|p| revision.is_none() || p.revision.as_deref() == revision)
            .map(|p| p.restarts)
            .max()
            .unwrap_or(0)
    }

    /// Like [`Observed::max_restarts`], without the memory restarts counted
    /// in `memory`: what `maxRestarts` is checked against.
    pub fn max_crash_restarts(&self, revision: Option<&str>, memory: &[PodMemoryRestarts]) -> i32 {
        self.pods
            .iter()
            .filter(|p| revision.is_none() || p.revision.as_deref() == revision)
            .map(|p| {
                let counted = memory
                    .iter()
                    .find(|m| p.uid.as_deref() == Some(m.uid.as_str()))
                    .map_or(0, |m| m.count);
                p.crash_restarts(counted)
            })
            .max()
            .unwrap_or(0)
    }

    /// The pod template of `revision`: the Deployment's own when it still
    /// carries it, else one of its ReplicaSets', else the saved last good
    /// one (which outlives the Deployment). `None` when no trace of the
    /// revision is left.
    pub fn template_of(&self, revision: &str) -> Option<PodTemplateSpec> {
        // A cached Deployment carries its template's metadata and no
        // containers (the operator's cache drops all of the pod spec but
        // the instance volume): it names the revision but cannot be
        // applied, so the ReplicaSets or the saved copy serve. A real pod
        // spec always has a container.
        let is_it = |t: &PodTemplateSpec| {
            t.spec.as_ref().is_some_and(|s| !s.containers.is_empty())
                && revision_of(t) == Some(revision)
        };
        let own = self
            .deployment
            .as_ref()
            .and_then(|d| d.spec.as_ref())
            .map(|s| &s.template)
            .filter(|t| is_it(t))
            .cloned();
        own.or_else(|| {
            self.replica_set_templates
                .iter()
                .find(|t| is_it(t))
                .cloned()
                .map(without_template_hash)
        })
        .or_else(|| {
            self.last_good
                .as_ref()
                .and_then(last_good::template)
                .filter(is_it)
        })
    }
}

/// The revision annotation of a pod template.
pub fn revision_of(template: &PodTemplateSpec) -> Option<&str> {
    template
        .metadata
        .as_ref()?
        .annotations
        .as_ref()?
        .get(REVISION_ANNOTATION)
        .map(String::as_str)
}

fn without_template_hash(mut template: PodTemplateSpec) -> PodTemplateSpec {
    if let Some(labels) = template.metadata.as_mut().and_then(|m| m.labels.as_mut()) {
        labels.remove(POD_TEMPLATE_HASH);
    }
    template
}

/// `object` is controlled by the owner with uid `owner_uid`.
pub fn controlled_by(object: &ObjectMeta, owner_uid: &str) -> bool {
    object
        .owner_references
        .iter()
        .flatten()
        .any(|o| o.uid == owner_uid && o.controller == Some(true))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec};
    use k8s_openapi::api::core::v1::{Container, PodSpec};

    use super::*;

    /// A template of `revision`; its pod spec whole or, as a cache keeps
    /// it, without containers.
    fn template(revision: &str, whole: bool) -> PodTemplateSpec {
        PodTemplateSpec {
            metadata: Some(ObjectMeta {
                annotations: Some(BTreeMap::from([(
                    REVISION_ANNOTATION.to_string(),
                    revision.to_string(),
                )])),
                ..Default::default()
            }),
            spec: Some(PodSpec {
                containers: if whole {
                    vec![Container::default()]
                } else {
                    Vec::new()
                },
                ..Default::default()
            }),
        }
    }

    #[test]
    fn a_template_without_its_pod_spec_is_never_the_one_returned() {
        let observed = Observed {
            deployment: Some(Deployment {
                spec: Some(DeploymentSpec {
                    template: template("good", false),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            replica_set_templates: vec![template("good", true)],
            ..Default::default()
        };
        let found = observed.template_of("good").expect("from the ReplicaSet");
        assert_eq!(found.spec.map(|s| s.containers.len()), Some(1));
        let only_cached = Observed {
            replica_set_templates: Vec::new(),
            ..observed
        };
        assert_eq!(only_cached.template_of("good"), None);
    }
}
