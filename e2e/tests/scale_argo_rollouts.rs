//! Argo Rollouts measured the way `node_scale` measures readyroll, for the columns beside
//! it in BENCHMARKS.md: its controller (built by `build-binaries.sh argo-rollouts`) runs as
//! a process of this test against the cluster, N one-replica `Rollout`s with the closest
//! strategy to readyroll's (canary, maxSurge 1, maxUnavailable 0, no steps, no traffic
//! routing) beside N plain Deployments. Its requests come from its own client metrics
//! (`controller_clientset_k8s_request_total`): it runs with the admin credentials, which the
//! API server does not tell apart from the test's.
//!
//! Run by `make bench-scale` only (needs ARGO_ROLLOUTS_BIN); no readyroll operator is
//! needed. Settings as in `node_scale`.
mod scale_support;

use std::{
    io::{Read, Write},
    net::{TcpListener, TcpStream},
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use k8s_openapi::{
    api::apps::v1::{Deployment, ReplicaSet},
    apimachinery::pkg::apis::meta::v1::LabelSelector,
};
use kube::{CustomResource, ResourceExt};
use readyroll_e2e::{
    bench::{BenchRecord, Idle, Memory, Restart, ScaleRecord},
    kubectl::Kubectl,
    scale::{counter_sum, ApiRequests, Process},
    Cluster, Must,
};
use scale_support::{
    convergence, create_all, deployment_available, deployment_edited, deployment_manifest,
    edit_annotation, edit_latencies, name_of, pod_template, requests_record, template_edit,
    wait_all, wait_quiet, workload_labels, Settings, World,
};
use serde::{Deserialize, Serialize};
use serde_json::json;

/// The part of Argo Rollouts' `Rollout` the benchmark writes and reads.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug)]
#[kube(
    group = "argoproj.io",
    version = "v1alpha1",
    kind = "Rollout",
    namespaced,
    status = "RolloutStatus",
    schema = "disabled"
)]
pub struct RolloutSpec {
    pub replicas: i32,
    pub selector: LabelSelector,
    pub template: k8s_openapi::api::core::v1::PodTemplateSpec,
    pub strategy: serde_json::Value,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default)]
#[serde(rename_all = "camelCase")]
pub struct RolloutStatus {
    #[serde(default)]
    pub phase: Option<String>,
    /// A string in Argo Rollouts' schema.
    #[serde(default)]
    pub observed_generation: Option<String>,
}

