//! Objects and conditions shared by the cluster tests.
#![allow(dead_code)] // each test binary uses its own part of this module

use std::collections::BTreeMap;

use k8s_openapi::{
    api::{
        apps::v1::{Deployment, DeploymentSpec},
        core::v1::{Container, PodSpec, PodTemplateSpec, ResourceRequirements},
    },
    apimachinery::pkg::{api::resource::Quantity, apis::meta::v1::LabelSelector},
};
use kube::{api::ObjectMeta, runtime::wait::Condition};
use readyroll::crd::{App, CONDITION_AVAILABLE};
use readyroll_e2e::kwok::place_on_kwok;

/// An image name that cannot be pulled: kwok never pulls, and a real node must not run these.
pub const FAKE_IMAGE: &str = "readyroll.invalid/smoke:1";

/// A pod spec pinned to one kwok node, with an optional CPU request.
pub fn pod_spec_on(node: &str, cpu_request: Option<&str>) -> PodSpec {
    let mut spec = PodSpec {
        containers: vec![Container {
            name: "app".to_owned(),
            image: Some(FAKE_IMAGE.to_owned()),
            resources: cpu_request.map(|cpu| ResourceRequirements {
                requests: Some([("cpu".to_owned(), Quantity(cpu.to_owned()))].into()),
                ..ResourceRequirements::default()
            }),
            ..Container::default()
        }],
        ..PodSpec::default()
    };
    place_on_kwok(&mut spec);
    // Other tests add kwok nodes at the same time; pinning keeps this test's pods on its own.
    spec.node_selector
        .get_or_insert_with(BTreeMap::new)
        .insert("kubernetes.io/hostname".to_owned(), node.to_owned());
    spec
}

/// A Deployment `name` (pods labelled app=NAME) whose pods carry `annotations`.
pub fn deployment(
    name: &str,
    replicas: i32,
    pod_spec: PodSpec,
    annotations: &[(&str, &str)],
) -> Deployment {
    let labels: BTreeMap<String, String> = [("app".to_owned(), name.to_owned())].into();
    let annotations: BTreeMap<String, String> = annotations
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    Deployment {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            ..ObjectMeta::default()
        },
        spec: Some(DeploymentSpec {
            replicas: Some(replicas),
            selector: LabelSelector {
                match_labels: Some(labels.clone()),
                ..LabelSelector::default()
            },
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(labels),
                    annotations: Some(annotations),
                    ..ObjectMeta::default()
                }),
                spec: Some(pod_spec),
            },
            ..DeploymentSpec::default()
        }),
        ..Deployment::default()
    }
}

/// The App is Available for its current generation.
pub fn app_available() -> impl Condition<App> {
    |app: Option<&App>| {
        let Some(app) = app else { return false };
        let Some(status) = app.status.as_ref() else {
            return false;
        };
        status.observed_generation == app.metadata.generation
            && status
                .conditions
                .iter()
                .any(|c| c.type_ == CONDITION_AVAILABLE && c.status == "True")
    }
}
