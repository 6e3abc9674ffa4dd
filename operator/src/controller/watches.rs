//! Which changes outside the App make it reconcile again, and the hashes
//! that keep irrelevant updates (node heartbeats, pod status churn) out.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};

use k8s_openapi::api::core::v1::{Node, Pod};
use kube::core::DeserializeGuard;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::watcher;
use kube::ResourceExt;

use readyroll_core::instance_index::{DELETION_COST_ANNOTATION, INDEX_ANNOTATION};
use readyroll_core::observed::PodRestarts;

use crate::core::{MANAGED_BY, MANAGED_BY_LABEL};
use crate::crd::{App, Instances};
use crate::telemetry::Metrics;

pub use crate::core::INSTANCE_LABEL;

/// Selects the objects readyroll made (Deployments, Services, PDBs, pods).
pub fn managed_by_selector() -> String {
    format!("{MANAGED_BY_LABEL}={MANAGED_BY}")
}

/// An App deleted without a finalizer (the usual background deletion) is
/// never reconciled again: it leaves the store before its reconcile runs.
/// Its watch event is the last word on it, so it leaves the metrics there.
pub fn forget_deleted_app(metrics: &Metrics, event: &watcher::Event<DeserializeGuard<App>>) {
    if let watcher::Event::Delete(guard) = event {
        metrics.set_rollout_in_progress(&app_key(guard), false);
        metrics.forget_app(&guard.namespace().unwrap_or_default(), &guard.name_any());
    }
}

/// `namespace/name`, the key Apps go by in the metrics.
pub fn app_key(object: &impl ResourceExt) -> String {
    format!(
        "{}/{}",
        object.namespace().unwrap_or_default(),
        object.name_any()
    )
}

/// The App a pod belongs to, by its instance label.
pub fn app_of_pod(pod: &Pod) -> Option<ObjectRef<DeserializeGuard<App>>> {
    let name = pod.labels().get(INSTANCE_LABEL)?;
    let namespace = pod.namespace()?;
    Some(ObjectRef::new(name).within(&namespace))
}

/// Apps whose instance count depends on the nodes' CPUs.
pub fn apps_counting_cpus(
    apps: &Store<DeserializeGuard<App>>,
) -> Vec<ObjectRef<DeserializeGuard<App>>> {
    apps.state()
        .iter()
        .filter(|guard| match &guard.0 {
            Ok(app) => counts_cpus(app),
            Err(_) => false,
        })
        .map(|guard| ObjectRef::from_obj(guard.as_ref()))
        .collect()
}

/// Whether the App's instance count depends on the nodes' CPUs.
pub fn counts_cpus(app: &App) -> bool {
    matches!(
        app.spec.instances,
        Some(Instances::PerCpu | Instances::PerCpuMinus(_))
    )
}

/// A hash of what decides a node's share of `instances: 0`: labels, taints,
/// schedulability, allocatable resources and readiness.
pub fn node_capacity_hash(node: &Node) -> Option<u64> {
    let mut h = DefaultHasher::new();
    node.labels().hash(&mut h);
    if let Some(spec) = &node.spec {
        spec.unschedulable.hash(&mut h);
        for taint in spec.taints.iter().flatten() {
            (&taint.key, &taint.value, &taint.effect).hash(&mut h);
        }
    }
    if let Some(status) = &node.status {
        for (resource, quantity) in status.allocatable.iter().flatten() {
            (resource, &quantity.0).hash(&mut h);
        }
        for condition in status.conditions.iter().flatten() {
            if condition.type_ == "Ready" {
                condition.status.hash(&mut h);
            }
        }
    }
    Some(h.finish())
}

/// Marks the pod of a watch's Delete event, so that `pod_restarts_hash`
/// tells it from the pod's last update. A pod's final deletion usually
/// changes nothing else the hash looks at (its deletionTimestamp was set
/// when it began to terminate), so the filter would drop it and the App's
/// status would keep naming a pod that is gone (its memory restarts, its
/// slow start) until something else made the App reconcile. Applied after
/// the cache took the event: the mark never reaches the store.
pub fn mark_deleted(event: watcher::Event<Pod>) -> watcher::Event<Pod> {
    match event {
        watcher::Event::Delete(mut pod) => {
            pod.annotations_mut()
                .insert(DELETED_MARK.to_string(), String::new());
            watcher::Event::Delete(pod)
        }
        other => other,
    }
}

/// See [`mark_deleted`].
const DELETED_MARK: &str = "readyroll.dev/watch-deleted";

