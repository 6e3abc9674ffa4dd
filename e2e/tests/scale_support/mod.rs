//! The scale benchmark's world and its measuring steps: kwok nodes sized for N pods per
//! kind of workload, one namespace for the plain Deployments and one for the controller's
//! objects, mass creation, "all Available" watches, idle detection and edit latencies.
#![allow(dead_code)] // each test binary uses its own part of this module

use std::{
    collections::{BTreeMap, HashSet},
    fmt::Debug,
    future::Future,
    time::{Duration, Instant},
};

use futures::{stream, StreamExt};
use k8s_openapi::{
    api::{
        apps::v1::{Deployment, DeploymentSpec},
        core::v1::{Container, Namespace, PodSpec, PodTemplateSpec, Toleration},
    },
    apimachinery::pkg::apis::meta::v1::LabelSelector,
    NamespaceResourceScope,
};
use kube::{
    api::{DeleteParams, ObjectMeta, Patch, PatchParams},
    runtime::{watcher, WatchStreamExt},
    Api, Client, Resource, ResourceExt,
};
use readyroll::crd::{App, AppSpec, Instances, CONDITION_AVAILABLE};
use readyroll_e2e::{
    bench::{Convergence, Requests, ScaleEnvironment, ScaleRecord},
    kwok::{place_on_kwok, NODE_LABEL_KEY, NODE_LABEL_VALUE, TAINT_KEY},
    scale::{ApiRequests, HostCpu, Percentiles, SERVICE_ACCOUNTS_FLOW_SCHEMA},
    wait_for_deletion, Cluster, KwokNode, Must, TestNamespace,
};
use serde::{de::DeserializeOwned, Serialize};
use serde_json::json;

/// kwok never pulls images; a real node must never run this one.
pub const FAKE_IMAGE: &str = "readyroll.invalid/app:1";
/// Field manager of the benchmark's own writes.
pub const MANAGER: &str = "readyroll-bench";
/// Label tying the workloads to this run's kwok nodes.
pub const GROUP_LABEL: &str = "readyroll.dev/scale-run";
/// Pods one fake node holds: a few nodes carry thousands of pods.
const PODS_PER_NODE: u32 = 1000;
/// Creates in flight at once, as a deploy tool applying many manifests would send them.
const CREATE_CONCURRENCY: usize = 16;
/// The pod annotation the edits change.
pub const EDIT_ANNOTATION: &str = "bench.readyroll.dev/edit";
/// How long one edit may take to show on the watch.
const EDIT_TIMEOUT: Duration = Duration::from_secs(60);
/// The controller is idle when its requests over this window stay within the budget.
const QUIET_WINDOW: Duration = Duration::from_secs(5);
const QUIET_BUDGET: f64 = 2.0;

#[derive(Debug, Clone)]
pub struct Settings {
    pub objects: usize,
    pub edits: usize,
    pub idle: Duration,
}

impl Settings {
    pub fn from_env() -> Self {
        let number = |name: &str, default: u64| -> u64 {
            match std::env::var(name) {
                Ok(v) => v
                    .parse()
                    .unwrap_or_else(|_| panic!("{name}={v:?} is not a whole number")),
                Err(_) => default,
            }
        };
        let settings = Settings {
            objects: number("READYROLL_SCALE_APPS", 50) as usize,
            edits: number("READYROLL_SCALE_EDITS", 200) as usize,
            idle: Duration::from_secs(number("READYROLL_SCALE_IDLE_SECONDS", 20)),
        };
        assert!(
            settings.objects > 0,
            "READYROLL_SCALE_APPS must be at least 1"
        );
        settings
    }
}

/// The kwok nodes and namespaces of one run. Fields drop in order: the namespaces (and
/// with them every workload) go before the nodes.
pub struct World {
    pub plain: TestNamespace,
    pub apps: TestNamespace,
    _nodes: Vec<KwokNode>,
    pub group: String,
    machine_load: String,
}

