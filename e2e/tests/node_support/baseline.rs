//! The two workloads every node test rolls through the same steps under the same load: the
//! App readyroll is asked to run, and the baseline it is measured against, the same
//! application as a plain Deployment the way a typical user writes one, behind a NodePort
//! Service. The baseline's failures are recorded for BENCHMARKS.md, not asserted on.
use k8s_openapi::api::core::v1::Service;
use kube::api::PostParams;
use readyroll_e2e::Must;
use serde_json::{json, Value};

use super::{
    rollouts::{roll_under_load, ScenarioRun, Step},
    workload::{Desired, Workload},
    NodeEnv,
};

impl NodeEnv {
    /// Rolls the App `manifest(node_port)` through `steps` under load.
    pub async fn roll_app(
        &self,
        manifest: impl FnOnce(i32) -> Value,
        initial: Desired,
        steps: &[Step],
    ) -> ScenarioRun {
        let (node_port, addr) = self.node_port().await;
        let app = Workload::app(&self.ns, manifest(node_port));
        roll_under_load(&app, initial, steps, addr).await
    }

    /// Rolls the plain Deployment `name` of the one `container` (serving `port`) through
    /// `steps` under load, and prints its summary (as `label`) and first failures.
    pub async fn roll_baseline(
        &self,
        name: &str,
        port: i32,
        container: Value,
        initial: Desired,
        steps: &[Step],
        label: &str,
    ) -> ScenarioRun {
        let (node_port, addr) = self.node_port().await;
        self.ns
            .api::<Service>()
            .create(
                &PostParams::default(),
                &plain_service(name, port, node_port),
            )
            .await
            .must("create the plain Service");
        let plain = Workload::plain(&self.ns, plain_deployment(name, container));
        let baseline = roll_under_load(&plain, initial, steps, addr).await;
        eprintln!("{}", baseline.summary(label));
        if baseline.load.tally().failed > 0 {
            eprintln!(
                "first failures of the plain Deployment:\n{}",
                baseline.failure_lines(10)
            );
        }
        baseline
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
