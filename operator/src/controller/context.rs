//! What every reconcile shares: the client, caches of the cluster, the event
//! recorder and the per-App error backoff.

use std::sync::Arc;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Node, Pod, PodTemplateSpec, Service};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use kube::runtime::events::{Recorder, Reporter};
use kube::runtime::reflector::Store;
use kube::Client;

use super::applied::AppliedDeployments;
use super::error::ErrorBackoff;
use super::revisions::RevisionCache;
use super::synced::Synced;
use super::templates::ReplicaSetTemplates;
use super::watches::INSTANCE_LABEL;
use super::written::WrittenVersions;
use crate::core::BuildOptions;
use crate::crd::App;
use crate::leader::Leadership;
use crate::telemetry::Metrics;
use kube::ResourceExt;

pub struct Context {
    pub client: Client,
    /// Who the Events come from.
    pub reporter: Reporter,
    /// The Deployments readyroll made (managed-by label), with their status.
    pub deployments: Store<Deployment>,
    pub deployments_synced: Synced,
    /// Every Node, for `instances: 0 / max / -N`.
    pub nodes: Store<Node>,
    pub nodes_synced: Synced,
    /// Pods carrying readyroll's managed-by label, for restart counts.
    pub pods: Store<Pod>,
    pub pods_synced: Synced,
    /// The pod templates of the ReplicaSets carrying readyroll's
    /// managed-by label: earlier revisions' templates, for rollback.
    pub replica_sets: Arc<ReplicaSetTemplates>,
    pub replica_sets_synced: Synced,
    /// Services and PodDisruptionBudgets carrying readyroll's managed-by
    /// label: the ones readyroll made, the only ones it ever deletes.
    pub services: Store<Service>,
    pub services_synced: Synced,
    pub pdbs: Store<PodDisruptionBudget>,
    pub pdbs_synced: Synced,
    pub build: BuildOptions,
    pub backoff: ErrorBackoff,
    /// Writes happen only while this says so.
    pub leadership: Leadership,
    pub metrics: Metrics,
    /// Versions of readyroll's own last status writes, to trust the cache.
    pub written: Arc<WrittenVersions>,
    /// What readyroll's own last Deployment applies produced.
    pub applied: Arc<AppliedDeployments>,
    /// The ControllerRevisions known without a read.
    pub revisions: Arc<RevisionCache>,
}

impl Context {
    /// A recorder for one reconcile's Events. A fresh one each time: a
    /// long-lived recorder folds every Event with the same reason into one
    /// series that keeps the first message, so a second rollout would be
    /// reported with the first one's revisions.
    pub fn recorder(&self) -> Recorder {
        Recorder::new(self.client.clone(), self.reporter.clone())
    }

    /// The nodes, once the cache holds the cluster's full list.
    pub async fn nodes(&self) -> Vec<Node> {
        // Until the first list arrives the store is empty, which would count
        // zero CPUs; waiting keeps `instances: 0` from flapping at start-up.
        self.nodes_synced.wait().await;
        self.nodes.state().iter().map(|n| Node::clone(n)).collect()
    }

    /// The pods of `app`, once the cache holds the cluster's full list.
    pub async fn pods_of(&self, app: &App) -> Vec<Arc<Pod>> {
        self.pods_synced.wait().await;
        let namespace = app.namespace();
        let name = app.name_any();
        self.pods.state_filter(|pod| {
            pod.namespace() == namespace && pod.labels().get(INSTANCE_LABEL) == Some(&name)
        })
    }

    /// The pod templates of `deployment`'s ReplicaSets, once the cache holds
    /// the cluster's full list.
    pub async fn replica_set_templates(
        &self,
        deployment: Option<&Deployment>,
    ) -> Vec<PodTemplateSpec> {
        let Some(deployment) = deployment else {
            return Vec::new();
        };
        let Some(uid) = deployment.uid() else {
            return Vec::new();
        };
        self.replica_sets_synced.wait().await;
        self.replica_sets.of(&uid)
    }
}
