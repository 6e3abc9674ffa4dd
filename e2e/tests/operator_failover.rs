//! Two `readyroll run --leader-elect` processes against a real API server:
//! one writes, the other waits with warm caches; SIGTERM hands the Lease
//! over at once, SIGKILL within the Lease duration; every Event about an
//! App comes from the replica holding the Lease; logs are JSON lines.
//!
//! The operator runs as a host process here, so this needs no real node;
//! the chart test (chart_install.rs) runs the same in pods.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::Toleration;
use k8s_openapi::api::events::v1::Event;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{ListParams, Patch, PatchParams, PostParams};
use kube::runtime::wait::conditions::is_crd_established;
use kube::{Api, CustomResourceExt, ResourceExt};
use readyroll::crd::{App, AppSpec, Instances};
use readyroll::telemetry::probe;
use readyroll_e2e::kwok::{NODE_LABEL_KEY, NODE_LABEL_VALUE, TAINT_KEY};
use readyroll_e2e::{readyroll_binary, wait_for, Cluster, KwokNode, Must, TestNamespace};
use support::app_available;

const TIMEOUT: Duration = Duration::from_secs(90);
const LEASE: &str = "readyroll-leader";
const LEASE_SECONDS: u64 = 15;
const APP: &str = "web";

/// One operator process; killed (SIGKILL) on drop if still running.
struct Operator {
    identity: String,
    child: Child,
    metrics: String,
    log: PathBuf,
}

impl Operator {
    fn start(binary: &Path, cluster: &Cluster, namespace: &str, identity: &str) -> Self {
        let port = free_port();
        let log = std::env::temp_dir().join(format!("readyroll-{namespace}-{identity}.log"));
        let stderr = std::fs::File::create(&log).must("create log file");
        let child = Command::new(binary)
            .args([
                "run",
                "--shim-image=readyroll.invalid/readyroll:test",
                &format!("--watch-namespace={namespace}"),
                &format!("--metrics-addr=127.0.0.1:{port}"),
                "--log-format=json",
                "--log-level=readyroll=debug,info",
                "--leader-elect",
            ])
            // As the chart sets them: the Lease namespace, and the identity
            // in the Lease and in Events.
            .env("POD_NAME", identity)
            .env("POD_NAMESPACE", namespace)
            .env("KUBECONFIG", cluster.kubeconfig())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .must("start readyroll run");
        Self {
            identity: identity.to_owned(),
            child,
            metrics: format!("http://127.0.0.1:{port}"),
            log,
        }
    }

    async fn get(&self, path: &str) -> Option<(u16, String)> {
        let response = probe(&format!("{}{path}", self.metrics), Duration::from_secs(2))
            .await
            .ok()?;
        Some((response.status, response.body))
    }

    async fn metric(&self, series: &str) -> Option<f64> {
        let (_, body) = self.get("/metrics").await?;
        body.lines()
            .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
            .and_then(|value| value.trim().parse().ok())
    }

