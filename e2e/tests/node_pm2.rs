//! PM2's contract on the real node, one promise per test, each with a real Node app run by
//! the runtime shim:
//!
//! - the canonical ecosystem entry, converted in-process as `readyroll convert` converts it,
//!   whose express app lives in a file named `server` (no extension), rolls ten times under
//!   load without a failed request;
//! - an app that takes 8 s to become ready, under the default `listenTimeout` (3 s), rolls
//!   without a failed request and without a restart, and the App reports the slow start;
//! - an app that leaks past `maxMemoryRestart` is restarted gracefully (exit 75, the shim's
//!   termination message), without a failed request, and counted on the App's status;
//! - the stop signal (SIGINT) reaches the app's process tree deepest first, or with
//!   `treekill: false` its main process only.
mod node_support;

use std::time::{Duration, Instant};

use futures::{AsyncBufReadExt, TryStreamExt};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Node, Pod};
use k8s_openapi::api::events::v1::Event;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::api::{DeleteParams, ListParams, LogParams};
use kube::{Api, ResourceExt};
use node_support::{
    pods::PodTracker,
    rollouts::{roll_under_load, Change, Step, ROLLOUT_TIMEOUT},
    wait_serving,
    workload::{Desired, Workload},
    NodeEnv, NODE_APP,
};
use readyroll::convert::{convert_text, ConvertOptions, Format};
use readyroll::crd::{App, Instances};
use readyroll_e2e::conditions::is_pod_ready;
use readyroll_e2e::load::{Load, LoadConfig};
use readyroll_e2e::Must;
use serde_json::{json, Value};

/// The node runtime, express and the apps of e2e/images/pm2-apps in /app.
const PM2_APPS: &str = "readyroll.dev/pm2-apps";
const PORT: i32 = 3000;
/// PM2's canonical ecosystem entry, as its documentation writes it.
const CANONICAL: &str = r#"{"apps": [{"name": "app-name", "script": "server", "exec_mode": "cluster", "instances": 0, "wait_ready": true, "listen_timeout": 10000, "kill_timeout": 5000}]}"#;
/// The shim's exit status and termination message for a memory restart.
const MEMORY_RESTART_EXIT_CODE: i32 = 75;
const MEMORY_RESTART_PREFIX: &str = "readyroll-shim: memory restart:";
const WAIT: Duration = Duration::from_secs(120);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a real node and the installed operator: run by the node tier"]
async fn the_canonical_example_converted_rolls_ten_times_without_a_failed_request() {
    let env = NodeEnv::start("pm2-canonical").await;
    let tracker = PodTracker::start(env.ns.api());
    let (node_port, addr) = env.node_port().await;
    let converted = canonical_app();
    assert_eq!(converted.spec.script.as_deref(), Some("server"));
    assert_eq!(converted.spec.instances, Some(Instances::PerCpu));
    let manifest = with_service(
        serde_json::to_value(&converted).must("App as JSON"),
        node_port,
    );
    // PM2's instances 0: one per CPU the node gives the App (no CPU request: one CPU each).
    let replicas = cpus(&env.node);
    let workload = Workload::app(&env.ns, manifest);
    let initial = Desired::new(PM2_APPS, "v1", replicas).with_pm2_instances(0);

    let run = roll_under_load(&workload, initial, &ten_rollouts(), addr).await;
    eprintln!("{}", run.summary("canonical example"));
    run.assert_zero_downtime(&tracker);

    let deployment = env
        .ns
        .api::<Deployment>()
        .get("app-name")
        .await
        .must("the App's Deployment");
    // With one pod per CPU on one node, the rollout still never has fewer serving pods than
    // instances: it surges one pod and takes none away before its replacement is ready.
    let rolling = deployment
        .spec
        .as_ref()
        .and_then(|s| s.strategy.as_ref())
        .and_then(|s| s.rolling_update.clone())
        .must_some_value("rolling update strategy");
    assert_eq!(rolling.max_unavailable, Some(IntOrString::Int(0)));
    assert_eq!(rolling.max_surge, Some(IntOrString::Int(1)));
    let args = deployment
        .spec
        .and_then(|s| s.template.spec)
        .and_then(|p| p.containers.into_iter().next())
        .and_then(|c| c.args)
        .unwrap_or_default();
    assert!(args.iter().any(|a| a == "--script=server"), "{args:?}");
}

