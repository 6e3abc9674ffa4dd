//! Fake nodes simulated by kwok (see e2e/cluster/kwok/ for the pod lifecycle they follow).
use std::{collections::BTreeMap, time::Duration};

use k8s_openapi::{
    api::core::v1::{Node, NodeSpec, NodeStatus, Pod, PodSpec, Taint, Toleration},
    apimachinery::pkg::api::resource::Quantity,
};
use kube::{
    api::{DeleteParams, ListParams, ObjectMeta, PostParams},
    Api, Client, Config,
};

use crate::{
    background, conditions::node_schedulable, names::unique_name, wait_for, wait_for_deletion,
    Cluster, Error,
};

/// Label kwok manages nodes by; tests select fake nodes with it.
pub const NODE_LABEL_KEY: &str = "type";
pub const NODE_LABEL_VALUE: &str = "kwok";
/// Taint on every fake node, so only pods that ask for one land there.
pub const TAINT_KEY: &str = "kwok.x-k8s.io/node";
pub const TAINT_VALUE: &str = "fake";

/// Pod annotation: how long after starting the pod turns Ready (Go duration, default "1s").
pub const READY_DELAY_ANNOTATION: &str = "readyroll.dev/kwok-ready-delay";
/// Pod annotation: `"true"` keeps the pod running but never Ready.
pub const NEVER_READY_ANNOTATION: &str = "readyroll.dev/kwok-never-ready";
/// Pod annotation: how long a deleted pod lingers before it is removed (default "0s").
pub const DELETE_DELAY_ANNOTATION: &str = "readyroll.dev/kwok-delete-delay";

const NODE_READY_TIMEOUT: Duration = Duration::from_secs(60);
/// Pods a fake node holds unless told otherwise (the kubelet's default).
const DEFAULT_PODS: u32 = 110;

/// Makes `spec` schedule onto fake nodes only: it selects `type=kwok` and tolerates their taint.
pub fn place_on_kwok(spec: &mut PodSpec) {
    spec.node_selector
        .get_or_insert_with(BTreeMap::new)
        .insert(NODE_LABEL_KEY.to_owned(), NODE_LABEL_VALUE.to_owned());
    spec.tolerations
        .get_or_insert_with(Vec::new)
        .push(Toleration {
            key: Some(TAINT_KEY.to_owned()),
            operator: Some("Exists".to_owned()),
            effect: Some("NoSchedule".to_owned()),
            ..Toleration::default()
        });
}

/// A fake node with a given number of CPUs. It is deleted by [`KwokNode::delete`], or when
/// dropped.
pub struct KwokNode {
    name: String,
    config: Config,
    deleted: bool,
}

impl KwokNode {
    /// Creates `PREFIX-<random>` with `cpus` CPUs and waits until it is Ready and schedulable.
    pub async fn create(cluster: &Cluster, prefix: &str, cpus: u32) -> Result<Self, Error> {
        Self::create_with_labels(cluster, prefix, cpus, BTreeMap::new()).await
    }

    /// Like [`KwokNode::create`], with extra labels (e.g. to tell nodes of one test apart).
    pub async fn create_with_labels(
        cluster: &Cluster,
        prefix: &str,
        cpus: u32,
        labels: BTreeMap<String, String>,
    ) -> Result<Self, Error> {
        Self::create_sized(cluster, prefix, cpus, DEFAULT_PODS, labels).await
    }

