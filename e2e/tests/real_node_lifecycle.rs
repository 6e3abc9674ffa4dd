//! How the real node ends containers, which readyroll's PM2 mapping relies on: a deleted pod
//! runs its pre-stop sleep, then gets SIGTERM and may finish in-flight requests within its
//! grace period (`kill_timeout`); a container over its memory limit is OOM-killed
//! (`max_memory_restart`).
use std::{
    net::SocketAddr,
    time::{Duration, Instant},
};

use k8s_openapi::{
    api::core::v1::{Lifecycle, LifecycleHandler, Pod, ResourceRequirements, SleepAction},
    apimachinery::pkg::api::resource::Quantity,
};
use kube::{
    api::{DeleteParams, ObjectMeta, PostParams},
    runtime::wait::Condition,
};
use readyroll_e2e::{
    conditions::pod_ready,
    http,
    real_node::{
        real_node_pod_spec, testapp_container, wait_for_real_node, TESTAPP_PORT, TESTAPP_V1,
    },
    wait_for, wait_for_deletion, Cluster, Must, TestNamespace,
};

const TIMEOUT: Duration = Duration::from_secs(60);

#[tokio::test]
async fn deleted_pod_sleeps_before_sigterm_and_finishes_its_in_flight_request() {
    let Some(cluster) = Cluster::connect_or_skip().await else {
        return;
    };
    wait_for_real_node(&cluster).await.must("real node Ready");
    let ns = TestNamespace::new(&cluster, "real-node-stop")
        .await
        .must("create namespace");
    ns.wait_for_default_service_account()
        .await
        .must("default ServiceAccount");
    let pods = ns.api::<Pod>();
    let pre_stop = Duration::from_secs(3);
    let latency = Duration::from_secs(4);

    let mut container = testapp_container(TESTAPP_V1, &[("LATENCY_MS", "4000")]);
    container.lifecycle = Some(Lifecycle {
        pre_stop: Some(LifecycleHandler {
            sleep: Some(SleepAction {
                seconds: pre_stop.as_secs() as i64,
            }),
            ..LifecycleHandler::default()
        }),
        ..Lifecycle::default()
    });
    let mut spec = real_node_pod_spec(vec![container]);
    spec.termination_grace_period_seconds = Some(20);
    pods.create(&PostParams::default(), &named_pod("slow", spec))
        .await
        .must("create pod");
    let pod = wait_for(&pods, "slow", pod_ready(), TIMEOUT)
        .await
        .must("pod Ready");
    let ip = pod
        .status
        .and_then(|s| s.pod_ip)
        .expect("pod has an IP")
        .parse::<std::net::IpAddr>()
        .must("pod IP");
    let addr = SocketAddr::new(ip, TESTAPP_PORT as u16);

    // The request starts after the deletion, during the pre-stop sleep: it is accepted only
    // because SIGTERM (which closes the listener) waits for that sleep. It is still running
    // when SIGTERM arrives, and a graceful stop answers it before the process exits.
    let deleted = Instant::now();
    pods.delete("slow", &DeleteParams::default())
        .await
        .must("delete pod");
    // Without the pre-stop sleep, kubelet sends SIGTERM about 1s after the deletion.
    let request_delay = Duration::from_secs(2);
    tokio::time::sleep(request_delay).await;
    let request =
        tokio::task::spawn_blocking(move || http::get(addr, "/", Duration::from_secs(15)));
    let reply = request
        .await
        .must("request thread")
        .must("request sent during the pre-stop sleep");
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body, "v1\n");
    assert_eq!(
        reply.header("Connection"),
        Some("close"),
        "answered after SIGTERM, so the connection is closed"
    );
    wait_for_deletion(&pods, "slow", TIMEOUT)
        .await
        .must("pod deleted");
    let took = deleted.elapsed();
    eprintln!(
        "pod deleted {} ms after the request to delete it",
        took.as_millis()
    );
    assert!(
        took >= request_delay + latency,
        "pod gone after {took:?}, before its in-flight request could finish"
    );
    assert!(
        took < Duration::from_secs(20),
        "pod gone after {took:?}: the app was killed at the end of its grace period"
    );
}

#[tokio::test]
async fn container_over_its_memory_limit_is_oom_killed() {
    let Some(cluster) = Cluster::connect_or_skip().await else {
        return;
    };
    wait_for_real_node(&cluster).await.must("real node Ready");
    let ns = TestNamespace::new(&cluster, "real-node-oom")
        .await
        .must("create namespace");
    ns.wait_for_default_service_account()
        .await
        .must("default ServiceAccount");
    let pods = ns.api::<Pod>();

    let mut container = testapp_container(TESTAPP_V1, &[("ALLOCATE_MB", "64")]);
    container.resources = Some(ResourceRequirements {
        limits: Some([("memory".to_owned(), Quantity("32Mi".to_owned()))].into()),
        ..ResourceRequirements::default()
    });
    let mut spec = real_node_pod_spec(vec![container]);
    spec.restart_policy = Some("Never".to_owned());
    pods.create(&PostParams::default(), &named_pod("hungry", spec))
        .await
        .must("create pod");
    let pod = wait_for(&pods, "hungry", terminated(), TIMEOUT)
        .await
        .must("container terminated");
    let state = pod
        .status
        .and_then(|s| s.container_statuses)
        .and_then(|cs| cs.into_iter().next())
        .and_then(|c| c.state)
        .and_then(|s| s.terminated)
        .expect("terminated state");
    assert_eq!(state.reason.as_deref(), Some("OOMKilled"), "{state:?}");
    assert_eq!(state.exit_code, 137, "{state:?}");
}

fn named_pod(name: &str, spec: k8s_openapi::api::core::v1::PodSpec) -> Pod {
    Pod {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            ..ObjectMeta::default()
        },
        spec: Some(spec),
        ..Pod::default()
    }
}

/// The pod's first container has terminated.
fn terminated() -> impl Condition<Pod> {
    |pod: Option<&Pod>| {
        pod.and_then(|p| p.status.as_ref())
            .and_then(|s| s.container_statuses.as_ref())
            .and_then(|cs| cs.first())
            .and_then(|c| c.state.as_ref())
            .is_some_and(|s| s.terminated.is_some())
    }
}
