//! Reporting Apps that cannot be reconciled: a spec the core rejects, or an
//! object that does not even parse. Both are shown on the App (Degraded,
//! reason InvalidSpec) and in an Event, and wait for the App to change
//! instead of retrying in a loop.

use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::jiff::Timestamp;
use kube::api::{ApiResource, DynamicObject, Patch, PatchParams};
use kube::core::error_boundary::InvalidObject;
use kube::runtime::controller::Action;
use kube::runtime::events::{Event, EventType};
use kube::{Api, Resource, ResourceExt};
use tracing::warn;

use super::apply::{apply_status, ensure_leader, FIELD_MANAGER};
use super::context::Context;
use super::error::Error;
use super::events::{self, Note};
use crate::crd::{App, AppStatus, CONDITION_DEGRADED};
use readyroll_core::conditions::{self, reason};
use readyroll_core::status;

/// Reports a spec the core cannot build. The Event is only sent when the
/// status did not already say the same for this generation.
pub async fn report_spec(ctx: &Context, app: &App, message: &str) -> Result<Action, Error> {
    warn!(app = %app.name_any(), %message, "invalid spec");
    let previous = app.status.clone().unwrap_or_default();
    let generation = app.meta().generation;
    let new_status = status::invalid_spec(&previous, generation, message, Timestamp::now());
    // The Event goes first, as for every step: whoever sees the status also
    // finds the Event.
    if !already_reported(&previous, generation, message) {
        events::publish(
            &ctx.leadership,
            &ctx.recorder(),
            app,
            &[Note::warning(events::INVALID_SPEC, message.to_string())],
        )
        .await;
    }
    if new_status != previous {
        let namespace = app
            .namespace()
            .ok_or(Error::MissingField("App has no namespace"))?;
        let apps: Api<App> = Api::namespaced(ctx.client.clone(), &namespace);
        apply_status(&ctx.leadership, &apps, &app.name_any(), &new_status).await?;
    }
    Ok(Action::await_change())
}

fn already_reported(previous: &AppStatus, generation: Option<i64>, message: &str) -> bool {
    conditions::find(&previous.conditions, CONDITION_DEGRADED).is_some_and(|c| {
        c.reason == reason::INVALID_SPEC
            && c.message == message
            && c.observed_generation == generation
    })
}

/// Reports an App the controller cannot parse (for example a value the
/// schema let through that readyroll does not understand). The object is
/// handled untyped, since it cannot be read as an App.
pub async fn report_unreadable(ctx: &Context, invalid: &InvalidObject) -> Result<Action, Error> {
    let name = invalid.metadata.name.clone().unwrap_or_default();
    let namespace = invalid.metadata.namespace.clone().unwrap_or_default();
    let message = format!("the App cannot be read: {}", invalid.error);
    warn!(app = %name, %namespace, %message, "unreadable App");

    let resource = ApiResource::erase::<App>(&());
    let api: Api<DynamicObject> = Api::namespaced_with(ctx.client.clone(), &namespace, &resource);
    let Some(object) = api
        .get_opt(&name)
        .await
        .map_err(Error::api(format!("reading App {name}")))?
    else {
        return Ok(Action::await_change());
    };
    // The status part may still parse; keep it so nothing readyroll knows
    // (e.g. the last good revision) is lost while the spec is broken.
    let previous: AppStatus = object
        .data
        .get("status")
        .and_then(|s| serde_json::from_value(s.clone()).ok())
        .unwrap_or_default();
    let generation = object.metadata.generation;
    let new_status = status::invalid_spec(&previous, generation, &message, Timestamp::now());
    if !already_reported(&previous, generation, &message) {
        let reference = ObjectReference {
            api_version: Some(App::api_version(&()).to_string()),
            kind: Some(App::kind(&()).to_string()),
            name: Some(name.clone()),
            namespace: Some(namespace),
            uid: object.uid(),
            ..Default::default()
        };
        let event = Event {
            type_: EventType::Warning,
            reason: events::INVALID_SPEC.to_string(),
            note: Some(message),
            action: "Reconcile".to_string(),
            secondary: None,
        };
        ensure_leader(&ctx.leadership)?;
        if let Err(error) = ctx.recorder().publish(&event, &reference).await {
            warn!(%error, "could not publish event");
        }
    }
    if new_status != previous {
        let body = serde_json::json!({
            "apiVersion": App::api_version(&()),
            "kind": App::kind(&()),
            "status": new_status,
        });
        ensure_leader(&ctx.leadership)?;
        api.patch_status(
            &name,
            &PatchParams::apply(FIELD_MANAGER).force(),
            &Patch::Apply(&body),
        )
        .await
        .map_err(Error::api(format!("writing status of App {name}")))?;
    }
    Ok(Action::await_change())
}
