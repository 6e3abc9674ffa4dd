//! Reconciles against the in-memory API server: what is applied, what the
//! status says, and which events are sent.

use std::collections::BTreeMap;
use std::sync::Arc;

use http::Method;
use k8s_openapi::api::core::v1::{ContainerStatus, Node, Pod, PodStatus};
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
    let (nodes, node_writer) = ready_store(Vec::new());
    let (pods, pod_writer) = ready_store(pods);
    let ctx = Arc::new(Context {
        client: client.clone(),
        reporter: Reporter {
            controller: "readyroll".into(),
            instance: None,
        },
        nodes,
        nodes_synced: Synced::done(),
        pods,
        pods_synced: Synced::done(),
        build: options(),
        backoff: ErrorBackoff::default(),
        leadership,
        metrics: Metrics::new(),
    });
    Harness {
        api,
        ctx,
        _writers: (node_writer, pod_writer),
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

    /// Reconciles the App as the fake API server holds it now.
    async fn reconcile(&self) -> kube::runtime::controller::Action {
        let app: App = serde_json::from_value(self.api.get(APP).expect("App stored")).unwrap();
        reconcile(Arc::new(DeserializeGuard(Ok(app))), self.ctx.clone())
            .await
            .expect("reconcile succeeds")
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

#[tokio::test]
async fn applies_exactly_what_the_core_builds() {
    let h = harness(Vec::new());
    let web = app(spec("web:1", 3), None);
    h.store_app(&web);
    let want = desired(&web);

    h.reconcile().await;

    let writes = h.api.writes();
    assert_eq!(
        writes_summary(&writes),
        [
            (Method::PATCH, DEPLOYMENT.to_string()),
            (Method::PATCH, SERVICE.to_string()),
            (Method::PATCH, PDB.to_string()),
            (Method::POST, EVENTS.to_string()),
            (Method::PATCH, format!("{APP}/status")),
        ]
    );
    for (path, object) in [
        (DEPLOYMENT, serde_json::to_value(&want.deployment).unwrap()),
        (
            SERVICE,
            serde_json::to_value(want.service.as_ref().unwrap()).unwrap(),
        ),
        (
            PDB,
            serde_json::to_value(want.pdb.as_ref().unwrap()).unwrap(),
        ),
    ] {
        let patch = write_to(&writes, Method::PATCH, path)[0];
        assert_eq!(patch.body, object, "{path} is applied exactly as built");
        assert!(
            patch.query.contains("fieldManager=readyroll"),
            "{}",
            patch.query
        );
        assert!(patch.query.contains("force=true"), "{}", patch.query);
    }

    let status = h.stored_status();
    assert_eq!(status.observed_generation, Some(1));
    assert_eq!(status.instances, Some(3));
    assert_eq!(
        status.current_revision.as_deref(),
        Some(want.revision.as_str())
    );
    assert_eq!(status.last_good_revision, None);
    assert_eq!(
        condition(&status, "Progressing"),
        pair("True", "RolloutInProgress")
    );
    assert_eq!(
        condition(&status, "Available"),
        pair("False", "InstancesUnavailable")
    );
    assert_eq!(condition(&status, "Degraded"), pair("False", "AsExpected"));
    assert_eq!(event_reasons(&writes), ["RolloutStarted"]);
    let status_patch = write_to(&writes, Method::PATCH, &format!("{APP}/status"))[0];
    assert_eq!(status_patch.body["apiVersion"], "readyroll.dev/v1alpha1");
    assert!(status_patch.query.contains("fieldManager=readyroll"));
}

#[tokio::test]
async fn completion_records_the_last_good_revision_once() {
    let h = harness(Vec::new());
    let web = app(spec("web:1", 2), None);
    let want = desired(&web);
    h.api.put(
        DEPLOYMENT,
        deployment_with_status(
            &want,
            1,
            json!({"observedGeneration": 1, "replicas": 2, "updatedReplicas": 2, "readyReplicas": 2, "availableReplicas": 2}),
        ),
    );
    h.store_app(&web);

    h.reconcile().await;
    let status = h.stored_status();
    assert_eq!(
        status.last_good_revision.as_deref(),
        Some(want.revision.as_str())
    );
    assert_eq!(
        (
            status.replicas,
            status.ready_replicas,
            status.updated_replicas,
            status.available_replicas
        ),
        (Some(2), Some(2), Some(2), Some(2))
    );
    assert_eq!(
        condition(&status, "Progressing"),
        pair("False", "RolloutComplete")
    );
    assert_eq!(
        condition(&status, "Available"),
        pair("True", "InstancesAvailable")
    );
    assert_eq!(event_reasons(&h.api.writes()), ["RolloutComplete"]);

    // The next reconcile finds nothing to change: no status write, no event.
    h.api.clear_log();
    h.reconcile().await;
    let writes = h.api.writes();
    assert!(
        write_to(&writes, Method::PATCH, &format!("{APP}/status")).is_empty(),
        "{writes:?}"
    );
    assert!(event_reasons(&writes).is_empty());
}

/// A ReplicaSet of the Deployment carrying `desired`'s template, as the
/// Deployment controller makes it (with its pod-template-hash label).
fn replica_set(desired: &Desired, hash: &str) -> Value {
    let mut template =
        serde_json::to_value(&desired.deployment.spec.as_ref().unwrap().template).unwrap();
    template["metadata"]["labels"]["pod-template-hash"] = json!(hash);
    let mut labels = template["metadata"]["labels"].clone();
    labels["pod-template-hash"] = json!(hash);
    json!({
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {
            "name": format!("web-{hash}"),
            "namespace": "shop",
            "labels": labels,
            "ownerReferences": [{
                "apiVersion": "apps/v1", "kind": "Deployment", "name": "web",
                "uid": "deployment-uid", "controller": true
            }]
        },
        "spec": { "replicas": 0, "selector": { "matchLabels": labels }, "template": template }
    })
}

#[tokio::test]
async fn failed_rollout_applies_the_last_good_template_and_holds_it() {
    let h = harness(Vec::new());
    let good = desired(&app(spec("web:1", 3), None));
    let bad_app = app(
        spec("web:2", 3),
        Some(AppStatus {
            last_good_revision: Some(good.revision.clone()),
            ..Default::default()
        }),
    );
    let bad = desired(&bad_app);
    assert_ne!(good.revision, bad.revision);
    h.api.put(
        DEPLOYMENT,
        deployment_with_status(
            &bad,
            2,
            json!({
                "observedGeneration": 2, "replicas": 4, "updatedReplicas": 1, "readyReplicas": 3, "availableReplicas": 3,
                "conditions": [{
                    "type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded",
                    "message": "ReplicaSet \"web-bbb\" has timed out progressing."
                }]
            }),
        ),
    );
    h.api.put(
        &format!("{REPLICA_SETS}/web-aaa"),
        replica_set(&good, "aaa"),
    );
    h.api
        .put(&format!("{REPLICA_SETS}/web-bbb"), replica_set(&bad, "bbb"));
    h.store_app(&bad_app);

    h.reconcile().await;

    let writes = h.api.writes();
    let status_writes = write_to(&writes, Method::PATCH, &format!("{APP}/status"));
    assert_eq!(
        status_writes[0].body["status"]["failedRevision"],
        json!(bad.revision),
        "the failure is recorded before the rollback is applied"
    );
    let early: AppStatus = serde_json::from_value(status_writes[0].body["status"].clone()).unwrap();
    assert_eq!(
        condition(&early, "Degraded"),
        pair("True", "ProgressDeadlineExceeded"),
        "the early write already says why"
    );
    let first_status_write = writes
        .iter()
        .position(|r| r.path.ends_with("/status"))
        .unwrap();
    let deployment_write = writes.iter().position(|r| r.path == DEPLOYMENT).unwrap();
    assert!(first_status_write < deployment_write);

    let applied = &write_to(&writes, Method::PATCH, DEPLOYMENT)[0].body;
    let good_template =
        serde_json::to_value(&good.deployment.spec.as_ref().unwrap().template).unwrap();
    assert_eq!(
        applied["spec"]["template"], good_template,
        "last good template, without pod-template-hash"
    );
    assert_eq!(applied["spec"]["replicas"], json!(3));

    let status = h.stored_status();
    assert_eq!(
        status.failed_revision.as_deref(),
        Some(bad.revision.as_str())
    );
    assert_eq!(
        status.last_good_revision.as_deref(),
        Some(good.revision.as_str())
    );
    assert_eq!(
        status.current_revision.as_deref(),
        Some(good.revision.as_str())
    );
    assert_eq!(
        condition(&status, "Degraded"),
        pair("True", "ProgressDeadlineExceeded")
    );
    assert_eq!(
        condition(&status, "Progressing"),
        pair("True", "RolledBack")
    );
    assert_eq!(event_reasons(&writes), ["RolloutFailed", "RolledBack"]);

    // The spec still asks for the bad revision: the good template stays,
    // read from the Deployment now, and nothing is announced again.
    h.api.clear_log();
    h.reconcile().await;
    let writes = h.api.writes();
    let reapplied = &write_to(&writes, Method::PATCH, DEPLOYMENT)[0].body;
    assert_eq!(
        reapplied["spec"]["template"]["metadata"]["annotations"][REVISION_ANNOTATION],
        json!(good.revision)
    );
    assert!(
        event_reasons(&writes).is_empty(),
        "{:?}",
        event_reasons(&writes)
    );
    assert!(
        !h.api.requests().iter().any(|r| r.path == REPLICA_SETS),
        "the template came from the Deployment"
    );

    // A new spec proceeds normally.
    let mut fixed = bad_app.clone();
    fixed.spec.image = "web:3".into();
    fixed.status = Some(h.stored_status());
    h.store_app(&fixed);
    h.api.clear_log();
    h.reconcile().await;
    let writes = h.api.writes();
    let applied = &write_to(&writes, Method::PATCH, DEPLOYMENT)[0].body;
    assert_eq!(
        applied,
        &serde_json::to_value(&desired(&fixed).deployment).unwrap()
    );
    assert_eq!(event_reasons(&writes), ["RolloutStarted"]);
}

fn pod_of(revision: &str, restarts: i32) -> Pod {
    Pod {
        metadata: ObjectMeta {
            name: Some(format!("web-{revision}-{restarts}")),
            namespace: Some("shop".into()),
            labels: Some(BTreeMap::from([(
                "app.kubernetes.io/instance".to_string(),
                "web".to_string(),
            )])),
            annotations: Some(BTreeMap::from([(
                REVISION_ANNOTATION.to_string(),
                revision.to_string(),
            )])),
            ..Default::default()
        },
        status: Some(PodStatus {
            container_statuses: Some(vec![ContainerStatus {
                name: "app".into(),
                restart_count: restarts,
                ..Default::default()
            }]),
            ..Default::default()
        }),
        ..Default::default()
    }
}

#[tokio::test]
async fn crash_looping_new_pods_roll_back_unless_disabled() {
    for auto_rollback in [true, false] {
        let good = desired(&app(spec("web:1", 2), None));
        let mut bad_spec = spec("web:2", 2);
        bad_spec.max_restarts = Some(2);
        bad_spec.rollout = Some(RolloutSpec {
            auto_rollback: Some(auto_rollback),
            ..Default::default()
        });
        let bad_app = app(
            bad_spec,
            Some(AppStatus {
                last_good_revision: Some(good.revision.clone()),
                ..Default::default()
            }),
        );
        let bad = desired(&bad_app);
        let h = harness(vec![pod_of(&good.revision, 9), pod_of(&bad.revision, 3)]);
        h.api.put(
            DEPLOYMENT,
            deployment_with_status(
                &bad,
                2,
                json!({"observedGeneration": 2, "replicas": 3, "updatedReplicas": 1, "readyReplicas": 2, "availableReplicas": 2}),
            ),
        );
        h.api.put(
            &format!("{REPLICA_SETS}/web-aaa"),
            replica_set(&good, "aaa"),
        );
        h.store_app(&bad_app);

        h.reconcile().await;

        let writes = h.api.writes();
        let applied = &write_to(&writes, Method::PATCH, DEPLOYMENT)[0].body;
        let expected = if auto_rollback { &good } else { &bad };
        assert_eq!(
            applied["spec"]["template"]["metadata"]["annotations"][REVISION_ANNOTATION],
            json!(expected.revision),
            "autoRollback {auto_rollback}"
        );
        let status = h.stored_status();
        assert_eq!(
            condition(&status, "Degraded"),
            pair("True", "TooManyRestarts")
        );
        assert_eq!(
            status.failed_revision.as_deref(),
            Some(bad.revision.as_str())
        );
        assert_eq!(
            status.restarts,
            Some(9),
            "restarts count every pod of the App"
        );
        let expected_events: &[&str] = if auto_rollback {
            &["RolloutFailed", "RolledBack"]
        } else {
            &["RolloutFailed"]
        };
        assert_eq!(event_reasons(&writes), expected_events);
    }
}

fn pdb_owned_by(uid: &str) -> Value {
    json!({
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": {
            "name": "web", "namespace": "shop", "uid": "pdb-uid",
            "ownerReferences": [{
                "apiVersion": "readyroll.dev/v1alpha1", "kind": "App", "name": "web",
                "uid": uid, "controller": true
            }]
        },
        "spec": { "maxUnavailable": 1 }
    })
}

#[tokio::test]
async fn scaling_to_one_deletes_the_pdb_it_owns() {
    let h = harness(Vec::new());
    let web = app(spec("web:1", 1), None);
    assert!(
        desired(&web).pdb.is_none(),
        "one instance needs no PodDisruptionBudget"
    );
    h.api.put(PDB, pdb_owned_by(APP_UID));
    h.store_app(&web);

    h.reconcile().await;

    let deletes = write_to(&h.api.writes(), Method::DELETE, PDB)
        .into_iter()
        .cloned()
        .collect::<Vec<_>>();
    assert_eq!(deletes.len(), 1);
    assert_eq!(deletes[0].body["preconditions"]["uid"], json!("pdb-uid"));
    assert!(h.api.get(PDB).is_none());
}

#[tokio::test]
async fn objects_of_someone_else_are_never_deleted() {
    let h = harness(Vec::new());
    let mut web = app(spec("web:1", 1), None);
    web.spec.port = None;
    h.api.put(PDB, pdb_owned_by("another-app"));
    h.api.put(
        SERVICE,
        json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "shop"}}),
    );
    h.store_app(&web);

    h.reconcile().await;

    let writes = h.api.writes();
    assert!(
        !writes.iter().any(|r| r.method == Method::DELETE),
        "{writes:?}"
    );
    assert!(h.api.get(PDB).is_some() && h.api.get(SERVICE).is_some());
}