/// A hash of what the App reacts to in a pod: restart counts (and why, in
/// the last termination that comes with each), container start times (a
/// start is when the wait for `listenTimeout` begins), and for instance
/// indices whether it is stopping and its index and deletion cost
/// annotations; readiness reaches it through the Deployment's status.
pub fn pod_restarts_hash(pod: &Pod) -> Option<u64> {
    let mut h = DefaultHasher::new();
    pod.metadata.deletion_timestamp.is_some().hash(&mut h);
    for key in [INDEX_ANNOTATION, DELETION_COST_ANNOTATION, DELETED_MARK] {
        pod.annotations().get(key).hash(&mut h);
    }
    if let Some(status) = &pod.status {
        for c in status.container_statuses.iter().flatten() {
            let started = c
                .state
                .as_ref()
                .and_then(|s| s.running.as_ref())
                .and_then(|r| r.started_at.as_ref())
                .map(|t| t.0);
            (&c.name, c.restart_count, started).hash(&mut h);
        }
    }
    Some(h.finish())
}

/// What the plan needs of a pod (see [`PodRestarts`]).
pub fn restarts_of(pod: &Pod) -> PodRestarts {
    PodRestarts::from_pod(pod)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use k8s_openapi::api::core::v1::{ContainerStatus, NodeSpec, NodeStatus, PodStatus, Taint};
    use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    use super::*;
    use crate::crd::AppSpec;

    fn pod(restarts: &[i32]) -> Pod {
        Pod {
            metadata: ObjectMeta {
                name: Some("web-abc".into()),
                namespace: Some("shop".into()),
                labels: Some(BTreeMap::from([(
                    INSTANCE_LABEL.to_string(),
                    "web".to_string(),
                )])),
                ..Default::default()
            },
            status: Some(PodStatus {
                container_statuses: Some(
                    restarts
                        .iter()
                        .map(|n| ContainerStatus {
                            name: format!("c{n}"),
                            restart_count: *n,
                            ..Default::default()
                        })
                        .collect(),
                ),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn pods_map_to_their_app() {
        assert_eq!(
            app_of_pod(&pod(&[0])),
            Some(ObjectRef::new("web").within("shop"))
        );
        let mut orphan = pod(&[0]);
        orphan.metadata.labels = None;
        assert_eq!(app_of_pod(&orphan), None);
    }

    #[test]
    fn restarts_are_the_highest_count() {
        assert_eq!(restarts_of(&pod(&[1, 4])).restarts, 4);
        assert_eq!(restarts_of(&pod(&[])).restarts, 0);
        assert_ne!(pod_restarts_hash(&pod(&[1])), pod_restarts_hash(&pod(&[2])));
        let mut ready = pod(&[1]);
        ready.status.as_mut().unwrap().phase = Some("Running".into());
        assert_eq!(pod_restarts_hash(&pod(&[1])), pod_restarts_hash(&ready));
        // Instance indices react to a pod stopping and to its annotations.
        let mut stopping = pod(&[1]);
        stopping.metadata.deletion_timestamp =
            Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
                k8s_openapi::jiff::Timestamp::UNIX_EPOCH,
            ));
        assert_ne!(pod_restarts_hash(&pod(&[1])), pod_restarts_hash(&stopping));
        let mut indexed = pod(&[1]);
        indexed.metadata.annotations = Some(BTreeMap::from([(
            INDEX_ANNOTATION.to_string(),
            "0".to_string(),
        )]));
        assert_ne!(pod_restarts_hash(&pod(&[1])), pod_restarts_hash(&indexed));
        let mut other = pod(&[1]);
        other.metadata.annotations = Some(BTreeMap::from([("x".to_string(), "y".to_string())]));
        assert_eq!(pod_restarts_hash(&pod(&[1])), pod_restarts_hash(&other));
    }

    #[test]
    fn a_pod_gone_is_a_change_from_the_same_pod_terminating() {
        let mut terminating = pod(&[1]);
        terminating.metadata.deletion_timestamp =
            Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
                k8s_openapi::jiff::Timestamp::UNIX_EPOCH,
            ));
        let watcher::Event::Delete(gone) =
            mark_deleted(watcher::Event::Delete(terminating.clone()))
        else {
            panic!("a Delete event stays one");
        };
        assert_ne!(pod_restarts_hash(&terminating), pod_restarts_hash(&gone));
        let watcher::Event::Apply(updated) =
            mark_deleted(watcher::Event::Apply(terminating.clone()))
        else {
            panic!("an Apply event stays one");
        };
        assert_eq!(pod_restarts_hash(&terminating), pod_restarts_hash(&updated));
    }

    #[test]
    fn a_container_start_is_a_change_readiness_is_not() {
        use k8s_openapi::api::core::v1::{ContainerState, ContainerStateRunning};
        use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
        let started = |at: &str, ready: bool| {
            let mut p = pod(&[0]);
            let c = &mut p
                .status
                .as_mut()
                .unwrap()
                .container_statuses
                .as_mut()
                .unwrap()[0];
            c.ready = ready;
            c.state = Some(ContainerState {
                running: Some(ContainerStateRunning {
                    started_at: Some(Time(at.parse().unwrap())),
                }),
                ..Default::default()
            });
            p
        };
        let waiting = pod(&[0]);
        let running = started("2026-01-01T12:00:00Z", false);
        assert_ne!(pod_restarts_hash(&waiting), pod_restarts_hash(&running));
        assert_eq!(
            pod_restarts_hash(&running),
            pod_restarts_hash(&started("2026-01-01T12:00:00Z", true))
        );
        assert_ne!(
            pod_restarts_hash(&running),
            pod_restarts_hash(&started("2026-01-01T12:00:09Z", false))
        );
    }

    fn node(cpu: &str, heartbeat: i64) -> Node {
        Node {
            metadata: ObjectMeta {
                name: Some("n1".into()),
                resource_version: Some(heartbeat.to_string()),
                ..Default::default()
            },
            spec: Some(NodeSpec {
                taints: Some(vec![Taint {
                    key: "kwok.x-k8s.io/node".into(),
                    value: Some("fake".into()),
                    effect: "NoSchedule".into(),
                    ..Default::default()
                }]),
                ..Default::default()
            }),
            status: Some(NodeStatus {
                allocatable: Some(BTreeMap::from([("cpu".to_string(), Quantity(cpu.into()))])),
                ..Default::default()
            }),
        }
    }

    #[test]
    fn node_hash_ignores_heartbeats_but_sees_capacity() {
        assert_eq!(
            node_capacity_hash(&node("4", 1)),
            node_capacity_hash(&node("4", 2))
        );
        assert_ne!(
            node_capacity_hash(&node("4", 1)),
            node_capacity_hash(&node("8", 1))
        );
        let mut cordoned = node("4", 1);
        cordoned.spec.as_mut().unwrap().unschedulable = Some(true);
        assert_ne!(
            node_capacity_hash(&node("4", 1)),
            node_capacity_hash(&cordoned)
        );
    }

    fn app(name: &str, instances: Option<Instances>) -> App {
        let mut app = App::new(
            name,
            AppSpec {
                image: "web:1".into(),
                instances,
                ..Default::default()
            },
        );
        app.metadata.namespace = Some("shop".into());
        app
    }

    #[test]
    fn node_changes_reach_only_cpu_counting_apps() {
        let (store, mut writer) = kube::runtime::reflector::store::<DeserializeGuard<App>>();
        for app in [
            app("fixed", Some(Instances::Count(3))),
            app("default", None),
            app("max", Some(Instances::PerCpu)),
            app("minus", Some(Instances::PerCpuMinus(1))),
        ] {
            writer.apply_watcher_event(&watcher::Event::Apply(DeserializeGuard(Ok(app))));
        }
        let mut names: Vec<String> = apps_counting_cpus(&store)
            .into_iter()
            .map(|r| r.name)
            .collect();
        names.sort();
        assert_eq!(names, ["max", "minus"]);
    }

    #[test]
    fn a_deleted_app_leaves_the_rollout_gauge() {
        let gauge = |m: &Metrics| {
            m.encode()
                .expect("encode")
                .lines()
                .find_map(|l| l.strip_prefix("readyroll_rollouts_in_progress "))
                .map(str::to_string)
        };
        let metrics = Metrics::new();
        let mut web = App::new("web", AppSpec::default());
        web.metadata.namespace = Some("shop".into());
        metrics.set_rollout_in_progress("shop/web", true);
        metrics.set_rollout_in_progress("shop/api", true);

        let guard = DeserializeGuard(Ok(web));
        forget_deleted_app(&metrics, &watcher::Event::Apply(guard.clone()));
        assert_eq!(gauge(&metrics).as_deref(), Some("2"));
        forget_deleted_app(&metrics, &watcher::Event::Delete(guard));
        assert_eq!(gauge(&metrics).as_deref(), Some("1"));
    }

    #[test]
    fn a_deleted_app_leaves_the_per_app_series() {
        let metrics = Metrics::new();
        let status = crate::crd::AppStatus {
            current_revision: Some("5d8f".into()),
            ..Default::default()
        };
        metrics.observe_app_status("shop", "web", None, &status);
        metrics.observe_app_status("shop", "api", None, &status);
        let series_of = |app: &str| {
            let label = format!("app=\"{app}\"");
            metrics
                .encode()
                .expect("encode")
                .lines()
                .filter(|l| l.contains(&label))
                .count()
        };
        assert!(series_of("web") > 0);

        let mut web = App::new("web", AppSpec::default());
        web.metadata.namespace = Some("shop".into());
        forget_deleted_app(&metrics, &watcher::Event::Delete(DeserializeGuard(Ok(web))));
        assert_eq!(series_of("web"), 0);
        assert!(series_of("api") > 0);
    }
}
