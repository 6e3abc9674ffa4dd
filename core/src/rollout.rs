//! The rollout decision: where the App's release stands and what the
//! Deployment's pod template must be. Pure: plain values in, a decision out.

use k8s_openapi::api::apps::v1::Deployment;

use crate::build::REVISION_ANNOTATION;
use crate::reason;

/// What the Deployment reports about the revision it runs, reduced to what
/// the decision needs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ObservedDeployment {
    /// The revision annotation of its pod template.
    pub revision: Option<String>,
    /// The Deployment controller has seen the latest spec.
    pub spec_observed: bool,
    /// `spec.replicas`.
    pub replicas: i32,
    /// `status.replicas`: pods of every revision.
    pub total: i32,
    /// `status.updatedReplicas`: pods of the template's revision.
    pub updated: i32,
    /// `status.readyReplicas`.
    pub ready: i32,
    /// `status.availableReplicas`.
    pub available: i32,
    /// The message of a `ProgressDeadlineExceeded` condition, when present.
    pub deadline_exceeded: Option<String>,
}

impl ObservedDeployment {
    /// Pods of the template's revision, as far as the Deployment controller
    /// has seen that template: until it has, `updatedReplicas` still counts
    /// the previous template's pods, and none runs the new one yet.
    pub fn updated_of_template(&self) -> i32 {
        if self.spec_observed {
            self.updated
        } else {
            0
        }
    }

    pub fn from_deployment(deployment: &Deployment) -> Self {
        let revision = deployment
            .spec
            .as_ref()
            .and_then(|s| s.template.metadata.as_ref())
            .and_then(|m| m.annotations.as_ref())
            .and_then(|a| a.get(REVISION_ANNOTATION))
            .cloned();
        let replicas = deployment
            .spec
            .as_ref()
            .and_then(|s| s.replicas)
            .unwrap_or(1);
        let status = deployment.status.clone().unwrap_or_default();
        let spec_observed = match (deployment.metadata.generation, status.observed_generation) {
            (Some(generation), Some(observed)) => observed >= generation,
            _ => false,
        };
        let deadline_exceeded = status
            .conditions
            .unwrap_or_default()
            .into_iter()
            .find(|c| {
                c.type_ == "Progressing"
                    && c.status == "False"
                    && c.reason.as_deref() == Some(reason::PROGRESS_DEADLINE_EXCEEDED)
            })
            .map(|c| {
                c.message
                    .unwrap_or_else(|| reason::PROGRESS_DEADLINE_EXCEEDED.to_string())
            });
        ObservedDeployment {
            revision,
            spec_observed,
            replicas,
            total: status.replicas.unwrap_or(0),
            updated: status.updated_replicas.unwrap_or(0),
            ready: status.ready_replicas.unwrap_or(0),
            available: status.available_replicas.unwrap_or(0),
            deadline_exceeded,
        }
    }

    /// Every pod runs the template's revision and is available.
    pub fn settled(&self) -> bool {
        self.spec_observed
            && self.updated == self.replicas
            && self.total == self.replicas
            && self.available >= self.replicas
    }
}

/// Everything the decision looks at.
#[derive(Clone, Debug)]
pub struct RolloutInputs<'a> {
    /// Revision of the pod template the App's spec asks for now.
    pub desired_revision: &'a str,
    /// `status.lastGoodRevision`.
    pub last_good: Option<&'a str>,
    /// `status.failedRevision`.
    pub failed: Option<&'a str>,
    /// The Deployment as it is before this reconcile applies anything.
    pub deployment: Option<&'a ObservedDeployment>,
    /// Highest container restart count among pods of the desired revision.
    pub desired_restarts: i32,
    /// `spec.maxRestarts` with its default.
    pub max_restarts: i32,
    /// `spec.rollout.autoRollback` with its default.
    pub auto_rollback: bool,
}

/// Why a release failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Failure {
    /// The Deployment made no progress within its deadline.
    ProgressDeadlineExceeded { message: String },
    /// A pod of the new revision restarted more often than `maxRestarts`.
    TooManyRestarts { restarts: i32, max: i32 },
}

