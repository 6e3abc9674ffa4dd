//! Per-test setup: the App CRD, a namespace, a kwok node of the test's own,
//! and the controller running in-process, watching that namespace.

use std::collections::BTreeMap;
use std::sync::Once;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{ResourceRequirements, Toleration};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use kube::api::{Patch, PatchParams};
use kube::runtime::wait::conditions::is_crd_established;
use kube::{Api, CustomResourceExt, ResourceExt};
use readyroll::controller::{self, ControllerConfig};
use readyroll::core::BuildOptions;
use readyroll::crd::{App, AppSpec, Instances};
use readyroll::telemetry::{Health, Metrics};
use readyroll_e2e::kwok::{NODE_LABEL_KEY, NODE_LABEL_VALUE, TAINT_KEY};
use readyroll_e2e::{wait_for, Cluster, KwokNode, Must, TestNamespace};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Long enough for a busy shared machine; a healthy run takes seconds.
pub const TIMEOUT: Duration = Duration::from_secs(90);

/// kwok never pulls images; a real node must never run this one.
pub const FAKE_IMAGE: &str = "readyroll.invalid/app:1";

/// The shim image the controller is configured with (unused on kwok).
pub const SHIM_IMAGE: &str = "readyroll.invalid/readyroll:test";

/// Field manager of the test's own writes.
pub const TEST_MANAGER: &str = "readyroll-e2e";

/// Label that ties an App to the kwok nodes of one test: other tests add
/// and remove nodes concurrently, and `instances: 0` counts what it selects.
pub const TEST_NODE_LABEL: &str = "readyroll.dev/e2e-test";

/// One test's world. Fields drop in order: the controller stops first, then
/// the node and the namespace go.
pub struct Env {
    controller: RunningController,
    /// Held for its `Drop`, which deletes the node.
    _node: KwokNode,
    pub ns: TestNamespace,
    pub cluster: Cluster,
    /// Value of [`TEST_NODE_LABEL`] on this test's nodes.
    pub node_group: String,
    name: &'static str,
    _timer: Timer,
}

impl Env {
    /// Sets up `name`'s world with one kwok node of `cpus` CPUs.
    pub async fn start(name: &'static str, cpus: u32) -> Env {
        let timer = Timer::start(name);
        init_logging();
        let cluster = Cluster::require().await;
        install_crd(&cluster).await;
        let ns = TestNamespace::new(&cluster, name)
            .await
            .must("create namespace");
        let node_group = ns.name().to_string();
        let node = KwokNode::create_with_labels(&cluster, name, cpus, node_labels(&node_group))
            .await
            .must("create kwok node");
        let controller = RunningController::start(&cluster, ns.name());
        controller.wait_until_ready().await;
        Env {
            controller,
            _node: node,
            ns,
            cluster,
            node_group,
            name,
            _timer: timer,
        }
    }

    /// Another kwok node in this test's group.
    pub async fn add_node(&self, cpus: u32) -> KwokNode {
        KwokNode::create_with_labels(
            &self.cluster,
            self.name,
            cpus,
            node_labels(&self.node_group),
        )
        .await
        .must("create another kwok node")
    }

    /// An App placed on this test's kwok nodes: selected by the group label,
    /// tolerating kwok's taint, with a port (so it gets a Service).
    pub fn app(&self, name: &str, instances: i32) -> App {
        let mut app = App::new(
            name,
            AppSpec {
                image: FAKE_IMAGE.into(),
                instances: Some(Instances::from_pm2(i64::from(instances)).must("valid instances")),
                port: Some(8080),
                node_selector: BTreeMap::from([
                    (NODE_LABEL_KEY.to_string(), NODE_LABEL_VALUE.to_string()),
                    (TEST_NODE_LABEL.to_string(), self.node_group.clone()),
                ]),
                tolerations: vec![Toleration {
                    key: Some(TAINT_KEY.into()),
                    operator: Some("Exists".into()),
                    effect: Some("NoSchedule".into()),
                    ..Default::default()
                }],
                resources: Some(ResourceRequirements {
                    requests: Some(BTreeMap::from([(
                        "cpu".to_string(),
                        Quantity("100m".into()),
                    )])),
                    ..Default::default()
                }),
                ..Default::default()
            },
        );
        app.metadata.namespace = Some(self.ns.name().to_string());
        app
    }

