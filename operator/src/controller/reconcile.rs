//! One reconcile of an App, as a pipeline of named steps:
//! cron → build (pure core) → read → decide (pure rollout) → apply → events → status.

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::jiff::Timestamp;
use kube::core::DeserializeGuard;
use kube::runtime::controller::Action;
use kube::runtime::reflector::ObjectRef;
use kube::{Api, Resource, ResourceExt};
use tracing::{debug, info, instrument};

use super::apply::{self, apply_or_remove, apply_status, template_of_revision, with_template};
use super::context::Context;
use super::error::Error;
use super::events::{self, Note};
use super::invalid;
use super::watches::max_restarts;
use crate::core::{self, REVISION_ANNOTATION};
use crate::crd::{App, AppStatus};
use readyroll_core::cron;
use readyroll_core::rollout::{self, Decision, ObservedDeployment, RolloutInputs};
use readyroll_core::status::{self, StatusInputs};

/// Even without any change, every App is looked at this often, so a missed
/// watch event can never leave it unattended for long.
const RESYNC: Duration = Duration::from_secs(600);

/// The controller's entry point for one App.
pub async fn reconcile(
    object: Arc<DeserializeGuard<App>>,
    ctx: Arc<Context>,
) -> Result<Action, Error> {
    let app = match &object.0 {
        Ok(app) => app,
        Err(invalid) => return invalid::report_unreadable(&ctx, invalid).await,
    };
    let key = format!("{}/{}", app.namespace().unwrap_or_default(), app.name_any());
    if app.meta().deletion_timestamp.is_some() {
        // Owner references let the garbage collector remove what we made.
        ctx.metrics.set_rollout_in_progress(&key, false);
        return Ok(Action::await_change());
    }
    if !ctx.leadership.is_leader() {
        // A standby keeps its caches warm and writes nothing; becoming the
        // leader reconciles every App.
        return Ok(Action::await_change());
    }
    let timer = ctx.metrics.reconcile_timer();
    match reconcile_app(app, &ctx).await {
        Ok(outcome) => {
            timer.succeeded();
            ctx.backoff.reset(&ObjectRef::from_obj(app));
            ctx.metrics.set_rollout_in_progress(&key, outcome.rolling);
            Ok(outcome.action)
        }
        Err(error) => {
            timer.failed(error.metric_label());
            Err(error)
        }
    }
}

