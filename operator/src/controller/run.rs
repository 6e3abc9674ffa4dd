//! Wiring: the kube-runtime Controller over Apps, the objects they own and
//! the cluster facts they depend on.

use std::future::Future;
use std::sync::Arc;

use futures::TryStreamExt;
use futures::{Stream, StreamExt};
use k8s_openapi::api::apps::v1::{ControllerRevision, Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::{Node, Pod, Service};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::NamespaceResourceScope;
use kube::core::{DeserializeGuard, PartialObjectMeta};
use kube::runtime::controller::Error as ControllerError;
use kube::runtime::events::Reporter;
use kube::runtime::{reflector, watcher, Controller, PredicateConfig, WatchStreamExt};
use kube::{Api, Client, Resource};
use tracing::{debug, info, warn};

use super::applied::AppliedDeployments;
use super::context::Context;
use super::error::ErrorBackoff;
use super::reconcile::{error_policy, reconcile};
use super::revisions::RevisionCache;
use super::synced::{sync_flag, CachesReady};
use super::templates::ReplicaSetTemplates;
use super::triggers::{queue_never_pauses, ThrottledLog};
use super::trim;
use super::watches::{
    app_key, app_of_pod, apps_counting_cpus, forget_deleted_app, managed_by_selector, mark_deleted,
    node_capacity_hash, pod_restarts_hash,
};
use super::written::WrittenVersions;
use crate::core::BuildOptions;
use crate::crd::App;
use crate::leader::Leadership;
use crate::telemetry::{Health, Metrics};
use tokio::time::Instant;

/// Name the controller reports in Events.
pub const CONTROLLER_NAME: &str = "readyroll";

/// Everything `run` needs; nothing comes from process-wide state, so tests
/// can run several controllers side by side.
pub struct ControllerConfig {
    pub client: Client,
    /// Watch Apps (and their pods) in this namespace only; all when `None`.
    pub namespace: Option<String>,
    pub build: BuildOptions,
    /// Identifies this replica in Events (e.g. the pod name).
    pub instance: Option<String>,
    /// Whether this replica may write; [`Leadership::always`] without
    /// leader election.
    pub leadership: Leadership,
    pub metrics: Metrics,
    /// Turned ready once every cache has its first full list.
    pub health: Health,
}

impl ControllerConfig {
    /// A single replica (always the leader) watching `namespace`, or all
    /// namespaces, with its own metrics and health state.
    pub fn new(client: Client, namespace: Option<String>, build: BuildOptions) -> Self {
        ControllerConfig {
            client,
            namespace,
            build,
            instance: None,
            leadership: Leadership::always(),
            metrics: Metrics::new(),
            health: Health::new(),
        }
    }
}

/// Runs the controller until `shutdown` resolves, then lets reconciles in
/// flight finish.
pub async fn run(
    config: ControllerConfig,
    shutdown: impl Future<Output = ()> + Send + Sync + 'static,
) {
    let client = config.client;
    let namespace = config.namespace.as_deref();
    let managed = watcher::Config::default().labels(&managed_by_selector());

    // Apps, nodes and pods are reflected into stores; each stream triggers
    // reconciles only after its store has the change, and marks when its
    // first full list is in.
    let caches = CachesReady::new(7, config.health);
    let (app_store, app_writer) = reflector::store::<DeserializeGuard<App>>();
    let (apps_flag, _) = sync_flag("apps", &caches);
    let metrics = config.metrics.clone();
    let written = Arc::new(WrittenVersions::default());
    let applied = Arc::new(AppliedDeployments::default());
    let (written_seen, forget_applied) = (written.clone(), applied.clone());
    let app_changes = watcher(
        scoped::<DeserializeGuard<App>>(&client, namespace),
        watcher::Config::default().any_semantic(),
    )
    .default_backoff()
    .modify(trim::app)
    .reflect(app_writer)
    .inspect_ok(move |event| {
        apps_flag.observe(event);
        written_seen.observe(event);
        forget_deleted_app(&metrics, event);
        if let watcher::Event::Delete(app) = event {
            forget_applied.forget(&app_key(app));
        }
    })
    .applied_objects();

    // The Deployments readyroll made trigger their App (as `owns` would)
    // and are read from this cache (see `observe::deployment`).
    let (deployment_store, deployment_writer) = reflector::store::<Deployment>();
    let (deployments_flag, deployments_synced) = sync_flag("deployments", &caches);
    let deployment_changes = watcher(scoped::<Deployment>(&client, namespace), managed.clone())
        .default_backoff()
        .modify(trim::deployment)
        .reflect(deployment_writer)
        .inspect_ok(move |event| deployments_flag.observe(event))
        .touched_objects();

    // Only the revisions' metadata is watched, every revision's and not only
    // readyroll's: it tells the revision cache when what it remembers
    // changed, and which names exist at all (see `revisions`).
    let revisions = Arc::new(RevisionCache::default());
    let revision_events = revisions.clone();
    let revision_changes = watcher(
        scoped::<PartialObjectMeta<ControllerRevision>>(&client, namespace),
        watcher::Config::default(),
    )
    .default_backoff()
    .inspect_ok(move |event| revision_events.observe(event))
    .touched_objects();

    let (node_store, node_writer) = reflector::store::<Node>();
    let (nodes_flag, nodes_synced) = sync_flag("nodes", &caches);
    let node_changes = watcher(Api::<Node>::all(client.clone()), watcher::Config::default())
        .default_backoff()
        .modify(trim::node)
        .reflect(node_writer)
        .inspect_ok(move |event| nodes_flag.observe(event))
        .touched_objects()
        .predicate_filter(node_capacity_hash, PredicateConfig::default());

    let (pod_store, pod_writer) = reflector::store::<Pod>();
    let (pods_flag, pods_synced) = sync_flag("pods", &caches);
    let pod_changes = watcher(scoped::<Pod>(&client, namespace), managed.clone())
        .default_backoff()
        .modify(trim::pod)
        .reflect(pod_writer)
        .inspect_ok(move |event| pods_flag.observe(event))
        .map_ok(mark_deleted)
        .touched_objects()
        .predicate_filter(pod_restarts_hash, PredicateConfig::default());

    // ReplicaSets keep the templates of earlier revisions, for rollback.
    // Only the cache is needed: a Deployment's own status reports what its
    // ReplicaSets do, so they trigger nothing.
    let replica_set_templates = Arc::new(ReplicaSetTemplates::default());
    let templates_seen = replica_set_templates.clone();
    let (replica_sets_flag, replica_sets_synced) = sync_flag("replicasets", &caches);
    let replica_set_changes = watcher(scoped::<ReplicaSet>(&client, namespace), managed.clone())
        .default_backoff()
        .inspect_ok(move |event| {
            templates_seen.observe(event);
            replica_sets_flag.observe(event);
        })
        .touched_objects();

    // The Services and PDBs readyroll made: they trigger their App and tell
    // observe what exists without a read (see `observe::owned`).
    let (service_store, service_writer) = reflector::store::<Service>();
    let (services_flag, services_synced) = sync_flag("services", &caches);
    let service_changes = watcher(scoped::<Service>(&client, namespace), managed.clone())
        .default_backoff()
        .reflect(service_writer)
        .inspect_ok(move |event| services_flag.observe(event))
        .touched_objects();
    let (pdb_store, pdb_writer) = reflector::store::<PodDisruptionBudget>();
    let (pdbs_flag, pdbs_synced) = sync_flag("poddisruptionbudgets", &caches);
    let pdb_changes = watcher(
        scoped::<PodDisruptionBudget>(&client, namespace),
        managed.clone(),
    )
    .default_backoff()
    .reflect(pdb_writer)
    .inspect_ok(move |event| pdbs_flag.observe(event))
    .touched_objects();

    let context = Arc::new(Context {
        client: client.clone(),
        reporter: Reporter {
            controller: CONTROLLER_NAME.to_string(),
            instance: config.instance,
        },
        deployments: deployment_store,
        deployments_synced,
        nodes: node_store,
        nodes_synced,
        pods: pod_store,
        pods_synced,
        replica_sets: replica_set_templates,
        replica_sets_synced,
        services: service_store,
        services_synced,
        pdbs: pdb_store,
        pdbs_synced,
        build: config.build,
        backoff: ErrorBackoff::default(),
        leadership: config.leadership.clone(),
        metrics: config.metrics,
        written,
        applied,
        revisions,
    });

    info!(namespace = namespace.unwrap_or("*"), "starting controller");
    let apps_for_nodes = app_store.clone();
    let results = queue_never_pauses(Controller::for_stream(app_changes, app_store))
        .owns_stream(deployment_changes)
        .owns_stream(service_changes)
        .owns_stream(pdb_changes)
        .watches_stream(node_changes, move |_node| {
            apps_counting_cpus(&apps_for_nodes)
        })
        .watches_stream(pod_changes, |pod| app_of_pod(&pod))
        .watches_stream(replica_set_changes, |_| None)
        .watches_stream(revision_changes, |_| None)
        .reconcile_all_on(became_leader(&config.leadership))
        .graceful_shutdown_on(shutdown)
        .run(reconcile, error_policy, context);
    let mut results = std::pin::pin!(results);
    // Every watch reports each of its errors here; during an API outage
    // that is a few a minute per watch: log the first and then a summary
    // a minute, like the elector does.
    let mut queue_errors = ThrottledLog::default();
    while let Some(result) = results.next().await {
        // Reconcile failures are logged by the error policy, and a trigger
        // for an App deleted meanwhile is expected; what remains are watch
        // and queue problems.
        match result {
            Err(ControllerError::ReconcilerFailed(..)) | Ok(_) => {}
            Err(ControllerError::ObjectNotFound(object)) => {
                debug!(%object, "App is gone; nothing to reconcile");
            }
            Err(error) => match queue_errors.record(Instant::now()) {
                Some(since_last) => warn!(%error, errors = since_last, "controller stream error"),
                None => debug!(%error, "controller stream error"),
            },
        }
    }
    info!("controller stopped");
}

/// An API for namespaced objects in `namespace`, or in all namespaces.
fn scoped<K>(client: &Client, namespace: Option<&str>) -> Api<K>
where
    K: Resource<Scope = NamespaceResourceScope>,
    K::DynamicType: Default,
{
    match namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    }
}

/// Fires each time this replica becomes the leader: while it was a standby
/// it skipped its writes, so every App needs a look.
fn became_leader(leadership: &Leadership) -> impl Stream<Item = ()> + Send + 'static {
    futures::stream::unfold(leadership.changes(), |mut changes| async move {
        loop {
            changes.changed().await.ok()?;
            if *changes.borrow_and_update() {
                return Some(((), changes));
            }
        }
    })
}
