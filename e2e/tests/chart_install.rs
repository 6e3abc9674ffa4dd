//! The chart on a real cluster: `helm install` runs a Ready operator that
//! reconciles Apps, `helm test` passes, `helm upgrade` to another operator
//! image leaves Apps alone, `helm uninstall` keeps the CRD and the Apps, and
//! with two replicas killing the leader hands the Lease to another replica;
//! as a subchart of an umbrella chart it installs, and `helm upgrade` applies
//! a changed CRD schema.
//!
//! Needs the operator image on a real node: `e2e/cluster/images.sh
//! --operator BIN --shim BIN` imports `readyroll.dev/readyroll:dev` and the
//! same build as `:dev-next` for the upgrade (others via
//! `READYROLL_OPERATOR_IMAGE` and `READYROLL_OPERATOR_IMAGE_NEXT`). Each release watches only its own
//! namespace, so it never touches other tests' Apps, and leaves the cluster's one App CRD
//! alone (`crds.install=false`) except in the CRD upgrade test, which takes it over.

mod chart_support;

mod support;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{ConfigMap, Node, Pod, Toleration};
use k8s_openapi::api::events::v1::Event;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::runtime::wait::Condition;
use kube::{Api, Client, ResourceExt};
use readyroll::crd::{App, AppSpec, Instances};
use readyroll_e2e::conditions::deployment_available;
use readyroll_e2e::kwok::{NODE_LABEL_KEY, NODE_LABEL_VALUE, TAINT_KEY};
use readyroll_e2e::{wait_for, wait_for_deletion, Cluster, Helm, KwokNode, Must, TestNamespace};
use support::app_available;

use chart_support::{Scratch, EXTRA_PROPERTY, UMBRELLA_CONFIGMAP};

const OPERATOR_IMAGE_ENV: &str = "READYROLL_OPERATOR_IMAGE";
const DEFAULT_OPERATOR_IMAGE: &str = "readyroll.dev/readyroll:dev";
const NEXT_IMAGE_ENV: &str = "READYROLL_OPERATOR_IMAGE_NEXT";
const DEFAULT_NEXT_IMAGE: &str = "readyroll.dev/readyroll:dev-next";
const TIMEOUT: Duration = Duration::from_secs(120);
/// The chart's default `leaderElection.leaseDurationSeconds`.
const LEASE_DURATION: Duration = Duration::from_secs(15);
const APP: &str = "web";

/// A Helm release of the chart in a test namespace; uninstalled on drop so
/// its cluster-wide RBAC objects never outlive the test.
struct Release {
    helm: Helm,
    name: String,
    namespace: String,
    installed: bool,
    /// What `helm install` printed (the chart's NOTES).
    notes: String,
}

impl Release {
    /// `helm install --wait` of the chart with the operator image and
    /// `extra` flags; the operator watches only `ns`.
    fn install(cluster: &Cluster, ns: &TestNamespace, extra: &[&str]) -> Self {
        Self::install_chart(cluster, ns, &Helm::chart_dir(), "", extra)
    }

    /// [`Release::install`] of `chart`, whose values for readyroll start
    /// with `prefix` (`readyroll.` for an umbrella chart).
    fn install_chart(
        cluster: &Cluster,
        ns: &TestNamespace,
        chart: &Path,
        prefix: &str,
        extra: &[&str],
    ) -> Self {
        let helm = Helm::locate()
            .must("helm")
            .with_kubeconfig(cluster.kubeconfig());
        // The namespace names are unique: so are the release's ClusterRoles.
        let name = ns.name().to_owned();
        let (repository, tag) = operator_image_parts();
        let set = |value: String| ["--set".to_owned(), format!("{prefix}{value}")];
        let mut args: Vec<String> = vec![
            "install".into(),
            name.clone(),
            chart.to_string_lossy().into_owned(),
            "--namespace".into(),
            ns.name().into(),
        ];
        for value in [
            format!("image.repository={repository}"),
            format!("image.tag={tag}"),
            "image.pullPolicy=Never".to_owned(),
            format!("watchNamespace={}", ns.name()),
            "logLevel=debug".to_owned(),
            // The cluster has one App CRD, shared by every test.
            "crds.install=false".to_owned(),
        ] {
            args.extend(set(value));
        }
        args.extend([
            "--wait".into(),
            "--timeout".into(),
            format!("{}s", TIMEOUT.as_secs()),
        ]);
        args.extend(extra.iter().map(|a| (*a).to_owned()));
        let output = helm.run(&args).must("helm install");
        Self {
            helm,
            name,
            namespace: ns.name().to_owned(),
            installed: true,
            notes: String::from_utf8_lossy(&output.stdout).into_owned(),
        }
    }