impl World {
    pub async fn start(cluster: &Cluster, prefix: &str, settings: &Settings) -> World {
        let machine_load = machine_load().await;
        let plain = TestNamespace::new(cluster, &format!("{prefix}-plain"))
            .await
            .must("create namespace");
        let apps = TestNamespace::new(cluster, &format!("{prefix}-apps"))
            .await
            .must("create namespace");
        for ns in [&plain, &apps] {
            ns.wait_for_default_service_account()
                .await
                .must("default ServiceAccount");
        }
        let group = apps.name().to_owned();
        // Room for every workload's pod plus the surge pods of the edits.
        let pods = 2 * settings.objects + settings.edits + 10;
        let count = pods.div_ceil(PODS_PER_NODE as usize);
        let mut nodes = Vec::new();
        for _ in 0..count {
            let labels = BTreeMap::from([(GROUP_LABEL.to_owned(), group.clone())]);
            nodes.push(
                KwokNode::create_sized(cluster, prefix, 64, PODS_PER_NODE, labels)
                    .await
                    .must("create kwok node"),
            );
        }
        World {
            plain,
            apps,
            _nodes: nodes,
            group,
            machine_load,
        }
    }

    /// Deletes both namespaces and waits until they are gone, so that the garbage collection
    /// of thousands of objects does not overlap the next measurement; then the nodes go.
    pub async fn finish(self, cluster: &Cluster) {
        let namespaces: Api<Namespace> = Api::all(cluster.client());
        for ns in [&self.plain, &self.apps] {
            namespaces
                .delete(ns.name(), &DeleteParams::background())
                .await
                .must("delete namespace");
        }
        for ns in [&self.plain, &self.apps] {
            wait_for_deletion(&namespaces, ns.name(), Duration::from_secs(900))
                .await
                .must("namespace deleted");
        }
    }

    pub fn host(&self) -> HostCpu {
        HostCpu::sample().must("read /proc/stat")
    }

    pub async fn environment(&self, client: &Client, controller_build: String) -> ScaleEnvironment {
        ScaleEnvironment {
            kubernetes: client
                .apiserver_version()
                .await
                .map(|v| v.git_version)
                .unwrap_or_default(),
            host_cpus: readyroll_e2e::bench::Environment::host_cpus(),
            controller_build,
            source: readyroll_e2e::bench::Environment::source_of(std::path::Path::new(env!(
                "CARGO_MANIFEST_DIR"
            ))),
            controller_manager_client: controller_manager_client(),
            machine_load: self.machine_load.clone(),
        }
    }

    fn node_selector(&self) -> BTreeMap<String, String> {
        BTreeMap::from([
            (NODE_LABEL_KEY.to_owned(), NODE_LABEL_VALUE.to_owned()),
            (GROUP_LABEL.to_owned(), self.group.clone()),
        ])
    }
}

pub fn name_of(i: usize) -> String {
    format!("w-{i:05}")
}

/// A one-instance App on this run's kwok nodes.
pub fn app_manifest(world: &World, i: usize) -> App {
    App::new(
        &name_of(i),
        AppSpec {
            image: FAKE_IMAGE.into(),
            instances: Some(Instances::from_pm2(1).must("valid instances")),
            node_selector: world.node_selector(),
            tolerations: vec![Toleration {
                key: Some(TAINT_KEY.into()),
                operator: Some("Exists".into()),
                effect: Some("NoSchedule".into()),
                ..Default::default()
            }],
            ..Default::default()
        },
    )
}

/// The pod template of workload `i` (labels `app: <name>`) on this run's kwok nodes.
pub fn pod_template(world: &World, i: usize) -> PodTemplateSpec {
    let mut spec = PodSpec {
        containers: vec![Container {
            name: "app".into(),
            image: Some(FAKE_IMAGE.into()),
            ..Default::default()
        }],
        ..Default::default()
    };
    place_on_kwok(&mut spec);
    spec.node_selector
        .get_or_insert_with(BTreeMap::new)
        .insert(GROUP_LABEL.to_owned(), world.group.clone());
    PodTemplateSpec {
        metadata: Some(ObjectMeta {
            labels: Some(workload_labels(i)),
            ..Default::default()
        }),
        spec: Some(spec),
    }
}

pub fn workload_labels(i: usize) -> BTreeMap<String, String> {
    BTreeMap::from([("app".to_owned(), name_of(i))])
}

/// The same workload as a plain one-replica Deployment with Kubernetes' defaults.
pub fn deployment_manifest(world: &World, i: usize) -> Deployment {
    Deployment {
        metadata: ObjectMeta {
            name: Some(name_of(i)),
            ..Default::default()
        },
        spec: Some(DeploymentSpec {
            replicas: Some(1),
            selector: LabelSelector {
                match_labels: Some(workload_labels(i)),
                ..Default::default()
            },
            template: pod_template(world, i),
            ..Default::default()
        }),
        status: None,
    }
}