#[tokio::test]
async fn an_invalid_spec_is_reported_once_and_not_retried() {
    let h = harness(Vec::new());
    let mut web = app(spec("web:1", 2), None);
    web.spec.cron_restart = Some("every day at noon".into());
    h.store_app(&web);

    let action = h.reconcile().await;

    assert_eq!(action, kube::runtime::controller::Action::await_change());
    let writes = h.api.writes();
    assert_eq!(
        writes_summary(&writes),
        [
            (Method::POST, EVENTS.to_string()),
            (Method::PATCH, format!("{APP}/status"))
        ],
        "nothing is applied for an invalid spec"
    );
    let status = h.stored_status();
    assert_eq!(condition(&status, "Degraded"), pair("True", "InvalidSpec"));
    let degraded = status
        .conditions
        .iter()
        .find(|c| c.type_ == "Degraded")
        .unwrap();
    assert!(
        degraded.message.starts_with("spec.cronRestart: "),
        "{}",
        degraded.message
    );
    assert_eq!(event_reasons(&writes), ["InvalidSpec"]);

    h.api.clear_log();
    h.reconcile().await;
    assert!(h.api.writes().is_empty(), "{:?}", h.api.writes());
}

#[tokio::test]
async fn a_due_cron_restart_is_recorded_before_the_rollout() {
    let h = harness(Vec::new());
    let mut web = app(spec("web:1", 2), None);
    web.spec.cron_restart = Some("* * * * * *".into());
    web.metadata.creation_timestamp = Some(Time("2020-01-01T00:00:00Z".parse().unwrap()));
    h.store_app(&web);

    let action = h.reconcile().await;

    let writes = h.api.writes();
    assert_eq!(
        writes[0].path,
        format!("{APP}/status"),
        "{:?}",
        writes_summary(&writes)
    );
    let restarted_at = writes[0].body["status"]["lastCronRestart"]
        .as_str()
        .unwrap()
        .to_string();
    let applied = &write_to(&writes, Method::PATCH, DEPLOYMENT)[0].body;
    let mut with_restart = web.clone();
    with_restart.status = Some(AppStatus {
        last_cron_restart: Some(restarted_at.clone()),
        ..Default::default()
    });
    assert_eq!(
        applied,
        &serde_json::to_value(&desired(&with_restart).deployment).unwrap()
    );
    assert_eq!(event_reasons(&writes), ["CronRestart", "RolloutStarted"]);
    let last: Timestamp = restarted_at.parse().unwrap();
    let next: Timestamp = h
        .stored_status()
        .next_cron_restart
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        next > last && next.duration_since(last).as_secs_f64() <= 1.0,
        "{last} -> {next}"
    );
    assert_ne!(action, kube::runtime::controller::Action::await_change());
}

