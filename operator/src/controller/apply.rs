//! Writing the desired objects: server-side apply as field manager
//! `readyroll`, and removal of objects that are no longer desired.

use std::fmt::Debug;

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::PodTemplateSpec;
use k8s_openapi::NamespaceResourceScope;
use kube::api::{DeleteParams, ListParams, Patch, PatchParams, Preconditions};
use kube::{Api, Resource, ResourceExt};
use serde::de::DeserializeOwned;
use serde::Serialize;
use tracing::info;

use super::error::Error;
use crate::core::REVISION_ANNOTATION;
use crate::leader::Leadership;

/// The field manager readyroll applies as.
pub const FIELD_MANAGER: &str = "readyroll";

/// Label the Deployment controller adds to a ReplicaSet's template; it must
/// not be part of a template readyroll applies.
const POD_TEMPLATE_HASH: &str = "pod-template-hash";

/// Every write checks leadership right before it is sent: a replica that
/// lost the Lease must not fight the new leader.
pub fn ensure_leader(leadership: &Leadership) -> Result<(), Error> {
    if leadership.is_leader() {
        Ok(())
    } else {
        Err(Error::NotLeader)
    }
}

/// Server-side applies `object`, taking over any field another manager set:
/// readyroll is the source of truth for what it generates.
pub async fn apply<K>(leadership: &Leadership, api: &Api<K>, object: &K) -> Result<K, Error>
where
    K: Resource<DynamicType = ()> + Clone + Debug + Serialize + DeserializeOwned,
{
    ensure_leader(leadership)?;
    let name = object
        .meta()
        .name
        .clone()
        .ok_or(Error::MissingField("generated object has no name"))?;
    let params = PatchParams::apply(FIELD_MANAGER).force();
    api.patch(&name, &params, &Patch::Apply(object))
        .await
        .map_err(Error::api(format!("applying {} {name}", K::kind(&()))))
}

/// Makes the object `name` exist as `desired`, or not exist when `desired`
/// is `None`. Only an object controlled by the App (`owner_uid`) is
/// deleted: readyroll never removes what it did not create.
pub async fn apply_or_remove<K>(
    leadership: &Leadership,
    api: &Api<K>,
    name: &str,
    desired: Option<&K>,
    owner_uid: &str,
) -> Result<(), Error>
where
    K: Resource<DynamicType = (), Scope = NamespaceResourceScope>
        + Clone
        + Debug
        + Serialize
        + DeserializeOwned,
{
    if let Some(object) = desired {
        apply(leadership, api, object).await?;
        return Ok(());
    }
    let kind = K::kind(&());
    let Some(existing) = api
        .get_opt(name)
        .await
        .map_err(Error::api(format!("reading {kind} {name}")))?
    else {
        return Ok(());
    };
    if !controlled_by(&existing, owner_uid) {
        return Ok(());
    }
    ensure_leader(leadership)?;
    // The uid precondition keeps a same-named object created meanwhile safe.
    let params = DeleteParams {
        preconditions: Some(Preconditions {
            uid: existing.uid(),
            resource_version: None,
        }),
        ..DeleteParams::background()
    };
    match api.delete(name, &params).await {
        Ok(_) => {
            info!(%kind, %name, "deleted object that is no longer desired");
            Ok(())
        }
        Err(kube::Error::Api(status)) if status.code == 404 => Ok(()),
        Err(e) => Err(Error::api(format!("deleting {kind} {name}"))(e)),
    }
}

fn controlled_by<K: Resource>(object: &K, owner_uid: &str) -> bool {
    object
        .owner_references()
        .iter()
        .any(|o| o.uid == owner_uid && o.controller == Some(true))
}

/// The pod template of `revision`, from the Deployment itself when it still
/// carries it, else from one of its ReplicaSets (which keep old templates
/// for rollback). `None` when no trace of the revision is left.
pub async fn template_of_revision(
    replica_sets: &Api<ReplicaSet>,
    deployment: Option<&Deployment>,
    revision: &str,
) -> Result<Option<PodTemplateSpec>, Error> {
    let Some(deployment) = deployment else {
        return Ok(None);
    };
    if let Some(template) = deployment.spec.as_ref().map(|s| &s.template) {
        if revision_of(template) == Some(revision) {
            return Ok(Some(template.clone()));
        }
    }
    let selector = deployment
        .spec
        .as_ref()
        .and_then(|s| s.selector.match_labels.as_ref())
        .map(|labels| {
            labels
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(",")
        })
        .ok_or(Error::MissingField("Deployment has no selector labels"))?;
    let owner_uid = deployment.uid().unwrap_or_default();
    let list = replica_sets
        .list(&ListParams::default().labels(&selector))
        .await
        .map_err(Error::api(format!(
            "listing ReplicaSets of {}",
            deployment.name_any()
        )))?;
    Ok(list
        .items
        .into_iter()
        .filter(|rs| controlled_by(rs, &owner_uid))
        .filter_map(|rs| rs.spec.and_then(|s| s.template))
        .find(|t| revision_of(t) == Some(revision))
        .map(without_template_hash))
}

fn revision_of(template: &PodTemplateSpec) -> Option<&str> {
    template
        .metadata
        .as_ref()?
        .annotations
        .as_ref()?
        .get(REVISION_ANNOTATION)
        .map(String::as_str)
}

fn without_template_hash(mut template: PodTemplateSpec) -> PodTemplateSpec {
    if let Some(labels) = template.metadata.as_mut().and_then(|m| m.labels.as_mut()) {
        labels.remove(POD_TEMPLATE_HASH);
    }
    template
}

/// `desired` with its pod template replaced by `template`: replicas,
/// strategy and the rest follow the current spec, only the pods go back.
pub fn with_template(mut desired: Deployment, template: PodTemplateSpec) -> Deployment {
    if let Some(spec) = desired.spec.as_mut() {
        spec.template = template;
    }
    desired
}

/// Server-side applies the App's status subresource. The whole status is
/// sent every time: under server-side apply a field readyroll stops sending
/// is removed, which is how cleared fields (e.g. `failedRevision`) go away.
pub async fn apply_status(
    leadership: &Leadership,
    api: &Api<crate::crd::App>,
    name: &str,
    status: &crate::crd::AppStatus,
) -> Result<(), Error> {
    ensure_leader(leadership)?;
    let body = serde_json::json!({
        "apiVersion": crate::crd::App::api_version(&()),
        "kind": crate::crd::App::kind(&()),
        "status": status,
    });
    let params = PatchParams::apply(FIELD_MANAGER).force();
    match api.patch_status(name, &params, &Patch::Apply(&body)).await {
        Ok(_) => Ok(()),
        // Deleted while this reconcile ran: there is no status left to write.
        Err(kube::Error::Api(status)) if status.code == 404 => Ok(()),
        Err(e) => Err(Error::api(format!("writing status of App {name}"))(e)),
    }
}
