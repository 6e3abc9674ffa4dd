//! What readyroll does not own, it does not touch; what the API server
//! refuses, the App says. A same-named Service or Deployment of someone
//! else is reported (`OwnershipConflict`) and left exactly as it was, also
//! when the App is deleted; a Service the API server rejects is reported
//! (`ApplyFailed`, with the field path) while the App's other objects are
//! still applied.

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::events::v1::Event;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use kube::api::{DeleteParams, Patch, PatchParams};
use kube::{Api, Resource};
use readyroll::controller::FIELD_MANAGER;
use readyroll::crd::{App, ServiceSpec, ServiceType};
use readyroll_e2e::{wait_for, Must};
use serde_json::json;

use crate::harness::{Env, MustSome, FAKE_IMAGE, TIMEOUT};
use crate::observe::{app_status, condition, event_reasons, rolled_out};

/// The field manager of the objects that are not readyroll's.
const OTHER_TEAM: &str = "other-team";

/// `Degraded` of the App: (status, reason, message).
fn degraded(app: &App) -> Option<(String, String, String)> {
    app.status
        .as_ref()?
        .conditions
        .iter()
        .find(|c| c.type_ == "Degraded")
        .map(|c| (c.status.clone(), c.reason.clone(), c.message.clone()))
}

fn degraded_with(reason: &'static str) -> impl Fn(&App) -> bool {
    move |app| degraded(app).is_some_and(|(status, r, _)| status == "True" && r == reason)
}

async fn apply_as_other_team<K>(api: &Api<K>, name: &str, body: serde_json::Value) -> K
where
    K: Resource + Clone + std::fmt::Debug + serde::de::DeserializeOwned,
{
    api.patch(name, &PatchParams::apply(OTHER_TEAM), &Patch::Apply(&body))
        .await
        .must("the other team applies its object")
}

fn managers<K: Resource>(object: &K) -> Vec<String> {
    object
        .meta()
        .managed_fields
        .iter()
        .flatten()
        .filter_map(|m| m.manager.clone())
        .collect()
}

