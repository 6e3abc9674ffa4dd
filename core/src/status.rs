//! The App's status after a reconcile, worked out from what was observed and
//! decided. Pure: the write happens in `reconcile`.

use k8s_openapi::jiff::Timestamp;

use crate::conditions::{self, Wanted};
use crate::crd::{AppStatus, CONDITION_AVAILABLE, CONDITION_DEGRADED, CONDITION_PROGRESSING};
use crate::kstatus;
use crate::problems;
use crate::reason;
use crate::rollout::{Decision, Failure, ObservedDeployment, Phase};

/// What the status is computed from.
#[derive(Clone, Debug)]
pub struct StatusInputs<'a> {
    /// The status as read, with this reconcile's cron update already in it.
    pub previous: &'a AppStatus,
    /// `metadata.generation` of the App.
    pub generation: Option<i64>,
    /// The resolved instance count.
    pub instances: i32,
    /// The revision the spec asks for.
    pub desired_revision: &'a str,
    /// The label selector of the App's pods (`status.selector`).
    pub selector: &'a str,
    pub decision: &'a Decision,
    /// The Deployment as the apply returned it.
    pub deployment: &'a ObservedDeployment,
    /// Highest container restart count among all pods of the App.
    pub restarts: i32,
    pub max_restarts: i32,
    /// When the next cron restart is due, if the App has a schedule.
    pub next_cron_restart: Option<Timestamp>,
    pub now: Timestamp,
}

/// The new status. Equal to the previous one when nothing changed, so the
/// caller can skip the write.
pub fn compute(inputs: &StatusInputs<'_>) -> AppStatus {
    let previous = inputs.previous;
    let deployment = inputs.deployment;
    let desired = inputs.desired_revision.to_string();
    let (last_good_revision, failed_revision) = match inputs.decision {
        Decision::Proceed(Phase::Complete) => (Some(desired), None),
        Decision::Fail { .. } => (previous.last_good_revision.clone(), Some(desired)),
        _ => (
            previous.last_good_revision.clone(),
            previous.failed_revision.clone(),
        ),
    };
    let wanted = with_summary([available(inputs), progressing(inputs), degraded(inputs)]);
    AppStatus {
        observed_generation: inputs.generation,
        instances: Some(inputs.instances),
        replicas: Some(deployment.total),
        selector: Some(inputs.selector.to_string()),
        ready_replicas: Some(deployment.ready),
        updated_replicas: Some(deployment.updated_of_template()),
        available_replicas: Some(deployment.available),
        current_revision: deployment.revision.clone(),
        last_good_revision,
        failed_revision,
        restarts: Some(inputs.restarts),
        // The pod reports (`pod_reports`) are laid on top by the plan.
        memory_restarts: previous.memory_restarts,
        last_memory_restart: previous.last_memory_restart.clone(),
        memory_restarts_by_pod: previous.memory_restarts_by_pod.clone(),
        slow_starts: previous.slow_starts.clone(),
        last_cron_restart: previous.last_cron_restart.clone(),
        next_cron_restart: inputs.next_cron_restart.map(|t| t.to_string()),
        // Recorded by the plan (`history`).
        history: previous.history.clone(),
        conditions: conditions::merge(&previous.conditions, &wanted, inputs.generation, inputs.now),
    }
}

/// The status of an App whose spec cannot be built: everything observed
/// before stays, the conditions say what is wrong.
pub fn invalid_spec(
    previous: &AppStatus,
    generation: Option<i64>,
    message: &str,
    now: Timestamp,
) -> AppStatus {
    let progressing = Wanted::new(CONDITION_PROGRESSING, false, reason::INVALID_SPEC, message);
    let degraded = Wanted::new(CONDITION_DEGRADED, true, reason::INVALID_SPEC, message);
    let unknown = Wanted::new(CONDITION_AVAILABLE, false, reason::INVALID_SPEC, message);
    let mut wanted = kstatus::summary(&unknown, &progressing, &degraded).to_vec();
    wanted.extend([progressing, degraded]);
    AppStatus {
        observed_generation: generation,
        conditions: conditions::merge(&previous.conditions, &wanted, generation, now),
        ..previous.clone()
    }
}

/// The App's own conditions followed by the summary GitOps tools read.
fn with_summary([available, progressing, degraded]: [Wanted; 3]) -> Vec<Wanted> {
    let summary = kstatus::summary(&available, &progressing, &degraded);
    [available, progressing, degraded]
        .into_iter()
        .chain(summary)
        .collect()
}

