//! Wiring: the kube-runtime Controller over Apps, the objects they own and
//! the cluster facts they depend on.

use std::future::Future;
use std::sync::Arc;

use futures::{Stream, StreamExt};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Node, Pod, Service};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use kube::core::DeserializeGuard;
use kube::runtime::events::{Recorder, Reporter};
use kube::runtime::reflector::Store;
use kube::runtime::{reflector, watcher, Controller, PredicateConfig, WatchStreamExt};
use kube::{Api, Client};
use tracing::{info, warn};

use super::context::Context;
use super::error::ErrorBackoff;
use super::reconcile::{error_policy, reconcile};
use super::watches::{
    app_of_pod, apps_counting_cpus, managed_by_selector, node_capacity_hash, pod_restarts_hash,
};
use crate::core::BuildOptions;
use crate::crd::App;
use crate::leader::Leadership;
use crate::telemetry::{Health, Metrics};

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
    let (apps, pods): (Api<DeserializeGuard<App>>, Api<Pod>) = match &config.namespace {
        Some(ns) => (
            Api::namespaced(client.clone(), ns),
            Api::namespaced(client.clone(), ns),
        ),
        None => (Api::all(client.clone()), Api::all(client.clone())),
    };
    let children = |client: &Client| -> (Api<Deployment>, Api<Service>, Api<PodDisruptionBudget>) {
        match &config.namespace {
            Some(ns) => (
                Api::namespaced(client.clone(), ns),
                Api::namespaced(client.clone(), ns),
                Api::namespaced(client.clone(), ns),
            ),
            None => (
                Api::all(client.clone()),
                Api::all(client.clone()),
                Api::all(client.clone()),
            ),
        }
    };
    let (deployments, services, pdbs) = children(&client);
    let managed = watcher::Config::default().labels(&managed_by_selector());

    // Nodes and pods are reflected into stores the reconcile reads; the same
    // streams trigger reconciles, after the store has the change.
    let (node_store, node_writer) = reflector::store::<Node>();
    let node_changes = watcher(Api::<Node>::all(client.clone()), watcher::Config::default())
        .default_backoff()
        .reflect(node_writer)
        .touched_objects()
        .predicate_filter(node_capacity_hash, PredicateConfig::default());
    let (pod_store, pod_writer) = reflector::store::<Pod>();
    let pod_changes = watcher(pods, managed.clone())
        .default_backoff()
        .reflect(pod_writer)
        .touched_objects()
        .predicate_filter(pod_restarts_hash, PredicateConfig::default());

    let reporter = Reporter {
        controller: CONTROLLER_NAME.to_string(),
        instance: config.instance,
    };
    let context = Arc::new(Context {
        client: client.clone(),
        recorder: Recorder::new(client.clone(), reporter),
        nodes: node_store,
        pods: pod_store,
        build: config.build,
        backoff: ErrorBackoff::default(),
        leadership: config.leadership.clone(),
        metrics: config.metrics,
    });

    let controller = Controller::new(apps, watcher::Config::default().any_semantic());
    let app_store = controller.store();
    let readiness = tokio::spawn(report_ready_when_synced(
        config.health,
        app_store.clone(),
        context.clone(),
    ));
    info!(
        namespace = config.namespace.as_deref().unwrap_or("*"),
        "starting controller"
    );
    controller
        .owns(deployments, managed.clone())
        .owns(services, managed.clone())
        .owns(pdbs, managed)
        .watches_stream(node_changes, move |_node| apps_counting_cpus(&app_store))
        .watches_stream(pod_changes, |pod| app_of_pod(&pod))
        .reconcile_all_on(became_leader(&config.leadership))
        .graceful_shutdown_on(shutdown)
        .run(reconcile, error_policy, context)
        .for_each(|result| async move {
            if let Err(error) = result {
                // Reconcile failures are logged by the error policy; what
                // remains here are watch and queue problems.
                if !matches!(
                    error,
                    kube::runtime::controller::Error::ReconcilerFailed(..)
                ) {
                    warn!(%error, "controller stream error");
                }
            }
        })
        .await;
    readiness.abort();
    info!("controller stopped");
}

/// Ready once the App, Node and Pod caches hold their first full list: a
/// replica that is ready can reconcile (or take over) at once.
async fn report_ready_when_synced(
    health: Health,
    apps: Store<DeserializeGuard<App>>,
    context: Arc<Context>,
) {
    let synced = apps.wait_until_ready().await.is_ok()
        && context.nodes.wait_until_ready().await.is_ok()
        && context.pods.wait_until_ready().await.is_ok();
    if synced {
        info!("caches synced");
        health.set_ready(true);
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