/// Server-side applies every object, `CREATE_CONCURRENCY` at a time; returns when the last
/// create returned.
pub async fn create_all<K>(
    api: &Api<K>,
    objects: impl Iterator<Item = K>,
    started: Instant,
) -> Duration
where
    K: Resource<DynamicType = ()> + Clone + Debug + Serialize + DeserializeOwned,
{
    let params = PatchParams::apply(MANAGER).force();
    let results: Vec<Result<K, kube::Error>> = stream::iter(objects)
        .map(|object| {
            let params = params.clone();
            async move {
                let name = object.name_any();
                api.patch(&name, &params, &Patch::Apply(&object)).await
            }
        })
        .buffer_unordered(CREATE_CONCURRENCY)
        .collect()
        .await;
    for result in results {
        result.must("create");
    }
    started.elapsed()
}

/// Resolves, after `started`, once `count` objects of `api` satisfy `done`, watching.
pub fn wait_all<K>(
    api: Api<K>,
    count: usize,
    done: fn(&K) -> bool,
    started: Instant,
) -> impl Future<Output = Duration>
where
    K: Resource<DynamicType = ()> + Clone + Debug + DeserializeOwned + Send + Sync + 'static,
{
    let task = tokio::spawn(async move {
        let mut ready: HashSet<String> = HashSet::new();
        let mut events = watcher(api, watcher::Config::default())
            .default_backoff()
            .applied_objects()
            .boxed();
        while let Some(event) = events.next().await {
            let Ok(object) = event else { continue };
            if done(&object) {
                ready.insert(object.name_any());
                if ready.len() >= count {
                    return started.elapsed();
                }
            }
        }
        panic!("the watch ended before {count} objects were Available");
    });
    async move {
        tokio::time::timeout(Duration::from_secs(3600), task)
            .await
            .expect("every object Available within an hour")
            .must("the watch task")
    }
}

pub fn app_available(app: &App) -> bool {
    let generation = app.metadata.generation.unwrap_or_default();
    app.status.as_ref().is_some_and(|s| {
        s.conditions.iter().any(|c| {
            c.type_ == CONDITION_AVAILABLE
                && c.status == "True"
                && c.observed_generation == Some(generation)
        })
    })
}

pub fn deployment_available(d: &Deployment) -> bool {
    use kube::runtime::wait::Condition;
    readyroll_e2e::conditions::deployment_available().matches_object(Some(d))
}

/// What a convergence cost, from the API server's counters and the machine's CPU time.
pub async fn convergence(
    client: &Client,
    before: (ApiRequests, HostCpu),
    created: Duration,
    available: Duration,
    controller_cpu_seconds: Option<f64>,
    controller_flow_schema: Option<&str>,
) -> Convergence {
    let after = ApiRequests::read(client)
        .await
        .must("read the API server's metrics");
    let host = HostCpu::sample().must("read /proc/stat");
    let requests = after.since(&before.0);
    Convergence {
        create_ms: readyroll_e2e::bench::millis(created),
        available_ms: readyroll_e2e::bench::millis(available),
        controller_cpu_seconds,
        machine_busy_cpu_seconds: host.busy_since(&before.1),
        requests: requests_record(requests, controller_flow_schema),
    }
}

pub fn requests_record(requests: ApiRequests, controller_flow_schema: Option<&str>) -> Requests {
    Requests {
        controller: controller_flow_schema.map_or(0.0, |s| requests.flow_schema(s)),
        by_verb_resource: requests.by_verb_resource,
        by_flow_schema: requests.by_flow_schema,
    }
}

/// Waits until readyroll's service account sends no more than the budget over the quiet
/// window; returns when its last burst of requests began to die down (the window's start).
pub async fn wait_idle(client: &Client, timeout: Duration) -> Instant {
    wait_quiet(
        || async {
            ApiRequests::read(client)
                .await
                .must("read the API server's metrics")
                .flow_schema(SERVICE_ACCOUNTS_FLOW_SCHEMA)
        },
        timeout,
    )
    .await
}