    /// Like [`KwokNode::create_with_labels`], holding up to `pods` pods (many, to place
    /// thousands of pods on a few fake nodes).
    pub async fn create_sized(
        cluster: &Cluster,
        prefix: &str,
        cpus: u32,
        pods: u32,
        labels: BTreeMap<String, String>,
    ) -> Result<Self, Error> {
        let name = unique_name(prefix);
        let nodes: Api<Node> = Api::all(cluster.client());
        nodes
            .create(
                &PostParams::default(),
                &node_manifest(&name, cpus, pods, labels),
            )
            .await?;
        let node = Self {
            name,
            config: cluster.config().clone(),
            deleted: false,
        };
        wait_for(&nodes, &node.name, node_schedulable(), NODE_READY_TIMEOUT).await?;
        Ok(node)
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Deletes the pods on the node, then the node, and waits until it is gone.
    pub async fn delete(mut self) -> Result<(), Error> {
        self.deleted = true;
        let client = Client::try_from(self.config.clone())?;
        remove_pods_on(&client, &self.name).await;
        let nodes: Api<Node> = Api::all(client);
        if nodes.get_opt(&self.name).await?.is_some() {
            nodes.delete(&self.name, &DeleteParams::default()).await?;
        }
        wait_for_deletion(&nodes, &self.name, NODE_READY_TIMEOUT).await
    }
}

impl Drop for KwokNode {
    fn drop(&mut self) {
        if self.deleted {
            return;
        }
        let name = self.name.clone();
        background::run_to_completion(&self.config, move |client| async move {
            remove_pods_on(&client, &name).await;
            let nodes: Api<Node> = Api::all(client);
            if let Err(err) = nodes.delete(&name, &DeleteParams::default()).await {
                if !is_not_found(&err) {
                    eprintln!("readyroll-e2e: could not delete kwok node {name}: {err}");
                }
            }
        });
    }
}

/// Pods left on a deleted node are no longer simulated and would hold their namespace in
/// Terminating until the pod garbage collector notices them, so they go first, at once (a fake
/// node has no processes to stop gracefully).
async fn remove_pods_on(client: &Client, node: &str) {
    let on_node = ListParams::default().fields(&format!("spec.nodeName={node}"));
    let pods = match Api::<Pod>::all(client.clone())
        .list_metadata(&on_node)
        .await
    {
        Ok(pods) => pods,
        Err(err) => {
            eprintln!("readyroll-e2e: cannot list pods on kwok node {node}: {err}");
            return;
        }
    };
    for pod in pods {
        let (Some(namespace), Some(name)) = (pod.metadata.namespace, pod.metadata.name) else {
            continue;
        };
        let api: Api<Pod> = Api::namespaced(client.clone(), &namespace);
        if let Err(err) = api
            .delete(&name, &DeleteParams::default().grace_period(0))
            .await
        {
            if !is_not_found(&err) {
                eprintln!("readyroll-e2e: cannot delete pod {namespace}/{name}: {err}");
            }
        }
    }
}

fn is_not_found(err: &kube::Error) -> bool {
    matches!(err, kube::Error::Api(status) if status.code == 404)
}

fn node_manifest(name: &str, cpus: u32, pods: u32, extra_labels: BTreeMap<String, String>) -> Node {
    let mut labels = extra_labels;
    labels.insert(NODE_LABEL_KEY.to_owned(), NODE_LABEL_VALUE.to_owned());
    labels.insert("kubernetes.io/hostname".to_owned(), name.to_owned());
    labels.insert("kubernetes.io/os".to_owned(), "linux".to_owned());
    labels.insert("kubernetes.io/arch".to_owned(), "amd64".to_owned());
    let resources: BTreeMap<String, Quantity> = [
        ("cpu", cpus.to_string()),
        ("memory", "32Gi".to_owned()),
        ("pods", pods.to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), Quantity(v)))
    .collect();
    Node {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            labels: Some(labels),
            annotations: Some([("kwok.x-k8s.io/node".to_owned(), "fake".to_owned())].into()),
            ..ObjectMeta::default()
        },
        spec: Some(NodeSpec {
            taints: Some(vec![Taint {
                key: TAINT_KEY.to_owned(),
                value: Some(TAINT_VALUE.to_owned()),
                effect: "NoSchedule".to_owned(),
                ..Taint::default()
            }]),
            ..NodeSpec::default()
        }),
        // The API server keeps the status of a created Node; kwok's node-initialize stage keeps
        // this capacity, so the scheduler sees exactly `cpus` CPUs.
        status: Some(NodeStatus {
            allocatable: Some(resources.clone()),
            capacity: Some(resources),
            ..NodeStatus::default()
        }),
    }
}
