//! Reconciles against the in-memory API server: what is applied, what the
//! status says, and which events are sent.

mod apply;
mod reporting;
mod rollback;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use http::Method;
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::{ContainerStatus, Node, Pod, PodStatus, Service};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use k8s_openapi::jiff::Timestamp;
use kube::core::DeserializeGuard;
use kube::runtime::events::Reporter;
use kube::runtime::reflector::{self, store::Writer};
use kube::runtime::watcher;
use serde_json::{json, Value};

use super::context::Context;
use super::error::ErrorBackoff;
use super::fake_api::{FakeApi, Recorded};
use super::reconcile::reconcile;
use super::synced::Synced;
use crate::core::{self, BuildOptions, Desired, REVISION_ANNOTATION};
use crate::crd::{App, AppSpec, AppStatus, Instances, RolloutSpec};
use crate::leader::Leadership;
use crate::telemetry::Metrics;

const APP: &str = "/apis/readyroll.dev/v1alpha1/namespaces/shop/apps/web";
const DEPLOYMENT: &str = "/apis/apps/v1/namespaces/shop/deployments/web";
const SERVICE: &str = "/api/v1/namespaces/shop/services/web";
const PDB: &str = "/apis/policy/v1/namespaces/shop/poddisruptionbudgets/web";
const REPLICA_SETS: &str = "/apis/apps/v1/namespaces/shop/replicasets";
const EVENTS: &str = "/apis/events.k8s.io/v1/namespaces/shop/events";
const APP_UID: &str = "app-uid";

struct Harness {
    api: FakeApi,
    ctx: Arc<Context>,
    _writers: (Writer<Node>, Writer<Pod>),
    deployments: Mutex<Writer<Deployment>>,
    _services: Mutex<Writer<Service>>,
    pdbs: Mutex<Writer<PodDisruptionBudget>>,
}

fn options() -> BuildOptions {
    BuildOptions {
        shim_image: "readyroll:test".into(),
    }
}

fn ready_store<K>(objects: Vec<K>) -> (reflector::Store<K>, Writer<K>)
where
    K: kube::Resource<DynamicType = ()> + Clone + 'static,
{
    let (store, mut writer) = reflector::store();
    writer.apply_watcher_event(&watcher::Event::Init);
    for object in objects {
        writer.apply_watcher_event(&watcher::Event::InitApply(object));
    }
    writer.apply_watcher_event(&watcher::Event::InitDone);
    (store, writer)
}

fn harness(pods: Vec<Pod>) -> Harness {
    harness_with(pods, Leadership::always())
}

fn harness_with(pods: Vec<Pod>, leadership: Leadership) -> Harness {
    let api = FakeApi::default();
    let client = api.client();
    let (deployments, deployment_writer) = ready_store(Vec::new());
    let (nodes, node_writer) = ready_store(Vec::new());
    let (pods, pod_writer) = ready_store(pods);
    let (services, service_writer) = ready_store(Vec::new());
    let (pdbs, pdb_writer) = ready_store(Vec::new());
    let ctx = Arc::new(Context {
        client: client.clone(),
        reporter: Reporter {
            controller: "readyroll".into(),
            instance: None,
        },
        deployments,
        deployments_synced: Synced::done(),
        nodes,
        nodes_synced: Synced::done(),
        pods,
        pods_synced: Synced::done(),
        replica_sets: Default::default(),
        replica_sets_synced: Synced::done(),
        services,
        services_synced: Synced::done(),
        pdbs,
        pdbs_synced: Synced::done(),
        build: options(),
        backoff: ErrorBackoff::default(),
        leadership,
        metrics: Metrics::new(),
        written: Default::default(),
        applied: Default::default(),
        revisions: Default::default(),
    });
    Harness {
        api,
        ctx,
        _writers: (node_writer, pod_writer),
        deployments: Mutex::new(deployment_writer),
        _services: Mutex::new(service_writer),
        pdbs: Mutex::new(pdb_writer),
    }
}

fn app(spec: AppSpec, status: Option<AppStatus>) -> App {
    let mut app = App::new("web", spec);
    app.metadata = ObjectMeta {
        name: Some("web".into()),
        namespace: Some("shop".into()),
        uid: Some(APP_UID.into()),
        generation: Some(1),
        creation_timestamp: Some(Time(Timestamp::now())),
        ..Default::default()
    };
    app.status = status;
    app
}

