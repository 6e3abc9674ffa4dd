//! The real node `readyroll-node` (kubelet + containerd, started by e2e/cluster/node-up.sh)
//! and the images built for it by e2e/cluster/images.sh. Nothing can be pulled there, so pods
//! use these images with `imagePullPolicy: Never`.
use std::{collections::BTreeMap, time::Duration};

use k8s_openapi::{
    api::core::v1::{Container, ContainerPort, EnvVar, HTTPGetAction, Node, PodSpec, Probe},
    apimachinery::pkg::util::intstr::IntOrString,
};
use kube::Api;

use crate::{conditions::node_schedulable, wait_for, Cluster, Error};

/// Name of the real node, as node-up.sh registers it.
pub const NODE_NAME: &str = "readyroll-node";

/// The test HTTP server (e2e/testapp); the tags differ only in the `VERSION` they report.
pub const TESTAPP_V1: &str = "readyroll.dev/testapp:v1";
pub const TESTAPP_V2: &str = "readyroll.dev/testapp:v2";
/// The node runtime with a PM2-style app in /app (e2e/images/node-app).
pub const NODE_APP_V1: &str = "readyroll.dev/node-app:v1";
pub const NODE_APP_V2: &str = "readyroll.dev/node-app:v2";
/// The operator image: /readyroll and /readyroll-shim.
pub const OPERATOR_IMAGE: &str = "readyroll.dev/readyroll:dev";

/// Port the testapp listens on unless `PORT` says otherwise.
pub const TESTAPP_PORT: i32 = 8080;

const NODE_READY_TIMEOUT: Duration = Duration::from_secs(60);

/// Makes `spec` run on the real node.
pub fn place_on_real_node(spec: &mut PodSpec) {
    spec.node_selector
        .get_or_insert_with(BTreeMap::new)
        .insert("kubernetes.io/hostname".to_owned(), NODE_NAME.to_owned());
}

/// A pod spec running `containers` on the real node. Pods there use the host's resolver: the
/// local cluster has no DNS service.
pub fn real_node_pod_spec(containers: Vec<Container>) -> PodSpec {
    let mut spec = PodSpec {
        containers,
        dns_policy: Some("Default".to_owned()),
        ..PodSpec::default()
    };
    place_on_real_node(&mut spec);
    spec
}

/// A testapp container named `app` from `image` with `env`, listening on [`TESTAPP_PORT`],
/// with a readiness probe on `/healthz` every second.
pub fn testapp_container(image: &str, env: &[(&str, &str)]) -> Container {
    Container {
        name: "app".to_owned(),
        image: Some(image.to_owned()),
        image_pull_policy: Some("Never".to_owned()),
        env: Some(
            env.iter()
                .map(|(name, value)| EnvVar {
                    name: (*name).to_owned(),
                    value: Some((*value).to_owned()),
                    ..EnvVar::default()
                })
                .collect(),
        ),
        ports: Some(vec![ContainerPort {
            container_port: TESTAPP_PORT,
            ..ContainerPort::default()
        }]),
        readiness_probe: Some(Probe {
            http_get: Some(HTTPGetAction {
                path: Some("/healthz".to_owned()),
                port: IntOrString::Int(TESTAPP_PORT),
                ..HTTPGetAction::default()
            }),
            period_seconds: Some(1),
            ..Probe::default()
        }),
        ..Container::default()
    }
}

/// Waits until the real node is Ready and schedulable; the error says how to start it.
pub async fn wait_for_real_node(cluster: &Cluster) -> Result<Node, Error> {
    let nodes = Api::<Node>::all(cluster.client());
    if nodes.get_opt(NODE_NAME).await?.is_none() {
        return Err(Error::NoRealNode {
            name: NODE_NAME.to_owned(),
        });
    }
    wait_for(&nodes, NODE_NAME, node_schedulable(), NODE_READY_TIMEOUT).await
}
