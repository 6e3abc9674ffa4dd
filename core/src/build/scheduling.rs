//! Whether the scheduler could place one of the App's pods on a node: the
//! same predicates Kubernetes applies (schedulable, Ready, nodeSelector,
//! required node affinity, NoSchedule/NoExecute taints against tolerations),
//! so `instances: 0` counts the CPUs the App can really use.

use k8s_openapi::api::core::v1::{
    Node, NodeSelector, NodeSelectorRequirement, NodeSelectorTerm, Taint, Toleration,
};

use crate::crd::AppSpec;

/// True when a pod of this App could be scheduled on the node.
pub fn node_fits(spec: &AppSpec, node: &Node) -> bool {
    is_schedulable(node)
        && is_ready(node)
        && matches_node_selector(spec, node)
        && matches_required_affinity(spec, node)
        && taints_tolerated(&spec.tolerations, node)
}

fn is_schedulable(node: &Node) -> bool {
    !node
        .spec
        .as_ref()
        .and_then(|s| s.unschedulable)
        .unwrap_or(false)
}

fn is_ready(node: &Node) -> bool {
    node.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|conditions| {
            conditions
                .iter()
                .any(|c| c.type_ == "Ready" && c.status == "True")
        })
}

fn label<'a>(node: &'a Node, key: &str) -> Option<&'a str> {
    node.metadata
        .labels
        .as_ref()
        .and_then(|labels| labels.get(key))
        .map(String::as_str)
}

fn matches_node_selector(spec: &AppSpec, node: &Node) -> bool {
    spec.node_selector
        .iter()
        .all(|(key, value)| label(node, key) == Some(value.as_str()))
}

fn matches_required_affinity(spec: &AppSpec, node: &Node) -> bool {
    let required = spec
        .affinity
        .as_ref()
        .and_then(|a| a.node_affinity.as_ref())
        .and_then(|na| {
            na.required_during_scheduling_ignored_during_execution
                .as_ref()
        });
    required.is_none_or(|selector| matches_node_selector_terms(selector, node))
}

/// Terms are ORed; an empty list, like an empty term, matches no node.
fn matches_node_selector_terms(selector: &NodeSelector, node: &Node) -> bool {
    selector
        .node_selector_terms
        .iter()
        .any(|term| matches_term(term, node))
}

/// Expressions and fields of one term are ANDed; a term with neither
/// matches nothing, and an invalid requirement makes its term match nothing
/// (as in Kubernetes' nodeaffinity helper).
fn matches_term(term: &NodeSelectorTerm, node: &Node) -> bool {
    let expressions = term.match_expressions.as_deref().unwrap_or_default();
    let fields = term.match_fields.as_deref().unwrap_or_default();
    if expressions.is_empty() && fields.is_empty() {
        return false;
    }
    let node_name = node.metadata.name.as_deref().unwrap_or_default();
    expressions
        .iter()
        .all(|r| matches_label_requirement(r, label(node, &r.key)))
        && fields
            .iter()
            .all(|r| matches_field_requirement(r, node_name))
}

fn matches_label_requirement(req: &NodeSelectorRequirement, value: Option<&str>) -> bool {
    let values = req.values.as_deref().unwrap_or_default();
    match req.operator.as_str() {
        "In" => !values.is_empty() && value.is_some_and(|v| values.iter().any(|x| x == v)),
        "NotIn" => !values.is_empty() && value.is_none_or(|v| values.iter().all(|x| x != v)),
        "Exists" => values.is_empty() && value.is_some(),
        "DoesNotExist" => values.is_empty() && value.is_none(),
        "Gt" | "Lt" => {
            let [bound] = values else { return false };
            let (Ok(bound), Some(Ok(actual))) =
                (bound.parse::<i64>(), value.map(|v| v.parse::<i64>()))
            else {
                return false;
            };
            if req.operator == "Gt" {
                actual > bound
            } else {
                actual < bound
            }
        }
        _ => false,
    }
}

/// Only `metadata.name` is a node field selector; `In`/`NotIn` with one value.
fn matches_field_requirement(req: &NodeSelectorRequirement, node_name: &str) -> bool {
    let values = req.values.as_deref().unwrap_or_default();
    let [value] = values else { return false };
    if req.key != "metadata.name" {
        return false;
    }
    match req.operator.as_str() {
        "In" => value == node_name,
        "NotIn" => value != node_name,
        _ => false,
    }
}

/// Every NoSchedule/NoExecute taint needs a toleration; PreferNoSchedule
/// only steers the scheduler and never keeps a pod off a node.
fn taints_tolerated(tolerations: &[Toleration], node: &Node) -> bool {
    let taints = node
        .spec
        .as_ref()
        .and_then(|s| s.taints.as_deref())
        .unwrap_or_default();
    taints
        .iter()
        .filter(|t| t.effect == "NoSchedule" || t.effect == "NoExecute")
        .all(|taint| tolerations.iter().any(|t| tolerates(t, taint)))
}

/// Kubernetes' `Toleration.ToleratesTaint`: an empty effect matches every
/// effect, an empty key (with `Exists`) every key; the operator defaults to
/// `Equal`, which compares values (absent = empty).
pub fn tolerates(toleration: &Toleration, taint: &Taint) -> bool {
    let effect = toleration.effect.as_deref().unwrap_or_default();
    if !effect.is_empty() && effect != taint.effect {
        return false;
    }
    let key = toleration.key.as_deref().unwrap_or_default();
    if !key.is_empty() && key != taint.key {
        return false;
    }
    match toleration.operator.as_deref().unwrap_or_default() {
        "" | "Equal" => {
            toleration.value.as_deref().unwrap_or_default()
                == taint.value.as_deref().unwrap_or_default()
        }
        "Exists" => true,
        _ => false,
    }
}