    /// The chart's full name for this release (Deployment, Lease prefix).
    fn fullname(&self) -> String {
        let full = format!("{}-readyroll", self.name);
        full.chars()
            .take(63)
            .collect::<String>()
            .trim_end_matches('-')
            .to_owned()
    }

    fn upgrade(&self, extra: &[&str]) {
        self.upgrade_chart(&Helm::chart_dir(), extra);
    }

    fn upgrade_chart(&self, chart: &Path, extra: &[&str]) {
        let mut args: Vec<String> = vec![
            "upgrade".into(),
            self.name.clone(),
            chart.to_string_lossy().into_owned(),
            "--namespace".into(),
            self.namespace.clone(),
            "--reuse-values".into(),
            "--wait".into(),
            "--timeout".into(),
            format!("{}s", TIMEOUT.as_secs()),
        ];
        args.extend(extra.iter().map(|a| (*a).to_owned()));
        self.helm.run(&args).must("helm upgrade");
    }

    fn test(&self) -> String {
        let output = self
            .helm
            .run([
                "test",
                &self.name,
                "--namespace",
                &self.namespace,
                "--timeout",
                "120s",
            ])
            .must("helm test");
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    fn uninstall(&mut self) {
        self.helm
            .run([
                "uninstall",
                &self.name,
                "--namespace",
                &self.namespace,
                "--wait",
                "--timeout",
                "120s",
            ])
            .must("helm uninstall");
        self.installed = false;
    }
}

impl Drop for Release {
    fn drop(&mut self) {
        if self.installed {
            if let Err(err) = self.helm.run([
                "uninstall",
                &self.name,
                "--namespace",
                &self.namespace,
                "--wait",
            ]) {
                eprintln!("chart test: could not uninstall {}: {err}", self.name);
            }
        }
    }
}

fn image_from_env(variable: &str, default: &str) -> String {
    std::env::var(variable).unwrap_or_else(|_| default.to_owned())
}

fn operator_image() -> String {
    image_from_env(OPERATOR_IMAGE_ENV, DEFAULT_OPERATOR_IMAGE)
}

/// `repo:tag` split at the tag's colon (a registry port has a `/` after it).
fn split_image(image: &str) -> (String, String) {
    match image.rsplit_once(':') {
        Some((repository, tag)) if !tag.contains('/') => (repository.to_owned(), tag.to_owned()),
        _ => panic!("operator image {image} must be REPOSITORY:TAG"),
    }
}

fn operator_image_parts() -> (String, String) {
    split_image(&operator_image())
}

/// Fails the test, saying what to do, unless a node has `image`.
async fn require_image_on_a_node(cluster: &Cluster, image: &str, variable: &str) {
    let nodes = Api::<Node>::all(cluster.client())
        .list(&ListParams::default())
        .await
        .must("list nodes");
    let present = nodes
        .items
        .iter()
        .flat_map(|node| node.status.iter().flat_map(|s| s.images.iter().flatten()))
        .any(|entry| entry.names.iter().flatten().any(|name| name == image));
    assert!(
        present,
        "no node has the image {image}: build it with `e2e/cluster/images.sh --operator BIN --shim BIN` \
         (static binaries) or set {variable}"
    );
}

/// An App of two instances on the test's own kwok node, without the runtime shim. The
/// release tests run at once, each with a node it deletes when it ends: a pod placed on
/// another test's node would vanish with it and leave this App unavailable.
fn web_app(node: &KwokNode) -> App {
    let spec = AppSpec {
        image: "readyroll.invalid/web:1".to_owned(),
        port: Some(8080),
        instances: Some(Instances::Count(2)),
        node_selector: BTreeMap::from([
            (NODE_LABEL_KEY.to_owned(), NODE_LABEL_VALUE.to_owned()),
            ("kubernetes.io/hostname".to_owned(), node.name().to_owned()),
        ]),
        tolerations: vec![Toleration {
            key: Some(TAINT_KEY.to_owned()),
            operator: Some("Exists".to_owned()),
            effect: Some("NoSchedule".to_owned()),
            ..Toleration::default()
        }],
        ..AppSpec::default()
    };
    App::new(APP, spec)
}

/// The App's status describes its current generation and it is Available.
async fn create_and_await_app(ns: &TestNamespace, node: &KwokNode) -> App {
    let apps = ns.api::<App>();
    apps.create(&PostParams::default(), &web_app(node))
        .await
        .must("create App");
    let app = wait_for(&apps, APP, app_available(), TIMEOUT)
        .await
        .must("App available");
    let deployment = ns
        .api::<Deployment>()
        .get(APP)
        .await
        .must("the App's Deployment");
    let owner = deployment
        .owner_references()
        .first()
        .cloned()
        .expect("owner reference");
    assert_eq!((owner.kind.as_str(), owner.name.as_str()), ("App", APP));
    app
}

/// GETs `path` of `pod`'s metrics port through the API server's pod proxy
/// (works wherever the API server reaches pods, without pod routes here).
async fn pod_http(client: &Client, namespace: &str, pod: &str, path: &str) -> String {
    try_pod_http(client, namespace, pod, path)
        .await
        .must("pod proxy")
}

/// [`pod_http`] for polling: a pod that just started may have no address
/// in the API yet.
async fn try_pod_http(
    client: &Client,
    namespace: &str,
    pod: &str,
    path: &str,
) -> Result<String, kube::Error> {
    let uri = format!("/api/v1/namespaces/{namespace}/pods/{pod}:8080/proxy{path}");
    let request = http::Request::get(uri).body(Vec::new()).must("request");
    client.request_text(request).await
}

/// The value of the series `series` (name with labels) in a metrics body.
fn metric(body: &str, series: &str) -> Option<f64> {
    body.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .and_then(|value| value.trim().parse().ok())
}

async fn operator_pods(ns: &TestNamespace, release: &Release) -> Vec<Pod> {
    let selector = format!(
        "app.kubernetes.io/name=readyroll,app.kubernetes.io/instance={}",
        release.name
    );
    let mut pods = ns
        .api::<Pod>()
        .list(&ListParams::default().labels(&selector))
        .await
        .must("list operator pods")
        .items;
    pods.retain(|p| p.metadata.deletion_timestamp.is_none());
    pods
}

async fn lease_holder(ns: &TestNamespace, release: &Release) -> (Option<String>, i32) {
    let lease = ns
        .api::<Lease>()
        .get(&format!("{}-leader", release.fullname()))
        .await
        .must("the leader Lease");
    let spec = lease.spec.unwrap_or_default();
    (
        spec.holder_identity,
        spec.lease_transitions.unwrap_or_default(),
    )
}

/// Every Event about the App reported by a pod of `release`, and that pod.
/// (Another readyroll installed cluster-wide in a shared test cluster may
/// report on the App too; only this release's replicas are under test.)
async fn app_events(
    ns: &TestNamespace,
    release: &Release,
) -> Vec<(String, String, Option<String>)> {
    let ours = format!("{}-", release.fullname());
    let events = ns
        .api::<Event>()
        .list(&ListParams::default())
        .await
        .must("list events");
    events
        .items
        .into_iter()
        .filter(|e| e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some(APP))
        .filter(|e| e.reporting_controller.as_deref() == Some("readyroll"))
        .filter(|e| {
            e.reporting_instance
                .as_deref()
                .is_some_and(|i| i.starts_with(&ours))
        })
        .map(|e| {
            (
                e.metadata.name.clone().unwrap_or_default(),
                e.reason.clone().unwrap_or_default(),
                e.reporting_instance.clone(),
            )
        })
        .collect()
}

#[tokio::test]
#[ignore = "needs a cluster with a real node: run by the release tier"]
async fn install_reconciles_an_app_passes_helm_test_and_uninstall_keeps_crd_and_apps() {
    let cluster = Cluster::require().await;
    require_image_on_a_node(&cluster, &operator_image(), OPERATOR_IMAGE_ENV).await;
    let node = KwokNode::create(&cluster, "chart-install", 4)
        .await
        .must("kwok node");
    let ns = TestNamespace::new(&cluster, "chart-install")
        .await
        .must("namespace");

    let started = Instant::now();
    let mut release = Release::install(&cluster, &ns, &[]);
    eprintln!(
        "helm install --wait: operator Ready after {:?}",
        started.elapsed()
    );
    let pods = operator_pods(&ns, &release).await;
    assert_eq!(pods.len(), 1);
    let pod = pods[0].name_any();
    let container = pods[0]
        .spec
        .as_ref()
        .map(|s| s.containers[0].clone())
        .expect("container");
    assert_eq!(container.image.as_deref(), Some(operator_image().as_str()));

    let reconciled = Instant::now();
    create_and_await_app(&ns, &node).await;
    eprintln!(
        "App reconciled and Available after {:?}",
        reconciled.elapsed()
    );

    let body = pod_http(&cluster.client(), ns.name(), &pod, "/metrics").await;
    assert_eq!(metric(&body, "readyroll_leader"), Some(1.0), "{body}");
    let successes =
        metric(&body, "readyroll_reconciliations_total{result=\"success\"}").unwrap_or_default();
    assert!(successes >= 1.0, "{body}");
    assert_eq!(
        pod_http(&cluster.client(), ns.name(), &pod, "/readyz")
            .await
            .trim(),
        "ready"
    );

    let hint = format!("helm test {} -n {}", release.name, ns.name());
    assert!(release.notes.contains(&hint), "NOTES:\n{}", release.notes);
    // A passing test pod is deleted (hook-succeeded), so helm shows its phase.
    let report = release.test();
    assert!(
        report.contains("readyroll-test-readyz") && report.contains("Succeeded"),
        "helm test output:\n{report}"
    );

    release.uninstall();
    wait_for_deletion(&ns.api::<Deployment>(), &release.fullname(), TIMEOUT)
        .await
        .must("operator removed");
    let crds = Api::<CustomResourceDefinition>::all(cluster.client());
    assert!(
        crds.get_opt("apps.readyroll.dev")
            .await
            .must("read CRD")
            .is_some(),
        "the CRD must survive uninstall"
    );
    assert!(
        ns.api::<App>()
            .get_opt(APP)
            .await
            .must("read App")
            .is_some(),
        "the App must survive uninstall"
    );
    assert!(
        ns.api::<Deployment>()
            .get_opt(APP)
            .await
            .must("read Deployment")
            .is_some(),
        "the App keeps running"
    );
}

#[tokio::test]
#[ignore = "needs a cluster with a real node: run by the release tier"]
async fn upgrade_to_another_operator_image_leaves_apps_untouched() {
    let cluster = Cluster::require().await;
    require_image_on_a_node(&cluster, &operator_image(), OPERATOR_IMAGE_ENV).await;
    let next = image_from_env(NEXT_IMAGE_ENV, DEFAULT_NEXT_IMAGE);
    require_image_on_a_node(&cluster, &next, NEXT_IMAGE_ENV).await;
    let (next_repository, next_tag) = split_image(&next);
    let node = KwokNode::create(&cluster, "chart-upgrade", 4)
        .await
        .must("kwok node");
    let ns = TestNamespace::new(&cluster, "chart-upgrade")
        .await
        .must("namespace");
    let release = Release::install(&cluster, &ns, &[]);
    create_and_await_app(&ns, &node).await;
    let before = ns.api::<Deployment>().get(APP).await.must("App Deployment");
    let replica_sets = |ns: &TestNamespace| {
        let api = ns.api::<ReplicaSet>();
        async move {
            api.list(&ListParams::default().labels(&format!("app.kubernetes.io/instance={APP}")))
                .await
                .must("list ReplicaSets")
                .items
                .len()
        }
    };
    let replica_sets_before = replica_sets(&ns).await;
    let old_pod = operator_pods(&ns, &release).await[0].name_any();

    // Another operator image: a new pod template, a new operator process,
    // and nothing about the Apps changed. (Apps that use the runtime shim
    // would roll: the shim image defaults to the operator image.)
    release.upgrade(&[
        "--set",
        &format!("image.repository={next_repository}"),
        "--set",
        &format!("image.tag={next_tag}"),
    ]);
    let pods = operator_pods(&ns, &release).await;
    assert_eq!(pods.len(), 1);
    let new_pod = pods[0].name_any();
    assert_ne!(new_pod, old_pod, "the upgrade replaced the operator pod");
    let image = pods[0]
        .spec
        .as_ref()
        .and_then(|s| s.containers[0].image.clone());
    assert_eq!(image, Some(next));

    // The new operator reconciles every App when it starts; wait for that.
    let client = cluster.client();
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let body = try_pod_http(&client, ns.name(), &new_pod, "/metrics")
            .await
            .unwrap_or_else(|err| err.to_string());
        if metric(&body, "readyroll_reconciliations_total{result=\"success\"}").unwrap_or_default()
            >= 1.0
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the upgraded operator never reconciled:\n{body}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let after = ns.api::<Deployment>().get(APP).await.must("App Deployment");
    assert_eq!(
        after.metadata.generation, before.metadata.generation,
        "the upgrade changed the App's Deployment"
    );
    assert_eq!(
        after.spec.as_ref().map(|s| &s.template),
        before.spec.as_ref().map(|s| &s.template),
        "pod template changed"
    );
    assert_eq!(
        replica_sets(&ns).await,
        replica_sets_before,
        "a new ReplicaSet means the App rolled"
    );
    let app = ns.api::<App>().get(APP).await.must("App");
    assert!(
        app_available().matches_object(Some(&app)),
        "{:?}",
        app.status
    );
}

#[tokio::test]
#[ignore = "needs a cluster with a real node: run by the release tier"]
async fn two_replicas_hand_the_lease_over_when_the_leader_pod_dies() {
    let cluster = Cluster::require().await;
    require_image_on_a_node(&cluster, &operator_image(), OPERATOR_IMAGE_ENV).await;
    let node = KwokNode::create(&cluster, "chart-ha", 4)
        .await
        .must("kwok node");
    let ns = TestNamespace::new(&cluster, "chart-ha")
        .await
        .must("namespace");
    let release = Release::install(&cluster, &ns, &["--set", "replicas=2"]);
    let client = cluster.client();
    let operator = release.fullname();

    let pods = operator_pods(&ns, &release).await;
    assert_eq!(
        pods.len(),
        2,
        "two operator replicas, both Ready (helm --wait)"
    );
    let (holder, transitions) = lease_holder(&ns, &release).await;
    let leader = holder.expect("a leader holds the Lease");
    let standby = pods
        .iter()
        .map(ResourceExt::name_any)
        .find(|p| *p != leader)
        .expect("a standby");
    assert!(
        pods.iter().any(|p| p.name_any() == leader),
        "the holder {leader} is one of the pods"
    );

    create_and_await_app(&ns, &node).await;
    let leader_metrics = pod_http(&client, ns.name(), &leader, "/metrics").await;
    let standby_metrics = pod_http(&client, ns.name(), &standby, "/metrics").await;
    assert_eq!(metric(&leader_metrics, "readyroll_leader"), Some(1.0));
    assert_eq!(metric(&standby_metrics, "readyroll_leader"), Some(0.0));
    assert!(
        metric(
            &leader_metrics,
            "readyroll_reconciliations_total{result=\"success\"}"
        )
        .unwrap_or_default()
            >= 1.0
    );
    for result in ["success", "error"] {
        let series = format!("readyroll_reconciliations_total{{result=\"{result}\"}}");
        assert_eq!(
            metric(&standby_metrics, &series),
            Some(0.0),
            "the standby reconciled:\n{standby_metrics}"
        );
    }
    // The standby is Ready too: it keeps warm caches.
    assert_eq!(
        pod_http(&client, ns.name(), &standby, "/readyz")
            .await
            .trim(),
        "ready"
    );
    let events_before = app_events(&ns, &release).await;
    assert!(!events_before.is_empty(), "the leader reports Events");
    for (name, reason, instance) in &events_before {
        assert_eq!(
            instance.as_deref(),
            Some(leader.as_str()),
            "Event {name} ({reason}) not from the leader"
        );
    }

    // Graceful kill: the leader releases the Lease on SIGTERM; the standby
    // or the pod the Deployment starts in its place takes it.
    let killed = Instant::now();
    ns.api::<Pod>()
        .delete(&leader, &DeleteParams::default())
        .await
        .must("delete the leader pod");
    let (new_leader, took) = until_new_holder(&ns, &release, &leader, LEASE_DURATION).await;
    eprintln!(
        "graceful leader kill: {new_leader} holds the Lease {took:?} later ({:?} since the delete)",
        killed.elapsed()
    );
    let (_, transitions_after) = lease_holder(&ns, &release).await;
    assert_eq!(transitions_after, transitions + 1, "exactly one handover");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let body = try_pod_http(&client, ns.name(), &new_leader, "/metrics")
            .await
            .unwrap_or_else(|err| err.to_string());
        if metric(&body, "readyroll_leader") == Some(1.0) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the new leader does not report leadership:\n{body}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // The new leader writes: a spec change is reconciled, reported by it alone.
    let seen: std::collections::BTreeSet<String> = events_before
        .iter()
        .map(|(name, ..)| name.clone())
        .collect();
    let patch = serde_json::json!({ "spec": { "instances": 3 } });
    ns.api::<App>()
        .patch(APP, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .must("scale the App");
    wait_for(&ns.api::<App>(), APP, app_available(), TIMEOUT)
        .await
        .must("App reconciled by the new leader");
    let scaled = ns.api::<Deployment>().get(APP).await.must("App Deployment");
    assert_eq!(scaled.spec.and_then(|s| s.replicas), Some(3));
    let new_events: Vec<_> = app_events(&ns, &release)
        .await
        .into_iter()
        .filter(|(name, ..)| !seen.contains(name))
        .collect();
    assert!(!new_events.is_empty(), "the new leader reports the change");
    for (name, reason, instance) in &new_events {
        assert_eq!(
            instance.as_deref(),
            Some(new_leader.as_str()),
            "Event {name} ({reason}) not from the new leader"
        );
    }

    // Forced deletion (grace period 0): the pod object goes at once, the
    // kubelet still stops the container with SIGTERM, so the Lease is
    // released. (A SIGKILL, where the Lease must expire, is covered by
    // operator_failover.rs, which owns its processes.)
    wait_for(
        &ns.api::<Deployment>(),
        &operator,
        deployment_available(),
        TIMEOUT,
    )
    .await
    .must("two replicas Ready again");
    let other = operator_pods(&ns, &release)
        .await
        .into_iter()
        .map(|p| p.name_any())
        .find(|p| *p != new_leader)
        .expect("a second replica");
    let other_metrics = pod_http(&client, ns.name(), &other, "/metrics").await;
    assert_eq!(
        metric(
            &other_metrics,
            "readyroll_reconciliations_total{result=\"success\"}"
        ),
        Some(0.0),
        "a replica that never led reconciled:\n{other_metrics}"
    );
    let forced = Instant::now();
    ns.api::<Pod>()
        .delete(
            &new_leader,
            &DeleteParams {
                grace_period_seconds: Some(0),
                ..DeleteParams::default()
            },
        )
        .await
        .must("force-delete the leader pod");
    // Released on SIGTERM; were it not, expiry (at most 15 s after the last
    // renewal) plus up to 1 s of kube-lease-manager's jitter.
    let (last_leader, took) = until_new_holder(
        &ns,
        &release,
        &new_leader,
        LEASE_DURATION + Duration::from_secs(2),
    )
    .await;
    eprintln!(
        "forced deletion: {last_leader} holds the Lease {took:?} later ({:?} since the delete)",
        forced.elapsed()
    );
}

/// Polls the Lease until a replica other than `previous` holds it; that
/// replica and the time it took.
async fn until_new_holder(
    ns: &TestNamespace,
    release: &Release,
    previous: &str,
    within: Duration,
) -> (String, Duration) {
    let started = Instant::now();
    loop {
        let (holder, _) = lease_holder(ns, release).await;
        if let Some(holder) = holder.filter(|h| h != previous) {
            return (holder, started.elapsed());
        }
        assert!(
            started.elapsed() < within,
            "no replica took the Lease from {previous} within {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
#[ignore = "needs a cluster with a real node: run by the release tier"]
async fn an_umbrella_chart_installs_readyroll_as_a_subchart() {
    let cluster = Cluster::require().await;
    require_image_on_a_node(&cluster, &operator_image(), OPERATOR_IMAGE_ENV).await;
    let ns = TestNamespace::new(&cluster, "chart-umbrella")
        .await
        .must("namespace");
    let helm = Helm::locate().must("helm");
    let scratch = Scratch::new("chart-install-umbrella");
    let umbrella = chart_support::umbrella_chart(&helm, &scratch, "");
    let release = Release::install_chart(&cluster, &ns, &umbrella, "readyroll.", &[]);

    // helm --wait returned: the subchart's operator is Ready beside the
    // parent's own objects.
    let pods = operator_pods(&ns, &release).await;
    assert_eq!(pods.len(), 1, "one operator pod from the subchart");
    wait_for(
        &ns.api::<Deployment>(),
        &release.fullname(),
        deployment_available(),
        TIMEOUT,
    )
    .await
    .must("the subchart's operator available");
    let settings = ns
        .api::<ConfigMap>()
        .get(UMBRELLA_CONFIGMAP)
        .await
        .must("the umbrella chart's own ConfigMap");
    assert_eq!(
        settings
            .data
            .and_then(|d| d.get("team").cloned())
            .as_deref(),
        Some("platform"),
        "global values reach the parent's templates"
    );
}

/// The `spec` properties of the App schema the cluster serves now.
async fn served_spec_properties(cluster: &Cluster) -> serde_json::Value {
    let crd = Api::<CustomResourceDefinition>::all(cluster.client())
        .get("apps.readyroll.dev")
        .await
        .must("read the App CRD");
    let schema = crd.spec.versions[0]
        .schema
        .as_ref()
        .and_then(|s| s.open_api_v3_schema.as_ref())
        .expect("the App schema");
    let schema = serde_json::to_value(schema).must("schema as JSON");
    schema["properties"]["spec"]["properties"].clone()
}

/// Polls until the served schema has (or lacks) the upgrade test's property.
async fn until_extra_property(cluster: &Cluster, present: bool) {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let properties = served_spec_properties(cluster).await;
        if properties.get(EXTRA_PROPERTY).is_some() == present {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the CRD never {} {EXTRA_PROPERTY}",
            if present { "got" } else { "lost" }
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
#[ignore = "needs a cluster with a real node: run by the release tier"]
async fn helm_upgrade_applies_a_changed_crd_schema_and_uninstall_keeps_the_crd() {
    let cluster = Cluster::require().await;
    require_image_on_a_node(&cluster, &operator_image(), OPERATOR_IMAGE_ENV).await;
    let ns = TestNamespace::new(&cluster, "chart-crd-upgrade")
        .await
        .must("namespace");
    // The CRD exists already (other tests, an earlier release): the
    // release adopts it, as a user upgrading from a chart with crds/ does.
    let mut release = Release::install(
        &cluster,
        &ns,
        &["--set", "crds.install=true", "--take-ownership"],
    );
    let crds = Api::<CustomResourceDefinition>::all(cluster.client());
    let crd = crds
        .get("apps.readyroll.dev")
        .await
        .must("read the App CRD");
    let annotations = crd.annotations();
    assert_eq!(
        annotations.get("meta.helm.sh/release-name"),
        Some(&release.name),
        "the release owns the CRD: {annotations:?}"
    );
    assert_eq!(
        annotations
            .get("helm.sh/resource-policy")
            .map(String::as_str),
        Some("keep")
    );
    until_extra_property(&cluster, false).await;

    // A new chart version whose CRD has one more field: plain helm upgrade.
    let scratch = Scratch::new("chart-install-crd");
    let changed = chart_support::chart_with_changed_crd(&scratch);
    release.upgrade_chart(&changed, &[]);
    until_extra_property(&cluster, true).await;
    let properties = served_spec_properties(&cluster).await;
    assert_eq!(
        properties[EXTRA_PROPERTY]["type"].as_str(),
        Some("string"),
        "{properties}"
    );

    // And back to the repository's chart: the field goes again.
    release.upgrade(&[]);
    until_extra_property(&cluster, false).await;

    release.uninstall();
    assert!(
        crds.get_opt("apps.readyroll.dev")
            .await
            .must("read the App CRD")
            .is_some(),
        "helm.sh/resource-policy: keep must leave the CRD (and every App) in place"
    );
}