fn spec(image: &str, instances: i32) -> AppSpec {
    AppSpec {
        image: image.into(),
        instances: Some(Instances::Count(instances)),
        port: Some(8080),
        ..Default::default()
    }
}

fn desired(app: &App) -> Desired {
    core::build(app, &[], &options()).expect("test App builds")
}

impl Harness {
    fn store_app(&self, app: &App) {
        self.api.put(APP, serde_json::to_value(app).unwrap());
    }

    /// Reconciles the App as the fake API server holds it now, then lets
    /// the App watch deliver what the reconcile wrote.
    async fn reconcile(&self) -> kube::runtime::controller::Action {
        let action = self.reconcile_cached(self.stored_app()).await;
        let delivered = watcher::Event::Apply(DeserializeGuard(Ok(self.stored_app())));
        self.ctx.written.observe(&delivered);
        action
    }

    /// Reconciles `cached` as the App cache holds it, with nothing delivered.
    async fn reconcile_cached(&self, cached: App) -> kube::runtime::controller::Action {
        reconcile(Arc::new(DeserializeGuard(Ok(cached))), self.ctx.clone())
            .await
            .expect("reconcile succeeds")
    }

    fn stored_app(&self) -> App {
        serde_json::from_value(self.api.get(APP).expect("App stored")).unwrap()
    }

    /// Puts a PDB readyroll made into the API server and the controller's
    /// cache, as its watch would.
    fn store_owned_pdb(&self, pdb: Value) {
        self.api.put(PDB, pdb.clone());
        let pdb: PodDisruptionBudget =
            serde_json::from_value(self.api.get(PDB).expect("PDB stored")).unwrap();
        self.pdbs
            .lock()
            .unwrap()
            .apply_watcher_event(&watcher::Event::Apply(pdb));
    }

    /// Puts the Deployment as the API server holds it into the controller's
    /// cache, as its watch would.
    fn cache_deployment(&self) {
        let deployment: Deployment =
            serde_json::from_value(self.api.get(DEPLOYMENT).expect("Deployment stored")).unwrap();
        self.deployments
            .lock()
            .unwrap()
            .apply_watcher_event(&watcher::Event::Apply(deployment));
    }

    /// Puts a ReplicaSet into the controller's cache, as its watch would.
    fn cache_replica_set(&self, replica_set: Value) {
        let replica_set: ReplicaSet = serde_json::from_value(replica_set).unwrap();
        self.ctx
            .replica_sets
            .observe(&watcher::Event::Apply(replica_set));
    }

    /// How often the App was read since the log was last cleared.
    fn app_reads(&self) -> usize {
        self.reads().iter().filter(|p| *p == APP).count()
    }

    /// The paths read (GET) since the log was last cleared.
    fn reads(&self) -> Vec<String> {
        self.api
            .requests()
            .into_iter()
            .filter(|r| r.method == Method::GET)
            .map(|r| r.path)
            .collect()
    }

    fn stored_status(&self) -> AppStatus {
        serde_json::from_value(self.api.get(APP).unwrap()["status"].clone()).unwrap_or_default()
    }
}

fn writes_summary(writes: &[Recorded]) -> Vec<(Method, String)> {
    writes
        .iter()
        .map(|r| (r.method.clone(), r.path.clone()))
        .collect()
}

fn write_to<'a>(writes: &'a [Recorded], method: Method, path: &str) -> Vec<&'a Recorded> {
    writes
        .iter()
        .filter(|r| r.method == method && r.path == path)
        .collect()
}

fn event_reasons(writes: &[Recorded]) -> Vec<String> {
    writes
        .iter()
        .filter(|r| r.path == EVENTS)
        .map(|r| r.body["reason"].as_str().unwrap_or_default().to_string())
        .collect()
}

fn condition(status: &AppStatus, type_: &str) -> (String, String) {
    let c = status
        .conditions
        .iter()
        .find(|c| c.type_ == type_)
        .unwrap_or_else(|| panic!("no {type_} condition in {status:?}"));
    (c.status.clone(), c.reason.clone())
}

fn pair(status: &str, reason: &str) -> (String, String) {
    (status.into(), reason.into())
}

/// The Deployment as the API server would report it after the Deployment
/// controller acted on it.
fn deployment_with_status(desired: &Desired, generation: i64, status: Value) -> Value {
    let mut deployment = serde_json::to_value(&desired.deployment).unwrap();
    deployment["metadata"]["generation"] = json!(generation);
    deployment["metadata"]["uid"] = json!("deployment-uid");
    deployment["status"] = status;
    deployment
}
