//! Step 1 of a reconcile: read everything the plan needs, from the
//! controller's caches where they can be trusted and from the API server
//! where they cannot: the App when the cache may lag behind readyroll's own
//! status write (`written`), the Deployment when the cache lags behind
//! readyroll's own apply (`applied`) or holds no Deployment the App
//! controls, the revisions when nothing is known of them (`revisions`).
//! Nodes, pods, ReplicaSets and readyroll's own Services and PDBs always
//! come from the caches.

use k8s_openapi::api::apps::v1::{ControllerRevision, Deployment};
use k8s_openapi::NamespaceResourceScope;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Api, Resource, ResourceExt};
use readyroll_core::build::resolve_instances;
use readyroll_core::crd::App;
use readyroll_core::last_good;
use readyroll_core::observed::{controlled_by, Observed};
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
    // unless the cache is known to hold that write or a later read (see
    // `written`).
    let key = format!("{namespace}/{name}");
    let current = ctx.written.cache_is_current(&key, &cached.metadata);
    let app = if current {
        cached.clone()
    } else {
        let Some(app) = read::<App>(ctx, namespace, &name).await? else {
            return Ok(None);
        };
        ctx.written
            .record_read(&key, &app.metadata, &cached.metadata);
        app
    };
    let deployment = deployment(ctx, &app, &key, namespace, &name).await?;
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
        last_good: revision(ctx, namespace, &last_good::name(&name)).await?,
        history_latest: match app.status.as_ref().and_then(|s| s.history.last()) {
            Some(newest) => revision(ctx, namespace, &newest.controller_revision).await?,
            None => None,
        },
        instance_pods,
    };
    Ok(Some((app, observed)))
}

/// The App's Deployment: the cached one when the App controls it and the
/// cache has caught up with readyroll's last apply; else as the API server
/// holds it (none yet, a same-named one the App does not control, whose
/// field managers the conflict report names, or a cache still behind).
async fn deployment(
    ctx: &Context,
    app: &App,
    key: &str,
    namespace: &str,
    name: &str,
) -> Result<Option<Deployment>, Error> {
    ctx.deployments_synced.wait().await;
    let uid = app.metadata.uid.as_deref().unwrap_or_default();
    if let Some(cached) = ctx.deployments.get(&ObjectRef::new(name).within(namespace)) {
        if controlled_by(&cached.metadata, uid) && ctx.applied.cache_has_caught_up(key, &cached) {
            return Ok(Some(Deployment::clone(&cached)));
        }
    }
    read::<Deployment>(ctx, namespace, name).await
}

/// A ControllerRevision, from what is known of it or else read (and then
/// known, see `revisions`).
async fn revision(
    ctx: &Context,
    namespace: &str,
    name: &str,
) -> Result<Option<ControllerRevision>, Error> {
    let key = format!("{namespace}/{name}");
    if let Some(known) = ctx.revisions.lookup(&key) {
        return Ok(known);
    }
    let stamp = ctx.revisions.stamp(&key);
    let fresh = read::<ControllerRevision>(ctx, namespace, name).await?;
    ctx.revisions.remember(&key, fresh.as_ref(), stamp);
    Ok(fresh)
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
