//! What the real-node tier needs from any cluster, local or kind: a node that runs real
//! containers, and the readyroll operator running in the cluster as its chart installs it.
use std::time::{Duration, Instant};

use k8s_openapi::{
    api::{apps::v1::Deployment, core::v1::Node},
    apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition,
};
use kube::{api::ListParams, runtime::wait::Condition, Api, ResourceExt};

use crate::{
    conditions::{deployment_available, node_schedulable},
    kwok, Cluster, Error,
};

/// Label selector of the operator's Deployment as the chart labels it (App workloads carry
/// `managed-by: readyroll`, the chart's own objects do not).
pub const OPERATOR_SELECTOR: &str =
    "app.kubernetes.io/name=readyroll,app.kubernetes.io/managed-by!=readyroll";
const APP_CRD: &str = "apps.readyroll.dev";
const POLL: Duration = Duration::from_millis(500);

/// Waits (at most `timeout`) for a Ready, schedulable node that is not simulated by kwok.
pub async fn wait_for_workload_node(cluster: &Cluster, timeout: Duration) -> Result<Node, Error> {
    let nodes = Api::<Node>::all(cluster.client());
    let not_kwok = format!("{}!={}", kwok::NODE_LABEL_KEY, kwok::NODE_LABEL_VALUE);
    let deadline = Instant::now() + timeout;
    loop {
        let list = nodes.list(&ListParams::default().labels(&not_kwok)).await?;
        if let Some(node) = list
            .into_iter()
            .find(|n| node_schedulable().matches_object(Some(n)))
        {
            return Ok(node);
        }
        if Instant::now() >= deadline {
            return Err(Error::NoWorkloadNode);
        }
        tokio::time::sleep(POLL).await;
    }
}

/// The operator as installed in the cluster.
#[derive(Debug, Clone)]
pub struct InstalledOperator {
    pub namespace: String,
    pub deployment: String,
    pub image: String,
}

/// Checks that the App CRD is installed and an operator Deployment is available (waiting at
/// most `timeout` for it, e.g. right after an install).
pub async fn require_operator(
    cluster: &Cluster,
    timeout: Duration,
) -> Result<InstalledOperator, Error> {
    let crds = Api::<CustomResourceDefinition>::all(cluster.client());
    if crds.get_opt(APP_CRD).await?.is_none() {
        return Err(Error::NoOperator {
            reason: format!("CustomResourceDefinition {APP_CRD} is not installed"),
        });
    }
    let deployments = Api::<Deployment>::all(cluster.client());
    let deadline = Instant::now() + timeout;
    loop {
        let list = deployments
            .list(&ListParams::default().labels(OPERATOR_SELECTOR))
            .await?;
        if list.items.is_empty() {
            return Err(Error::NoOperator {
                reason: format!("no Deployment matches {OPERATOR_SELECTOR}"),
            });
        }
        if let Some(d) = list
            .iter()
            .find(|d| deployment_available().matches_object(Some(d)))
        {
            return Ok(InstalledOperator {
                namespace: d.namespace().unwrap_or_default(),
                deployment: d.name_any(),
                image: operator_image(d),
            });
        }
        if Instant::now() >= deadline {
            let names: Vec<String> = list
                .iter()
                .map(|d| format!("{}/{}", d.namespace().unwrap_or_default(), d.name_any()))
                .collect();
            return Err(Error::NoOperator {
                reason: format!("{} not available within {timeout:?}", names.join(", ")),
            });
        }
        tokio::time::sleep(POLL).await;
    }
}

fn operator_image(d: &Deployment) -> String {
    d.spec
        .as_ref()
        .and_then(|s| s.template.spec.as_ref())
        .and_then(|s| s.containers.first())
        .and_then(|c| c.image.clone())
        .unwrap_or_default()
}