impl Failure {
    /// The condition and event reason.
    pub fn reason(&self) -> &'static str {
        match self {
            Failure::ProgressDeadlineExceeded { .. } => reason::PROGRESS_DEADLINE_EXCEEDED,
            Failure::TooManyRestarts { .. } => reason::TOO_MANY_RESTARTS,
        }
    }

    pub fn message(&self) -> String {
        match self {
            Failure::ProgressDeadlineExceeded { message } => message.clone(),
            Failure::TooManyRestarts { restarts, max } => {
                format!("a pod restarted {restarts} times, more than maxRestarts {max}")
            }
        }
    }
}

/// How far the desired revision has got.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Phase {
    /// The Deployment does not run the desired revision yet: it is about to.
    Starting,
    /// The Deployment is replacing pods.
    InProgress,
    /// Every pod runs the desired revision and is available.
    Complete,
    /// A revision that was already good stopped making progress (e.g. a
    /// scale-up that cannot be scheduled): reported, never rolled back.
    Stalled(Failure),
}

/// What to do with the Deployment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Apply the desired template.
    Proceed(Phase),
    /// The desired revision failed just now. Roll back to `rollback_to` when
    /// there is one; otherwise leave the desired template in place.
    Fail {
        failure: Failure,
        rollback_to: Option<String>,
    },
    /// The desired revision failed before and the spec has not changed since:
    /// keep running `rollback_to` (or, without one, the desired template).
    Hold { rollback_to: Option<String> },
}

impl Decision {
    /// The revision whose template the Deployment must carry, when it is not
    /// the desired one.
    pub fn rollback_target(&self) -> Option<&str> {
        match self {
            Decision::Fail { rollback_to, .. } | Decision::Hold { rollback_to } => {
                rollback_to.as_deref()
            }
            Decision::Proceed(_) => None,
        }
    }

    /// The same decision when the rollback target's template is gone (no
    /// ReplicaSet of it is left): the desired template stays.
    pub fn without_rollback(self) -> Decision {
        match self {
            Decision::Fail { failure, .. } => Decision::Fail {
                failure,
                rollback_to: None,
            },
            Decision::Hold { .. } => Decision::Hold { rollback_to: None },
            proceed => proceed,
        }
    }
}

/// Decides the rollout step. A failure of a revision that never completed
/// rolls back to the last good one (unless disabled); a failed revision is
/// not retried while the spec still asks for it.
pub fn decide(inputs: &RolloutInputs<'_>) -> Decision {
    let desired = inputs.desired_revision;
    let rollback_to = inputs
        .last_good
        .filter(|good| inputs.auto_rollback && *good != desired)
        .map(str::to_string);

    if inputs.failed == Some(desired) {
        // With a rollback target the bad template is never applied again.
        // Without one the Deployment keeps trying; if it gets there after
        // all, the revision has proved good.
        if rollback_to.is_none() && phase(inputs) == Phase::Complete {
            return Decision::Proceed(Phase::Complete);
        }
        return Decision::Hold { rollback_to };
    }

    match phase(inputs) {
        Phase::InProgress => match failure(inputs) {
            Some(failure) if inputs.last_good != Some(desired) => Decision::Fail {
                failure,
                rollback_to,
            },
            Some(failure) => Decision::Proceed(Phase::Stalled(failure)),
            None => Decision::Proceed(Phase::InProgress),
        },
        other => Decision::Proceed(other),
    }
}

fn phase(inputs: &RolloutInputs<'_>) -> Phase {
    let Some(deployment) = inputs.deployment else {
        return Phase::Starting;
    };
    if deployment.revision.as_deref() != Some(inputs.desired_revision) {
        return Phase::Starting;
    }
    if deployment.settled() {
        Phase::Complete
    } else {
        Phase::InProgress
    }
}

fn failure(inputs: &RolloutInputs<'_>) -> Option<Failure> {
    let deployment = inputs.deployment?;
    if deployment.spec_observed {
        if let Some(message) = &deployment.deadline_exceeded {
            return Some(Failure::ProgressDeadlineExceeded {
                message: message.clone(),
            });
        }
    }
    (inputs.desired_restarts > inputs.max_restarts).then_some(Failure::TooManyRestarts {
        restarts: inputs.desired_restarts,
        max: inputs.max_restarts,
    })
}

#[cfg(test)]
#[path = "rollout_tests.rs"]
mod tests;
