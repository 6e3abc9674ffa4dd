//! The real node runs real containers: a testapp pod turns Ready through its HTTP readiness
//! probe, a NodePort Service on 127.0.0.1 reaches it through kube-proxy, and a pod reaches the
//! API server through the `kubernetes` Service (what the operator needs in-cluster).
use std::{
    collections::BTreeMap,
    net::SocketAddr,
    time::{Duration, Instant},
};

use k8s_openapi::{
    api::core::v1::{Container, Pod, Service, ServicePort, ServiceSpec},
    apimachinery::pkg::util::intstr::IntOrString,
};
use kube::{
    api::{LogParams, ObjectMeta, PostParams},
    runtime::wait::Condition,
    Api,
};
use readyroll_e2e::{
    conditions::pod_ready,
    http,
    real_node::{
        real_node_pod_spec, testapp_container, wait_for_real_node, NODE_APP_V1, NODE_NAME,
        TESTAPP_PORT, TESTAPP_V1,
    },
    wait_for, Cluster, Must, TestNamespace,
};

const TIMEOUT: Duration = Duration::from_secs(60);
/// How long kube-proxy may take to program a new Service's rules.
const PROXY_SYNC_TIMEOUT: Duration = Duration::from_secs(30);

#[tokio::test]
async fn testapp_pod_turns_ready_by_its_probe_and_serves_through_a_node_port() {
    let Some(cluster) = Cluster::connect_or_skip().await else {
        return;
    };
    wait_for_real_node(&cluster).await.must("real node Ready");
    let ns = TestNamespace::new(&cluster, "real-node-http")
        .await
        .must("create namespace");
    ns.wait_for_default_service_account()
        .await
        .must("default ServiceAccount");
    let pods = ns.api::<Pod>();
    let ready_delay = Duration::from_secs(2);

    let created = Instant::now();
    pods.create(&PostParams::default(), &testapp_pod("web", ready_delay))
        .await
        .must("create pod");
    let pod = wait_for(&pods, "web", pod_ready(), TIMEOUT)
        .await
        .must("pod Ready");
    let took = created.elapsed();
    eprintln!(
        "testapp pod Ready {} ms after creation (READY_DELAY_MS={})",
        took.as_millis(),
        ready_delay.as_millis()
    );

    assert!(
        took >= ready_delay,
        "Ready after {took:?}, before the app was"
    );
    let spec = pod.spec.as_ref().expect("pod has a spec");
    assert_eq!(spec.node_name.as_deref(), Some(NODE_NAME));
    let status = pod.status.as_ref().expect("pod has a status");
    let pod_ip = status.pod_ip.as_deref().unwrap_or_default();
    assert!(
        pod_ip.starts_with("10.88."),
        "pod IP {pod_ip:?} not on the pod bridge"
    );
    let container = &status.container_statuses.as_ref().expect("statuses")[0];
    let container_id = container.container_id.as_deref().unwrap_or_default();
    assert!(
        container_id.starts_with("containerd://"),
        "container id {container_id:?}: not a containerd container"
    );
    let started_at = container
        .state
        .as_ref()
        .and_then(|s| s.running.as_ref())
        .and_then(|r| r.started_at.as_ref())
        .expect("container is running")
        .0;
    let ready_at = status
        .conditions
        .as_ref()
        .and_then(|cs| cs.iter().find(|c| c.type_ == "Ready"))
        .and_then(|c| c.last_transition_time.as_ref())
        .expect("Ready condition has a time")
        .0;
    // Both are whole seconds; a 2s delay before listening shows as at least 1s.
    let gap = ready_at.as_second() - started_at.as_second();
    assert!(gap >= 1, "Ready {gap}s after the container started");

    let services = ns.api::<Service>();
    let service = services
        .create(&PostParams::default(), &node_port_service("web"))
        .await
        .must("create Service");
    let node_port = service
        .spec
        .and_then(|s| s.ports)
        .and_then(|ports| ports.first().and_then(|p| p.node_port))
        .expect("NodePort allocated");
    let addr = SocketAddr::from(([127, 0, 0, 1], node_port as u16));
    let reply = get_when_served(addr, PROXY_SYNC_TIMEOUT).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body, "v1\n");
    assert_eq!(reply.header("X-Version"), Some("v1"));
    assert_eq!(reply.header("X-Hostname"), Some("web"));
}

