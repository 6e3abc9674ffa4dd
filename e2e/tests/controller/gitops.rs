//! What GitOps tools see: `kubectl wait --for=condition=Ready` (kstatus'
//! conditions as kubectl itself reads them) and Argo CD's health check for
//! App (`integrations/argocd/health.lua`), run with a Lua 5.1 interpreter
//! against Apps read from the API server.

use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use kube::api::DynamicObject;
use kube::discovery::ApiResource;
use kube::Api;
use mlua::serde::{LuaSerdeExt, SerializeOptions};
use mlua::Lua;
use readyroll::crd::{App, AppSpec, RolloutSpec};
use readyroll_e2e::kwok::{NEVER_READY_ANNOTATION, READY_DELAY_ANNOTATION};
use readyroll_e2e::{wait_for, Kubectl, Must};
use serde_json::Value;

use crate::harness::{ApiEnv, Env, MustSome, FAKE_IMAGE, TIMEOUT};
use crate::observe::{app_status, condition, rolled_out};

const HEALTH_LUA: &str = include_str!("../../../integrations/argocd/health.lua");

/// `kubectl wait --for=condition=COND app/NAME` in the test's namespace.
fn wait_args<'a>(
    namespace: &'a str,
    condition: &'a str,
    name: &'a str,
    timeout: &'a str,
) -> Vec<String> {
    vec![
        "wait".into(),
        "-n".into(),
        namespace.into(),
        format!("--for=condition={condition}"),
        format!("app/{name}"),
        format!("--timeout={timeout}"),
    ]
}

/// `(spec.replicas, status.replicas, updated, available)` of the Deployment
/// and the revision its template carries.
async fn deployment_state(api: &Api<Deployment>, name: &str) -> ((i32, i32, i32, i32), String) {
    let d = api.get(name).await.must("get Deployment");
    let spec = d.spec.as_ref().must_some("Deployment spec");
    let status = d.status.clone().unwrap_or_default();
    let revision = spec
        .template
        .metadata
        .as_ref()
        .and_then(|m| m.annotations.as_ref())
        .and_then(|a| a.get(readyroll::core::REVISION_ANNOTATION))
        .cloned()
        .unwrap_or_default();
    (
        (
            spec.replicas.unwrap_or(1),
            status.replicas.unwrap_or(0),
            status.updated_replicas.unwrap_or(0),
            status.available_replicas.unwrap_or(0),
        ),
        revision,
    )
}

