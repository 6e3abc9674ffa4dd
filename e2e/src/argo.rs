//! Argo Rollouts, the controller readyroll is compared with: its `Rollout` resource (the
//! part the benchmarks write and read), its CRD from the Go module it was built from, and
//! its controller (`build-binaries.sh argo-rollouts`) as a child process of a test.
//!
//! Needs `ARGO_ROLLOUTS_BIN` and `ARGO_ROLLOUTS_VERSION` (e2e/cluster/env.sh), and the Go
//! module cache (`GOMODCACHE`, or the one build-binaries.sh keeps beside the binaries).

use std::{
    io::{Read, Write},
    net::{TcpListener, TcpStream},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use k8s_openapi::{
    api::core::v1::PodTemplateSpec, apimachinery::pkg::apis::meta::v1::LabelSelector,
};
use kube::CustomResource;
use serde::{Deserialize, Serialize};

use crate::{
    kubectl::Kubectl,
    scale::{counter_sum, Process, ProcessSample},
    Cluster, Must,
};

/// The controller's client metric: API requests by verb and resource.
pub const CONTROLLER_METRICS_REQUESTS: &str = "controller_clientset_k8s_request_total";
/// Reconciles of Rollouts.
pub const CONTROLLER_METRICS_RECONCILES: &str = "rollout_reconcile_count";
/// The label Argo Rollouts puts on a Rollout's ReplicaSets and pods.
pub const POD_TEMPLATE_HASH: &str = "rollouts-pod-template-hash";

/// Argo Rollouts' `Rollout`, as far as the benchmarks use it.
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
    pub template: PodTemplateSpec,
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
    #[serde(default)]
    pub replicas: Option<i32>,
    #[serde(default)]
    pub updated_replicas: Option<i32>,
    #[serde(default)]
    pub available_replicas: Option<i32>,
    /// The pod-template hash of the spec's template.
    #[serde(default)]
    pub current_pod_hash: Option<String>,
    /// The hash of the ReplicaSet that is stable (fully promoted).
    #[serde(default, rename = "stableRS")]
    pub stable_rs: Option<String>,
}

/// The Rollout has seen its spec and reports itself Healthy: every replica updated and
/// available, the new ReplicaSet promoted to stable.
pub fn rollout_healthy(r: &Rollout) -> bool {
    let generation = r.metadata.generation.unwrap_or_default().to_string();
    r.status.as_ref().is_some_and(|s| {
        s.phase.as_deref() == Some("Healthy")
            && s.observed_generation.as_deref() == Some(generation.as_str())
            && s.current_pod_hash.is_some()
            && s.current_pod_hash == s.stable_rs
    })
}

/// `$ARGO_ROLLOUTS_BIN/rollouts-controller`.
pub fn binary() -> PathBuf {
    let dir = std::env::var_os("ARGO_ROLLOUTS_BIN").unwrap_or_else(|| {
        panic!("ARGO_ROLLOUTS_BIN is not set: the make targets that compare with Argo Rollouts build it and set it")
    });
    let binary = PathBuf::from(dir).join("rollouts-controller");
    assert!(
        binary.is_file(),
        "{} is missing: run e2e/cluster/build-binaries.sh argo-rollouts",
        binary.display()
    );
    binary
}

pub fn version() -> String {
    std::env::var("ARGO_ROLLOUTS_VERSION").unwrap_or_else(|_| "unknown".to_owned())
}

/// The CRDs shipped in the module the binary was built from (its module cache copy): the
/// `Rollout` and the kinds its controller also watches (analysis runs and templates,
/// experiments). The controller waits for a first list of each before it reconciles
/// anything, so with the Rollout CRD alone it never starts.
pub fn crd_paths(binary: &Path) -> Vec<PathBuf> {
    let cache = std::env::var_os("GOMODCACHE")
        .map(PathBuf::from)
        .or_else(|| {
            // build-binaries.sh keeps the module cache beside the bin directory.
            Some(binary.parent()?.parent()?.parent()?.join("go/mod"))
        })
        .expect("a Go module cache");
    let dir = cache
        .join(format!("github.com/argoproj/argo-rollouts@{}", version()))
        .join("manifests/crds");
    CRD_FILES
        .iter()
        .map(|file| {
            let path = dir.join(file);
            assert!(path.is_file(), "{} is missing", path.display());
            path
        })
        .collect()
}

/// The files of `manifests/crds` (beside its kustomization.yaml).
const CRD_FILES: [&str; 5] = [
    "rollout-crd.yaml",
    "analysis-run-crd.yaml",
    "analysis-template-crd.yaml",
    "cluster-analysis-template-crd.yaml",
    "experiment-crd.yaml",
];

/// Installs (or updates) Argo Rollouts' CRDs with server-side apply.
pub fn install_crds(kubectl: &Kubectl, binary: &Path) {
    let mut args = vec!["apply".to_owned(), "--server-side".to_owned()];
    for path in crd_paths(binary) {
        args.extend(["-f".to_owned(), path.display().to_string()]);
    }
    let applied = kubectl.run(&args);
    assert!(
        applied.success(),
        "install the Argo Rollouts CRDs: {}",
        applied.stderr()
    );
}

/// Removes them again.
pub fn remove_crds(kubectl: &Kubectl, binary: &Path) {
    let mut args = vec!["delete".to_owned(), "--ignore-not-found".to_owned()];
    for path in crd_paths(binary) {
        args.extend(["-f".to_owned(), path.display().to_string()]);
    }
    let removed = kubectl.run(&args);
    assert!(
        removed.success(),
        "remove the Argo Rollouts CRDs: {}",
        removed.stderr()
    );
}

/// The controller as a child process of the test, killed when dropped.
pub struct ArgoController {
    child: Child,
    process: Process,
    metrics_port: u16,
}

impl ArgoController {
    /// Starts it against `cluster` with the admin credentials, without leader election,
    /// and waits until it serves its metrics.
    pub fn start(binary: &Path, cluster: &Cluster) -> Self {
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

    /// Kills it and starts a new one.
    pub fn restart(&mut self, binary: &Path, cluster: &Cluster) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        *self = ArgoController::start(binary, cluster);
    }

    pub fn sample(&self) -> ProcessSample {
        self.process.sample().must("rollouts-controller stats")
    }

    /// Its Prometheus metrics page, or `None` while it does not answer.
    pub fn metrics(&self) -> Option<String> {
        let mut stream = TcpStream::connect(("127.0.0.1", self.metrics_port)).ok()?;
        stream
            .write_all(b"GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
            .ok()?;
        let mut text = String::new();
        stream.read_to_string(&mut text).ok()?;
        text.contains(" 200 ").then_some(text)
    }

    /// API requests it has sent so far.
    pub fn requests(&self) -> f64 {
        counter_sum(
            &self.metrics().expect("rollouts-controller metrics"),
            CONTROLLER_METRICS_REQUESTS,
        )
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