const CONTROLLER_METRICS_REQUESTS: &str = "controller_clientset_k8s_request_total";
const CONTROLLER_METRICS_RECONCILES: &str = "rollout_reconcile_count";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs ARGO_ROLLOUTS_BIN and kwok: run by make bench-scale"]
async fn rollouts_converge_edit_idle_and_restart_beside_plain_deployments() {
    let started = Instant::now();
    let settings = Settings::from_env();
    let binary = argo_binary();
    let cluster = Cluster::require().await;
    let kubectl = Kubectl::require(cluster.kubeconfig());
    let crd = crd_path(&binary);
    let applied = kubectl.run(["apply", "--server-side", "-f", &crd.display().to_string()]);
    assert!(
        applied.success(),
        "install the Rollout CRD: {}",
        applied.stderr()
    );
    let world = World::start(&cluster, "scale-argo", &settings).await;
    let client = cluster.client();
    let mut controller = ArgoController::start(&binary, &cluster);
    let n = settings.objects;

    let deployments: kube::Api<Deployment> = world.plain.api();
    let plain = {
        let before = (
            ApiRequests::read(&client).await.must("metrics"),
            world.host(),
        );
        let started = Instant::now();
        let watch = wait_all(deployments.clone(), n, deployment_available, started);
        let objects = (0..n).map(|i| deployment_manifest(&world, i));
        let created = create_all(&deployments, objects, started).await;
        let available = watch.await;
        convergence(&client, before, created, available, None, None).await
    };
    eprintln!(
        "scale: {n} plain Deployments available in {} ms",
        plain.available_ms
    );

    let rollouts: kube::Api<Rollout> = world.apps.api();
    let controlled = {
        let cpu = controller.sample().cpu_seconds;
        let requests = controller.requests();
        let before = (
            ApiRequests::read(&client).await.must("metrics"),
            world.host(),
        );
        let started = Instant::now();
        let watch = wait_all(rollouts.clone(), n, rollout_healthy, started);
        let objects = (0..n).map(|i| rollout_manifest(&world, i));
        let created = create_all(&rollouts, objects, started).await;
        let available = watch.await;
        let cpu = controller.sample().cpu_seconds - cpu;
        let mut c = convergence(&client, before, created, available, Some(cpu), None).await;
        c.requests.controller = controller.requests() - requests;
        c
    };
    eprintln!(
        "scale: {n} Rollouts healthy in {} ms",
        controlled.available_ms
    );
    controller.wait_idle().await;

    let idle = {
        let requests = controller.requests();
        let cpu = controller.sample().cpu_seconds;
        let window = Instant::now();
        tokio::time::sleep(settings.idle).await;
        Idle {
            window_ms: readyroll_e2e::bench::millis(window.elapsed()),
            controller_cpu_seconds: controller.sample().cpu_seconds - cpu,
            controller_requests: controller.requests() - requests,
        }
    };
    let settled_rss_bytes = controller.sample().rss_bytes;

    // Argo Rollouts makes the ReplicaSets itself: a Rollout's edit shows as the new
    // ReplicaSet (owned by the Rollout) carrying the new template.
    let replica_sets: kube::Api<ReplicaSet> = world.apps.api();
    let edits = settings.edits;
    let edit = edit_latencies(
        &rollouts,
        &replica_sets,
        n,
        edits,
        template_edit,
        replica_set_edited,
    )
    .await;
    let edit_floor = edit_latencies(
        &deployments,
        &deployments,
        n,
        edits,
        template_edit,
        deployment_edited,
    )
    .await;
    eprintln!("scale: edit → ReplicaSet {edit:?}; write + watch floor {edit_floor:?}");
    let peak_rss_bytes = controller.sample().peak_rss_bytes;
    // The edits roll pods: the restart is measured once they are done.
    controller.wait_idle().await;

    let restart = {
        let before = ApiRequests::read(&client).await.must("metrics");
        let restarted = Instant::now();
        controller.restart(&binary, &cluster);
        controller.wait_reconciled(n).await;
        let quiet_since = controller.wait_idle().await;
        let after = ApiRequests::read(&client).await.must("metrics");
        let mut requests = requests_record(after.since(&before), None);
        requests.controller = controller.requests();
        Restart {
            idle_ms: readyroll_e2e::bench::millis(quiet_since.saturating_duration_since(restarted)),
            controller_cpu_seconds: controller.sample().cpu_seconds,
            requests,
        }
    };
    eprintln!("scale: restart → idle in {} ms", restart.idle_ms);

    let record = ScaleRecord {
        controller: "argo-rollouts".to_owned(),
        objects: n,
        build: String::new(),
        recorded_at: BenchRecord::now_rfc3339(),
        test_duration_ms: readyroll_e2e::bench::millis(started.elapsed()),
        environment: world
            .environment(&client, format!("rollouts-controller {}", argo_version()))
            .await,
        plain,
        controlled,
        restart: Some(restart),
        edit,
        edit_floor,
        memory: Memory {
            peak_rss_bytes,
            settled_rss_bytes,
        },
        idle,
    };
    drop(controller);
    world.finish(&cluster).await;
    let removed = kubectl.run([
        "delete",
        "--ignore-not-found",
        "-f",
        &crd.display().to_string(),
    ]);
    assert!(
        removed.success(),
        "remove the Rollout CRD: {}",
        removed.stderr()
    );
    scale_support::check_sane(&record, &settings);
    let path = record
        .write(&readyroll_e2e::bench::results_dir(env!(
            "CARGO_TARGET_TMPDIR"
        )))
        .must("write the scale record");
    eprintln!("scale: record written to {}", path.display());
}

fn rollout_manifest(world: &World, i: usize) -> Rollout {
    Rollout::new(
        &name_of(i),
        RolloutSpec {
            replicas: 1,
            selector: LabelSelector {
                match_labels: Some(workload_labels(i)),
                ..Default::default()
            },
            template: pod_template(world, i),
            strategy: json!({"canary": {"maxSurge": 1, "maxUnavailable": 0}}),
        },
    )
}

fn rollout_healthy(r: &Rollout) -> bool {
    let generation = r.metadata.generation.unwrap_or_default().to_string();
    r.status.as_ref().is_some_and(|s| {
        s.phase.as_deref() == Some("Healthy")
            && s.observed_generation.as_deref() == Some(generation.as_str())
    })
}

