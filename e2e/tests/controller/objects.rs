//! The objects an App turns into, their updates, their removal, the status
//! and the Events.

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::{Node, Service};
use k8s_openapi::api::events::v1::Event;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use kube::api::{DeleteParams, ListParams};
use kube::{Api, ResourceExt};
use readyroll::core;
use readyroll::crd::App;
use readyroll_e2e::{wait_for, wait_for_deletion, Must};
use serde_json::Value;

use crate::harness::{Env, MustSome, TIMEOUT};
use crate::observe::{app_status, assert_contains, condition, event_reasons, rolled_out};

fn json<T: serde::Serialize>(object: &T) -> Value {
    serde_json::to_value(object).must("serialize")
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs a cluster: run by the api tier"]
async fn an_app_becomes_exactly_what_the_core_builds() {
    let env = Env::start("objects", 4).await;
    let apps = env.ns.api::<App>();
    env.apply(&env.app("web", 3)).await;
    let app = wait_for(&apps, "web", app_status(rolled_out), TIMEOUT)
        .await
        .must("App rolled out");

    let nodes = Api::<Node>::all(env.cluster.client())
        .list(&ListParams::default())
        .await
        .must("list nodes")
        .items;
    let desired = core::build(&app, &nodes, &Env::build_options()).must("the App builds");
    let deployment = env
        .ns
        .api::<Deployment>()
        .get("web")
        .await
        .must("Deployment");
    let service = env.ns.api::<Service>().get("web").await.must("Service");
    let pdb = env
        .ns
        .api::<PodDisruptionBudget>()
        .get("web")
        .await
        .must("PDB");
    assert_contains(&json(&deployment), &json(&desired.deployment), "Deployment");
    assert_contains(
        &json(&service),
        &json(desired.service.as_ref().must_some("a Service")),
        "Service",
    );
    assert_contains(
        &json(&pdb),
        &json(desired.pdb.as_ref().must_some("a PDB")),
        "PDB",
    );
    for owner in [
        deployment.owner_references(),
        service.owner_references(),
        pdb.owner_references(),
    ] {
        assert_eq!(owner.len(), 1);
        assert_eq!(Some(owner[0].uid.clone()), app.uid(), "owned by the App");
        assert_eq!(owner[0].controller, Some(true));
    }
    assert_eq!(deployment.spec.as_ref().and_then(|s| s.replicas), Some(3));
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs a cluster: run by the api tier"]
async fn editing_the_app_rolls_the_deployment() {
    let env = Env::start("edit", 4).await;
    let apps = env.ns.api::<App>();
    let mut web = env.app("web", 2);
    env.apply(&web).await;
    let first = wait_for(&apps, "web", app_status(rolled_out), TIMEOUT)
        .await
        .must("first revision rolled out");
    let first_revision = first
        .status
        .as_ref()
        .and_then(|s| s.current_revision.clone())
        .must_some("revision");

    web.spec.image = "readyroll.invalid/app:2".into();
    env.apply(&web).await;
    let second = wait_for(
        &apps,
        "web",
        app_status(|a| {
            rolled_out(a)
                && a.status.as_ref().and_then(|s| s.current_revision.as_ref())
                    != Some(&first_revision)
        }),
        TIMEOUT,
    )
    .await
    .must("second revision rolled out");

    let deployment = env
        .ns
        .api::<Deployment>()
        .get("web")
        .await
        .must("Deployment");
    let template = &deployment.spec.as_ref().must_some("spec").template;
    let image = template
        .spec
        .as_ref()
        .and_then(|s| s.containers[0].image.clone());
    assert_eq!(image.as_deref(), Some("readyroll.invalid/app:2"));
    let revision = template
        .metadata
        .as_ref()
        .and_then(|m| m.annotations.as_ref())
        .and_then(|a| a.get(core::REVISION_ANNOTATION))
        .cloned();
    assert_eq!(
        revision,
        second
            .status
            .as_ref()
            .and_then(|s| s.last_good_revision.clone())
    );
    let replica_sets = env
        .ns
        .api::<ReplicaSet>()
        .list(&ListParams::default())
        .await
        .must("list");
    let sizes: Vec<(Option<String>, i32)> = replica_sets
        .items
        .iter()
        .map(|rs| {
            let revision = rs
                .spec
                .as_ref()
                .and_then(|s| s.template.as_ref())
                .and_then(|t| t.metadata.as_ref())
                .and_then(|m| m.annotations.as_ref())
                .and_then(|a| a.get(core::REVISION_ANNOTATION))
                .cloned();
            (
                revision,
                rs.spec.as_ref().and_then(|s| s.replicas).unwrap_or(0),
            )
        })
        .collect();
    assert_eq!(sizes.len(), 2, "one ReplicaSet per revision: {sizes:?}");
    assert!(
        sizes.contains(&(Some(first_revision), 0)),
        "old revision scaled to 0: {sizes:?}"
    );
    assert!(
        sizes.contains(&(revision, 2)),
        "new revision runs: {sizes:?}"
    );

    let reasons = event_reasons(env.ns.api::<Event>(), &second).await;
    let count = |r: &str| reasons.iter().filter(|x| *x == r).count();
    assert_eq!(
        (count("RolloutStarted"), count("RolloutComplete")),
        (2, 2),
        "{reasons:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs a cluster: run by the api tier"]
async fn deleting_the_app_removes_everything_it_made() {
    let env = Env::start("delete", 4).await;
    let apps = env.ns.api::<App>();
    env.apply(&env.app("web", 2)).await;
    wait_for(&apps, "web", app_status(rolled_out), TIMEOUT)
        .await
        .must("rolled out");

    apps.delete("web", &DeleteParams::default())
        .await
        .must("delete App");

    wait_for_deletion(&env.ns.api::<Deployment>(), "web", TIMEOUT)
        .await
        .must("Deployment collected");
    wait_for_deletion(&env.ns.api::<Service>(), "web", TIMEOUT)
        .await
        .must("Service collected");
    wait_for_deletion(&env.ns.api::<PodDisruptionBudget>(), "web", TIMEOUT)
        .await
        .must("PDB collected");
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs a cluster: run by the api tier"]
async fn status_reports_the_deployment_and_events_are_recorded() {
    let env = Env::start("status", 4).await;
    let apps = env.ns.api::<App>();
    env.apply(&env.app("web", 3)).await;
    let app = wait_for(&apps, "web", app_status(rolled_out), TIMEOUT)
        .await
        .must("rolled out");

    let deployment = env
        .ns
        .api::<Deployment>()
        .get("web")
        .await
        .must("Deployment");
    let ds = deployment.status.clone().must_some("Deployment status");
    let status = app.status.clone().must_some("App status");
    assert_eq!(status.observed_generation, app.metadata.generation);
    assert_eq!(status.instances, Some(3));
    assert_eq!(
        (
            status.replicas,
            status.ready_replicas,
            status.updated_replicas,
            status.available_replicas
        ),
        (
            ds.replicas,
            ds.ready_replicas,
            ds.updated_replicas,
            ds.available_replicas
        )
    );
    assert_eq!(status.current_revision, status.last_good_revision);
    assert_eq!(
        condition(&app, "Available"),
        Some(("True".into(), "InstancesAvailable".into()))
    );
    assert_eq!(
        condition(&app, "Progressing"),
        Some(("False".into(), "RolloutComplete".into()))
    );
    assert_eq!(
        condition(&app, "Degraded"),
        Some(("False".into(), "AsExpected".into()))
    );
    for c in &status.conditions {
        assert_eq!(c.observed_generation, app.metadata.generation, "{c:?}");
    }
    let reasons = event_reasons(env.ns.api::<Event>(), &app).await;
    assert_eq!(reasons, ["RolloutStarted", "RolloutComplete"]);

    // Shutdown (what SIGTERM triggers in `readyroll run`) ends the controller.
    let mut env = env;
    env.stop_controller().await;
}
