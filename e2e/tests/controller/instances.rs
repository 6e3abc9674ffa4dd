//! PM2's `instances: 0` ("max") and `-N` against the CPUs of the nodes the
//! App may run on, following nodes as they come and go.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::events::v1::Event;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use readyroll::crd::App;
use readyroll_e2e::{wait_for, Must};

use crate::harness::{Env, TIMEOUT};
use crate::observe::{app_status, event_reasons};

fn replicas(n: i32) -> impl kube::runtime::wait::Condition<Deployment> {
    move |d: Option<&Deployment>| {
        d.and_then(|d| d.spec.as_ref()).and_then(|s| s.replicas) == Some(n)
    }
}

fn instances(n: i32) -> impl kube::runtime::wait::Condition<App> {
    app_status(move |a| a.status.as_ref().and_then(|s| s.instances) == Some(n))
}

/// An App of `env` asking for `instances`, each instance requesting one CPU.
fn per_cpu_app(env: &Env, name: &str, instances: i32) -> App {
    let mut app = env.app(name, instances);
    if let Some(resources) = app.spec.resources.as_mut() {
        resources.requests = Some(BTreeMap::from([("cpu".to_string(), Quantity("1".into()))]));
    }
    app
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs a cluster: run by the api tier"]
async fn per_cpu_instances_follow_the_nodes() {
    let env = Env::start("instances", 4).await;
    let apps = env.ns.api::<App>();
    let deployments = env.ns.api::<Deployment>();
    env.apply(&per_cpu_app(&env, "max", 0)).await;
    env.apply(&per_cpu_app(&env, "minus", -1)).await;

    // One node of 4 CPUs, one CPU per instance.
    wait_for(&deployments, "max", replicas(4), TIMEOUT)
        .await
        .must("instances 0 -> 4");
    wait_for(&deployments, "minus", replicas(3), TIMEOUT)
        .await
        .must("instances -1 -> 3");
    wait_for(&apps, "max", instances(4), TIMEOUT)
        .await
        .must("status shows 4");
    wait_for(&apps, "minus", instances(3), TIMEOUT)
        .await
        .must("status shows 3");

    // A second node of 2 CPUs joins the App's node group.
    let second = env.add_node(2).await;
    wait_for(&deployments, "max", replicas(6), TIMEOUT)
        .await
        .must("instances 0 -> 6");
    wait_for(&deployments, "minus", replicas(5), TIMEOUT)
        .await
        .must("instances -1 -> 5");
    let max = wait_for(&apps, "max", instances(6), TIMEOUT)
        .await
        .must("status shows 6");
    let reasons = event_reasons(env.ns.api::<Event>(), &max).await;
    assert!(
        reasons.iter().any(|r| r == "ScaledInstances"),
        "{reasons:?}"
    );

    // And leaves again.
    second.delete().await.must("delete the second node");
    wait_for(&deployments, "max", replicas(4), TIMEOUT)
        .await
        .must("back to 4");
    wait_for(&deployments, "minus", replicas(3), TIMEOUT)
        .await
        .must("back to 3");
}
