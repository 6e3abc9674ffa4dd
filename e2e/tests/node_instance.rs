//! PM2's `NODE_APP_INSTANCE` (and `increment_var`) on a real node: three instances of a
//! Node app each see a distinct index 0..2 in their environment, as the app itself reports
//! it on stdout, across a rollout and a scale down and up. The operator gives each pod its
//! index in an annotation; a downward-API file carries it into the pod, where the runtime
//! shim exports it before it starts the app.
mod node_support;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{ConfigMap, Pod};
use kube::api::{ListParams, LogParams, Patch, PatchParams};
use kube::{Api, ResourceExt};
use node_support::{NodeEnv, NODE_APP};
use readyroll::core::{INDEX_ANNOTATION, REVISION_ANNOTATION};
use readyroll::crd::App;
use readyroll_e2e::conditions::is_pod_ready;
use readyroll_e2e::Must;
use serde_json::{json, Value};

const NAME: &str = "indexed";
const MANAGER: &str = "readyroll-e2e";
/// `incrementVar`'s base: instance N sees WORKER_PORT = 4000 + N.
const BASE: u32 = 4000;
const TIMEOUT: Duration = Duration::from_secs(180);

/// The app prints what its environment says, then tells the shim it is ready.
const SERVER_JS: &str = r#"'use strict';
console.log(`instance-report NODE_APP_INSTANCE=${process.env.NODE_APP_INSTANCE} WORKER_PORT=${process.env.WORKER_PORT}`);
const timer = setInterval(() => {}, 1000);
process.on('SIGINT', () => { clearInterval(timer); process.exit(0); });
process.send('ready');
"#;

fn manifest(instances: i32, release: &str) -> Value {
    json!({
        "apiVersion": "readyroll.dev/v1alpha1",
        "kind": "App",
        "metadata": {"name": NAME},
        "spec": {
            "image": format!("{NODE_APP}:v1"),
            "imagePullPolicy": "Never",
            "script": "/report/server.js",
            "waitReady": true,
            "listenTimeout": 10000,
            "instances": instances,
            "incrementVar": "WORKER_PORT",
            "env": {"WORKER_PORT": BASE.to_string(), "RELEASE": release},
            "volumes": [{"name": "report", "configMap": {"name": NAME}}],
            "volumeMounts": [{"name": "report", "mountPath": "/report", "readOnly": true}],
        }
    })
}

async fn apply(env: &NodeEnv, instances: i32, release: &str) {
    let app: App = serde_json::from_value(manifest(instances, release)).must("App manifest");
    env.ns
        .api::<App>()
        .patch(
            NAME,
            &PatchParams::apply(MANAGER).force(),
            &Patch::Apply(&app),
        )
        .await
        .must("apply the App");
}

/// What the running (not terminating) pods hold now.
struct Snapshot {
    /// Pod name -> (index annotation, revision, ready).
    running: BTreeMap<String, (Option<String>, Option<String>, bool)>,
}

impl Snapshot {
    async fn take(pods: &Api<Pod>) -> Snapshot {
        let list = pods
            .list(&ListParams::default().labels(&format!("app.kubernetes.io/instance={NAME}")))
            .await
            .must("list the App's pods");
        let running = list
            .items
            .iter()
            .filter(|p| p.metadata.deletion_timestamp.is_none())
            .map(|p| {
                let annotation = |k: &str| p.annotations().get(k).cloned();
                (
                    p.name_any(),
                    (
                        annotation(INDEX_ANNOTATION),
                        annotation(REVISION_ANNOTATION),
                        is_pod_ready(p),
                    ),
                )
            })
            .collect();
        Snapshot { running }
    }

    /// Two running pods of one revision holding the same index.
    fn duplicate(&self) -> Option<String> {
        let mut seen = BTreeSet::new();
        for (index, revision, _) in self.running.values() {
            if let Some(index) = index {
                if !seen.insert((index, revision)) {
                    return Some(format!("{:?}", self.running));
                }
            }
        }
        None
    }
}