/// The ecosystem entry through `readyroll convert`'s own code.
fn canonical_app() -> App {
    let opts = ConvertOptions {
        image: Some(format!("{PM2_APPS}:v1")),
        ..Default::default()
    };
    let conversion = convert_text(CANONICAL, Format::Json, "ecosystem.json", &opts).must("convert");
    let mut apps = conversion.apps;
    assert_eq!(apps.len(), 1, "{:?}", conversion.diagnostics);
    apps.remove(0)
}

/// What a user adds to a converted App to run it here: the local image, the port and a
/// NodePort Service.
fn with_service(mut manifest: Value, node_port: i32) -> Value {
    let spec = &mut manifest["spec"];
    spec["imagePullPolicy"] = json!("Never");
    spec["port"] = json!(PORT);
    spec["service"] = json!({"type": "NodePort", "nodePort": node_port});
    manifest
}

/// Whole CPUs the node offers pods.
fn cpus(node: &Node) -> i32 {
    let cpu = node
        .status
        .as_ref()
        .and_then(|s| s.allocatable.as_ref())
        .and_then(|a| a.get("cpu"))
        .map(|q| q.0.clone())
        .must_some_value("allocatable cpu");
    let milli = match cpu.strip_suffix('m') {
        Some(milli) => milli.parse::<i64>().must("cpu millis"),
        None => cpu.parse::<i64>().must("cpus") * 1000,
    };
    i32::try_from((milli / 1000).max(1)).must("cpu count")
}

