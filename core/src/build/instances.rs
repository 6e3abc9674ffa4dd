//! PM2's `instances` against the cluster: `0`/`"max"` is one instance per
//! CPU, `-N` that many fewer, never below one.
//!
//! "CPU" is what the App can actually get: for each node its pods could be
//! scheduled on, the node's allocatable CPU divided by the container's CPU
//! request (rounded down, as a pod does not fit in a fraction), summed.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Node, ResourceRequirements};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

use crate::crd::{App, AppSpec, Instances, MAX_INSTANCES};

use super::quantity::{parse_milli, QuantityError};
use super::scheduling::node_fits;

/// One CPU, the request assumed when the container sets none, as PM2 runs
/// one worker per core.
const ONE_CPU_MILLI: u128 = 1_000;

/// The replica count for the App: `spec.replicas` when something scaled
/// it through the scale subresource, else PM2's `instances`.
///
/// A per-CPU count is capped at [`MAX_INSTANCES`], the largest count the
/// CRD accepts. When no node fits the result is 1: the pod stays Pending and
/// says why, which is more useful than no pod at all.
pub fn resolve_instances(app: &App, nodes: &[Node]) -> i32 {
    if let Some(scaled) = app.spec.replicas {
        return scaled.clamp(1, MAX_INSTANCES);
    }
    match app.spec.instances.unwrap_or_default() {
        Instances::Count(n) => n.clamp(1, MAX_INSTANCES),
        Instances::PerCpu => per_cpu(&app.spec, nodes, 0),
        Instances::PerCpuMinus(n) => per_cpu(&app.spec, nodes, n),
    }
}

fn per_cpu(spec: &AppSpec, nodes: &[Node], minus: i32) -> i32 {
    let request = cpu_request_milli(spec.resources.as_ref());
    let slots = nodes
        .iter()
        .filter(|node| node_fits(spec, node))
        .map(|node| node_cpu_milli(node) / request)
        .fold(0u128, u128::saturating_add);
    let wanted = slots.saturating_sub(u128::from(minus.max(0).unsigned_abs()));
    let capped = wanted.clamp(1, u128::from(MAX_INSTANCES.unsigned_abs()));
    i32::try_from(capped).unwrap_or(MAX_INSTANCES)
}

/// The container's CPU request in millicores: `requests.cpu`, else
/// `limits.cpu` (Kubernetes defaults the request to the limit), else one
/// CPU. A zero or unparsable amount falls through to the next source;
/// `build` reports unparsable amounts as errors before this is used.
pub fn cpu_request_milli(resources: Option<&ResourceRequirements>) -> u128 {
    let positive = |list| cpu_of(list).and_then(Result::ok).filter(|milli| *milli > 0);
    let requests = resources.and_then(|r| r.requests.as_ref());
    let limits = resources.and_then(|r| r.limits.as_ref());
    positive(requests)
        .or_else(|| positive(limits))
        .unwrap_or(ONE_CPU_MILLI)
}

/// Allocatable CPU (what pods may use), else capacity (the API server
/// defaults allocatable to capacity); an unparsable amount counts as none.
fn node_cpu_milli(node: &Node) -> u128 {
    let status = node.status.as_ref();
    cpu_of(status.and_then(|s| s.allocatable.as_ref()))
        .or_else(|| cpu_of(status.and_then(|s| s.capacity.as_ref())))
        .and_then(Result::ok)
        .unwrap_or(0)
}

fn cpu_of(list: Option<&BTreeMap<String, Quantity>>) -> Option<Result<u128, QuantityError>> {
    list.and_then(|l| l.get("cpu")).map(|q| parse_milli(&q.0))
}

#[cfg(test)]
mod tests;
