//! Reporting an App that does not even parse (for example a value the
//! schema let through that readyroll does not understand). It is shown on
//! the App (Degraded, reason InvalidSpec) and in an Event, with the plan
//! every invalid App gets (`readyroll_core::plan::invalid`), and waits for
//! the App to change instead of retrying in a loop. A spec that parses but
//! cannot be built takes the ordinary path: `plan` reports it.

use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::jiff::Timestamp;
use kube::api::{ApiResource, DynamicObject};
use kube::core::error_boundary::InvalidObject;
use kube::runtime::controller::Action;
use kube::{Api, Resource, ResourceExt};
use readyroll_core::crd::{App, AppStatus};
use readyroll_core::plan;
use tracing::warn;

use super::context::Context;
use super::error::Error;
use super::execute::{execute, Target};
use super::reconcile::action_of;

/// Reports an App the controller cannot parse. The object is handled
/// untyped, since it cannot be read as an App.
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
    let plan = plan::invalid(
        &previous,
        object.metadata.generation,
        &message,
        Timestamp::now(),
    );
    let reference = ObjectReference {
        api_version: Some(App::api_version(&()).to_string()),
        kind: Some(App::kind(&()).to_string()),
        name: Some(name.clone()),
        namespace: Some(namespace.clone()),
        uid: object.uid(),
        ..Default::default()
    };
    let target = Target::of(ctx, &namespace, &name, reference, Some(&previous), None);
    let action = action_of(&plan.requeue);
    execute(&target, plan).await?;
    Ok(action)
}
