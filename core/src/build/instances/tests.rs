use k8s_openapi::api::core::v1::{
    Affinity, NodeAffinity, NodeCondition, NodeSelector, NodeSelectorRequirement, NodeSelectorTerm,
    NodeStatus, ResourceRequirements, Taint, Toleration,
};

use super::*;
use crate::build::scheduling::tolerates;
use crate::build::testing::{app, node, quantities, spec, with_labels, with_taint};

fn per_cpu_app(instances: Instances, resources: Option<ResourceRequirements>) -> App {
    app(AppSpec {
        instances: Some(instances),
        resources,
        ..spec()
    })
}

fn requests(cpu: &str) -> Option<ResourceRequirements> {
    Some(ResourceRequirements {
        requests: Some(quantities(&[("cpu", cpu)])),
        ..Default::default()
    })
}

#[test]
fn counts_are_taken_as_they_are() {
    let nodes = [node("a", "64")];
    for (instances, expected) in [
        (None, 1),
        (Some(Instances::Count(1)), 1),
        (Some(Instances::Count(7)), 7),
        (Some(Instances::Count(MAX_INSTANCES)), MAX_INSTANCES),
    ] {
        let app = app(AppSpec {
            instances,
            ..spec()
        });
        assert_eq!(resolve_instances(&app, &nodes), expected, "{instances:?}");
    }
}

#[test]
fn per_cpu_divides_allocatable_by_the_request() {
    let two_nodes = [node("a", "4"), node("b", "4")];
    let uneven = [node("a", "3500m"), node("b", "1")];
    let one = [node("a", "1")];
    let thousands = [node("a", "4k")];
    let cases: Vec<(&str, &[Node], Option<ResourceRequirements>, i32)> = vec![
        ("no request = one per CPU", &two_nodes, None, 8),
        ("500m request", &two_nodes, requests("500m"), 16),
        ("2 CPU request", &two_nodes, requests("2"), 4),
        (
            "1.5 CPU request, per node floor",
            &uneven,
            requests("1.5"),
            2,
        ),
        ("request larger than any node", &two_nodes, requests("5"), 1),
        ("0.1 request is exact", &one, requests("0.1"), 10),
        ("1k CPU request", &thousands, requests("1k"), 4),
        (
            "zero request falls back to one CPU",
            &two_nodes,
            requests("0"),
            8,
        ),
        (
            "limit is the request when none is set",
            &two_nodes,
            Some(ResourceRequirements {
                limits: Some(quantities(&[("cpu", "250m")])),
                ..Default::default()
            }),
            32,
        ),
        (
            "request wins over limit",
            &two_nodes,
            Some(ResourceRequirements {
                requests: Some(quantities(&[("cpu", "1")])),
                limits: Some(quantities(&[("cpu", "250m")])),
                ..Default::default()
            }),
            8,
        ),
        (
            "memory-only request counts as one CPU",
            &two_nodes,
            Some(ResourceRequirements {
                requests: Some(quantities(&[("memory", "1Gi")])),
                ..Default::default()
            }),
            8,
        ),
    ];
    for (name, nodes, resources, expected) in cases {
        let app = per_cpu_app(Instances::PerCpu, resources);
        assert_eq!(resolve_instances(&app, nodes), expected, "{name}");
    }
}

#[test]
fn minus_n_subtracts_and_never_goes_below_one() {
    let nodes = [node("a", "4"), node("b", "4")];
    for (minus, expected) in [(1, 7), (7, 1), (8, 1), (MAX_INSTANCES, 1)] {
        let app = per_cpu_app(Instances::PerCpuMinus(minus), None);
        assert_eq!(resolve_instances(&app, &nodes), expected, "-{minus}");
    }
}

#[test]
fn no_usable_node_means_one_instance() {
    let cordoned = {
        let mut n = node("a", "8");
        n.spec.get_or_insert_with(Default::default).unschedulable = Some(true);
        n
    };
    let cases: Vec<(&str, Vec<Node>)> = vec![
        ("no nodes at all", vec![]),
        ("only a cordoned node", vec![cordoned]),
        (
            "only a tainted node",
            vec![with_taint(
                node("a", "8"),
                "dedicated",
                Some("db"),
                "NoSchedule",
            )],
        ),
        ("a node with no CPU", vec![node("a", "0")]),
        ("minus more than there is", vec![node("a", "2")]),
    ];
    for (name, nodes) in cases {
        let instances = if name.starts_with("minus") {
            Instances::PerCpuMinus(5)
        } else {
            Instances::PerCpu
        };
        assert_eq!(
            resolve_instances(&per_cpu_app(instances, None), &nodes),
            1,
            "{name}"
        );
    }
}

