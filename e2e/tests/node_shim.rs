//! The runtime shim end to end: a PM2-style Node app (it calls `process.send('ready')`
//! once listening and stops only on SIGINT; it has no SIGTERM handler) runs unchanged in a
//! pod through an App with `waitReady: true`. The operator injects the shim; the app is
//! rolled ten times under continuous load and not one request fails.
//!
//! Beside it, the same app as a plain Deployment with Kubernetes' defaults goes through the
//! same rollouts under the same load. Outside PM2 `process.send` does not exist and the app
//! crashes on its first call, so the baseline defines it as a no-op before loading the
//! unchanged server.js: the least a user must do to run it at all. Its failures are recorded
//! for BENCHMARKS.md, not asserted on.
mod node_support;

use k8s_openapi::api::apps::v1::Deployment;
use node_support::{
    baseline::{Baseline, Contest},
    pods::PodTracker,
    rollouts::{Change, Step},
    workload::Desired,
    NodeEnv, NODE_APP, NODE_APP_PORT,
};
use readyroll_e2e::Must;
use serde_json::{json, Value};

/// The node-app's startup between listening and `process.send('ready')`.
const READY_DELAY_MS: &str = "2000";
const INSTANCES: i32 = 3;
/// Where the operator mounts the shim, and the shim's readiness endpoint.
const SHIM_IN_POD: &str = "/readyroll/bin/readyroll-shim";
const SHIM_READY_PATH: &str = "/ready";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a real node and the installed operator: run by the node tier"]
async fn a_pm2_app_rolls_ten_times_through_the_shim_without_a_failed_request() {
    let env = NodeEnv::start("shim").await;
    let tracker = PodTracker::start(env.ns.api());
    let contest = Contest {
        test: "node_shim",
        initial: Desired::new(NODE_APP, "v1", INSTANCES),
        steps: steps(),
        app: ("readyroll App + runtime shim", APP_SETUP),
        baseline: Baseline {
            name: "plain-pm2-app",
            port: NODE_APP_PORT,
            container: plain_container(),
            label: "plain Deployment, no shim",
            setup: PLAIN_SETUP,
        },
    };
    let readyroll = env
        .roll_app(&contest, |port| app_manifest("pm2-app", port))
        .await;
    let deployment = env
        .ns
        .api::<Deployment>()
        .get("pm2-app")
        .await
        .must("get the App's Deployment");
    assert_runs_through_the_shim(&deployment);
    env.against_baseline(contest, readyroll, &tracker).await;
}

/// Ten rollouts: image changes, environment changes, restarts, a scale up and down
/// mid-rollout.
fn steps() -> Vec<Step> {
    use Change::*;
    vec![
        Step::new(vec![Image("v2")]),
        Step::new(vec![VersionEnv(Some("v2-env1"))]),
        Step::new(vec![Restart]),
        Step::new(vec![Image("v1"), VersionEnv(None)]),
        Step::new(vec![Image("v2")]).scaling_to(4),
        Step::new(vec![VersionEnv(Some("v2-env2"))]).scaling_to(3),
        Step::new(vec![Restart]),
        Step::new(vec![Image("v1"), VersionEnv(None)]),
        Step::new(vec![Image("v2")]),
        Step::new(vec![Restart]),
    ]
}

const APP_SETUP: &str = "App with waitReady: true (the operator injects the runtime shim: \
readiness from process.send('ready'), SIGINT after the 5 s pre-stop drain), readyroll defaults \
otherwise; server.js unchanged";

/// The App as a PM2 user converts their ecosystem entry: script, wait_ready, the port.
fn app_manifest(name: &str, node_port: i32) -> Value {
    json!({
        "apiVersion": "readyroll.dev/v1alpha1",
        "kind": "App",
        "metadata": {"name": name},
        "spec": {
            "image": NODE_APP,
            "imagePullPolicy": "Never",
            "script": "/app/server.js",
            "waitReady": true,
            "listenTimeout": 10000,
            "killTimeout": 5000,
            "port": NODE_APP_PORT,
            "env": {"READY_DELAY_MS": READY_DELAY_MS},
            "service": {"type": "NodePort", "nodePort": node_port},
        }
    })
}

/// The shim is the app container's entry point, installed by an init container, and the
/// readiness probe asks it.
fn assert_runs_through_the_shim(deployment: &Deployment) {
    let pod = deployment
        .spec
        .as_ref()
        .and_then(|s| s.template.spec.as_ref())
        .expect("pod template");
    let app = pod.containers.first().expect("app container");
    let command = app.command.clone().unwrap_or_default();
    assert_eq!(
        command.first().map(String::as_str),
        Some(SHIM_IN_POD),
        "{command:?}"
    );
    // The shim's settings are the container's args (the shim contract's `to_args`).
    let args = app.args.clone().unwrap_or_default();
    assert!(args.iter().any(|a| a == "--wait-ready"), "{args:?}");
    assert!(
        args.iter().any(|a| a == "--script=/app/server.js"),
        "{args:?}"
    );
    let installs = pod
        .init_containers
        .iter()
        .flatten()
        .any(|c| c.command.iter().flatten().any(|a| a == "install"));
    assert!(installs, "an init container installs the shim");
    let probe_path = app
        .readiness_probe
        .as_ref()
        .and_then(|p| p.http_get.as_ref())
        .and_then(|h| h.path.clone());
    assert_eq!(probe_path.as_deref(), Some(SHIM_READY_PATH));
}

const PLAIN_SETUP: &str = "Deployment running node with process.send defined as a no-op, then \
the same server.js; readiness probe GET / (probe defaults), so a pod takes traffic as soon as it \
listens, before it says 'ready'; Kubernetes' defaults otherwise: maxSurge 25% / maxUnavailable 25%, \
no preStop hook, grace 30 s. node is the container's PID 1 and has no SIGTERM handler, so the \
kernel drops the kubelet's SIGTERM and the pod is SIGKILLed when the 30 s grace period ends";

/// Outside PM2 there is no IPC channel: `process.send` is undefined.
const DEFINE_PROCESS_SEND: &str =
    "if (typeof process.send !== 'function') process.send = () => true; require('/app/server.js');";

fn plain_container() -> Value {
    json!({
        "name": "app",
        "image": NODE_APP,
        "imagePullPolicy": "Never",
        "command": ["/usr/bin/node", "-e", DEFINE_PROCESS_SEND],
        "ports": [{"containerPort": NODE_APP_PORT}],
        "env": [{"name": "READY_DELAY_MS", "value": READY_DELAY_MS}],
        "readinessProbe": {"httpGet": {"path": "/", "port": NODE_APP_PORT}},
    })
}