/// Image changes, environment changes and restarts: `instances` stays PM2's 0.
fn ten_rollouts() -> Vec<Step> {
    use Change::*;
    vec![
        Step::new(vec![Image("v2")]),
        Step::new(vec![VersionEnv(Some("v2-env1"))]),
        Step::new(vec![Restart]),
        Step::new(vec![Image("v1"), VersionEnv(None)]),
        Step::new(vec![Image("v2")]),
        Step::new(vec![VersionEnv(Some("v2-env2"))]),
        Step::new(vec![Restart]),
        Step::new(vec![Image("v1"), VersionEnv(None)]),
        Step::new(vec![Image("v2")]),
        Step::new(vec![Restart]),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a real node and the installed operator: run by the node tier"]
async fn a_slow_starter_rolls_without_a_restart_and_is_reported() {
    let env = NodeEnv::start("pm2-slow").await;
    let tracker = PodTracker::start(env.ns.api());
    let (node_port, addr) = env.node_port().await;
    // server.js says ready 8 s after it listens; listenTimeout is PM2's default, 3 s.
    let manifest = json!({
        "apiVersion": "readyroll.dev/v1alpha1",
        "kind": "App",
        "metadata": {"name": "slow"},
        "spec": {
            "image": NODE_APP,
            "imagePullPolicy": "Never",
            "script": "/app/server.js",
            "waitReady": true,
            "port": PORT,
            "env": {"READY_DELAY_MS": "8000"},
            "service": {"type": "NodePort", "nodePort": node_port},
        }
    });
    let workload = Workload::app(&env.ns, manifest);
    let steps = [
        Step::new(vec![Change::Image("v2")]),
        Step::new(vec![Change::VersionEnv(Some("v2-env"))]),
    ];
    let run = roll_under_load(&workload, Desired::new(NODE_APP, "v1", 1), &steps, addr).await;
    eprintln!("{}", run.summary("slow starter"));
    run.assert_zero_downtime(&tracker);

    let restarts = tracker.restarts();
    assert!(restarts.len() > steps.len(), "{restarts:?}");
    assert!(
        restarts.values().all(|n| *n == 0),
        "a slow starter is never restarted: {restarts:?}"
    );
    let slow = app_events(&env, "slow", "SlowStart").await;
    assert!(
        slow.len() > steps.len(),
        "a SlowStart Event for each of the pods: {slow:?}"
    );
    eprintln!("SlowStart Events: {slow:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a real node and the installed operator: run by the node tier"]
async fn a_leaking_app_is_restarted_gracefully_without_a_failed_request() {
    let env = NodeEnv::start("pm2-memory").await;
    let tracker = PodTracker::start(env.ns.api());
    let (node_port, addr) = env.node_port().await;
    let manifest = json!({
        "apiVersion": "readyroll.dev/v1alpha1",
        "kind": "App",
        "metadata": {"name": "leak"},
        "spec": {
            "image": format!("{PM2_APPS}:v1"),
            "imagePullPolicy": "Never",
            "script": "leak.js",
            "instances": 2,
            "waitReady": true,
            "port": PORT,
            "maxMemoryRestart": "60M",
            "memoryCheckIntervalMs": 500,
            "service": {"type": "NodePort", "nodePort": node_port},
        }
    });
    let workload = Workload::app(&env.ns, manifest);
    let desired = Desired::new(PM2_APPS, "v1", 2);
    workload.apply(&desired).await.must("create the App");
    workload
        .wait_settled(&desired, ROLLOUT_TIMEOUT)
        .await
        .must("App available");
    wait_serving(addr, "v1").await;

    let pods: Api<Pod> = env.ns.api();
    let load = Load::start(LoadConfig::new(addr)).must("start the load");
    tokio::time::sleep(Duration::from_secs(2)).await;
    let names: Vec<String> = app_pods(&pods, "leak")
        .await
        .iter()
        .map(ResourceExt::name_any)
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
    // One pod at a time, as a leak shows in one worker before another.
    for name in &names {
        leak(&env, name, 30).await;
        let restarted = wait_memory_restarted(&pods, name).await;
        eprintln!("{name}: {restarted}");
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let run = load.finish();
    let tally = run.tally();
    eprintln!(
        "memory restarts under load: {} requests, {} failed {:?}",
        tally.requests, tally.failed, tally.failures
    );
    assert!(tally.requests > 0);
    assert_eq!(
        tally.failed,
        0,
        "{:?}",
        run.failures().take(20).collect::<Vec<_>>()
    );
    for host in tally.hosts.keys().filter(|h| !h.is_empty()) {
        assert_eq!(tracker.ever_ready(host), Some(true), "{host}");
    }

    let app = env.ns.api::<App>().get("leak").await.must("App");
    let status = app.status.must_some_value("status");
    assert!(status.memory_restarts >= Some(2), "{status:?}");
    assert_eq!(status.restarts, Some(0), "not crashes: {status:?}");
    let last = status
        .last_memory_restart
        .must_some_value("lastMemoryRestart");
    assert!(names.contains(&last.pod), "{last:?}");
    let events = app_events(&env, "leak", "MemoryRestart").await;
    assert!(events.len() >= 2, "{events:?}");
    eprintln!("MemoryRestart Events: {events:#?}");
}

/// Asks `pod` to hold `mb` more MiB, through the API server's pod proxy (the Service would
/// pick any pod).
async fn leak(env: &NodeEnv, pod: &str, mb: u32) {
    let path = format!(
        "/api/v1/namespaces/{}/pods/{pod}:{PORT}/proxy/leak?mb={mb}",
        env.ns.name()
    );
    let request = http::Request::get(path).body(Vec::new()).must("request");
    env.cluster
        .client()
        .request_text(request)
        .await
        .must("ask the pod to leak");
}

/// Waits until the app container of `pod` was restarted by the shim for its memory and is
/// Ready again; returns the termination message.
async fn wait_memory_restarted(pods: &Api<Pod>, name: &str) -> String {
    let deadline = Instant::now() + WAIT;
    loop {
        let pod = pods.get(name).await.must("get the pod");
        let app = pod
            .status
            .as_ref()
            .and_then(|s| s.container_statuses.as_ref())
            .and_then(|cs| cs.iter().find(|c| c.name == "app"))
            .cloned();
        let terminated = app
            .as_ref()
            .and_then(|c| c.last_state.as_ref())
            .and_then(|s| s.terminated.clone());
        if let Some(terminated) = terminated {
            let message = terminated.message.unwrap_or_default();
            assert_eq!(terminated.exit_code, MEMORY_RESTART_EXIT_CODE, "{message}");
            assert!(message.starts_with(MEMORY_RESTART_PREFIX), "{message}");
            if is_pod_ready(&pod) {
                return message.trim().to_owned();
            }
        }
        assert!(
            Instant::now() < deadline,
            "{name} was not memory-restarted and Ready again within {WAIT:?}: {app:?}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a real node and the installed operator: run by the node tier"]
async fn sigint_reaches_the_tree_deepest_first_or_the_main_process_only() {
    let env = NodeEnv::start("pm2-stop").await;
    let pods: Api<Pod> = env.ns.api();
    let manifest = |treekill: Option<bool>| {
        let mut manifest = json!({
            "apiVersion": "readyroll.dev/v1alpha1",
            "kind": "App",
            "metadata": {"name": "tree"},
            "spec": {
                "image": format!("{PM2_APPS}:v1"),
                "imagePullPolicy": "Never",
                "script": "tree.js",
                "waitReady": true,
            }
        });
        if let Some(treekill) = treekill {
            manifest["spec"]["treekill"] = json!(treekill);
        }
        manifest
    };
    let desired = Desired::new(PM2_APPS, "v1", 1);
    let defaults = Workload::app(&env.ns, manifest(None));
    defaults.apply(&desired).await.must("create the App");
    defaults
        .wait_settled(&desired, ROLLOUT_TIMEOUT)
        .await
        .must("App available");
    let first = only_pod(&pods, "tree").await;
    let first_log = follow_log(&pods, &first);

    // The defaults' pod is stopped by the rollout to treekill: false.
    let main_only = Workload::app(&env.ns, manifest(Some(false)));
    main_only.apply(&desired).await.must("treekill: false");
    let lines = collect(first_log).await;
    eprintln!(
        "{first} (defaults: SIGINT, treekill):\n{}",
        lines.join("\n")
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("child ") && l.ends_with(" got SIGINT")),
        "the child got SIGINT: {lines:?}"
    );
    assert!(
        lines.iter().any(
            |l| l.starts_with("main ") && l.ends_with("got SIGINT; child SIGINT pending: true")
        ),
        "the child was signalled before the main process: {lines:?}"
    );
    assert!(lines.iter().any(|l| l == "main: child exited"), "{lines:?}");

    main_only
        .wait_settled(&desired, ROLLOUT_TIMEOUT)
        .await
        .must("treekill: false rolled out");
    let second = only_pod(&pods, "tree").await;
    let second_log = follow_log(&pods, &second);
    pods.delete(&second, &DeleteParams::default())
        .await
        .must("delete the pod");
    let lines = collect(second_log).await;
    eprintln!("{second} (treekill: false):\n{}", lines.join("\n"));
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("main ")
                && l.ends_with("got SIGINT; child SIGINT pending: false")),
        "only the main process was signalled: {lines:?}"
    );
    assert!(
        !lines
            .iter()
            .any(|l| l.starts_with("child ") && l.ends_with(" got SIGINT")),
        "{lines:?}"
    );
    assert!(
        lines.iter().any(|l| l == "main: child still running"),
        "{lines:?}"
    );
}

/// The one Ready, running pod of `app` that is not terminating.
async fn only_pod(pods: &Api<Pod>, app: &str) -> String {
    let deadline = Instant::now() + WAIT;
    loop {
        let ready: Vec<Pod> = app_pods(pods, app)
            .await
            .into_iter()
            .filter(|p| p.metadata.deletion_timestamp.is_none() && is_pod_ready(p))
            .collect();
        if let [pod] = ready.as_slice() {
            return pod.name_any();
        }
        assert!(Instant::now() < deadline, "no single Ready pod of {app}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Follows the app container's log until the container ends.
fn follow_log(pods: &Api<Pod>, name: &str) -> tokio::task::JoinHandle<Vec<String>> {
    let pods = pods.clone();
    let name = name.to_owned();
    tokio::spawn(async move {
        let params = LogParams {
            follow: true,
            container: Some("app".into()),
            ..Default::default()
        };
        let stream = pods.log_stream(&name, &params).await.must("follow the log");
        stream.lines().try_collect().await.must("read the log")
    })
}

async fn collect(log: tokio::task::JoinHandle<Vec<String>>) -> Vec<String> {
    tokio::time::timeout(WAIT, log)
        .await
        .must("the container ends")
        .must("log task")
}

async fn app_pods(pods: &Api<Pod>, app: &str) -> Vec<Pod> {
    pods.list(&ListParams::default().labels(&format!("app.kubernetes.io/instance={app}")))
        .await
        .must("list pods")
        .items
}

/// Notes of the Events readyroll recorded about App `app` with `reason`.
async fn app_events(env: &NodeEnv, app: &str, reason: &str) -> Vec<String> {
    let events: Api<Event> = env.ns.api();
    events
        .list(&ListParams::default())
        .await
        .must("list events")
        .items
        .into_iter()
        .filter(|e| {
            e.reason.as_deref() == Some(reason)
                && e.regarding.as_ref().is_some_and(|r| {
                    r.kind.as_deref() == Some("App") && r.name.as_deref() == Some(app)
                })
        })
        .map(|e| e.note.unwrap_or_default())
        .collect()
}

/// `Option::expect` in the style of [`Must`].
trait MustSomeValue<T> {
    fn must_some_value(self, what: &str) -> T;
}

impl<T> MustSomeValue<T> for Option<T> {
    #[track_caller]
    fn must_some_value(self, what: &str) -> T {
        match self {
            Some(value) => value,
            None => panic!("{what}: missing"),
        }
    }
}