/// A ReplicaSet of a Rollout: (the Rollout's name, its template's edit annotation).
fn replica_set_edited(rs: &ReplicaSet) -> Option<(String, String)> {
    let owner = rs
        .owner_references()
        .iter()
        .find(|o| o.kind == "Rollout")?
        .name
        .clone();
    Some((
        owner,
        edit_annotation(rs.spec.as_ref()?.template.as_ref()?)?,
    ))
}

fn argo_binary() -> PathBuf {
    let dir = std::env::var_os("ARGO_ROLLOUTS_BIN").unwrap_or_else(|| {
        panic!("ARGO_ROLLOUTS_BIN is not set: run make bench-scale, which builds Argo Rollouts")
    });
    let binary = PathBuf::from(dir).join("rollouts-controller");
    assert!(
        binary.is_file(),
        "{} is missing: run e2e/cluster/build-binaries.sh argo-rollouts",
        binary.display()
    );
    binary
}

fn argo_version() -> String {
    std::env::var("ARGO_ROLLOUTS_VERSION").unwrap_or_else(|_| "unknown".to_owned())
}

/// The CRD shipped in the module the binary was built from (its module cache copy).
fn crd_path(binary: &std::path::Path) -> PathBuf {
    let cache = std::env::var_os("GOMODCACHE")
        .map(PathBuf::from)
        .or_else(|| {
            // build-binaries.sh keeps the module cache beside the bin directory.
            Some(binary.parent()?.parent()?.parent()?.join("go/mod"))
        })
        .expect("a Go module cache");
    let path = cache
        .join(format!(
            "github.com/argoproj/argo-rollouts@{}",
            argo_version()
        ))
        .join("manifests/crds/rollout-crd.yaml");
    assert!(path.is_file(), "{} is missing", path.display());
    path
}

/// The controller as a child process of the test, killed when dropped.
struct ArgoController {
    child: Child,
    process: Process,
    metrics_port: u16,
}

impl ArgoController {
    fn start(binary: &std::path::Path, cluster: &Cluster) -> Self {
        let metrics_port = free_port();
        let healthz_port = free_port();
        let log = std::env::temp_dir().join(format!("rollouts-controller-{metrics_port}.log"));
        let log_file = std::fs::File::create(&log).must("controller log file");
        let child = Command::new(binary)
            .arg(format!("--kubeconfig={}", cluster.kubeconfig().display()))
            .args(["--leader-elect=false", "--loglevel=warn"])
            .arg(format!("--metricsPort={metrics_port}"))
            .arg(format!("--healthzPort={healthz_port}"))
            .stdout(Stdio::null())
            .stderr(log_file)
            .spawn()
            .must("start rollouts-controller");
        let process = Process::from_pid(child.id());
        let controller = ArgoController {
            child,
            process,
            metrics_port,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while controller.metrics().is_none() {
            assert!(
                Instant::now() < deadline && controller.process.is_alive(),
                "rollouts-controller did not serve metrics within 60 s; see {}",
                log.display()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        controller
    }

    fn restart(&mut self, binary: &std::path::Path, cluster: &Cluster) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        *self = ArgoController::start(binary, cluster);
    }

    fn sample(&self) -> readyroll_e2e::scale::ProcessSample {
        self.process.sample().must("rollouts-controller stats")
    }

    fn metrics(&self) -> Option<String> {
        let mut stream = TcpStream::connect(("127.0.0.1", self.metrics_port)).ok()?;
        stream
            .write_all(b"GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
            .ok()?;
        let mut text = String::new();
        stream.read_to_string(&mut text).ok()?;
        text.contains(" 200 ").then_some(text)
    }

    fn requests(&self) -> f64 {
        counter_sum(
            &self.metrics().expect("rollouts-controller metrics"),
            CONTROLLER_METRICS_REQUESTS,
        )
    }

    async fn wait_idle(&self) -> Instant {
        wait_quiet(|| async { self.requests() }, Duration::from_secs(600)).await
    }

    async fn wait_reconciled(&self, rollouts: usize) {
        let deadline = Instant::now() + Duration::from_secs(600);
        loop {
            let text = self.metrics().unwrap_or_default();
            if counter_sum(&text, CONTROLLER_METRICS_RECONCILES) >= rollouts as f64 {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the restarted rollouts-controller did not reconcile {rollouts} Rollouts within 600 s"
            );
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
}

impl Drop for ArgoController {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .must("a free port")
}
