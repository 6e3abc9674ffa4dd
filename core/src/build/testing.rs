//! Builders shared by the core's unit tests.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Node, NodeCondition, NodeSpec, NodeStatus, Taint};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use crate::crd::{App, AppSpec};

/// An App as the API server hands it over: named, namespaced, with a uid.
pub fn app(spec: AppSpec) -> App {
    let mut app = App::new("web", spec);
    app.metadata.namespace = Some("shop".into());
    app.metadata.uid = Some("0b5e0a8c-6c1e-4a3e-9d1f-1f2e3d4c5b6a".into());
    app
}

/// The smallest spec `build` accepts.
pub fn spec() -> AppSpec {
    AppSpec {
        image: "registry.example/web:1.4.2".into(),
        ..Default::default()
    }
}

/// A Ready, schedulable node with this allocatable CPU.
pub fn node(name: &str, cpu: &str) -> Node {
    Node {
        metadata: ObjectMeta {
            name: Some(name.into()),
            ..Default::default()
        },
        spec: Some(NodeSpec::default()),
        status: Some(NodeStatus {
            allocatable: Some(BTreeMap::from([("cpu".to_string(), Quantity(cpu.into()))])),
            conditions: Some(vec![NodeCondition {
                type_: "Ready".into(),
                status: "True".into(),
                ..Default::default()
            }]),
            ..Default::default()
        }),
    }
}

pub fn with_labels(mut node: Node, labels: &[(&str, &str)]) -> Node {
    node.metadata.labels = Some(
        labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    );
    node
}

pub fn with_taint(mut node: Node, key: &str, value: Option<&str>, effect: &str) -> Node {
    let spec = node.spec.get_or_insert_with(Default::default);
    spec.taints.get_or_insert_with(Vec::new).push(Taint {
        key: key.into(),
        value: value.map(Into::into),
        effect: effect.into(),
        time_added: None,
    });
    node
}

pub fn quantities(pairs: &[(&str, &str)]) -> BTreeMap<String, Quantity> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), Quantity(v.to_string())))
        .collect()
}
