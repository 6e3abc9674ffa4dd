//! Step 3 of a reconcile: carry out the plan's writes in order. Objects are
//! server-side applied as field manager `readyroll`; every write checks
//! leadership right before it is sent.

use std::fmt::Debug;

use k8s_openapi::api::apps::v1::{ControllerRevision, Deployment};
use k8s_openapi::api::core::v1::{ObjectReference, Service};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::NamespaceResourceScope;
use kube::api::{ApiResource, DeleteParams, DynamicObject, Patch, PatchParams, Preconditions};
use kube::runtime::events::Recorder;
use kube::{Api, Client, Resource};
use readyroll_core::crd::{App, AppStatus};
use readyroll_core::notes::Note;
use readyroll_core::plan::{Delete, Kind, Object, Plan, Step};
use readyroll_core::problems::Problem;
use readyroll_core::rollout::ObservedDeployment;
use serde::de::DeserializeOwned;
use serde::Serialize;
use tracing::{info, warn};

use super::applied::{AppliedDeployments, Fingerprint};
use super::context::Context;
use super::error::Error;
use super::events;
use super::instance_pods;
use super::revisions::RevisionCache;
use super::written::WrittenVersions;
use crate::leader::Leadership;
use crate::telemetry::Metrics;

/// The field manager readyroll applies as.
pub const FIELD_MANAGER: &str = "readyroll";

/// Where the writes of one plan go.
pub struct Target<'a> {
    pub client: &'a Client,
    pub leadership: &'a Leadership,
    pub recorder: Recorder,
    pub namespace: &'a str,
    pub name: &'a str,
    /// The App, for its Events.
    pub reference: ObjectReference,
    /// The App's status before this plan; what the per-App metrics show
    /// when the plan writes no new one.
    pub previous: Option<&'a AppStatus>,
    pub metrics: &'a Metrics,
    /// Where the status writer records the version it produced.
    pub written: &'a WrittenVersions,
    /// The Deployment the plan was made from, and what readyroll's last
    /// apply of it produced: an apply that would change nothing is left out.
    pub observed_deployment: Option<&'a Deployment>,
    pub applied: &'a AppliedDeployments,
    /// Learns each revision written or deleted.
    pub revisions: &'a RevisionCache,
}

impl<'a> Target<'a> {
    /// The writes of one reconcile of App `namespace/name`, whose status
    /// before this plan was `previous`.
    pub fn of(
        ctx: &'a Context,
        namespace: &'a str,
        name: &'a str,
        reference: ObjectReference,
        previous: Option<&'a AppStatus>,
        observed_deployment: Option<&'a Deployment>,
    ) -> Self {
        Target {
            client: &ctx.client,
            leadership: &ctx.leadership,
            recorder: ctx.recorder(),
            namespace,
            name,
            reference,
            previous,
            metrics: &ctx.metrics,
            written: &ctx.written,
            observed_deployment,
            applied: &ctx.applied,
            revisions: &ctx.revisions,
        }
    }

    /// `namespace/name`, the App's key.
    fn key(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }

    /// `namespace/name` of an object in the App's namespace.
    fn key_of(&self, name: &str) -> String {
        format!("{}/{name}", self.namespace)
    }
}

/// Runs the plan's steps in order. Returns whether pods are being replaced
/// (a rollout or a rollback), as the applied Deployment says.
///
/// An object the API server refuses does not stop the others: each refusal
/// is recorded, the remaining objects are applied, the final status and an
/// Event say what failed, and then the first refusal is returned so the
/// reconcile is retried with backoff. Any other failure stops at once.
///
/// The per-App metrics are fed here, from each status written, or from the
/// unchanged status when the plan writes none.
pub async fn execute(target: &Target<'_>, plan: Plan) -> Result<bool, Error> {
    let mut applied: Option<ObservedDeployment> = None;
    let mut refused = Refused::default();
    let mut status_write = None;
    for step in plan.steps {
        match step {
            Step::Status(status) => status_write = Some(write_status(target, &status).await?),
            Step::Apply(object) => match apply_object(target, object).await {
                Ok(Some(deployment)) => applied = Some(deployment),
                Ok(None) => {}
                Err(error) => refused.record(error)?,
            },
            Step::Delete(delete) => remove(target, &delete).await?,
            Step::PodAnnotations(patches) => instance_pods::annotate(target, &patches).await?,
            Step::Events(notes) => publish(target, &notes).await,
            Step::FinalStatus(last) => {
                publish(target, &last.failure_notes(&refused.problems)).await;
                let deployment = applied.clone().unwrap_or_else(|| last.before.clone());
                if let Some(status) = last.after_failures(&deployment, &refused.problems) {
                    status_write = Some(write_status(target, &status).await?);
                }
            }
        }
    }
    match (status_write, target.previous) {
        (None, Some(unchanged)) => target.metrics.observe_app_status(
            target.namespace,
            target.name,
            target.previous,
            unchanged,
        ),
        // The App was deleted while this reconcile ran (its cached copy was
        // planned for): its series may already be gone with its Delete
        // event and must not come back.
        (Some(StatusWrite::AppGone), _) => target.metrics.forget_app(target.namespace, target.name),
        _ => {}
    }
    match refused.first {
        Some(error) => Err(error),
        None => Ok(applied.is_some_and(|d| !d.settled())),
    }
}

/// The applies the API server refused in one reconcile.
#[derive(Default)]
struct Refused {
    problems: Vec<Problem>,
    first: Option<Error>,
}

