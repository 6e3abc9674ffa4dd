//! kwok fake nodes behave like nodes: the scheduler places pods by their capacity, and pods
//! follow the readiness the test asks for through annotations.
mod support;

use std::time::{Duration, Instant};

use k8s_openapi::api::{apps::v1::Deployment, core::v1::Pod};
use kube::api::{DeleteParams, ListParams, ObjectMeta, PostParams};
use readyroll_e2e::{
    conditions::{deployment_available, is_pod_ready, pod_ready, pod_running},
    kwok::{DELETE_DELAY_ANNOTATION, NEVER_READY_ANNOTATION, READY_DELAY_ANNOTATION},
    wait_for, wait_for_deletion, Cluster, Error, KwokNode, Must, TestNamespace,
};
use support::{deployment, pod_spec_on};

const TIMEOUT: Duration = Duration::from_secs(60);

#[tokio::test]
async fn deployment_on_kwok_node_becomes_available_only_after_the_ready_delay() {
    let Some(cluster) = Cluster::connect_or_skip().await else {
        return;
    };
    let node = KwokNode::create(&cluster, "ready-delay", 2)
        .await
        .must("create kwok node");
    let ns = TestNamespace::new(&cluster, "ready-delay")
        .await
        .must("create namespace");
    let deployments = ns.api::<Deployment>();
    let wanted = deployment(
        "delayed",
        2,
        pod_spec_on(node.name(), None),
        &[(READY_DELAY_ANNOTATION, "4s")],
    );

    let started = Instant::now();
    deployments
        .create(&PostParams::default(), &wanted)
        .await
        .must("create Deployment");
    wait_for(&deployments, "delayed", deployment_available(), TIMEOUT)
        .await
        .must("Deployment available");
    let took = started.elapsed();

    assert!(
        took >= Duration::from_secs(4),
        "Available after {took:?}, before the 4s ready delay"
    );
    let pods = ns
        .api::<Pod>()
        .list(&ListParams::default().labels("app=delayed"))
        .await
        .must("list pods");
    assert_eq!(pods.items.len(), 2, "pods: {:?}", pods.items);
    for pod in &pods.items {
        let spec = pod.spec.as_ref().expect("pod has a spec");
        assert_eq!(
            spec.node_name.as_deref(),
            Some(node.name()),
            "pod scheduled onto the kwok node"
        );
        assert!(is_pod_ready(pod));
        // Timestamps have whole seconds, so a 4s delay shows as at least 3s.
        let gap = ready_after_start(pod).expect("pod reports start and Ready times");
        assert!(
            gap >= 3,
            "pod Ready {gap}s after its container started; want >= 3s"
        );
    }
}

#[tokio::test]
async fn never_ready_pod_stays_unready_while_its_neighbour_turns_ready() {
    let Some(cluster) = Cluster::connect_or_skip().await else {
        return;
    };
    let node = KwokNode::create(&cluster, "never-ready", 2)
        .await
        .must("create kwok node");
    let ns = TestNamespace::new(&cluster, "never-ready")
        .await
        .must("create namespace");
    let pods = ns.api::<Pod>();
    for (name, annotation) in [
        ("never", NEVER_READY_ANNOTATION),
        ("normal", READY_DELAY_ANNOTATION),
    ] {
        let value = if name == "never" { "true" } else { "1s" };
        let pod = Pod {
            metadata: ObjectMeta {
                name: Some(name.to_owned()),
                annotations: Some([(annotation.to_owned(), value.to_owned())].into()),
                ..ObjectMeta::default()
            },
            spec: Some(pod_spec_on(node.name(), None)),
            ..Pod::default()
        };
        pods.create(&PostParams::default(), &pod)
            .await
            .must("create pod");
    }

    wait_for(&pods, "normal", pod_ready(), TIMEOUT)
        .await
        .must("normal pod Ready");
    wait_for(&pods, "never", pod_running(), TIMEOUT)
        .await
        .must("never-ready pod Running");
    // Well past the normal pod's 1s delay, the never-ready pod must still be unready.
    match wait_for(&pods, "never", pod_ready(), Duration::from_secs(6)).await {
        Err(Error::Timeout { .. }) => {}
        Ok(pod) => panic!("never-ready pod became Ready: {:?}", pod.status),
        Err(err) => panic!("watching the never-ready pod failed: {err}"),
    }
}