/// The object is as the other team left it: the same spec, labels and
/// annotations (its status is its controller's), no owner, no field of
/// readyroll's.
fn assert_untouched<K: Resource + serde::Serialize>(now: &K, before: &K) {
    let name = now.meta().name.clone().unwrap_or_default();
    let part = |object: &K, key: &str| serde_json::to_value(object).must("to JSON")[key].clone();
    assert_eq!(
        part(now, "spec"),
        part(before, "spec"),
        "{name}: spec changed"
    );
    assert_eq!(now.meta().labels, before.meta().labels, "{name}: labels");
    // The Deployment controller annotates its revision; nothing else may.
    let annotations = |object: &K| {
        let mut map = object.meta().annotations.clone().unwrap_or_default();
        map.retain(|key, _| !key.starts_with("deployment.kubernetes.io/"));
        map
    };
    assert_eq!(annotations(now), annotations(before), "{name}: annotations");
    assert_eq!(now.meta().owner_references, None, "{name} was adopted");
    assert!(
        !managers(now).iter().any(|m| m == FIELD_MANAGER),
        "{name}: {:?}",
        managers(now)
    );
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs a cluster: run by the api tier"]
async fn a_foreign_service_and_deployment_are_reported_and_never_adopted() {
    let env = Env::start("foreign", 4).await;
    let apps = env.ns.api::<App>();
    let services = env.ns.api::<Service>();
    let deployments = env.ns.api::<Deployment>();
    let pdbs = env.ns.api::<PodDisruptionBudget>();
    let their_service = apply_as_other_team(
        &services,
        "web",
        json!({
            "apiVersion": "v1", "kind": "Service",
            "metadata": { "name": "web" },
            "spec": { "selector": { "team": "other" }, "ports": [{ "port": 80 }] }
        }),
    )
    .await;
    let their_deployment = apply_as_other_team(
        &deployments,
        "web",
        json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": { "name": "web" },
            "spec": {
                "replicas": 0,
                "selector": { "matchLabels": { "team": "other" } },
                "template": {
                    "metadata": { "labels": { "team": "other" } },
                    "spec": { "containers": [{ "name": "theirs", "image": FAKE_IMAGE }] }
                }
            }
        }),
    )
    .await;

    env.apply(&env.app("web", 2)).await;
    let reported = wait_for(
        &apps,
        "web",
        app_status(degraded_with("OwnershipConflict")),
        TIMEOUT,
    )
    .await
    .must("the conflict is reported");
    let (_, _, message) = degraded(&reported).must_some("Degraded");
    for part in ["Deployment web", "Service web", OTHER_TEAM] {
        assert!(message.contains(part), "{part:?} in {message:?}");
    }
    let reasons = event_reasons(env.ns.api::<Event>(), &reported).await;
    assert!(
        reasons.iter().any(|r| r == "OwnershipConflict"),
        "{reasons:?}"
    );
    // What is not in conflict is still applied.
    let pdb = wait_for(
        &pdbs,
        "web",
        |p: Option<&PodDisruptionBudget>| p.is_some(),
        TIMEOUT,
    )
    .await
    .must("the PDB, which nobody else owns, is applied");
    let app_uid = reported.metadata.uid.clone();
    assert!(
        pdb.metadata
            .owner_references
            .iter()
            .flatten()
            .any(|o| Some(&o.uid) == app_uid.as_ref()),
        "{:?}",
        pdb.metadata.owner_references
    );
    assert_untouched(&services.get("web").await.must("Service"), &their_service);
    assert_untouched(
        &deployments.get("web").await.must("Deployment"),
        &their_deployment,
    );

    // Deleting the App removes what it owns and nothing else.
    apps.delete("web", &DeleteParams::foreground())
        .await
        .must("delete the App");
    let deadline = tokio::time::Instant::now() + TIMEOUT;
    while apps.get_opt("web").await.must("read App").is_some() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the App and its dependents are gone within {TIMEOUT:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert!(pdbs.get_opt("web").await.must("read PDB").is_none());
    assert_untouched(&services.get("web").await.must("Service"), &their_service);
    assert_untouched(
        &deployments.get("web").await.must("Deployment"),
        &their_deployment,
    );
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs a cluster: run by the api tier"]
async fn a_refused_service_is_reported_and_the_other_objects_are_applied() {
    let env = Env::start("refused", 4).await;
    let apps = env.ns.api::<App>();
    let services = env.ns.api::<Service>();
    // Another Service holds a node port; the App asks for the same one,
    // which the schema allows and the API server refuses.
    let taken = apply_as_other_team(
        &services,
        "taken",
        json!({
            "apiVersion": "v1", "kind": "Service",
            "metadata": { "name": "taken" },
            "spec": { "type": "NodePort", "selector": { "team": "other" }, "ports": [{ "port": 80 }] }
        }),
    )
    .await;
    let port = taken
        .spec
        .as_ref()
        .and_then(|s| s.ports.as_ref())
        .and_then(|p| p.first())
        .and_then(|p| p.node_port)
        .must_some("allocated node port");

    let mut web = env.app("web", 2);
    web.spec.service = Some(ServiceSpec {
        type_: Some(ServiceType::NodePort),
        node_port: Some(port),
        ..Default::default()
    });
    env.apply(&web).await;
    let reported = wait_for(
        &apps,
        "web",
        app_status(degraded_with("ApplyFailed")),
        TIMEOUT,
    )
    .await
    .must("the refusal is reported");
    let (_, _, message) = degraded(&reported).must_some("Degraded");
    assert!(
        message.contains("Service web") && message.contains("spec.ports[0].nodePort"),
        "{message}"
    );
    let reasons = event_reasons(env.ns.api::<Event>(), &reported).await;
    assert!(reasons.iter().any(|r| r == "ApplyFailed"), "{reasons:?}");
    // The objects after the Service in the plan were applied all the same.
    env.ns
        .api::<PodDisruptionBudget>()
        .get("web")
        .await
        .must("the PDB is applied although the Service was refused");
    env.ns
        .api::<Deployment>()
        .get("web")
        .await
        .must("the Deployment is applied");
    assert!(services.get_opt("web").await.must("read Service").is_none());

    // Once the spec asks for something the API server accepts, the App
    // recovers and says so.
    web.spec.service = Some(ServiceSpec {
        type_: Some(ServiceType::NodePort),
        ..Default::default()
    });
    env.apply(&web).await;
    let recovered = wait_for(
        &apps,
        "web",
        app_status(|a| rolled_out(a) && degraded(a).is_some_and(|(s, _, _)| s == "False")),
        TIMEOUT,
    )
    .await
    .must("recovers");
    assert_eq!(
        condition(&recovered, "Degraded"),
        Some(("False".into(), "AsExpected".into()))
    );
    services.get("web").await.must("the Service now exists");
}
