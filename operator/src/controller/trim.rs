//! What the caches drop from each object before storing it: the parts no
//! reconcile reads. With thousands of Apps the caches are most of the
//! operator's memory, and `managedFields` alone is often the largest part
//! of an object.

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Node, Pod, PodSpec};
use kube::core::DeserializeGuard;
use readyroll_core::build::INSTANCE_VOLUME;

use crate::crd::App;

/// An App: its field managers are never read.
pub fn app(guard: &mut DeserializeGuard<App>) {
    if let Ok(app) = &mut guard.0 {
        app.metadata.managed_fields = None;
    }
}

/// A Deployment readyroll made: the plan reads its spec, status and
/// metadata, but field managers only of objects the App does not control,
/// which observe reads fresh. Of its pod template the metadata (the
/// revision) is read, and whether its pods read an instance index (the
/// instance volume, `reads_index`); a template to roll back to comes from a
/// ReplicaSet or the saved last good one (`Observed::template_of`), so the
/// rest of the pod spec, the largest part of the object, is dropped.
pub fn deployment(deployment: &mut Deployment) {
    deployment.metadata.managed_fields = None;
    if let Some(spec) = deployment.spec.as_mut() {
        spec.template.spec = spec.template.spec.take().map(|pod| PodSpec {
            volumes: pod.volumes.map(|volumes| {
                volumes
                    .into_iter()
                    .filter(|v| v.name == INSTANCE_VOLUME)
                    .collect()
            }),
            ..PodSpec::default()
        });
    }
}

/// A pod: the plan reads its name, uid, labels, annotations, deletion,
/// phase and its containers' names, readiness, restart counts, states and
/// last states (`PodRestarts::from_pod`, `pod_restarts_hash`), never its
/// spec; the rest of its status goes.
pub fn pod(pod: &mut Pod) {
    pod.metadata.managed_fields = None;
    pod.metadata.owner_references = None;
    pod.metadata.generate_name = None;
    pod.spec = None;
    if let Some(status) = pod.status.as_mut() {
        status.conditions = None;
        status.host_ip = None;
        status.host_ips = None;
        status.pod_ip = None;
        status.pod_ips = None;
        status.qos_class = None;
        status.start_time = None;
        status.init_container_statuses = None;
        status.ephemeral_container_statuses = None;
        for c in status.container_statuses.iter_mut().flatten() {
            c.image = String::new();
            c.image_id = String::new();
            c.container_id = None;
            c.allocated_resources = None;
            c.allocated_resources_status = None;
            c.resources = None;
            c.volume_mounts = None;
            c.user = None;
        }
    }
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
    use k8s_openapi::api::core::v1::{ContainerImage, NodeStatus, PodStatus};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ManagedFieldsEntry, ObjectMeta};
    use readyroll_core::build::reads_index;

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

        let spec = deployment_trimmed(&[INSTANCE_VOLUME, "config"]);
        assert_eq!(spec.replicas, Some(3));
        assert!(spec.template.metadata.is_some(), "the revision is read");
        let pod = spec.template.spec.as_ref().unwrap();
        assert!(pod.containers.is_empty(), "the pod spec is dropped");
        assert!(reads_index(&spec.template), "the instance volume is read");
        assert_eq!(pod.volumes.as_ref().unwrap().len(), 1);
        assert!(!reads_index(&deployment_trimmed(&["config"]).template));
    }

    /// A Deployment whose pod template has one container and `volumes`,
    /// as the cache keeps it.
    fn deployment_trimmed(volumes: &[&str]) -> k8s_openapi::api::apps::v1::DeploymentSpec {
        use k8s_openapi::api::core::v1::{Container, Volume};
        let mut d = Deployment {
            metadata: meta(),
            spec: Some(k8s_openapi::api::apps::v1::DeploymentSpec {
                replicas: Some(3),
                template: k8s_openapi::api::core::v1::PodTemplateSpec {
                    metadata: Some(meta()),
                    spec: Some(PodSpec {
                        containers: vec![Container::default()],
                        volumes: Some(
                            volumes
                                .iter()
                                .map(|name| Volume {
                                    name: name.to_string(),
                                    ..Default::default()
                                })
                                .collect(),
                        ),
                        ..Default::default()
                    }),
                },
                ..Default::default()
            }),
            status: None,
        };
        deployment(&mut d);
        d.spec.unwrap()
    }

    #[test]
    fn a_pod_keeps_what_its_restarts_and_its_trigger_hash_are_made_of() {
        use k8s_openapi::api::core::v1::{ContainerState, ContainerStateRunning, ContainerStatus};
        use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
        use k8s_openapi::jiff::Timestamp;

        let started = Time(Timestamp::from_second(100).unwrap());
        let mut p = Pod {
            metadata: meta(),
            spec: Some(PodSpec::default()),
            status: Some(PodStatus {
                phase: Some("Running".into()),
                pod_ip: Some("10.0.0.1".into()),
                container_statuses: Some(vec![ContainerStatus {
                    name: "app".into(),
                    image: "web:1".into(),
                    restart_count: 2,
                    ready: false,
                    state: Some(ContainerState {
                        running: Some(ContainerStateRunning {
                            started_at: Some(started.clone()),
                        }),
                        ..Default::default()
                    }),
                    ..Default::default()
                }]),
                ..Default::default()
            }),
        };
        let before = (
            super::super::watches::pod_restarts_hash(&p),
            readyroll_core::observed::PodRestarts::from_pod(&p),
        );
        pod(&mut p);
        let after = (
            super::super::watches::pod_restarts_hash(&p),
            readyroll_core::observed::PodRestarts::from_pod(&p),
        );
        assert_eq!(before, after);
        assert_eq!(p.status.unwrap().pod_ip, None);
    }
}