    /// Creates or updates `app` as the test's field manager.
    pub async fn apply(&self, app: &App) -> App {
        let mut body = app.clone();
        body.metadata.managed_fields = None;
        body.metadata.resource_version = None;
        body.status = None;
        self.ns
            .api::<App>()
            .patch(
                &app.name_any(),
                &PatchParams::apply(TEST_MANAGER).force(),
                &Patch::Apply(&body),
            )
            .await
            .must("apply App")
    }

    /// The desired objects exactly as the controller computes them now.
    pub fn build_options() -> BuildOptions {
        BuildOptions {
            shim_image: SHIM_IMAGE.into(),
        }
    }

    /// The controller's metrics registry, what its `/metrics` serves.
    pub fn metrics(&self) -> Metrics {
        self.controller.metrics.clone()
    }

    /// Stops the controller (as a SIGTERM would) and waits until it has.
    pub async fn stop_controller(&mut self) {
        self.controller.stop().await;
    }
}

/// Prints how long a test took, for the record of test durations.
struct Timer {
    name: &'static str,
    started: Instant,
}

impl Timer {
    fn start(name: &'static str) -> Self {
        Timer {
            name,
            started: Instant::now(),
        }
    }
}

impl Drop for Timer {
    fn drop(&mut self) {
        let outcome = if std::thread::panicking() {
            "failed"
        } else {
            "passed"
        };
        eprintln!(
            "readyroll-e2e: {} {outcome} in {:.1}s",
            self.name,
            self.started.elapsed().as_secs_f64()
        );
    }
}

/// The API server alone: the CRD and a namespace, no controller, no node.
pub struct ApiEnv {
    pub ns: TestNamespace,
    pub cluster: Cluster,
    _timer: Timer,
}

impl ApiEnv {
    pub async fn start(name: &'static str) -> ApiEnv {
        let timer = Timer::start(name);
        init_logging();
        let cluster = Cluster::require().await;
        install_crd(&cluster).await;
        let ns = TestNamespace::new(&cluster, name)
            .await
            .must("create namespace");
        ApiEnv {
            ns,
            cluster,
            _timer: timer,
        }
    }
}

fn node_labels(group: &str) -> BTreeMap<String, String> {
    BTreeMap::from([(TEST_NODE_LABEL.to_string(), group.to_string())])
}

/// The controller, run in this process exactly as `readyroll run` runs it.
struct RunningController {
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
    health: Health,
    metrics: Metrics,
}

impl RunningController {
    fn start(cluster: &Cluster, namespace: &str) -> Self {
        let (stop, stopped) = oneshot::channel::<()>();
        let config = ControllerConfig::new(
            cluster.client(),
            Some(namespace.to_string()),
            Env::build_options(),
        );
        let health = config.health.clone();
        let metrics = config.metrics.clone();
        let task = tokio::spawn(controller::run(config, async move {
            let _ = stopped.await;
        }));
        RunningController {
            stop: Some(stop),
            task: Some(task),
            health,
            metrics,
        }
    }

    /// The controller reports ready (what `/readyz` serves) once its
    /// caches are synced.
    async fn wait_until_ready(&self) {
        let deadline = Instant::now() + TIMEOUT;
        while !self.health.is_ready() {
            assert!(
                Instant::now() < deadline,
                "controller not ready within {TIMEOUT:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            tokio::time::timeout(TIMEOUT, task)
                .await
                .must("controller stops within the timeout")
                .must("controller task");
        }
    }
}

impl Drop for RunningController {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Installs (or updates) the App CRD from the Rust types and waits until
/// the API server serves it.
async fn install_crd(cluster: &Cluster) {
    let crds: Api<CustomResourceDefinition> = Api::all(cluster.client());
    let crd = App::crd();
    let name = crd.name_any();
    crds.patch(
        &name,
        &PatchParams::apply(TEST_MANAGER).force(),
        &Patch::Apply(&crd),
    )
    .await
    .must("apply the App CRD");
    wait_for(&crds, &name, is_crd_established(), TIMEOUT)
        .await
        .must("CRD established in time");
}

/// Controller logs go to the test output (shown for failing tests);
/// `RUST_LOG` picks the level.
fn init_logging() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let filter = std::env::var("RUST_LOG").unwrap_or_else(|_| "readyroll=info".into());
        let _ = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_test_writer()
            .try_init();
    });
}

/// `Option::expect` in the style of [`Must`].
pub trait MustSome<T> {
    fn must_some(self, what: &str) -> T;
}

impl<T> MustSome<T> for Option<T> {
    #[track_caller]
    fn must_some(self, what: &str) -> T {
        match self {
            Some(value) => value,
            None => panic!("{what}: missing"),
        }
    }
}