#[tokio::test]
async fn a_standby_replica_writes_nothing() {
    let h = harness_with(Vec::new(), Leadership::follower());
    h.store_app(&app(spec("web:1", 3), None));

    h.reconcile().await;

    assert!(h.api.requests().is_empty(), "{:?}", h.api.requests());
}

#[tokio::test]
async fn an_app_that_does_not_parse_is_reported_on_its_status() {
    let h = harness(Vec::new());
    let mut raw = serde_json::to_value(app(spec("web:1", 2), None)).unwrap();
    raw["spec"]["instances"] = json!("lots");
    raw["status"] = json!({"lastGoodRevision": "abc"});
    h.api.put(APP, raw.clone());
    let guard: DeserializeGuard<App> = serde_json::from_value(raw).unwrap();
    assert!(guard.0.is_err(), "the fixture must not parse");

    let action = reconcile(Arc::new(guard), h.ctx.clone())
        .await
        .expect("reported, not failed");

    assert_eq!(action, kube::runtime::controller::Action::await_change());
    let writes = h.api.writes();
    assert_eq!(
        writes_summary(&writes),
        [
            (Method::POST, EVENTS.to_string()),
            (Method::PATCH, format!("{APP}/status"))
        ]
    );
    let status: AppStatus = serde_json::from_value(writes[1].body["status"].clone()).unwrap();
    assert_eq!(condition(&status, "Degraded"), pair("True", "InvalidSpec"));
    assert_eq!(
        status.last_good_revision.as_deref(),
        Some("abc"),
        "what was known is kept"
    );
    let message = &status
        .conditions
        .iter()
        .find(|c| c.type_ == "Degraded")
        .unwrap()
        .message;
    assert!(message.contains("lots"), "{message}");
    assert_eq!(event_reasons(&writes), ["InvalidSpec"]);
}