fn available(inputs: &StatusInputs<'_>) -> Wanted {
    let available = inputs.deployment.available;
    let message = format!("{available} of {} instances available", inputs.instances);
    if available >= inputs.instances {
        Wanted::new(
            CONDITION_AVAILABLE,
            true,
            reason::INSTANCES_AVAILABLE,
            message,
        )
    } else {
        Wanted::new(
            CONDITION_AVAILABLE,
            false,
            reason::INSTANCES_UNAVAILABLE,
            message,
        )
    }
}

fn progressing(inputs: &StatusInputs<'_>) -> Wanted {
    let desired = inputs.desired_revision;
    let d = inputs.deployment;
    let wanted = |status, reason, message: String| {
        Wanted::new(CONDITION_PROGRESSING, status, reason, message)
    };
    match inputs.decision {
        Decision::Proceed(phase @ (Phase::Starting | Phase::InProgress)) => {
            // A rollout's first status already says what the Deployment
            // controller's first status for the new template will say (no
            // pod runs it yet), so that status costs no App status write.
            let updated = match phase {
                Phase::Starting => 0,
                _ => d.updated_of_template(),
            };
            wanted(
                true,
                reason::ROLLOUT_IN_PROGRESS,
                format!(
                    "rolling out revision {desired}: {updated} of {} pods updated, {} available",
                    inputs.instances, d.available
                ),
            )
        }
        Decision::Proceed(Phase::Complete) => wanted(
            false,
            reason::ROLLOUT_COMPLETE,
            format!("revision {desired} is available on all {} pods", d.replicas),
        ),
        Decision::Proceed(Phase::Stalled(failure)) => {
            wanted(false, failure.reason(), failure.message())
        }
        Decision::Fail {
            rollback_to: Some(good),
            ..
        } => wanted(
            true,
            reason::ROLLED_BACK,
            format!("rolling back to revision {good} after revision {desired} failed"),
        ),
        Decision::Fail {
            failure,
            rollback_to: None,
        } => wanted(false, failure.reason(), failure.message()),
        Decision::Hold {
            rollback_to: Some(good),
        } => {
            let back = d.revision.as_deref() == Some(good.as_str()) && d.settled();
            let message = format!(
                "running last good revision {good}; revision {desired} failed and is not retried until the spec changes"
            );
            if back {
                wanted(false, reason::ROLLED_BACK, message)
            } else {
                wanted(
                    true,
                    reason::ROLLED_BACK,
                    format!("rolling back: {message}"),
                )
            }
        }
        Decision::Hold { rollback_to: None } => {
            let (reason, message) = carried_failure(inputs);
            wanted(false, &reason, message)
        }
    }
}

fn degraded(inputs: &StatusInputs<'_>) -> Wanted {
    let desired = inputs.desired_revision;
    let wanted = |status, reason: &str, message: String| {
        Wanted::new(CONDITION_DEGRADED, status, reason, message)
    };
    match inputs.decision {
        Decision::Fail {
            failure,
            rollback_to,
        } => {
            let outcome = match rollback_to {
                Some(good) => format!("rolled back to revision {good}"),
                None if inputs.previous.last_good_revision.is_none() => {
                    "no earlier revision to roll back to".to_string()
                }
                None => "not rolled back".to_string(),
            };
            wanted(
                true,
                failure.reason(),
                format!(
                    "revision {desired} failed: {}; {outcome}",
                    failure.message()
                ),
            )
        }
        Decision::Hold { .. } => {
            let (reason, message) = carried_failure(inputs);
            wanted(true, &reason, message)
        }
        Decision::Proceed(Phase::Stalled(failure)) => {
            wanted(true, failure.reason(), failure.message())
        }
        Decision::Proceed(_) if inputs.restarts > inputs.max_restarts => {
            let failure = Failure::TooManyRestarts {
                restarts: inputs.restarts,
                max: inputs.max_restarts,
            };
            wanted(true, failure.reason(), failure.message())
        }
        Decision::Proceed(_) => wanted(false, reason::AS_EXPECTED, String::new()),
    }
}

/// The failure recorded when the held revision failed: the previous
/// Degraded condition when it says so, else a generic account.
fn carried_failure(inputs: &StatusInputs<'_>) -> (String, String) {
    match conditions::find(&inputs.previous.conditions, CONDITION_DEGRADED) {
        Some(c)
            if c.status == "True"
                && c.reason != reason::INVALID_SPEC
                && !problems::is_problem_reason(&c.reason) =>
        {
            (c.reason.clone(), c.message.clone())
        }
        _ => (
            reason::ROLLED_BACK.to_string(),
            format!(
                "revision {} failed and is not retried until the spec changes",
                inputs.desired_revision
            ),
        ),
    }
}

#[cfg(test)]
#[path = "status_tests.rs"]
mod tests;
