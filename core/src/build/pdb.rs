//! A PodDisruptionBudget so voluntary evictions (node drains) take one pod
//! at a time, like a rollout does.

use k8s_openapi::api::policy::v1::{PodDisruptionBudget, PodDisruptionBudgetSpec};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::labels::Identity;

/// Only with more than one instance: a budget over a single pod would
/// block every drain.
pub fn pdb(id: &Identity, instances: i32) -> Option<PodDisruptionBudget> {
    (instances > 1).then(|| PodDisruptionBudget {
        metadata: id.metadata(),
        spec: Some(PodDisruptionBudgetSpec {
            max_unavailable: Some(IntOrString::Int(1)),
            min_available: None,
            selector: Some(id.label_selector()),
            // Pods that are not Ready serve nobody; never let them block a drain.
            unhealthy_pod_eviction_policy: Some("AlwaysAllow".into()),
        }),
        status: None,
    })
}