#[tokio::test]
async fn decides_on_the_app_as_stored_not_a_stale_cached_copy() {
    let h = harness(Vec::new());
    let good = desired(&app(spec("web:1", 2), None));
    let stale = app(
        spec("web:2", 2),
        Some(AppStatus {
            last_good_revision: Some(good.revision.clone()),
            ..Default::default()
        }),
    );
    let bad = desired(&stale);
    // The API server already has the failure recorded and the rollback
    // applied; the cache has not seen the status write yet.
    let mut stored = stale.clone();
    stored.status.as_mut().unwrap().failed_revision = Some(bad.revision.clone());
    h.store_app(&stored);
    h.api.put(
        DEPLOYMENT,
        deployment_with_status(
            &good,
            3,
            json!({"observedGeneration": 3, "replicas": 2, "updatedReplicas": 2, "readyReplicas": 2, "availableReplicas": 2}),
        ),
    );

    reconcile(Arc::new(DeserializeGuard(Ok(stale))), h.ctx.clone())
        .await
        .expect("reconcile succeeds");

    let writes = h.api.writes();
    let applied = &write_to(&writes, Method::PATCH, DEPLOYMENT)[0].body;
    assert_eq!(
        applied["spec"]["template"]["metadata"]["annotations"][REVISION_ANNOTATION],
        json!(good.revision),
        "the failed revision is not retried"
    );
    assert!(
        event_reasons(&writes).is_empty(),
        "{:?}",
        event_reasons(&writes)
    );
}