/// What a completed reconcile tells the controller loop.
struct Outcome {
    action: Action,
    /// Pods are being replaced (a rollout or a rollback).
    rolling: bool,
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

#[instrument(skip_all, fields(app = %cached.name_any(), namespace = cached.namespace().as_deref().unwrap_or("")))]
async fn reconcile_app(cached: &App, ctx: &Context) -> Result<Outcome, Error> {
    let now = Timestamp::now();
    let name = cached.name_any();
    let namespace = cached
        .namespace()
        .ok_or(Error::MissingField("App has no namespace"))?;
    let apps: Api<App> = Api::namespaced(ctx.client.clone(), &namespace);
    // The cache can lag behind our own last status write. Deciding on an
    // older status (say, one without the failed revision just recorded)
    // could retry a release that was rolled back, so the App is read fresh.
    let Some(app) = apps
        .get_opt(&name)
        .await
        .map_err(Error::api(format!("reading App {name}")))?
    else {
        return Ok(Outcome::idle(Action::await_change()));
    };
    let app = &app;
    let mut status = app.status.clone().unwrap_or_default();
    let mut notes = Vec::new();

    // Step 1: cron. A due restart is recorded before anything rolls, so a
    // failure later in this reconcile cannot restart the App twice.
    let next_cron = match cron::plan(app, cron_since(app, &status), now) {
        Err(e) => {
            return invalid::report_spec(ctx, app, &e.to_string())
                .await
                .map(Outcome::idle)
        }
        Ok(None) => None,
        Ok(Some(plan)) => {
            if plan.restart_now {
                status.last_cron_restart = Some(now.to_string());
                status.next_cron_restart = Some(plan.next.to_string());
                apply_status(&ctx.leadership, &apps, &name, &status).await?;
                info!(next = %plan.next, "cron restart due");
                notes.push(Note::normal(
                    events::CRON_RESTART,
                    format!("scheduled restart; the next one is due at {}", plan.next),
                ));
            }
            Some(plan.next)
        }
    };

    // Step 2: build the desired objects (pure).
    let nodes = ctx.nodes().await;
    let mut current = app.clone();
    current.status = Some(status.clone());
    let desired = match core::build(&current, &nodes, &ctx.build) {
        Ok(desired) => desired,
        Err(e) => {
            return invalid::report_spec(ctx, app, &e.to_string())
                .await
                .map(Outcome::idle)
        }
    };

    // Step 3: read what is there.
    let deployments: Api<Deployment> = Api::namespaced(ctx.client.clone(), &namespace);
    let before = deployments
        .get_opt(&name)
        .await
        .map_err(Error::api(format!("reading Deployment {name}")))?;
    let observed_before = before.as_ref().map(ObservedDeployment::from_deployment);
    let pods = ctx.pods_of(app).await;
    let desired_restarts = max_restarts(
        pods.iter()
            .map(Arc::as_ref)
            .filter(|p| p.annotations().get(REVISION_ANNOTATION) == Some(&desired.revision)),
    );
    let all_restarts = max_restarts(pods.iter().map(Arc::as_ref));
    let max_allowed = core::max_restarts(app);

    // Step 4: decide the rollout (pure), then find the rollback template.
    let decision = rollout::decide(&RolloutInputs {
        desired_revision: &desired.revision,
        last_good: status.last_good_revision.as_deref(),
        failed: status.failed_revision.as_deref(),
        deployment: observed_before.as_ref(),
        desired_restarts,
        max_restarts: max_allowed,
        auto_rollback: app
            .spec
            .rollout
            .as_ref()
            .and_then(|r| r.auto_rollback)
            .unwrap_or(true),
    });
    let (decision, deployment) = match decision.rollback_target() {
        None => (decision, desired.deployment.clone()),
        Some(target) => {
            let replica_sets: Api<ReplicaSet> = Api::namespaced(ctx.client.clone(), &namespace);
            match template_of_revision(&replica_sets, before.as_ref(), target).await? {
                Some(template) => (
                    decision,
                    with_template(desired.deployment.clone(), template),
                ),
                None => {
                    info!(
                        revision = target,
                        "no template of the last good revision is left; cannot roll back"
                    );
                    (decision.without_rollback(), desired.deployment.clone())
                }
            }
        }
    };
    debug!(?decision, revision = %desired.revision, "rollout decision");
    let status_after = |previous: &AppStatus, deployment: &ObservedDeployment| {
        status::compute(&StatusInputs {
            previous,
            generation: app.meta().generation,
            instances: desired.instances,
            desired_revision: &desired.revision,
            decision: &decision,
            deployment,
            restarts: all_restarts,
            max_restarts: max_allowed,
            next_cron_restart: next_cron,
            now,
        })
    };
    if let Decision::Fail {
        failure,
        rollback_to,
    } = &decision
    {
        ctx.metrics.record_rollout_failed();
        if rollback_to.is_some() {
            ctx.metrics.record_rollback();
        }
        // Recorded (with the Degraded condition saying why) before the
        // rollback is applied, so the failed revision can never be retried
        // by a reconcile that missed this one.
        info!(revision = %desired.revision, reason = failure.reason(), "rollout failed");
        let before = observed_before.clone().unwrap_or_default();
        status = status_after(&status, &before);
        apply_status(&ctx.leadership, &apps, &name, &status).await?;
    }

    // Step 5: apply, and remove what is no longer desired.
    let applied = apply::apply(&ctx.leadership, &deployments, &deployment).await?;
    let uid = app.uid().ok_or(Error::MissingField("App has no uid"))?;
    let services: Api<Service> = Api::namespaced(ctx.client.clone(), &namespace);
    apply_or_remove(
        &ctx.leadership,
        &services,
        &name,
        desired.service.as_ref(),
        &uid,
    )
    .await?;
    let pdbs: Api<PodDisruptionBudget> = Api::namespaced(ctx.client.clone(), &namespace);
    apply_or_remove(&ctx.leadership, &pdbs, &name, desired.pdb.as_ref(), &uid).await?;

    // Step 6: events, before the status: whoever sees the status of a
    // finished step also finds its Event.
    let applied = ObservedDeployment::from_deployment(&applied);
    let previous = app.status.clone().unwrap_or_default();
    notes.extend(events::rollout_notes(
        &previous,
        observed_before.as_ref(),
        &decision,
        &desired.revision,
        desired.instances,
    ));
    events::publish(&ctx.leadership, &ctx.recorder(), app, &notes).await;

    // Step 7: status. `status` is what the API server holds now; unchanged
    // means no write, so a reconcile caused by our own status update ends here.
    let new_status = status_after(&status, &applied);
    if new_status != status {
        apply_status(&ctx.leadership, &apps, &name, &new_status).await?;
    }

    Ok(Outcome {
        action: Action::requeue(next_wakeup(next_cron, now)),
        rolling: !applied.settled(),
    })
}

impl Outcome {
    /// Nothing rolls and nothing is scheduled: wait for the App to change.
    fn idle(action: Action) -> Self {
        Outcome {
            action,
            rolling: false,
        }
    }
}

/// The cron schedule counts from the last cron restart, or from the App's
/// creation when there was none yet.
fn cron_since(app: &App, status: &AppStatus) -> Timestamp {
    status
        .last_cron_restart
        .as_deref()
        .and_then(|t| t.parse().ok())
        .or_else(|| app.meta().creation_timestamp.as_ref().map(|t| t.0))
        .unwrap_or_else(Timestamp::now)
}

/// Wake up for the next cron restart, or for the periodic resync.
fn next_wakeup(next_cron: Option<Timestamp>, now: Timestamp) -> Duration {
    next_cron
        .and_then(|next| Duration::try_from(next.duration_since(now)).ok())
        .map_or(RESYNC, |until| until.min(RESYNC))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wakes_for_cron_or_resync_whichever_first() {
        let now: Timestamp = "2030-01-01T00:00:00Z".parse().unwrap();
        let soon: Timestamp = "2030-01-01T00:00:30Z".parse().unwrap();
        let later: Timestamp = "2030-01-02T00:00:00Z".parse().unwrap();
        assert_eq!(next_wakeup(Some(soon), now), Duration::from_secs(30));
        assert_eq!(next_wakeup(Some(later), now), RESYNC);
        assert_eq!(next_wakeup(None, now), RESYNC);
        // A due time already past (clock skew) wakes at the resync.
        assert_eq!(next_wakeup(Some(now), soon), RESYNC);
    }
}
