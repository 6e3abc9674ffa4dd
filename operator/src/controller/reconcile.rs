//! One reconcile of an App: observe (read everything, `observe`) → plan
//! (pure, `readyroll_core::plan`) → execute (the ordered writes, `execute`).

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::jiff::Timestamp;
use kube::core::DeserializeGuard;
use kube::runtime::controller::Action;
use kube::runtime::reflector::ObjectRef;
use kube::{Resource, ResourceExt};
use readyroll_core::crd::App;
use readyroll_core::plan::{self, Plan, Requeue};
use readyroll_core::rollout::Decision;
use tracing::{debug, info, instrument};

use super::context::Context;
use super::error::Error;
use super::execute::{execute, Target};
use super::invalid;
use super::observe::observe;
use super::watches::app_key;

/// When a reconcile left to the delivery of readyroll's own status write
/// looks again, should that delivery not trigger one first.
const LAG_RECHECK: Duration = Duration::from_secs(1);

/// The controller's entry point for one App.
pub async fn reconcile(
    object: Arc<DeserializeGuard<App>>,
    ctx: Arc<Context>,
) -> Result<Action, Error> {
    if !ctx.leadership.is_leader() {
        // A standby keeps its caches warm and writes nothing, not even the
        // report of an unreadable App (which would fail and be retried with
        // backoff); becoming the leader reconciles every App.
        return Ok(Action::await_change());
    }
    let app = match &object.0 {
        Ok(app) => app,
        Err(invalid) => return invalid::report_unreadable(&ctx, invalid).await,
    };
    let key = app_key(app);
    if app.meta().deletion_timestamp.is_some() {
        // Owner references let the garbage collector remove what we made.
        ctx.metrics.set_rollout_in_progress(&key, false);
        return Ok(Action::await_change());
    }
    if ctx.written.lags_behind_write(&key, app.meta()) {
        // The cache is older than our own last status write, and that
        // write's watch event is on its way: it reconciles this App on a
        // cache that holds it, so deciding now would only cost a read. The
        // recheck covers a delivery that never comes as such (`written`).
        debug!(app = %key, "cache behind readyroll's own status write: left to its watch event");
        return Ok(Action::requeue(LAG_RECHECK));
    }
    let timer = ctx.metrics.reconcile_timer();
    match reconcile_app(app, &ctx).await {
        Ok((action, rolling)) => {
            timer.succeeded();
            ctx.backoff.reset(&ObjectRef::from_obj(app));
            ctx.metrics.set_rollout_in_progress(&key, rolling);
            Ok(action)
        }
        // Its namespace is being deleted, and the App with it: retrying
        // would only be refused again, and load the API server while it
        // deletes the namespace's objects. The App's Delete event ends it.
        Err(error) if error.namespace_terminating() => {
            timer.succeeded();
            debug!(app = %key, %error, "namespace is being deleted: nothing more is created for this App");
            Ok(Action::await_change())
        }
        Err(error) => {
            timer.failed(error.metric_label());
            Err(error)
        }
    }
}

/// Observe → plan → execute. Returns the next action and whether pods are
/// being replaced.
#[instrument(skip_all, fields(app = %cached.name_any(), namespace = cached.namespace().as_deref().unwrap_or("")))]
async fn reconcile_app(cached: &App, ctx: &Context) -> Result<(Action, bool), Error> {
    let namespace = cached
        .namespace()
        .ok_or(Error::MissingField("App has no namespace"))?;
    let Some((app, observed)) = observe(ctx, cached, &namespace).await? else {
        return Ok((Action::await_change(), false));
    };
    let plan = plan::plan(&app, &observed, &ctx.build, Timestamp::now());
    record(ctx, &plan);
    let action = action_of(&plan.requeue);
    let name = app.name_any();
    let target = Target::of(
        ctx,
        &namespace,
        &name,
        app.object_ref(&()),
        app.status.as_ref(),
        observed.deployment.as_ref(),
    );
    let rolling = execute(&target, plan).await?;
    Ok((action, rolling))
}

/// Logs and counts what the plan decided.
fn record(ctx: &Context, plan: &Plan) {
    debug!(decision = ?plan.decision, "rollout decision");
    if let Some(Decision::Fail {
        failure,
        rollback_to,
    }) = &plan.decision
    {
        info!(reason = failure.reason(), rollback_to, "rollout failed");
        ctx.metrics.record_rollout_failed();
        if rollback_to.is_some() {
            ctx.metrics.record_rollback();
        }
    }
}

/// The controller's action for a plan's requeue.
pub fn action_of(requeue: &Requeue) -> Action {
    match requeue {
        Requeue::After(delay) => Action::requeue(*delay),
        Requeue::AwaitChange => Action::await_change(),
    }
}

/// Retry policy for failed reconciles: exponential backoff per App.
pub fn error_policy(
    object: Arc<DeserializeGuard<App>>,
    error: &Error,
    ctx: Arc<Context>,
) -> Action {
    let app_ref =
        ObjectRef::<App>::new(&object.name_any()).within(&object.namespace().unwrap_or_default());
    let delay = ctx.backoff.next_delay(app_ref);
    tracing::warn!(
        app = %object.name_any(),
        namespace = object.namespace().as_deref().unwrap_or(""),
        error = %error,
        kind = error.metric_label(),
        retry_in_s = delay.as_secs(),
        "reconcile failed"
    );
    Action::requeue(delay)
}
