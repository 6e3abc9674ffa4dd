//! The two workloads every node test rolls through the same steps under the same load: the
//! App readyroll is asked to run, and the baseline it is measured against, the same
//! application as a plain Deployment the way a typical user writes one, behind a NodePort
//! Service. The baseline's failures are recorded for BENCHMARKS.md, not asserted on.
use k8s_openapi::api::core::v1::Service;
use kube::api::PostParams;
use readyroll_e2e::Must;
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
            plain_deployment(baseline.name, baseline.container),
        );
        let plain = roll_under_load(&plain, initial, &steps, addr).await;
        eprintln!("{}", plain.summary(baseline.label));
        if plain.load.tally().failed > 0 {
            eprintln!(
                "first failures of the plain Deployment:\n{}",
                plain.failure_lines(10)
            );
        }
        let scenarios = vec![
            readyroll.scenario(app.0, app.1),
            plain.scenario(baseline.label, baseline.setup),
        ];
        self.record(test, scenarios, vec![]).await;
        readyroll.assert_zero_downtime(tracker);
    }
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