/// Waits until the request counter `count` grows by no more than the budget over the quiet
/// window; returns the window's start.
pub async fn wait_quiet<F, Fut>(mut count: F, timeout: Duration) -> Instant
where
    F: FnMut() -> Fut,
    Fut: Future<Output = f64>,
{
    let deadline = Instant::now() + timeout;
    let mut history: Vec<(Instant, f64)> = Vec::new();
    loop {
        let value = count().await;
        let now = Instant::now();
        history.push((now, value));
        if let Some(&(at, earlier)) = history
            .iter()
            .rev()
            .find(|(at, _)| now.duration_since(*at) >= QUIET_WINDOW)
        {
            if value - earlier <= QUIET_BUDGET {
                return at;
            }
        }
        assert!(
            Instant::now() < deadline,
            "the controller was not idle within {timeout:?}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// `edits` edits, one at a time, of objects 0, 1, … (mod `objects`) of `api`: a merge patch
/// of `patch_of(value)`, timed from sending it until the watch on `watched` shows an object
/// of which `seen` says (edited object's name, the new value); and, of the same edits, the
/// time until the API server answered the patch (the edited object's own write, of which
/// the rest is the watch and, for a controller's object, the controller's work).
pub struct EditLatencies {
    pub seen: Option<Percentiles>,
    pub written: Option<Percentiles>,
}

pub async fn edit_latencies<K, W>(
    api: &Api<K>,
    watched: &Api<W>,
    objects: usize,
    edits: usize,
    patch_of: fn(&str) -> serde_json::Value,
    seen: fn(&W) -> Option<(String, String)>,
) -> EditLatencies
where
    K: Resource<DynamicType = (), Scope = NamespaceResourceScope>
        + Clone
        + Debug
        + DeserializeOwned,
    W: Resource<DynamicType = ()> + Clone + Debug + DeserializeOwned + Send + Sync + 'static,
{
    let (seen_tx, mut seen_rx) =
        tokio::sync::mpsc::unbounded_channel::<(String, String, Instant)>();
    let (synced_tx, synced) = tokio::sync::oneshot::channel::<()>();
    let watch = {
        let watched = watched.clone();
        tokio::spawn(async move {
            let mut synced_tx = Some(synced_tx);
            let mut events = watcher(watched, watcher::Config::default())
                .default_backoff()
                .boxed();
            while let Some(event) = events.next().await {
                let now = Instant::now();
                match event {
                    Ok(watcher::Event::InitDone) => {
                        if let Some(tx) = synced_tx.take() {
                            let _ = tx.send(());
                        }
                    }
                    Ok(watcher::Event::Apply(o)) | Ok(watcher::Event::InitApply(o)) => {
                        if let Some((name, value)) = seen(&o) {
                            if seen_tx.send((name, value, now)).is_err() {
                                return;
                            }
                        }
                    }
                    _ => {}
                }
            }
        })
    };
    synced.await.must("the watch started");
    let run = format!("{}", std::process::id());
    let mut samples = Vec::with_capacity(edits);
    let mut written = Vec::with_capacity(edits);
    for k in 0..edits {
        let name = name_of(k % objects);
        let value = format!("{run}-{k}");
        let sent = Instant::now();
        api.patch(
            &name,
            &PatchParams::default(),
            &Patch::Merge(&patch_of(&value)),
        )
        .await
        .must("patch");
        written.push(sent.elapsed());
        let deadline = sent + EDIT_TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let (seen_name, seen_value, at) = tokio::time::timeout(left, seen_rx.recv())
                .await
                .unwrap_or_else(|_| panic!("edit {k} of {name} not seen within {EDIT_TIMEOUT:?}"))
                .expect("the watch ended");
            if seen_name == name && seen_value == value {
                samples.push(at.duration_since(sent));
                break;
            }
        }
    }
    watch.abort();
    EditLatencies {
        seen: Percentiles::of(&samples),
        written: Percentiles::of(&written),
    }
}

/// An App edit: its pods' annotations.
pub fn app_edit(value: &str) -> serde_json::Value {
    json!({"spec": {"annotations": {EDIT_ANNOTATION: value}}})
}

/// A Deployment's (or Rollout's) edit: its pod template's annotations.
pub fn template_edit(value: &str) -> serde_json::Value {
    json!({"spec": {"template": {"metadata": {"annotations": {EDIT_ANNOTATION: value}}}}})
}

/// A Deployment with its template's edit annotation.
pub fn deployment_edited(d: &Deployment) -> Option<(String, String)> {
    let template = &d.spec.as_ref()?.template;
    Some((d.name_any(), edit_annotation(template)?))
}

pub fn edit_annotation(template: &PodTemplateSpec) -> Option<String> {
    template
        .metadata
        .as_ref()?
        .annotations
        .as_ref()?
        .get(EDIT_ANNOTATION)
        .cloned()
}

/// Busy CPUs over a few seconds before the run, and the load average: what else the
/// machine was doing.
async fn machine_load() -> String {
    let before = HostCpu::sample().must("read /proc/stat");
    let window = Duration::from_secs(3);
    tokio::time::sleep(window).await;
    let after = HostCpu::sample().must("read /proc/stat");
    let busy = after.busy_since(&before) / window.as_secs_f64();
    let loadavg = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let loadavg: Vec<&str> = loadavg.split_whitespace().take(3).collect();
    format!(
        "{busy:.2} CPUs busy just before the run, load average {}",
        loadavg.join(" ")
    )
}

/// The kube-controller-manager's `--kube-api-qps` / `--kube-api-burst` as it runs here.
fn controller_manager_client() -> String {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return "unknown".to_owned();
    };
    for entry in entries.flatten() {
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let args: Vec<String> = cmdline
            .split(|b| *b == 0)
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        if !args
            .first()
            .is_some_and(|a| a.ends_with("/kube-controller-manager"))
        {
            continue;
        }
        let flag = |name: &str, default: &str| {
            args.iter()
                .find_map(|a| a.strip_prefix(&format!("--{name}=")).map(str::to_owned))
                .unwrap_or_else(|| format!("{default} (default)"))
        };
        return format!(
            "QPS {}, burst {}",
            flag("kube-api-qps", "20"),
            flag("kube-api-burst", "30")
        );
    }
    "not running on this machine".to_owned()
}

/// Checks `record` and writes it where `make bench-report` takes scale records from. Called
/// before the run's cleanup: deleting tens of thousands of objects can outlast its deadline,
/// and the measurements are complete by then.
pub fn save(record: &ScaleRecord, settings: &Settings) {
    check_sane(record, settings);
    let path = record
        .write(&readyroll_e2e::bench::results_dir(env!(
            "CARGO_TARGET_TMPDIR"
        )))
        .must("write the scale record");
    eprintln!("scale: record written to {}", path.display());
}

/// The record's numbers are what a working harness produces: everything converged, each
/// edit was seen, the controller's process and requests were observed. No thresholds:
/// this is not a performance test.
fn check_sane(record: &ScaleRecord, settings: &Settings) {
    assert_eq!(record.objects, settings.objects);
    for (name, c) in [("plain", &record.plain), ("controlled", &record.controlled)] {
        assert!(
            c.create_ms > 0 && c.available_ms >= c.create_ms,
            "{name}: {c:?}"
        );
        assert!(
            c.requests.by_verb_resource.values().sum::<f64>() >= settings.objects as f64,
            "{name}: {c:?}"
        );
    }
    assert!(
        record.controlled.requests.controller >= settings.objects as f64,
        "the controller's requests were not seen: {:?}",
        record.controlled.requests.by_flow_schema
    );
    assert!(record
        .controlled
        .controller_cpu_seconds
        .is_some_and(|s| s > 0.0));
    for p in [&record.edit, &record.edit_write, &record.edit_floor] {
        let p = p.expect("edit latencies");
        assert_eq!(p.samples, settings.edits);
        assert!(
            p.p50_ms > 0.0 && p.p50_ms <= p.p99_ms && p.p99_ms <= p.max_ms,
            "{p:?}"
        );
    }
    assert!(record.memory.settled_rss_bytes > 0);
    assert!(record.memory.peak_rss_bytes >= record.memory.settled_rss_bytes);
    assert!(record.idle.window_ms >= settings.idle.as_millis() as u64);
    // A restarted controller that decides from its informers needs no request per object
    // (Argo Rollouts at 2,000 sent about one for every two): only that its requests were
    // seen at all is a fact about the measurement.
    if let Some(r) = &record.restart {
        assert!(r.requests.controller > 0.0, "{r:?}");
    }
}