#[tokio::test]
async fn deleted_pod_lingers_for_its_delete_delay() {
    let Some(cluster) = Cluster::connect_or_skip().await else {
        return;
    };
    let node = KwokNode::create(&cluster, "delete-delay", 1)
        .await
        .must("create kwok node");
    let ns = TestNamespace::new(&cluster, "delete-delay")
        .await
        .must("create namespace");
    let pods = ns.api::<Pod>();
    let pod = Pod {
        metadata: ObjectMeta {
            name: Some("slow-stop".to_owned()),
            annotations: Some(
                [
                    (READY_DELAY_ANNOTATION.to_owned(), "0s".to_owned()),
                    (DELETE_DELAY_ANNOTATION.to_owned(), "3s".to_owned()),
                ]
                .into(),
            ),
            ..ObjectMeta::default()
        },
        spec: Some(pod_spec_on(node.name(), None)),
        ..Pod::default()
    };
    pods.create(&PostParams::default(), &pod)
        .await
        .must("create pod");
    wait_for(&pods, "slow-stop", pod_ready(), TIMEOUT)
        .await
        .must("pod Ready");

    let deleted = Instant::now();
    pods.delete("slow-stop", &DeleteParams::default())
        .await
        .must("delete pod");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let terminating = pods.get_opt("slow-stop").await.must("read pod");
    assert!(
        terminating.is_some_and(|p| p.metadata.deletion_timestamp.is_some()),
        "pod should still be terminating 1.5s into its 3s delete delay"
    );
    wait_for_deletion(&pods, "slow-stop", TIMEOUT)
        .await
        .must("pod removed");
    let took = deleted.elapsed();
    assert!(
        took >= Duration::from_secs(3),
        "pod removed after {took:?}, before its 3s delete delay"
    );
}

#[tokio::test]
async fn scheduler_fills_a_kwok_node_only_up_to_its_cpus() {
    let Some(cluster) = Cluster::connect_or_skip().await else {
        return;
    };
    let node = KwokNode::create(&cluster, "capacity", 2)
        .await
        .must("create kwok node");
    let ns = TestNamespace::new(&cluster, "capacity")
        .await
        .must("create namespace");
    let deployments = ns.api::<Deployment>();
    let wanted = deployment("one-cpu-each", 3, pod_spec_on(node.name(), Some("1")), &[]);
    deployments
        .create(&PostParams::default(), &wanted)
        .await
        .must("create Deployment");

    let pods = ns.api::<Pod>();
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let list = pods
            .list(&ListParams::default().labels("app=one-cpu-each"))
            .await
            .must("list pods");
        let ready = list.items.iter().filter(|p| is_pod_ready(p)).count();
        let unschedulable = list.items.iter().filter(|p| is_unschedulable(p)).count();
        if list.items.len() == 3 && ready == 2 && unschedulable == 1 {
            break;
        }
        assert!(
            ready <= 2,
            "{ready} pods requesting 1 CPU each are ready on a 2-CPU node"
        );
        assert!(
            Instant::now() < deadline,
            "want 2 ready and 1 unschedulable pod; have {} pods, {ready} ready, {unschedulable} unschedulable",
            list.items.len()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

fn is_unschedulable(pod: &Pod) -> bool {
    pod.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| {
            cs.iter().any(|c| {
                c.type_ == "PodScheduled"
                    && c.status == "False"
                    && c.reason.as_deref() == Some("Unschedulable")
            })
        })
}

/// Seconds between the first container starting and the pod's Ready condition turning True.
fn ready_after_start(pod: &Pod) -> Option<i64> {
    let status = pod.status.as_ref()?;
    let started = status
        .container_statuses
        .as_ref()?
        .first()?
        .state
        .as_ref()?
        .running
        .as_ref()?
        .started_at
        .as_ref()?
        .0;
    let ready = status
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == "Ready" && c.status == "True")?
        .last_transition_time
        .as_ref()?
        .0;
    Some(ready.as_second() - started.as_second())
}