#[test]
fn only_ready_nodes_count() {
    let with_ready = |status: Option<&str>| {
        let mut n = node("x", "4");
        let conditions = status
            .map(|s| {
                vec![NodeCondition {
                    type_: "Ready".into(),
                    status: s.into(),
                    ..Default::default()
                }]
            })
            .unwrap_or_default();
        n.status.get_or_insert_with(NodeStatus::default).conditions = Some(conditions);
        n
    };
    let app = per_cpu_app(Instances::PerCpu, None);
    let base = node("base", "2");
    for (status, expected) in [
        (Some("True"), 6),
        (Some("False"), 2),
        (Some("Unknown"), 2),
        (None, 2),
    ] {
        let nodes = [base.clone(), with_ready(status)];
        assert_eq!(resolve_instances(&app, &nodes), expected, "{status:?}");
    }
}

#[test]
fn huge_clusters_cap_at_the_crd_maximum() {
    let nodes = [node("a", "1E"), node("b", "1E")];
    let app = per_cpu_app(Instances::PerCpu, requests("1m"));
    assert_eq!(resolve_instances(&app, &nodes), MAX_INSTANCES);
    let app = per_cpu_app(Instances::PerCpuMinus(3), requests("1m"));
    assert_eq!(resolve_instances(&app, &nodes), MAX_INSTANCES);
    let tiny = per_cpu_app(Instances::PerCpu, requests("1n"));
    assert_eq!(resolve_instances(&tiny, &[node("a", "1")]), 1000);
}

#[test]
fn unparsable_allocatable_counts_as_nothing_and_capacity_is_a_fallback() {
    let broken = node("a", "lots");
    let mut capacity_only = node("b", "0");
    let status = capacity_only.status.get_or_insert_with(NodeStatus::default);
    status.allocatable = None;
    status.capacity = Some(quantities(&[("cpu", "3")]));
    let app = per_cpu_app(Instances::PerCpu, None);
    assert_eq!(resolve_instances(&app, &[broken, capacity_only]), 3);
}

#[test]
fn result_does_not_depend_on_node_order() {
    let nodes = vec![
        node("a", "3"),
        with_taint(node("b", "5"), "x", None, "NoSchedule"),
        node("c", "2500m"),
    ];
    let app = per_cpu_app(Instances::PerCpu, requests("500m"));
    let forward = resolve_instances(&app, &nodes);
    let mut reversed = nodes.clone();
    reversed.reverse();
    assert_eq!(forward, 11);
    assert_eq!(resolve_instances(&app, &reversed), forward);
}

#[test]
fn node_selector_limits_the_nodes() {
    let nodes = [
        with_labels(node("a", "4"), &[("type", "kwok"), ("zone", "z1")]),
        with_labels(node("b", "8"), &[("zone", "z1")]),
        node("c", "16"),
    ];
    let app_with = |pairs: &[(&str, &str)]| {
        app(AppSpec {
            instances: Some(Instances::PerCpu),
            node_selector: pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ..spec()
        })
    };
    assert_eq!(resolve_instances(&app_with(&[]), &nodes), 28);
    assert_eq!(resolve_instances(&app_with(&[("zone", "z1")]), &nodes), 12);
    assert_eq!(
        resolve_instances(&app_with(&[("zone", "z1"), ("type", "kwok")]), &nodes),
        4
    );
    assert_eq!(resolve_instances(&app_with(&[("zone", "z2")]), &nodes), 1);
}

fn requirement(key: &str, operator: &str, values: &[&str]) -> NodeSelectorRequirement {
    NodeSelectorRequirement {
        key: key.into(),
        operator: operator.into(),
        values: (!values.is_empty()).then(|| values.iter().map(|v| v.to_string()).collect()),
    }
}