    async fn until_ready(&self) {
        let started = Instant::now();
        while self.get("/readyz").await.map(|(status, _)| status) != Some(200) {
            assert!(
                started.elapsed() < TIMEOUT,
                "{} never became ready:\n{}",
                self.identity,
                self.logs()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([format!("-{signal}"), self.child.id().to_string()])
            .status()
            .must("run kill");
        assert!(status.success(), "kill -{signal} {}", self.child.id());
    }

    /// Waits for the process to exit; its exit status.
    async fn exited(&mut self, within: Duration) -> std::process::ExitStatus {
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().must("wait for the operator") {
                return status;
            }
            assert!(
                started.elapsed() < within,
                "{} did not exit within {within:?}",
                self.identity
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn logs(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Operator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!("----- log of {} -----\n{}", self.identity, self.logs());
        }
        let _ = std::fs::remove_file(&self.log);
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .must("find a free port")
        .port()
}

async fn install_crd(cluster: &Cluster) {
    let crds: Api<CustomResourceDefinition> = Api::all(cluster.client());
    let crd = App::crd();
    let name = crd.name_any();
    crds.patch(
        &name,
        &PatchParams::apply("readyroll-e2e").force(),
        &Patch::Apply(&crd),
    )
    .await
    .must("apply the App CRD");
    wait_for(&crds, &name, is_crd_established(), TIMEOUT)
        .await
        .must("CRD established in time");
}

fn web_app(node_group: &str) -> App {
    App::new(
        APP,
        AppSpec {
            image: "readyroll.invalid/web:1".to_owned(),
            port: Some(8080),
            instances: Some(Instances::Count(2)),
            node_selector: BTreeMap::from([
                (NODE_LABEL_KEY.to_owned(), NODE_LABEL_VALUE.to_owned()),
                ("readyroll.dev/e2e-test".to_owned(), node_group.to_owned()),
            ]),
            tolerations: vec![Toleration {
                key: Some(TAINT_KEY.to_owned()),
                operator: Some("Exists".to_owned()),
                effect: Some("NoSchedule".to_owned()),
                ..Toleration::default()
            }],
            ..AppSpec::default()
        },
    )
}

async fn holder(ns: &TestNamespace) -> (Option<String>, i32) {
    let spec = ns
        .api::<Lease>()
        .get(LEASE)
        .await
        .must("read the Lease")
        .spec
        .unwrap_or_default();
    (
        spec.holder_identity,
        spec.lease_transitions.unwrap_or_default(),
    )
}

async fn until_holder(ns: &TestNamespace, expected: &str, within: Duration) -> Duration {
    let started = Instant::now();
    loop {
        if holder(ns).await.0.as_deref() == Some(expected) {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < within,
            "{expected} did not take the Lease within {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Names and reporting instances of readyroll's Events about the App.
async fn app_events(ns: &TestNamespace) -> BTreeMap<String, Option<String>> {
    ns.api::<Event>()
        .list(&ListParams::default())
        .await
        .must("list Events")
        .items
        .into_iter()
        .filter(|e| e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some(APP))
        .filter(|e| e.reporting_controller.as_deref() == Some("readyroll"))
        .map(|e| {
            (
                e.metadata.name.clone().unwrap_or_default(),
                e.reporting_instance,
            )
        })
        .collect()
}

#[tokio::test]
#[ignore = "needs a cluster: run by the api tier"]
async fn leader_processes_hand_over_on_sigterm_and_sigkill_and_only_the_holder_writes() {
    let cluster = Cluster::require().await;
    let binary = readyroll_binary();
    install_crd(&cluster).await;
    let ns = TestNamespace::new(&cluster, "operator-failover")
        .await
        .must("namespace");
    let labels = BTreeMap::from([("readyroll.dev/e2e-test".to_owned(), ns.name().to_owned())]);
    let _node = KwokNode::create_with_labels(&cluster, "operator-failover", 4, labels)
        .await
        .must("kwok node");

    let first = Operator::start(binary, &cluster, ns.name(), "replica-a");
    first.until_ready().await;
    let second = Operator::start(binary, &cluster, ns.name(), "replica-b");
    second.until_ready().await;
    let mut replicas = vec![first, second];
    // Standbys are ready too; exactly one holds the Lease.
    let started = Instant::now();
    let leader_id = loop {
        if let (Some(holder), _) = holder(&ns).await {
            let leads = replicas
                .iter()
                .find(|r| r.identity == holder)
                .expect("holder is a replica");
            if leads.metric("readyroll_leader").await == Some(1.0) {
                break holder;
            }
        }
        assert!(started.elapsed() < TIMEOUT, "no leader");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let (_, transitions) = holder(&ns).await;
    let leader_at = replicas
        .iter()
        .position(|r| r.identity == leader_id)
        .expect("leader");
    let standby_at = 1 - leader_at;

    let apps = ns.api::<App>();
    apps.create(&PostParams::default(), &web_app(ns.name()))
        .await
        .must("create App");
    wait_for(&apps, APP, app_available(), TIMEOUT)
        .await
        .must("App available");
    let standby = &replicas[standby_at];
    assert_eq!(standby.metric("readyroll_leader").await, Some(0.0));
    for result in ["success", "error"] {
        let series = format!("readyroll_reconciliations_total{{result=\"{result}\"}}");
        assert_eq!(
            standby.metric(&series).await,
            Some(0.0),
            "the standby reconciled"
        );
    }
    let leader_successes = replicas[leader_at]
        .metric("readyroll_reconciliations_total{result=\"success\"}")
        .await
        .unwrap_or_default();
    assert!(leader_successes >= 1.0);
    let before = app_events(&ns).await;
    assert!(!before.is_empty(), "the leader reports Events");
    assert!(
        before
            .values()
            .all(|i| i.as_deref() == Some(leader_id.as_str())),
        "{before:?}"
    );

    // SIGTERM: the leader stops writing, releases the Lease and exits 0.
    let standby_id = replicas[standby_at].identity.clone();
    let signalled = Instant::now();
    replicas[leader_at].signal("TERM");
    let status = replicas[leader_at].exited(Duration::from_secs(30)).await;
    assert!(status.success(), "SIGTERM exit: {status}");
    let took = until_holder(&ns, &standby_id, Duration::from_secs(LEASE_SECONDS)).await;
    eprintln!(
        "SIGTERM: {standby_id} holds the Lease {:?} after the signal",
        signalled.elapsed()
    );
    assert!(took < Duration::from_secs(LEASE_SECONDS));
    assert_eq!(holder(&ns).await.1, transitions + 1);
    let json_lines = replicas[leader_at].logs();
    let old = replicas.remove(leader_at);
    drop(old);

    // The new leader reconciles a spec change and reports it alone.
    let new_leader = &replicas[0];
    let patch = serde_json::json!({ "spec": { "instances": 3 } });
    apps.patch(APP, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .must("scale the App");
    wait_for(&apps, APP, app_available(), TIMEOUT)
        .await
        .must("reconciled by the new leader");
    let scaled = ns.api::<Deployment>().get(APP).await.must("Deployment");
    assert_eq!(scaled.spec.and_then(|s| s.replicas), Some(3));
    let after = app_events(&ns).await;
    let new: BTreeSet<_> = after
        .iter()
        .filter(|(name, _)| !before.contains_key(*name))
        .collect();
    assert!(!new.is_empty(), "the new leader reports the change");
    assert!(
        new.iter()
            .all(|(_, i)| i.as_deref() == Some(standby_id.as_str())),
        "{new:?}"
    );
    assert_eq!(new_leader.metric("readyroll_leader").await, Some(1.0));

    // SIGKILL: no release; a fresh standby takes over after expiry.
    let third = Operator::start(binary, &cluster, ns.name(), "replica-c");
    third.until_ready().await;
    let killed = Instant::now();
    replicas[0].signal("KILL");
    replicas[0].exited(Duration::from_secs(5)).await;
    // Expiry (15 s after the last renewal), then kube-lease-manager's up to
    // 1 s of jitter: the holder changes within that.
    let took = until_holder(&ns, "replica-c", Duration::from_secs(LEASE_SECONDS + 2)).await;
    eprintln!("SIGKILL: replica-c holds the Lease {took:?} after the kill");
    let deadline = Instant::now() + Duration::from_secs(10);
    while third.metric("readyroll_leader").await != Some(1.0) {
        assert!(
            Instant::now() < deadline,
            "replica-c does not report leadership"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(killed.elapsed() < Duration::from_secs(LEASE_SECONDS + 10));

    // --log-format json: every line is one JSON object with a level.
    let mut lines = 0;
    for line in json_lines.lines().filter(|l| !l.trim().is_empty()) {
        let value: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        assert!(value["level"].is_string(), "{line}");
        lines += 1;
    }
    assert!(lines > 0, "the operator logged nothing");
}
