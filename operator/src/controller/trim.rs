//! What the caches drop from each object before storing it: the parts no
//! reconcile reads. With thousands of Apps the caches are most of the
//! operator's memory, and `managedFields` alone is often the largest part
//! of an object.

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::core::DeserializeGuard;

use crate::crd::App;

/// An App: its field managers are never read.
pub fn app(guard: &mut DeserializeGuard<App>) {
    if let Ok(app) = &mut guard.0 {
        app.metadata.managed_fields = None;
    }
}

/// A Deployment readyroll made: the plan reads its spec, status and
/// metadata, but field managers only of objects the App does not control,
/// which observe reads fresh.
pub fn deployment(deployment: &mut Deployment) {
    deployment.metadata.managed_fields = None;
}

/// A pod: the plan reads its metadata and status (restarts, readiness,
/// start times), never its spec.
pub fn pod(pod: &mut Pod) {
    pod.metadata.managed_fields = None;
    pod.spec = None;
}

/// A ReplicaSet: only its owner and pod template are read (rollback).
pub fn replica_set(replica_set: &mut ReplicaSet) {
    replica_set.metadata.managed_fields = None;
    replica_set.status = None;
}

/// A node: labels, taints, schedulability, allocatable and readiness are
/// read; images and the other conditions are the bulk of its status.
pub fn node(node: &mut Node) {
    node.metadata.managed_fields = None;
    if let Some(status) = node.status.as_mut() {
        status.images = None;
        status.volumes_attached = None;
        status.volumes_in_use = None;
    }
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::core::v1::{ContainerImage, NodeStatus, PodSpec, PodStatus};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ManagedFieldsEntry, ObjectMeta};

    use super::*;

    fn meta() -> ObjectMeta {
        ObjectMeta {
            name: Some("web".into()),
            managed_fields: Some(vec![ManagedFieldsEntry::default()]),
            ..Default::default()
        }
    }

    #[test]
    fn what_is_read_stays() {
        let mut p = Pod {
            metadata: meta(),
            spec: Some(PodSpec::default()),
            status: Some(PodStatus {
                phase: Some("Running".into()),
                ..Default::default()
            }),
        };
        pod(&mut p);
        assert_eq!(p.metadata.name.as_deref(), Some("web"));
        assert_eq!(p.metadata.managed_fields, None);
        assert_eq!(p.spec, None);
        assert_eq!(p.status.unwrap().phase.as_deref(), Some("Running"));

        let mut n = Node {
            metadata: meta(),
            status: Some(NodeStatus {
                images: Some(vec![ContainerImage::default()]),
                allocatable: Some(Default::default()),
                ..Default::default()
            }),
            ..Default::default()
        };
        node(&mut n);
        let status = n.status.unwrap();
        assert_eq!(status.images, None);
        assert!(status.allocatable.is_some());
    }
}