fn affinity_app(terms: Vec<NodeSelectorTerm>) -> App {
    app(AppSpec {
        instances: Some(Instances::PerCpu),
        affinity: Some(Affinity {
            node_affinity: Some(NodeAffinity {
                required_during_scheduling_ignored_during_execution: Some(NodeSelector {
                    node_selector_terms: terms,
                }),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..spec()
    })
}

fn expressions(reqs: Vec<NodeSelectorRequirement>) -> NodeSelectorTerm {
    NodeSelectorTerm {
        match_expressions: Some(reqs),
        match_fields: None,
    }
}

#[test]
fn required_node_affinity_operators() {
    // CPUs 2, 4, 8, 16 give every subset a distinct sum, none of them 1
    // (the answer when no node matches).
    let nodes = [
        with_labels(node("a", "2"), &[("zone", "a"), ("cores", "16")]),
        with_labels(node("b", "4"), &[("zone", "b"), ("cores", "64")]),
        with_labels(node("c", "8"), &[("zone", "c"), ("cores", "many")]),
        node("d", "16"),
    ];
    let fields = |reqs| NodeSelectorTerm {
        match_expressions: None,
        match_fields: Some(reqs),
    };
    let cases: Vec<(&str, Vec<NodeSelectorTerm>, i32)> = vec![
        (
            "In",
            vec![expressions(vec![requirement("zone", "In", &["a", "c"])])],
            10,
        ),
        (
            "NotIn includes unlabelled",
            vec![expressions(vec![requirement("zone", "NotIn", &["a"])])],
            28,
        ),
        (
            "Exists",
            vec![expressions(vec![requirement("zone", "Exists", &[])])],
            14,
        ),
        (
            "DoesNotExist",
            vec![expressions(vec![requirement("zone", "DoesNotExist", &[])])],
            16,
        ),
        (
            "Gt skips non-numbers",
            vec![expressions(vec![requirement("cores", "Gt", &["20"])])],
            4,
        ),
        (
            "Lt",
            vec![expressions(vec![requirement("cores", "Lt", &["20"])])],
            2,
        ),
        (
            "Gt needs one integer value",
            vec![expressions(vec![requirement("cores", "Gt", &["1", "2"])])],
            1,
        ),
        (
            "Gt needs an integer bound",
            vec![expressions(vec![requirement("cores", "Gt", &["x"])])],
            1,
        ),
        (
            "In needs values",
            vec![expressions(vec![requirement("zone", "In", &[])])],
            1,
        ),
        (
            "Exists takes no values",
            vec![expressions(vec![requirement("zone", "Exists", &["a"])])],
            1,
        ),
        (
            "unknown operator",
            vec![expressions(vec![requirement("zone", "Like", &["a"])])],
            1,
        ),
        (
            "expressions in a term are ANDed",
            vec![expressions(vec![
                requirement("zone", "Exists", &[]),
                requirement("cores", "Gt", &["10"]),
                requirement("zone", "NotIn", &["a"]),
            ])],
            4,
        ),
        (
            "terms are ORed",
            vec![
                expressions(vec![requirement("zone", "In", &["a"])]),
                expressions(vec![requirement("zone", "DoesNotExist", &[])]),
            ],
            18,
        ),
        (
            "an empty term matches nothing",
            vec![NodeSelectorTerm::default()],
            1,
        ),
        ("no terms match nothing", vec![], 1),
        (
            "matchFields metadata.name In",
            vec![fields(vec![requirement("metadata.name", "In", &["c"])])],
            8,
        ),
        (
            "matchFields metadata.name NotIn",
            vec![fields(vec![requirement("metadata.name", "NotIn", &["d"])])],
            14,
        ),
        (
            "matchFields other keys match nothing",
            vec![fields(vec![requirement("metadata.uid", "In", &["d"])])],
            1,
        ),
        (
            "fields and expressions are ANDed",
            vec![NodeSelectorTerm {
                match_expressions: Some(vec![requirement("zone", "Exists", &[])]),
                match_fields: Some(vec![requirement("metadata.name", "NotIn", &["b"])]),
            }],
            10,
        ),
    ];
    for (name, terms, expected) in cases {
        assert_eq!(
            resolve_instances(&affinity_app(terms), &nodes),
            expected,
            "{name}"
        );
    }
}

fn toleration(
    key: Option<&str>,
    operator: Option<&str>,
    value: Option<&str>,
    effect: Option<&str>,
) -> Toleration {
    Toleration {
        key: key.map(Into::into),
        operator: operator.map(Into::into),
        value: value.map(Into::into),
        effect: effect.map(Into::into),
        toleration_seconds: None,
    }
}

#[test]
fn toleration_matching_follows_kubernetes() {
    let taint = Taint {
        key: "dedicated".into(),
        value: Some("db".into()),
        effect: "NoSchedule".into(),
        time_added: None,
    };
    let cases = [
        (
            "Exists, empty key: everything",
            toleration(None, Some("Exists"), None, None),
            true,
        ),
        (
            "Exists, same key",
            toleration(Some("dedicated"), Some("Exists"), None, None),
            true,
        ),
        (
            "Exists, other key",
            toleration(Some("other"), Some("Exists"), None, None),
            false,
        ),
        (
            "Equal, same value",
            toleration(Some("dedicated"), Some("Equal"), Some("db"), None),
            true,
        ),
        (
            "Equal, other value",
            toleration(Some("dedicated"), Some("Equal"), Some("web"), None),
            false,
        ),
        (
            "default operator is Equal",
            toleration(Some("dedicated"), None, Some("db"), None),
            true,
        ),
        (
            "Equal without value vs valued taint",
            toleration(Some("dedicated"), None, None, None),
            false,
        ),
        (
            "matching effect",
            toleration(Some("dedicated"), Some("Exists"), None, Some("NoSchedule")),
            true,
        ),
        (
            "other effect",
            toleration(Some("dedicated"), Some("Exists"), None, Some("NoExecute")),
            false,
        ),
        (
            "empty key with Equal compares values only",
            toleration(None, Some("Equal"), Some("db"), None),
            true,
        ),
        (
            "unknown operator",
            toleration(Some("dedicated"), Some("Gt"), Some("db"), None),
            false,
        ),
    ];
    for (name, t, expected) in cases {
        assert_eq!(tolerates(&t, &taint), expected, "{name}");
    }
    let valueless = Taint {
        key: "kwok.x-k8s.io/node".into(),
        value: None,
        effect: "NoSchedule".into(),
        time_added: None,
    };
    let t = toleration(Some("kwok.x-k8s.io/node"), Some("Equal"), Some(""), None);
    assert!(
        tolerates(&t, &valueless),
        "empty value equals an absent one"
    );
}

#[test]
fn taints_keep_only_blocking_effects_out() {
    let nodes = [
        node("plain", "1"),
        with_taint(node("soft", "2"), "gpu", None, "PreferNoSchedule"),
        with_taint(
            node("kwok", "4"),
            "kwok.x-k8s.io/node",
            Some("fake"),
            "NoSchedule",
        ),
        with_taint(node("evict", "8"), "maintenance", None, "NoExecute"),
    ];
    let app_tolerating = |tolerations: Vec<Toleration>| {
        app(AppSpec {
            instances: Some(Instances::PerCpu),
            tolerations,
            ..spec()
        })
    };
    assert_eq!(resolve_instances(&app_tolerating(vec![]), &nodes), 3);
    let kwok = toleration(
        Some("kwok.x-k8s.io/node"),
        Some("Equal"),
        Some("fake"),
        Some("NoSchedule"),
    );
    assert_eq!(
        resolve_instances(&app_tolerating(vec![kwok.clone()]), &nodes),
        7
    );
    let maintenance = toleration(Some("maintenance"), Some("Exists"), None, None);
    assert_eq!(
        resolve_instances(&app_tolerating(vec![kwok, maintenance]), &nodes),
        15
    );
    let all = toleration(None, Some("Exists"), None, None);
    assert_eq!(resolve_instances(&app_tolerating(vec![all]), &nodes), 15);
    let two_taints = with_taint(
        with_taint(node("both", "32"), "a", None, "NoSchedule"),
        "b",
        None,
        "NoSchedule",
    );
    let only_a = toleration(Some("a"), Some("Exists"), None, None);
    assert_eq!(
        resolve_instances(&app_tolerating(vec![only_a]), &[two_taints]),
        1
    );
}

#[test]
fn a_scale_subresource_count_wins_over_instances() {
    let nodes = [node("a", "8")];
    for (instances, replicas, expected) in [
        (Some(Instances::Count(3)), Some(5), 5),
        (Some(Instances::PerCpu), Some(2), 2),
        (Some(Instances::PerCpuMinus(1)), None, 7),
        (None, Some(MAX_INSTANCES + 1), MAX_INSTANCES),
    ] {
        let app = app(AppSpec {
            instances,
            replicas,
            ..spec()
        });
        assert_eq!(
            resolve_instances(&app, &nodes),
            expected,
            "{instances:?} scaled to {replicas:?}"
        );
    }
}