/// Runs `kubectl wait` for Ready in the background while the rollout goes
/// on; returns its result and the Deployment as it was the moment kubectl
/// returned.
async fn wait_ready_then_look(
    kubectl: &Kubectl,
    env: &Env,
    name: &str,
) -> (readyroll_e2e::kubectl::Run, ((i32, i32, i32, i32), String)) {
    let args = wait_args(env.ns.name(), "Ready", name, "90s");
    let kubectl = kubectl.clone();
    let run = tokio::task::spawn_blocking(move || kubectl.run(&args))
        .await
        .must("kubectl wait task");
    let deployment = deployment_state(&env.ns.api::<Deployment>(), name).await;
    (run, deployment)
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs a cluster: run by the api tier"]
async fn kubectl_wait_for_ready_returns_when_the_rollout_is_complete() {
    let env = Env::start("kstatus-wait", 8).await;
    let kubectl = Kubectl::require(env.cluster.kubeconfig());
    let apps = env.ns.api::<App>();
    let mut web = env.app("web", 3);
    web.spec
        .annotations
        .insert(READY_DELAY_ANNOTATION.into(), "3s".into());
    env.apply(&web).await;

    let (run, (counts, first)) = wait_ready_then_look(&kubectl, &env, "web").await;
    assert!(run.success(), "kubectl wait: {}", run.stderr());
    eprintln!("kubectl wait (first rollout) returned after {:?}", run.took);
    assert_eq!(counts, (3, 3, 3, 3), "all 3 pods updated and available");
    assert!(run.took >= Duration::from_secs(3), "it waited for the pods");

    // A new release: the Ready=True of the previous generation must not
    // satisfy kubectl, which compares the condition's observedGeneration.
    web.spec.env.insert("RELEASE".into(), "2".into());
    let applied = env.apply(&web).await;
    let (run, (counts, second)) = wait_ready_then_look(&kubectl, &env, "web").await;
    assert!(run.success(), "kubectl wait: {}", run.stderr());
    eprintln!(
        "kubectl wait (second rollout) returned after {:?}",
        run.took
    );
    assert_ne!(second, first, "the new revision is in the template");
    assert_eq!(
        counts,
        (3, 3, 3, 3),
        "only new pods, all updated and available"
    );
    assert!(run.took >= Duration::from_secs(3), "it waited for the pods");
    let app = apps.get("web").await.must("App");
    assert_eq!(
        app.status.as_ref().and_then(|s| s.observed_generation),
        applied.metadata.generation
    );
    assert_eq!(
        app.status.as_ref().and_then(|s| s.current_revision.clone()),
        Some(second)
    );
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs a cluster: run by the api tier"]
async fn a_failing_rollout_is_stalled_and_never_ready() {
    let env = Env::start("kstatus-stalled", 8).await;
    let kubectl = Kubectl::require(env.cluster.kubeconfig());
    let apps = env.ns.api::<App>();
    let mut web = env.app("web", 2);
    web.spec.rollout = Some(RolloutSpec {
        progress_deadline_seconds: Some(10),
        ..Default::default()
    });
    env.apply(&web).await;
    wait_for(&apps, "web", app_status(rolled_out), TIMEOUT)
        .await
        .must("good revision rolled out");

    web.spec
        .annotations
        .insert(NEVER_READY_ANNOTATION.into(), "true".into());
    env.apply(&web).await;
    let namespace = env.ns.name().to_string();
    let stalled = {
        let kubectl = kubectl.clone();
        let args = wait_args(&namespace, "Stalled", "web", "90s");
        tokio::task::spawn_blocking(move || kubectl.run(&args))
            .await
            .must("kubectl wait task")
    };
    assert!(
        stalled.success(),
        "kubectl wait Stalled: {}",
        stalled.stderr()
    );
    eprintln!("Stalled after {:?}", stalled.took);
    let app = apps.get("web").await.must("App");
    assert_eq!(
        condition(&app, "Stalled"),
        Some(("True".into(), "ProgressDeadlineExceeded".into()))
    );
    assert_eq!(condition(&app, "Ready").map(|c| c.0), Some("False".into()));

    // Rolled back to the good pods, the App stays Stalled and not Ready.
    let settled = wait_for(
        &apps,
        "web",
        app_status(|a| condition(a, "Progressing") == Some(("False".into(), "RolledBack".into()))),
        TIMEOUT,
    )
    .await
    .must("rolled back");
    assert_eq!(
        condition(&settled, "Reconciling").map(|c| c.0),
        Some("False".into())
    );
    let not_ready = kubectl.run(wait_args(&namespace, "Ready", "web", "5s"));
    assert!(
        !not_ready.success(),
        "kubectl wait for Ready must time out on a stalled App: {}",
        not_ready.stdout()
    );
}

/// Runs Argo CD's health check on `obj` as Argo CD does: the object as a
/// Lua table in the global `obj`, the script returning `{status, message}`.
pub(crate) fn argocd_health(obj: &Value) -> (String, String) {
    let lua = Lua::new();
    let options = SerializeOptions::new()
        .serialize_none_to_null(false)
        .serialize_unit_to_null(false);
    let table = lua
        .to_value_with(obj, options)
        .must("object as a Lua table");
    lua.globals().set("obj", table).must("set obj");
    let hs: mlua::Table = lua
        .load(HEALTH_LUA)
        .set_name("health.lua")
        .eval()
        .must("health.lua runs");
    let status: String = hs.get("status").must("hs.status");
    let message: Option<String> = hs.get("message").must("hs.message");
    (status, message.unwrap_or_default())
}

/// The App exactly as the API server serves it, as JSON.
pub(crate) async fn raw_app(api: &Api<DynamicObject>, name: &str) -> Value {
    let obj = api.get(name).await.must("get App");
    serde_json::to_value(obj).must("App as JSON")
}

pub(crate) fn dynamic_apps(env_client: kube::Client, namespace: &str) -> Api<DynamicObject> {
    let resource = ApiResource::erase::<App>(&());
    Api::namespaced_with(env_client, namespace, &resource)
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs a cluster: run by the api tier"]
async fn argocd_health_check_reads_real_apps() {
    // Not observed by any controller yet.
    let api_env = ApiEnv::start("argocd-unobserved").await;
    let mut app = App::new(
        "web",
        AppSpec {
            image: FAKE_IMAGE.into(),
            ..Default::default()
        },
    );
    app.metadata.namespace = Some(api_env.ns.name().to_string());
    api_env
        .ns
        .api::<App>()
        .create(&Default::default(), &app)
        .await
        .must("create App");
    let raw = raw_app(
        &dynamic_apps(api_env.cluster.client(), api_env.ns.name()),
        "web",
    )
    .await;
    assert_eq!(argocd_health(&raw).0, "Progressing", "{raw}");
    drop(api_env);

    let env = Env::start("argocd-health", 8).await;
    let apps = env.ns.api::<App>();
    let raw_apps = dynamic_apps(env.cluster.client(), env.ns.name());
    let mut web = env.app("web", 2);
    web.spec.rollout = Some(RolloutSpec {
        progress_deadline_seconds: Some(10),
        ..Default::default()
    });
    web.spec
        .annotations
        .insert(READY_DELAY_ANNOTATION.into(), "4s".into());
    env.apply(&web).await;

    // Mid-rollout: Reconciling.
    wait_for(
        &apps,
        "web",
        app_status(|a| condition(a, "Reconciling").is_some_and(|c| c.0 == "True")),
        TIMEOUT,
    )
    .await
    .must("rollout in progress");
    let raw = raw_app(&raw_apps, "web").await;
    let (status, message) = argocd_health(&raw);
    assert_eq!(status, "Progressing", "{message}");
    assert!(message.starts_with("RolloutInProgress"), "{message}");

    wait_for(&apps, "web", app_status(rolled_out), TIMEOUT)
        .await
        .must("rolled out");
    let raw = raw_app(&raw_apps, "web").await;
    let (status, message) = argocd_health(&raw);
    assert_eq!(status, "Healthy", "{message}");
    assert!(message.starts_with("RolloutComplete"), "{message}");

    // The same object with a generation the controller has not seen is not
    // Healthy: Argo CD may read it before readyroll does.
    let mut ahead = raw.clone();
    let generation = ahead["metadata"]["generation"]
        .as_i64()
        .must_some("generation");
    ahead["metadata"]["generation"] = Value::from(generation + 1);
    assert_eq!(argocd_health(&ahead).0, "Progressing");

    // A release that never gets Ready: Degraded, with the reason.
    web.spec
        .annotations
        .insert(NEVER_READY_ANNOTATION.into(), "true".into());
    env.apply(&web).await;
    wait_for(
        &apps,
        "web",
        app_status(|a| condition(a, "Stalled").is_some_and(|c| c.0 == "True")),
        TIMEOUT,
    )
    .await
    .must("stalled");
    let raw = raw_app(&raw_apps, "web").await;
    let (status, message) = argocd_health(&raw);
    assert_eq!(status, "Degraded", "{message}");
    assert!(message.starts_with("ProgressDeadlineExceeded"), "{message}");
}