/// Waits until exactly `n` pods run, all ready and of one revision different from
/// `not_revision`, sampling every state on the way for duplicates. Returns the pods and
/// their revision.
async fn settle(
    env: &NodeEnv,
    n: usize,
    not_revision: Option<&str>,
    what: &str,
    duplicates: &mut Vec<String>,
    samples: &mut usize,
) -> (Vec<String>, String) {
    let pods = env.ns.api::<Pod>();
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let snapshot = Snapshot::take(&pods).await;
        *samples += 1;
        if let Some(d) = snapshot.duplicate() {
            duplicates.push(d);
        }
        let revisions: BTreeSet<Option<String>> = snapshot
            .running
            .values()
            .map(|(_, r, _)| r.clone())
            .collect();
        let all_ready = snapshot
            .running
            .values()
            .all(|(i, _, ready)| *ready && i.is_some());
        if snapshot.running.len() == n && all_ready && revisions.len() == 1 {
            let revision = revisions.into_iter().next().flatten().unwrap_or_default();
            if not_revision != Some(revision.as_str()) {
                return (snapshot.running.keys().cloned().collect(), revision);
            }
        }
        assert!(
            Instant::now() < deadline,
            "{what}: {n} ready pods of a new revision expected within {TIMEOUT:?}; have {:?}",
            snapshot.running
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// The index each pod's app reports on stdout, checked against its annotation and
/// `incrementVar`.
async fn reported(env: &NodeEnv, names: &[String]) -> Vec<u32> {
    let pods = env.ns.api::<Pod>();
    let mut indices = Vec::new();
    for name in names {
        let params = LogParams {
            container: Some("app".into()),
            ..LogParams::default()
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        let line = loop {
            let logs = pods.logs(name, &params).await.must("read the pod's log");
            if let Some(line) = logs.lines().find(|l| l.starts_with("instance-report ")) {
                break line.to_string();
            }
            assert!(Instant::now() < deadline, "{name} reported nothing: {logs}");
            tokio::time::sleep(Duration::from_millis(250)).await;
        };
        let field = |key: &str| -> u32 {
            line.split_whitespace()
                .find_map(|kv| kv.strip_prefix(key))
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| panic!("{name}: no numeric {key} in {line:?}"))
        };
        let index = field("NODE_APP_INSTANCE=");
        assert_eq!(
            field("WORKER_PORT="),
            BASE + index,
            "{name}: incrementVar is its base plus the index: {line}"
        );
        let pod = pods.get(name).await.must("get pod");
        assert_eq!(
            pod.annotations().get(INDEX_ANNOTATION),
            Some(&index.to_string()),
            "{name}: the app sees the index the operator gave the pod"
        );
        indices.push(index);
    }
    indices.sort_unstable();
    indices
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a real node and the installed operator: run by the node tier"]
async fn each_instance_sees_its_own_node_app_instance() {
    let started = Instant::now();
    let env = NodeEnv::start("instance").await;
    let config_map: ConfigMap = serde_json::from_value(json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": NAME},
        "data": {"server.js": SERVER_JS},
    }))
    .must("ConfigMap");
    env.ns
        .api::<ConfigMap>()
        .patch(
            NAME,
            &PatchParams::apply(MANAGER).force(),
            &Patch::Apply(&config_map),
        )
        .await
        .must("apply the ConfigMap");
    let (mut duplicates, mut samples) = (Vec::new(), 0);

    apply(&env, 3, "1").await;
    let (names, first) = settle(
        &env,
        3,
        None,
        "three instances",
        &mut duplicates,
        &mut samples,
    )
    .await;
    assert_eq!(reported(&env, &names).await, [0, 1, 2], "first revision");

    apply(&env, 3, "2").await;
    let (names, second) = settle(
        &env,
        3,
        Some(&first),
        "after a rollout",
        &mut duplicates,
        &mut samples,
    )
    .await;
    assert_eq!(reported(&env, &names).await, [0, 1, 2], "after the rollout");

    apply(&env, 1, "2").await;
    let (names, _) = settle(&env, 1, None, "scaled down", &mut duplicates, &mut samples).await;
    assert_eq!(reported(&env, &names).await, [0], "instance 0 stays");
    apply(&env, 3, "2").await;
    let (names, revision) = settle(&env, 3, None, "scaled up", &mut duplicates, &mut samples).await;
    assert_eq!(revision, second, "scaling does not roll the pods");
    assert_eq!(reported(&env, &names).await, [0, 1, 2], "after scaling up");

    eprintln!(
        "node_instance: {samples} samples, {:.1}s",
        started.elapsed().as_secs_f64()
    );
    assert!(
        duplicates.is_empty(),
        "running pods of one revision shared an index: {duplicates:?}"
    );
}
