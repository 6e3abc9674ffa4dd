//! Step 1 of a reconcile: read everything the plan needs. The App and the
//! objects it owns are read from the API server; nodes, pods and
//! ReplicaSets come from the controller's caches.

use k8s_openapi::api::apps::v1::{ControllerRevision, Deployment};
use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::NamespaceResourceScope;
use kube::{Api, Resource, ResourceExt};
use readyroll_core::crd::App;
use readyroll_core::last_good;
use readyroll_core::observed::Observed;
use serde::de::DeserializeOwned;

use super::context::Context;
use super::error::Error;
use super::instance_pods;
use super::watches::restarts_of;

/// The App as the API server holds it now and what the plan looks at;
/// `None` when the App is gone.
pub async fn observe(
    ctx: &Context,
    cached: &App,
    namespace: &str,
) -> Result<Option<(App, Observed)>, Error> {
    let name = cached.name_any();
    // The cache can lag behind our own last status write. Deciding on an
    // older status (say, one without the failed revision just recorded)
    // could retry a release that was rolled back, so the App is read fresh.
    let Some(app) = read::<App>(ctx, namespace, &name).await? else {
        return Ok(None);
    };
    let deployment = read::<Deployment>(ctx, namespace, &name).await?;
    let instance_pods =
        instance_pods::fresh_if_needed(ctx, &app, namespace, deployment.as_ref()).await?;
    let observed = Observed {
        replica_set_templates: ctx.replica_set_templates(deployment.as_ref()).await,
        deployment,
        pods: ctx
            .pods_of(&app)
            .await
            .iter()
            .map(|p| restarts_of(p))
            .collect(),
        nodes: ctx.nodes().await,
        service: read::<Service>(ctx, namespace, &name)
            .await?
            .map(|s| s.metadata),
        pdb: read::<PodDisruptionBudget>(ctx, namespace, &name)
            .await?
            .map(|p| p.metadata),
        last_good: read::<ControllerRevision>(ctx, namespace, &last_good::name(&name)).await?,
        history_latest: match app.status.as_ref().and_then(|s| s.history.last()) {
            Some(newest) => {
                read::<ControllerRevision>(ctx, namespace, &newest.controller_revision).await?
            }
            None => None,
        },
        instance_pods,
    };
    Ok(Some((app, observed)))
}

async fn read<K>(ctx: &Context, namespace: &str, name: &str) -> Result<Option<K>, Error>
where
    K: Resource<DynamicType = (), Scope = NamespaceResourceScope>
        + Clone
        + std::fmt::Debug
        + DeserializeOwned,
{
    let api: Api<K> = Api::namespaced(ctx.client.clone(), namespace);
    api.get_opt(name)
        .await
        .map_err(Error::api(format!("reading {} {name}", K::kind(&()))))
}
