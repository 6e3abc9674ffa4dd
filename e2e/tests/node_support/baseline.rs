//! The two workloads every node test rolls through the same steps under the same load: the
//! App readyroll is asked to run, and the baseline it is measured against, the same
//! application as a plain Deployment the way a typical user writes one, behind a NodePort
//! Service. The baseline's failures are recorded for BENCHMARKS.md, not asserted on. When
//! the Argo Rollouts controller is built (`ARGO_ROLLOUTS_BIN`), a `Rollout` of the same pod
//! template with Argo's defaults is rolled too, as a third column.
use k8s_openapi::api::core::v1::Service;
use kube::api::PostParams;
use readyroll_e2e::{
    argo::{self, ArgoController},
    kubectl::Kubectl,
    Must,
};
use serde_json::{json, Value};

use super::{
    pods::PodTracker,
    rollouts::{roll_under_load, ScenarioRun, Step},
    workload::{Desired, Workload},
    NodeEnv,
};

/// Set to `1` to roll the plain-Deployment baseline beside the App and write the record.
pub const BASELINES_ENV: &str = "READYROLL_NODE_BASELINES";

/// A node test's rollouts: the App readyroll runs and the baseline it is measured against,
/// rolled from `initial` through the same `steps`.
pub struct Contest {
    /// The test, naming its benchmark record.
    pub test: &'static str,
    pub initial: Desired,
    pub steps: Vec<Step>,
    /// What the log and the benchmark record call the App's run, and how it is set up.
    pub app: (&'static str, &'static str),
    pub baseline: Baseline,
}

/// The plain Deployment `name` of the one `container` (serving `port`), called `label`
/// and set up as `setup`.
pub struct Baseline {
    pub name: &'static str,
    pub port: i32,
    pub container: Value,
    pub label: &'static str,
    pub setup: &'static str,
}

impl NodeEnv {
    /// Rolls the App `manifest(node_port)` through the contest's steps under load.
    pub async fn roll_app(
        &self,
        contest: &Contest,
        manifest: impl FnOnce(i32) -> Value,
    ) -> ScenarioRun {
        let (node_port, addr) = self.node_port().await;
        let app = Workload::app(&self.ns, manifest(node_port));
        let run = roll_under_load(&app, contest.initial.clone(), &contest.steps, addr).await;
        eprintln!("{}", run.summary(contest.app.0));
        run
    }

    /// With `READYROLL_NODE_BASELINES=1` (`make bench-zero-downtime`), rolls the baseline
    /// through the same steps and records both runs for BENCHMARKS.md (the baseline's
    /// failures are printed, not asserted on). Then, in every case, asserts that the App's
    /// run failed no request. `make test` leaves the baseline out: it is a comparison for
    /// the benchmark, several minutes per test, and asserts nothing about readyroll.
    pub async fn against_baseline(
        &self,
        contest: Contest,
        readyroll: ScenarioRun,
        tracker: &PodTracker,
    ) {
        let Contest {
            test,
            initial,
            steps,
            app,
            baseline,
        } = contest;
        if std::env::var(BASELINES_ENV).as_deref() != Ok("1") {
            eprintln!(
                "{} skipped ({BASELINES_ENV} is not 1; make bench-zero-downtime runs it); \
                 no benchmark record written",
                baseline.label
            );
            readyroll.assert_zero_downtime(tracker);
            return;
        }
        let (node_port, addr) = self.node_port().await;
        self.ns
            .api::<Service>()
            .create(
                &PostParams::default(),
                &plain_service(baseline.name, baseline.port, node_port),
            )
            .await
            .must("create the plain Service");
        let plain = Workload::plain(
            &self.ns,
            plain_deployment(baseline.name, baseline.container.clone()),
        );
        let plain = roll_under_load(&plain, initial.clone(), &steps, addr).await;
        eprintln!("{}", plain.summary(baseline.label));
        if plain.load.tally().failed > 0 {
            eprintln!(
                "first failures of the plain Deployment:\n{}",
                plain.failure_lines(10)
            );
        }
        let mut scenarios = vec![
            readyroll.scenario(app.0, app.1),
            plain.scenario(baseline.label, baseline.setup),
        ];
        match std::env::var_os("ARGO_ROLLOUTS_BIN") {
            Some(_) => {
                let argo = self.roll_argo(&baseline, initial, &steps).await;
                scenarios.push(argo.scenario(ARGO_LABEL, ARGO_SETUP));
            }
            None => eprintln!(
                "{ARGO_LABEL} skipped: ARGO_ROLLOUTS_BIN is not set (make bench-zero-downtime builds and sets it)"
            ),
        }
        self.record(test, scenarios, vec![]).await;
        readyroll.assert_zero_downtime(tracker);
    }
}

/// How the third column is called and set up.
const ARGO_LABEL: &str = "Argo Rollouts Rollout (its defaults)";
const ARGO_SETUP: &str = "the baseline's pod template in an Argo Rollouts Rollout, strategy \
canary with no steps and no traffic routing (Argo's defaults: maxSurge 25 %, maxUnavailable \
25 %), its controller run as a local process, same NodePort Service shape";

impl NodeEnv {
    /// Rolls the baseline's pod template as an Argo Rollouts `Rollout` through the same steps
    /// under the same load, with its controller running for just this run.
    async fn roll_argo(
        &self,
        baseline: &Baseline,
        initial: Desired,
        steps: &[Step],
    ) -> ScenarioRun {
        let binary = argo::binary();
        argo::install_crds(&Kubectl::require(self.cluster.kubeconfig()), &binary);
        let controller = ArgoController::start(&binary, &self.cluster);
        let name = format!("argo-{}", baseline.name);
        let (node_port, addr) = self.node_port().await;
        self.ns
            .api::<Service>()
            .create(
                &PostParams::default(),
                &plain_service(&name, baseline.port, node_port),
            )
            .await
            .must("create the Rollout's Service");
        let rollout = Workload::argo(&self.ns, argo_rollout(&name, baseline.container.clone()));
        let run = roll_under_load(&rollout, initial, steps, addr).await;
        drop(controller);
        eprintln!("{}", run.summary(ARGO_LABEL));
        if run.load.tally().failed > 0 {
            eprintln!(
                "first failures of the Argo Rollout:\n{}",
                run.failure_lines(10)
            );
        }
        run
    }
}

/// The plain Deployment's manifest as a Rollout: same labels and template, Argo's default
/// canary strategy.
fn argo_rollout(name: &str, container: Value) -> Value {
    let mut manifest = plain_deployment(name, container);
    manifest["apiVersion"] = json!("argoproj.io/v1alpha1");
    manifest["kind"] = json!("Rollout");
    manifest["spec"]["strategy"] = json!({"canary": {}});
    manifest
}

fn labels(name: &str) -> Value {
    json!({"app.kubernetes.io/name": name, "app.kubernetes.io/instance": name})
}

fn plain_deployment(name: &str, container: Value) -> Value {
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": labels(name)},
        "spec": {
            "selector": {"matchLabels": labels(name)},
            "template": {
                "metadata": {"labels": labels(name)},
                "spec": {"containers": [container]}
            }
        }
    })
}

fn plain_service(name: &str, port: i32, node_port: i32) -> Service {
    serde_json::from_value(json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name},
        "spec": {
            "type": "NodePort",
            "selector": labels(name),
            "ports": [{"port": port, "targetPort": port, "nodePort": node_port}],
        }
    }))
    .must("plain Service manifest")
}
