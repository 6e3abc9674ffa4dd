//! The scale subresource: `kubectl scale app/NAME` and a real
//! HorizontalPodAutoscaler own the count through `spec.replicas`, and
//! readyroll follows it instead of undoing it, while a GitOps edit of the
//! rest of the spec goes on rolling.
//!
//! There is no metrics pipeline on the test cluster (no metrics-server), so
//! the HPA cannot compute a utilization; what it does without metrics is
//! real: it resolves the App through the scale subresource (`AbleToScale`)
//! and raises a count below its `minReplicas`, the same write it makes for a
//! metric.

use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use kube::api::PostParams;
use kube::Api;
use readyroll::crd::App;
use readyroll_e2e::{wait_for, Kubectl, Must};

use crate::harness::{Env, MustSome, TIMEOUT};
use crate::observe::{app_status, rolled_out};

fn scaled_to(n: i32) -> impl Fn(&App) -> bool {
    move |app| {
        rolled_out(app)
            && app.spec.replicas == Some(n)
            && app.status.as_ref().and_then(|s| s.available_replicas) == Some(n)
            && app.status.as_ref().and_then(|s| s.instances) == Some(n)
    }
}

async fn deployment_replicas(api: &Api<Deployment>) -> i32 {
    let d = api.get("web").await.must("get Deployment");
    d.spec
        .and_then(|s| s.replicas)
        .must_some("Deployment replicas")
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs a cluster: run by the api tier"]
async fn kubectl_scale_sets_the_count_and_a_gitops_edit_keeps_it() {
    let env = Env::start("scale-kubectl", 8).await;
    let kubectl = Kubectl::require(env.cluster.kubeconfig());
    let apps = env.ns.api::<App>();
    let deployments = env.ns.api::<Deployment>();
    let mut web = env.app("web", 2);
    env.apply(&web).await;
    wait_for(&apps, "web", app_status(rolled_out), TIMEOUT)
        .await
        .must("first rollout");

    let ns = env.ns.name();
    let run = kubectl.run(["scale", "-n", ns, "app/web", "--replicas=4"]);
    assert!(run.success(), "kubectl scale: {}", run.stderr());
    wait_for(&apps, "web", app_status(scaled_to(4)), TIMEOUT)
        .await
        .must("scaled to 4");
    assert_eq!(deployment_replicas(&deployments).await, 4);

    let scale = apps.get_scale("web").await.must("GET scale");
    let status = scale.status.must_some("scale status");
    assert_eq!(status.replicas, 4);
    let selector = status.selector.must_some("scale selector");
    assert!(
        selector.contains("app.kubernetes.io/instance=web"),
        "{selector}"
    );

    // The manifest still says instances: 2 and does not name replicas: a
    // GitOps edit of something else rolls, on 4 instances.
    web.spec.env.insert("RELEASE".into(), "2".into());
    let applied = env.apply(&web).await;
    assert_eq!(
        applied.spec.replicas,
        Some(4),
        "the apply left the scale alone"
    );
    wait_for(
        &apps,
        "web",
        app_status(|a| scaled_to(4)(a) && a.metadata.generation == applied.metadata.generation),
        TIMEOUT,
    )
    .await
    .must("rolled out on 4 instances");
    assert_eq!(deployment_replicas(&deployments).await, 4);

    // PM2 never runs fewer than one instance.
    let zero = kubectl.run(["scale", "-n", ns, "app/web", "--replicas=0"]);
    assert!(!zero.success(), "scale to 0 must be refused");
    assert!(zero.stderr().contains("spec.replicas"), "{}", zero.stderr());
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs a cluster: run by the api tier"]
async fn an_hpa_scales_the_app_and_readyroll_does_not_undo_it() {
    let env = Env::start("scale-hpa", 8).await;
    let kubectl = Kubectl::require(env.cluster.kubeconfig());
    let apps = env.ns.api::<App>();
    let deployments = env.ns.api::<Deployment>();
    let mut web = env.app("web", 2);
    env.apply(&web).await;
    wait_for(&apps, "web", app_status(rolled_out), TIMEOUT)
        .await
        .must("first rollout");
    // The count starts in spec.replicas (an HPA reads 0 as "scaling disabled").
    let ns = env.ns.name();
    let run = kubectl.run(["scale", "-n", ns, "app/web", "--replicas=2"]);
    assert!(run.success(), "kubectl scale: {}", run.stderr());

    let hpas = env.ns.api::<HorizontalPodAutoscaler>();
    let hpa: HorizontalPodAutoscaler = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "web"},
        "spec": {
            "scaleTargetRef": {"apiVersion": "readyroll.dev/v1alpha1", "kind": "App", "name": "web"},
            "minReplicas": 3,
            "maxReplicas": 5,
            "metrics": [{"type": "Resource", "resource": {
                "name": "cpu", "target": {"type": "Utilization", "averageUtilization": 50}}}]
        }
    }))
    .must("HPA");
    hpas.create(&PostParams::default(), &hpa)
        .await
        .must("create HPA");

    // The HPA controller resolves the App's scale and raises it to its minimum.
    let scaled = wait_for(&apps, "web", app_status(scaled_to(3)), TIMEOUT)
        .await
        .must("the HPA scaled the App to 3");
    assert_eq!(deployment_replicas(&deployments).await, 3);
    let hpa = hpas.get("web").await.must("get HPA");
    let conditions = hpa
        .status
        .as_ref()
        .and_then(|s| s.conditions.clone())
        .unwrap_or_default();
    eprintln!(
        "HPA conditions: {:?}",
        conditions
            .iter()
            .map(|c| (&c.type_, &c.status, c.reason.as_deref()))
            .collect::<Vec<_>>()
    );
    let able = conditions
        .iter()
        .find(|c| c.type_ == "AbleToScale")
        .must_some("AbleToScale");
    assert_eq!(able.status, "True", "{able:?}");
    let managers: Vec<String> = scaled
        .metadata
        .managed_fields
        .iter()
        .flatten()
        .filter_map(|m| m.manager.clone())
        .collect();
    eprintln!("App field managers: {managers:?}");

    // readyroll leaves the scaler's count alone, across a GitOps edit too.
    web.spec.env.insert("RELEASE".into(), "2".into());
    let applied = env.apply(&web).await;
    wait_for(
        &apps,
        "web",
        app_status(|a| scaled_to(3)(a) && a.metadata.generation == applied.metadata.generation),
        TIMEOUT,
    )
    .await
    .must("rolled out on the HPA's 3 instances");
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(deployment_replicas(&deployments).await, 3);
    assert_eq!(
        apps.get("web").await.must("App").spec.replicas,
        Some(3),
        "nobody undid the HPA's count"
    );
}