impl Refused {
    /// Records an API error; hands back any other (e.g. lost leadership),
    /// which must stop the plan.
    fn record(&mut self, error: Error) -> Result<(), Error> {
        // In a namespace being deleted the rest would be refused too, and
        // so would the Event and status of the report: stop here.
        if error.namespace_terminating() {
            return Err(error);
        }
        let Some(problem) = error.refusal() else {
            return Err(error);
        };
        warn!(%error, "apply refused");
        self.problems.push(problem);
        self.first.get_or_insert(error);
        Ok(())
    }
}

async fn publish(target: &Target<'_>, notes: &[Note]) {
    events::publish(
        target.leadership,
        &target.recorder,
        &target.reference,
        notes,
    )
    .await
}

/// Applies one object; for the Deployment, returns it as the API server
/// now holds it (the observed one when the apply would change nothing).
async fn apply_object(
    target: &Target<'_>,
    object: Object,
) -> Result<Option<ObservedDeployment>, Error> {
    let client = target.client.clone();
    let ns = target.namespace;
    match object {
        Object::Deployment(d) => {
            let key = target.key();
            let fingerprint = Fingerprint::of(&d);
            if let Some(observed) = target
                .observed_deployment
                .filter(|observed| target.applied.unchanged(&key, &d, fingerprint, observed))
            {
                return Ok(Some(ObservedDeployment::from_deployment(observed)));
            }
            let applied = apply(target.leadership, &Api::namespaced(client, ns), &*d).await?;
            target.applied.record(&key, fingerprint, &applied);
            Ok(Some(ObservedDeployment::from_deployment(&applied)))
        }
        Object::Service(s) => {
            apply(target.leadership, &Api::namespaced(client, ns), &*s).await?;
            Ok(None)
        }
        Object::PodDisruptionBudget(p) => {
            apply(target.leadership, &Api::namespaced(client, ns), &*p).await?;
            Ok(None)
        }
        Object::LastGood(c) | Object::Revision(c) => {
            let key = target.key_of(c.metadata.name.as_deref().unwrap_or_default());
            let stamp = target.revisions.stamp(&key);
            match apply(target.leadership, &Api::namespaced(client, ns), &*c).await {
                Ok(written) => target.revisions.remember(&key, Some(&written), stamp),
                Err(error) => {
                    target.revisions.unknown(&key);
                    return Err(error);
                }
            }
            Ok(None)
        }
    }
}

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
async fn apply<K>(leadership: &Leadership, api: &Api<K>, object: &K) -> Result<K, Error>
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

async fn remove(target: &Target<'_>, delete: &Delete) -> Result<(), Error> {
    let client = target.client.clone();
    let ns = target.namespace;
    match delete.kind {
        Kind::Service => {
            delete_object::<Service>(target, &Api::namespaced(client, ns), delete).await
        }
        Kind::PodDisruptionBudget => {
            delete_object::<PodDisruptionBudget>(target, &Api::namespaced(client, ns), delete).await
        }
        Kind::LastGood | Kind::Revision => {
            let key = target.key_of(&delete.name);
            let stamp = target.revisions.stamp(&key);
            let deleted =
                delete_object::<ControllerRevision>(target, &Api::namespaced(client, ns), delete)
                    .await;
            match &deleted {
                Ok(()) => target.revisions.remember(&key, None, stamp),
                Err(_) => target.revisions.unknown(&key),
            }
            deleted
        }
    }
}

/// Deletes an object that is no longer desired. The uid precondition keeps
/// a same-named object created meanwhile safe; one already gone is fine.
async fn delete_object<K>(target: &Target<'_>, api: &Api<K>, delete: &Delete) -> Result<(), Error>
where
    K: Resource<DynamicType = (), Scope = NamespaceResourceScope>
        + Clone
        + Debug
        + DeserializeOwned,
{
    ensure_leader(target.leadership)?;
    let kind = K::kind(&());
    let name = &delete.name;
    let params = DeleteParams {
        preconditions: Some(Preconditions {
            uid: delete.uid.clone(),
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

/// What became of a status write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StatusWrite {
    Written,
    /// The App no longer exists.
    AppGone,
}

/// The one status writer: server-side applies the App's status
/// subresource. The whole status is sent every time: under server-side
/// apply a field readyroll stops sending is removed, which is how cleared
/// fields (e.g. `failedRevision`) go away. The App is handled untyped, so
/// this also serves an App whose spec does not parse. Says whether the App
/// was still there to take it; a written status goes to the metrics.
async fn write_status(target: &Target<'_>, status: &AppStatus) -> Result<StatusWrite, Error> {
    ensure_leader(target.leadership)?;
    let resource = ApiResource::erase::<App>(&());
    let api: Api<DynamicObject> =
        Api::namespaced_with(target.client.clone(), target.namespace, &resource);
    let body = serde_json::json!({
        "apiVersion": App::api_version(&()),
        "kind": App::kind(&()),
        "status": status,
    });
    let params = PatchParams::apply(FIELD_MANAGER).force();
    let name = target.name;
    match api.patch_status(name, &params, &Patch::Apply(&body)).await {
        Ok(written) => {
            target.written.record(&target.key(), &written.metadata);
            target
                .metrics
                .observe_app_status(target.namespace, name, target.previous, status);
            Ok(StatusWrite::Written)
        }
        // Deleted while this reconcile ran: there is no status left to write.
        Err(kube::Error::Api(status)) if status.code == 404 => {
            target.written.forget(&target.key());
            Ok(StatusWrite::AppGone)
        }
        Err(e) => {
            target.written.unknown(&target.key());
            Err(Error::api(format!("writing status of App {name}"))(e))
        }
    }
}
