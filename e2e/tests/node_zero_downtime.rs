//! The zero-downtime proof on a real node: an App of three test servers, each taking a few
//! seconds to start and finishing its in-flight requests when stopped, is rolled twelve
//! times under continuous load (image changes, environment changes, `kubectl rollout
//! restart`, scaling up and down in the middle of a rollout) and not one request fails.
//!
//! The same application as a plain Deployment, written the way a typical user writes one
//! (a readiness probe, everything else Kubernetes' defaults), goes through the same
//! rollouts under the same load in the same run. Its failures are recorded for
//! BENCHMARKS.md, not asserted on.
mod node_support;

use node_support::{
    baseline::{Baseline, Contest},
    pods::PodTracker,
    rollouts::{Change, Step},
    workload::Desired,
    NodeEnv, TESTAPP, TESTAPP_PORT,
};
use serde_json::{json, Value};

/// Startup of a few seconds, requests that take a moment, and a stop that waits for
/// in-flight requests (up to DRAIN_MS).
const READY_DELAY_MS: &str = "3000";
const LATENCY_MS: &str = "20";
const DRAIN_MS: &str = "10000";
const INSTANCES: i32 = 3;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a real node and the installed operator: run by the node tier"]
async fn an_app_rolls_twelve_times_under_load_without_a_failed_request() {
    let env = NodeEnv::start("zero-downtime").await;
    let tracker = PodTracker::start(env.ns.api());
    let contest = Contest {
        test: "node_zero_downtime",
        initial: Desired::new(TESTAPP, "v1", INSTANCES),
        steps: steps(),
        app: ("readyroll App", APP_SETUP),
        baseline: Baseline {
            name: "plain-web",
            port: TESTAPP_PORT,
            container: plain_container(),
            label: "plain Deployment",
            setup: PLAIN_SETUP,
        },
    };
    let readyroll = env
        .roll_app(&contest, |port| app_manifest("web", port))
        .await;
    env.against_baseline(contest, readyroll, &tracker).await;
}

/// Twelve rollouts: four image changes, three environment changes, three restarts, and
/// scaling 3 → 5 → 3 → 4 → 3 while rollouts are under way.
fn steps() -> Vec<Step> {
    use Change::*;
    vec![
        Step::new(vec![Image("v2")]),
        Step::new(vec![VersionEnv(Some("v2-env1"))]),
        Step::new(vec![Restart]),
        Step::new(vec![Image("v1"), VersionEnv(None)]),
        Step::new(vec![Image("v2")]).scaling_to(5),
        Step::new(vec![Restart]),
        Step::new(vec![VersionEnv(Some("v2-env2"))]).scaling_to(3),
        Step::new(vec![Image("v1"), VersionEnv(None)]),
        Step::new(vec![Restart]),
        Step::new(vec![Image("v2")]).scaling_to(4),
        Step::new(vec![VersionEnv(Some("v2-env3"))]).scaling_to(3),
        Step::new(vec![Image("v1"), VersionEnv(None)]),
    ]
}

const APP_SETUP: &str = "App with a readiness check on /healthz and the readyroll defaults: \
maxSurge 1, maxUnavailable 0, 5 s pre-stop drain, minUptime 1 s; killTimeout 10 s";

fn app_env() -> Value {
    json!({"READY_DELAY_MS": READY_DELAY_MS, "LATENCY_MS": LATENCY_MS, "DRAIN_MS": DRAIN_MS})
}

/// The App as a user writes it; image, VERSION and instances are filled in per rollout.
fn app_manifest(name: &str, node_port: i32) -> Value {
    json!({
        "apiVersion": "readyroll.dev/v1alpha1",
        "kind": "App",
        "metadata": {"name": name},
        "spec": {
            "image": TESTAPP,
            "imagePullPolicy": "Never",
            "port": TESTAPP_PORT,
            "readiness": {"httpGet": {"path": "/healthz"}},
            "listenTimeout": 20000,
            "killTimeout": 10000,
            "env": app_env(),
            "service": {"type": "NodePort", "nodePort": node_port},
        }
    })
}

const PLAIN_SETUP: &str =
    "Deployment with a readiness probe on /healthz (probe defaults: every 10 s) \
and Kubernetes' defaults otherwise: RollingUpdate maxSurge 25% / maxUnavailable 25% \
(1 / 0 at 3 replicas), no preStop hook, terminationGracePeriodSeconds 30, SIGTERM";

/// The same application the way a typical Deployment is written: a readiness probe and
/// nothing else that Kubernetes has a default for.
fn plain_container() -> Value {
    let env: Vec<Value> = app_env()
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| json!({"name": k, "value": v}))
        .collect();
    json!({
        "name": "app",
        "image": TESTAPP,
        "imagePullPolicy": "Never",
        "ports": [{"containerPort": TESTAPP_PORT}],
        "env": env,
        "readinessProbe": {"httpGet": {"path": "/healthz", "port": TESTAPP_PORT}},
    })
}
