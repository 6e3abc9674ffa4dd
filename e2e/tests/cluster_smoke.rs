//! What the other tiers take for granted about the cluster, checked once and fast, so that a
//! broken cluster fails here with a plain message instead of deep inside a readyroll test: the
//! API server runs the pinned version, a Deployment on a kwok node becomes available, and the
//! real node runs the test app whose NodePort answers on loopback.
mod support;

use std::{
    collections::BTreeMap,
    net::SocketAddr,
    time::{Duration, Instant},
};

use k8s_openapi::{
    api::{
        apps::v1::Deployment,
        core::v1::{Pod, Service, ServicePort, ServiceSpec},
    },
    apimachinery::pkg::util::intstr::IntOrString,
};
use kube::api::{ObjectMeta, PostParams};
use readyroll_e2e::{
    conditions::{deployment_available, pod_ready},
    kwok::READY_DELAY_ANNOTATION,
    load::{self, Answer},
    real_node::{
        real_node_pod_spec, testapp_container, wait_for_real_node, NODE_NAME, TESTAPP_PORT,
        TESTAPP_V1,
    },
    wait_for, Cluster, KwokNode, Must, TestNamespace,
};
use support::{deployment, pod_spec_on};

const TIMEOUT: Duration = Duration::from_secs(60);
/// How long kube-proxy may take to program a new Service's rules.
const PROXY_SYNC_TIMEOUT: Duration = Duration::from_secs(30);

#[tokio::test]
#[ignore = "needs a cluster: run by the api tier"]
async fn api_server_runs_the_pinned_kubernetes_version() {
    let cluster = Cluster::require().await;
    // make test-versions runs this tier against another release of versions.env.
    let pinned = std::env::var("READYROLL_KUBERNETES_VERSION").unwrap_or_else(|_| {
        include_str!("../versions.env")
            .lines()
            .find_map(|l| l.strip_prefix("KUBERNETES_VERSION="))
            .expect("versions.env pins KUBERNETES_VERSION")
            .trim()
            .to_owned()
    });
    let info = cluster
        .client()
        .apiserver_version()
        .await
        .must("read /version");
    assert_eq!(info.git_version, pinned);
}

#[tokio::test]
#[ignore = "needs a cluster: run by the api tier"]
async fn a_deployment_on_a_kwok_node_becomes_available() {
    let cluster = Cluster::require().await;
    let node = KwokNode::create(&cluster, "smoke", 2)
        .await
        .must("create kwok node");
    let ns = TestNamespace::new(&cluster, "smoke-kwok")
        .await
        .must("create namespace");
    let deployments = ns.api::<Deployment>();
    let wanted = deployment(
        "smoke",
        2,
        pod_spec_on(node.name(), None),
        &[(READY_DELAY_ANNOTATION, "0s")],
    );
    deployments
        .create(&PostParams::default(), &wanted)
        .await
        .must("create Deployment");
    wait_for(&deployments, "smoke", deployment_available(), TIMEOUT)
        .await
        .must("Deployment available");
}

#[tokio::test]
#[ignore = "needs a cluster with the real node: run by the api tier"]
async fn the_real_node_runs_the_testapp_behind_a_node_port() {
    let cluster = Cluster::require().await;
    wait_for_real_node(&cluster).await.must("real node Ready");
    let ns = TestNamespace::new(&cluster, "smoke-node")
        .await
        .must("create namespace");
    ns.wait_for_default_service_account()
        .await
        .must("default ServiceAccount");
    let pods = ns.api::<Pod>();
    pods.create(&PostParams::default(), &testapp_pod("web"))
        .await
        .must("create pod");
    let pod = wait_for(&pods, "web", pod_ready(), TIMEOUT)
        .await
        .must("pod Ready");
    let spec = pod.spec.as_ref().expect("pod has a spec");
    assert_eq!(spec.node_name.as_deref(), Some(NODE_NAME));

    let service = ns
        .api::<Service>()
        .create(&PostParams::default(), &node_port_service("web"))
        .await
        .must("create Service");
    let node_port = service
        .spec
        .and_then(|s| s.ports)
        .and_then(|ports| ports.first().and_then(|p| p.node_port))
        .expect("NodePort allocated");
    let addr = SocketAddr::from(([127, 0, 0, 1], node_port as u16));
    let answer = get_when_served(addr, PROXY_SYNC_TIMEOUT).await;
    assert_eq!(answer.version, "v1");
    assert_eq!(answer.host, "web");
}

fn labels(name: &str) -> BTreeMap<String, String> {
    [("app".to_owned(), name.to_owned())].into()
}

fn testapp_pod(name: &str) -> Pod {
    let mut spec = real_node_pod_spec(vec![testapp_container(TESTAPP_V1, &[])]);
    spec.termination_grace_period_seconds = Some(5);
    Pod {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            labels: Some(labels(name)),
            ..ObjectMeta::default()
        },
        spec: Some(spec),
        ..Pod::default()
    }
}

fn node_port_service(app: &str) -> Service {
    Service {
        metadata: ObjectMeta {
            name: Some(app.to_owned()),
            ..ObjectMeta::default()
        },
        spec: Some(ServiceSpec {
            type_: Some("NodePort".to_owned()),
            selector: Some(labels(app)),
            ports: Some(vec![ServicePort {
                port: 80,
                target_port: Some(IntOrString::Int(TESTAPP_PORT)),
                ..ServicePort::default()
            }]),
            ..ServiceSpec::default()
        }),
        ..Service::default()
    }
}

/// Polls `GET /` on `addr` until it answers 200 (kube-proxy programs new Services within
/// about a second, but not instantly).
async fn get_when_served(addr: SocketAddr, timeout: Duration) -> Answer {
    let deadline = Instant::now() + timeout;
    loop {
        match load::get_once(addr, Duration::from_secs(2)).await {
            Ok(answer) => return answer,
            Err(failure) if Instant::now() >= deadline => {
                panic!("{addr} did not answer within {timeout:?}: {failure:?}")
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
}
