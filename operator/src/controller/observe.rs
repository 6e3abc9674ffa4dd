//! Step 1 of a reconcile: read everything the plan needs. The App (unless
//! the cache holds readyroll's own last status write), the Deployment and
//! the last good revision are read from the API server; nodes, pods,
//! ReplicaSets and readyroll's own Services and PDBs come from the
//! controller's caches.

use k8s_openapi::api::apps::v1::{ControllerRevision, Deployment};
use k8s_openapi::NamespaceResourceScope;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Api, Resource, ResourceExt};
use readyroll_core::build::resolve_instances;
use readyroll_core::crd::App;
use readyroll_core::last_good;
use readyroll_core::observed::Observed;
use serde::de::DeserializeOwned;

use super::context::Context;
use super::error::Error;
use super::instance_pods;
use super::synced::Synced;
use super::watches::{counts_cpus, restarts_of};

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
    // could retry a release that was rolled back, so the App is read fresh
    // unless the cache is at the very version that write produced.
    let own_write = ctx.written.is_own_write(
        &format!("{namespace}/{name}"),
        cached.metadata.resource_version.as_deref(),
    );
    let app = if own_write {
        cached.clone()
    } else {
        let Some(app) = read::<App>(ctx, namespace, &name).await? else {
            return Ok(None);
        };
        app
    };
    let deployment = read::<Deployment>(ctx, namespace, &name).await?;
    let instance_pods =
        instance_pods::fresh_if_needed(ctx, &app, namespace, deployment.as_ref()).await?;
    // Only `instances: 0 / max / -N` look at the nodes: the others skip copying them.
    let nodes = if counts_cpus(&app) {
        ctx.nodes().await
    } else {
        Vec::new()
    };
    let wants_service = app.spec.port.is_some();
    let wants_pdb = resolve_instances(&app, &nodes) > 1;
    let observed = Observed {
        replica_set_templates: ctx.replica_set_templates(deployment.as_ref()).await,
        deployment,
        pods: ctx
            .pods_of(&app)
            .await
            .iter()
            .map(|p| restarts_of(p))
            .collect(),
        nodes,
        service: owned(
            ctx,
            &ctx.services,
            &ctx.services_synced,
            namespace,
            &name,
            wants_service,
        )
        .await?
        .map(|s| s.metadata),
        pdb: owned(
            ctx,
            &ctx.pdbs,
            &ctx.pdbs_synced,
            namespace,
            &name,
            wants_pdb,
        )
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

/// The Service or PDB `name` as the plan needs it. readyroll's own (it
/// labels what it makes) are in the cache. Another one of the same name
/// matters only when the App wants that object (the plan then reports the
/// conflict instead of taking it over), so only then is it read; when the
/// App does not want one, the plan deletes only what readyroll controls,
/// which the cache holds.
async fn owned<K>(
    ctx: &Context,
    store: &Store<K>,
    synced: &Synced,
    namespace: &str,
    name: &str,
    wanted: bool,
) -> Result<Option<K>, Error>
where
    K: Resource<DynamicType = (), Scope = NamespaceResourceScope>
        + Clone
        + std::fmt::Debug
        + DeserializeOwned,
{
    synced.wait().await;
    if let Some(cached) = store.get(&ObjectRef::new(name).within(namespace)) {
        return Ok(Some(K::clone(&cached)));
    }
    if wanted {
        return read::<K>(ctx, namespace, name).await;
    }
    Ok(None)
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
