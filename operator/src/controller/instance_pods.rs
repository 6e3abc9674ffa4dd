//! PM2's `NODE_APP_INSTANCE`, the I/O half (the decisions are
//! `readyroll_core::instance_index`): observe lists the App's pods fresh
//! from the API server when the cache says some need an index or a
//! deletion cost, and execute writes the plan's pod annotations.

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{ListParams, Patch, PatchParams};
use kube::{Api, ResourceExt};
use readyroll_core::build::reads_index;
use readyroll_core::crd::App;
use readyroll_core::instance_index::{needs_index, PodFacts, PodPatch};
use readyroll_core::observed::revision_of;
use tracing::{debug, info};

use super::context::Context;
use super::error::Error;
use super::execute::{ensure_leader, Target, FIELD_MANAGER};
use super::watches::{managed_by_selector, INSTANCE_LABEL};

/// The App's pods as the API server lists them, when the cached ones
/// (under the Deployment as it is) need an index or a cost; else `None`.
/// Indices are given from a fresh list only: a cache that has not yet seen
/// the previous reconcile's writes would hand one index out twice.
pub async fn fresh_if_needed(
    ctx: &Context,
    app: &App,
    namespace: &str,
    deployment: Option<&Deployment>,
) -> Result<Option<Vec<PodFacts>>, Error> {
    let Some(spec) = deployment.and_then(|d| d.spec.as_ref()) else {
        return Ok(None);
    };
    let Some(revision) = revision_of(&spec.template).filter(|_| reads_index(&spec.template)) else {
        return Ok(None);
    };
    let cached: Vec<PodFacts> = ctx
        .pods_of(app)
        .await
        .iter()
        .map(|p| PodFacts::of(p))
        .collect();
    if !needs_index(spec.replicas.unwrap_or(1), revision, &cached) {
        return Ok(None);
    }
    let name = app.name_any();
    let api: Api<Pod> = Api::namespaced(ctx.client.clone(), namespace);
    let selector = format!("{INSTANCE_LABEL}={name},{}", managed_by_selector());
    let pods = api
        .list(&ListParams::default().labels(&selector))
        .await
        .map_err(Error::api(format!("listing the pods of App {name}")))?;
    debug!(pods = pods.items.len(), "listed pods for instance indices");
    Ok(Some(pods.items.iter().map(PodFacts::of).collect()))
}

/// Writes the annotations in order, stopping at the first failure (a
/// hand-over's mark must land before the index it frees is given). A pod
/// gone meanwhile is skipped; a conflict fails the reconcile, which is
/// retried from a fresh list.
pub async fn annotate(target: &Target<'_>, patches: &[PodPatch]) -> Result<(), Error> {
    let api: Api<Pod> = Api::namespaced(target.client.clone(), target.namespace);
    let params = PatchParams {
        field_manager: Some(FIELD_MANAGER.to_string()),
        ..PatchParams::default()
    };
    for patch in patches {
        ensure_leader(target.leadership)?;
        let pod = &patch.name;
        match api
            .patch(pod, &params, &Patch::Merge(patch.merge_patch()))
            .await
        {
            Ok(_) => info!(%pod, index = ?patch.index, cost = ?patch.cost, "annotated pod"),
            Err(kube::Error::Api(status)) if status.code == 404 => {
                debug!(%pod, "pod is gone; not annotated");
            }
            Err(e) => {
                return Err(Error::api(format!(
                    "writing the instance index of pod {pod}"
                ))(e))
            }
        }
    }
    Ok(())
}