#[tokio::test]
async fn pod_reaches_the_api_server_through_the_kubernetes_service() {
    let Some(cluster) = Cluster::connect_or_skip().await else {
        return;
    };
    wait_for_real_node(&cluster).await.must("real node Ready");
    let kubernetes_ip = Api::<Service>::namespaced(cluster.client(), "default")
        .get("kubernetes")
        .await
        .must("get the kubernetes Service")
        .spec
        .and_then(|s| s.cluster_ip)
        .expect("kubernetes Service has a ClusterIP");
    let ns = TestNamespace::new(&cluster, "real-node-api")
        .await
        .must("create namespace");
    ns.wait_for_default_service_account()
        .await
        .must("default ServiceAccount");
    let pods = ns.api::<Pod>();

    pods.create(&PostParams::default(), &api_client_pod("whoami"))
        .await
        .must("create pod");
    let pod = wait_for(&pods, "whoami", pod_finished(), TIMEOUT)
        .await
        .must("pod finished");
    let logs = pods
        .logs("whoami", &LogParams::default())
        .await
        .must("read pod logs");
    let phase = pod.status.and_then(|s| s.phase).unwrap_or_default();
    assert_eq!(phase, "Succeeded", "client pod failed; its output:\n{logs}");

    let report: serde_json::Value = serde_json::from_str(logs.trim()).must("parse client output");
    assert_eq!(report["host"], kubernetes_ip.as_str(), "{report}");
    assert_eq!(report["port"], "443", "{report}");
    assert_eq!(report["status"], 201, "{report}");
    let user = &report["body"]["status"]["userInfo"]["username"];
    assert_eq!(
        user,
        &serde_json::Value::from(format!("system:serviceaccount:{}:default", ns.name())),
        "{report}"
    );
}

fn pod_finished() -> impl Condition<Pod> {
    |pod: Option<&Pod>| {
        matches!(
            pod.and_then(|p| p.status.as_ref())
                .and_then(|s| s.phase.as_deref()),
            Some("Succeeded" | "Failed")
        )
    }
}

fn labels(name: &str) -> BTreeMap<String, String> {
    [("app".to_owned(), name.to_owned())].into()
}

/// The testapp, listening only after `ready_delay`, with its readiness probe on /healthz.
fn testapp_pod(name: &str, ready_delay: Duration) -> Pod {
    let delay = ready_delay.as_millis().to_string();
    let mut spec = real_node_pod_spec(vec![testapp_container(
        TESTAPP_V1,
        &[("READY_DELAY_MS", &delay)],
    )]);
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

/// Asks the API server who it is, through the `kubernetes` Service with the pod's
/// ServiceAccount token and CA, and prints one JSON line: the address it used and the answer.
const WHOAMI_SCRIPT: &str = r#"
const fs = require('fs');
const https = require('https');
const dir = '/var/run/secrets/kubernetes.io/serviceaccount';
const host = process.env.KUBERNETES_SERVICE_HOST;
const port = process.env.KUBERNETES_SERVICE_PORT;
const report = (fields, ok) => {
  console.log(JSON.stringify({ host, port, ...fields }));
  process.exit(ok ? 0 : 1);
};
const request = https.request({
  host, port, method: 'POST',
  path: '/apis/authentication.k8s.io/v1/selfsubjectreviews',
  ca: fs.readFileSync(`${dir}/ca.crt`),
  servername: 'kubernetes.default.svc',
  headers: {
    Authorization: `Bearer ${fs.readFileSync(`${dir}/token`, 'utf8').trim()}`,
    'Content-Type': 'application/json',
  },
  timeout: 10000,
}, (response) => {
  let data = '';
  response.on('data', (chunk) => { data += chunk; });
  response.on('end', () => {
    let body;
    try { body = JSON.parse(data); } catch (e) { body = data; }
    report({ status: response.statusCode, body }, response.statusCode === 201);
  });
});
request.on('timeout', () => request.destroy(new Error('timed out')));
request.on('error', (e) => report({ error: e.message }, false));
request.end(JSON.stringify({ apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' }));
"#;

fn api_client_pod(name: &str) -> Pod {
    let mut spec = real_node_pod_spec(vec![Container {
        name: "client".to_owned(),
        image: Some(NODE_APP_V1.to_owned()),
        image_pull_policy: Some("Never".to_owned()),
        command: Some(vec![
            "/usr/bin/node".to_owned(),
            "-e".to_owned(),
            WHOAMI_SCRIPT.to_owned(),
        ]),
        ..Container::default()
    }]);
    spec.restart_policy = Some("Never".to_owned());
    Pod {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            ..ObjectMeta::default()
        },
        spec: Some(spec),
        ..Pod::default()
    }
}

/// Polls `GET /` on `addr` until it answers (kube-proxy programs new Services within about a
/// second, but not instantly).
async fn get_when_served(addr: SocketAddr, timeout: Duration) -> http::Reply {
    let deadline = Instant::now() + timeout;
    loop {
        let attempt =
            tokio::task::spawn_blocking(move || http::get(addr, "/", Duration::from_secs(2)))
                .await
                .must("request thread");
        match attempt {
            Ok(reply) => return reply,
            Err(err) if Instant::now() >= deadline => {
                panic!("{addr} did not answer within {timeout:?}: {err}")
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
}
