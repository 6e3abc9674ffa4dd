//! Conditions for [`crate::wait_for`], in the spirit of `kube::runtime::wait::conditions`.
use k8s_openapi::api::{
    apps::v1::Deployment,
    core::v1::{Node, Pod},
};
use kube::runtime::wait::Condition;

/// The pod's `Ready` condition is `True`.
pub fn pod_ready() -> impl Condition<Pod> {
    |pod: Option<&Pod>| pod.is_some_and(is_pod_ready)
}

/// The pod runs (phase `Running`), ready or not.
pub fn pod_running() -> impl Condition<Pod> {
    |pod: Option<&Pod>| {
        pod.and_then(|p| p.status.as_ref())
            .and_then(|s| s.phase.as_deref())
            == Some("Running")
    }
}

/// The node's `Ready` condition is `True`.
pub fn node_ready() -> impl Condition<Node> {
    |node: Option<&Node>| {
        node.and_then(|n| n.status.as_ref())
            .and_then(|s| s.conditions.as_ref())
            .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
    }
}

/// The node is Ready and the node lifecycle controller has lifted its `not-ready` taint, so the
/// scheduler will place pods there.
pub fn node_schedulable() -> impl Condition<Node> {
    |node: Option<&Node>| {
        let not_ready_taint = node
            .and_then(|n| n.spec.as_ref())
            .and_then(|s| s.taints.as_ref())
            .is_some_and(|ts| ts.iter().any(|t| t.key == "node.kubernetes.io/not-ready"));
        node_ready().matches_object(node) && !not_ready_taint
    }
}

/// The controller has seen the latest spec and every desired replica is updated and available.
pub fn deployment_available() -> impl Condition<Deployment> {
    |deployment: Option<&Deployment>| {
        let Some(d) = deployment else { return false };
        let Some(status) = d.status.as_ref() else {
            return false;
        };
        let desired = d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
        let observed = status.observed_generation.unwrap_or_default()
            >= d.metadata.generation.unwrap_or_default();
        let available = status.conditions.as_ref().is_some_and(|cs| {
            cs.iter()
                .any(|c| c.type_ == "Available" && c.status == "True")
        });
        observed
            && available
            && status.replicas.unwrap_or_default() == desired
            && status.updated_replicas.unwrap_or_default() == desired
            && status.available_replicas.unwrap_or_default() == desired
    }
}

/// Whether a pod object reports `Ready=True`.
pub fn is_pod_ready(pod: &Pod) -> bool {
    pod.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}
