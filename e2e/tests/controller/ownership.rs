//! Server-side apply: readyroll takes back the fields it owns and leaves
//! everyone else's alone.

use k8s_openapi::api::apps::v1::Deployment;
use kube::api::{Patch, PatchParams};
use readyroll::controller::FIELD_MANAGER;
use readyroll::core::REVISION_HISTORY_LIMIT;
use readyroll::crd::App;
use readyroll_e2e::{wait_for, Must};
use serde_json::json;

use crate::harness::{Env, TIMEOUT};
use crate::observe::{app_status, rolled_out};

const NOTE: &str = "example.com/note";

/// The managers that own `spec.revisionHistoryLimit` of the Deployment.
fn owners_of_history_limit(deployment: &Deployment) -> Vec<String> {
    deployment
        .metadata
        .managed_fields
        .iter()
        .flatten()
        .filter(|entry| {
            entry
                .fields_v1
                .as_ref()
                .is_some_and(|f| f.0.pointer("/f:spec/f:revisionHistoryLimit").is_some())
        })
        .filter_map(|entry| entry.manager.clone())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs a cluster: run by the api tier"]
async fn owned_fields_are_taken_back_and_foreign_fields_left_alone() {
    let env = Env::start("ownership", 4).await;
    let apps = env.ns.api::<App>();
    let deployments = env.ns.api::<Deployment>();
    env.apply(&env.app("web", 2)).await;
    wait_for(&apps, "web", app_status(rolled_out), TIMEOUT)
        .await
        .must("rolled out");
    let limit = REVISION_HISTORY_LIMIT;

    // Another tool adds an annotation readyroll never sets...
    let note = json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": { "name": "web", "annotations": { NOTE: "kept" } }
    });
    deployments
        .patch(
            "web",
            &PatchParams::apply("other-tool"),
            &Patch::Apply(&note),
        )
        .await
        .must("another manager adds an annotation");
    // ...and someone takes over a field readyroll owns.
    let takeover = json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": { "name": "web" },
        "spec": { "revisionHistoryLimit": limit + 3 }
    });
    let taken = deployments
        .patch(
            "web",
            &PatchParams::apply("intruder").force(),
            &Patch::Apply(&takeover),
        )
        .await
        .must("another manager forces a readyroll field");
    assert_eq!(owners_of_history_limit(&taken), ["intruder"]);

    let restored = wait_for(
        &deployments,
        "web",
        |d: Option<&Deployment>| {
            d.and_then(|d| d.spec.as_ref())
                .and_then(|s| s.revision_history_limit)
                == Some(limit)
        },
        TIMEOUT,
    )
    .await
    .must("readyroll restores its value");
    assert_eq!(owners_of_history_limit(&restored), [FIELD_MANAGER]);
    let annotations = restored.metadata.annotations.clone().unwrap_or_default();
    assert_eq!(
        annotations.get(NOTE).map(String::as_str),
        Some("kept"),
        "{annotations:?}"
    );
}
