//! The control plane is the real one: the pinned version, the garbage collector deleting
//! dependents, and RBAC refusing what was not granted.
mod support;

use std::time::{Duration, Instant};

use k8s_openapi::api::{
    apps::v1::{Deployment, ReplicaSet},
    authentication::v1::{TokenRequest, TokenRequestSpec},
    core::v1::{Pod, ServiceAccount},
    rbac::v1::{PolicyRule, Role, RoleBinding, RoleRef, Subject},
};
use kube::{
    api::{DeleteParams, ListParams, ObjectMeta, PostParams},
    Api, ResourceExt,
};
use readyroll_e2e::{
    conditions::deployment_available, kwok::READY_DELAY_ANNOTATION, wait_for, wait_for_deletion,
    Cluster, KwokNode, Must, TestNamespace,
};
use support::{deployment, pod_spec_on};

const TIMEOUT: Duration = Duration::from_secs(60);

#[tokio::test]
async fn api_server_runs_the_pinned_kubernetes_version() {
    let Some(cluster) = Cluster::connect_or_skip().await else {
        return;
    };
    let pinned = include_str!("../versions.env")
        .lines()
        .find_map(|l| l.strip_prefix("KUBERNETES_VERSION="))
        .expect("versions.env pins KUBERNETES_VERSION")
        .trim();
    let info = cluster
        .client()
        .apiserver_version()
        .await
        .must("read /version");
    assert_eq!(info.git_version, pinned);
    assert_eq!(
        format!("v{}.{}", info.major, info.minor),
        pinned.rsplit_once('.').expect("vX.Y.Z").0
    );
}

#[tokio::test]
async fn deleting_a_deployment_garbage_collects_its_replica_sets_and_pods() {
    let Some(cluster) = Cluster::connect_or_skip().await else {
        return;
    };
    let node = KwokNode::create(&cluster, "gc", 2)
        .await
        .must("create kwok node");
    let ns = TestNamespace::new(&cluster, "gc")
        .await
        .must("create namespace");
    let deployments = ns.api::<Deployment>();
    let wanted = deployment(
        "owned",
        2,
        pod_spec_on(node.name(), None),
        &[(READY_DELAY_ANNOTATION, "0s")],
    );
    deployments
        .create(&PostParams::default(), &wanted)
        .await
        .must("create Deployment");
    wait_for(&deployments, "owned", deployment_available(), TIMEOUT)
        .await
        .must("Deployment available");

    let by_app = ListParams::default().labels("app=owned");
    let replica_sets = ns.api::<ReplicaSet>();
    let pods = ns.api::<Pod>();
    let rs_names: Vec<String> = replica_sets
        .list(&by_app)
        .await
        .must("list ReplicaSets")
        .iter()
        .map(|r| r.name_any())
        .collect();
    let pod_names: Vec<String> = pods
        .list(&by_app)
        .await
        .must("list pods")
        .iter()
        .map(|p| p.name_any())
        .collect();
    assert_eq!(rs_names.len(), 1, "one ReplicaSet: {rs_names:?}");
    assert_eq!(pod_names.len(), 2, "two pods: {pod_names:?}");

    // Background propagation: the API deletes only the Deployment; the garbage collector in
    // kube-controller-manager must remove the rest.
    deployments
        .delete("owned", &DeleteParams::background())
        .await
        .must("delete Deployment");
    for name in &rs_names {
        wait_for_deletion(&replica_sets, name, TIMEOUT)
            .await
            .must("ReplicaSet collected");
    }
    for name in &pod_names {
        wait_for_deletion(&pods, name, TIMEOUT)
            .await
            .must("pod collected");
    }
}

#[tokio::test]
async fn rbac_forbids_a_service_account_until_a_role_grants_access() {
    let Some(cluster) = Cluster::connect_or_skip().await else {
        return;
    };
    let ns = TestNamespace::new(&cluster, "rbac")
        .await
        .must("create namespace");
    let account = ServiceAccount {
        metadata: ObjectMeta {
            name: Some("nobody".to_owned()),
            ..ObjectMeta::default()
        },
        ..ServiceAccount::default()
    };
    let accounts = ns.api::<ServiceAccount>();
    accounts
        .create(&PostParams::default(), &account)
        .await
        .must("create ServiceAccount");
    let token = accounts
        .create_token_request(
            "nobody",
            &PostParams::default(),
            &TokenRequest {
                spec: TokenRequestSpec {
                    expiration_seconds: Some(600),
                    ..TokenRequestSpec::default()
                },
                ..TokenRequest::default()
            },
        )
        .await
        .must("request a token")
        .status
        .expect("TokenRequest has a status")
        .token;
    let as_nobody: Api<Pod> = Api::namespaced(
        cluster.client_with_token(&token).must("token client"),
        ns.name(),
    );

    match as_nobody.list(&ListParams::default()).await {
        Err(kube::Error::Api(status)) if status.code == 403 => assert!(
            status
                .message
                .contains(&format!("system:serviceaccount:{}:nobody", ns.name())),
            "Forbidden names the ServiceAccount: {}",
            status.message
        ),
        other => panic!("listing pods without a grant: want 403 Forbidden, got {other:?}"),
    }

    grant_pod_listing(&ns, "nobody").await;
    // The authorizer works from an informer cache, so the grant takes effect shortly after.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        match as_nobody.list(&ListParams::default()).await {
            Ok(_) => break,
            Err(_) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(err) => panic!("listing pods after the grant still fails: {err}"),
        }
    }
}

async fn grant_pod_listing(ns: &TestNamespace, account: &str) {
    let role = Role {
        metadata: ObjectMeta {
            name: Some("list-pods".to_owned()),
            ..ObjectMeta::default()
        },
        rules: Some(vec![PolicyRule {
            api_groups: Some(vec![String::new()]),
            resources: Some(vec!["pods".to_owned()]),
            verbs: vec!["list".to_owned()],
            ..PolicyRule::default()
        }]),
    };
    ns.api::<Role>()
        .create(&PostParams::default(), &role)
        .await
        .must("create Role");
    let binding = RoleBinding {
        metadata: ObjectMeta {
            name: Some("list-pods".to_owned()),
            ..ObjectMeta::default()
        },
        role_ref: RoleRef {
            api_group: "rbac.authorization.k8s.io".to_owned(),
            kind: "Role".to_owned(),
            name: "list-pods".to_owned(),
        },
        subjects: Some(vec![Subject {
            kind: "ServiceAccount".to_owned(),
            name: account.to_owned(),
            namespace: Some(ns.name().to_owned()),
            ..Subject::default()
        }]),
    };
    ns.api::<RoleBinding>()
        .create(&PostParams::default(), &binding)
        .await
        .must("create RoleBinding");
}
