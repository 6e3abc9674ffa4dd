//! Events for every rollout step and failure: which events a reconcile
//! produces, decided without I/O. The controller publishes them.

use crate::crd::AppStatus;
use crate::reason;
use crate::rollout::{Decision, ObservedDeployment, Phase};

/// One event to publish about an App.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Note {
    pub warning: bool,
    pub reason: &'static str,
    pub message: String,
}

impl Note {
    pub fn normal(reason: &'static str, message: String) -> Self {
        Note {
            warning: false,
            reason,
            message,
        }
    }

    pub fn warning(reason: &'static str, message: String) -> Self {
        Note {
            warning: true,
            reason,
            message,
        }
    }
}

/// The events of a reconcile that applied `decision`.
pub fn rollout_notes(
    previous: &AppStatus,
    before: Option<&ObservedDeployment>,
    decision: &Decision,
    desired_revision: &str,
    instances: i32,
) -> Vec<Note> {
    let mut notes = Vec::new();
    match decision {
        Decision::Proceed(Phase::Starting) => {
            let from = before
                .and_then(|d| d.revision.as_deref())
                .map(|r| format!(" (replacing revision {r})"))
                .unwrap_or_default();
            notes.push(Note::normal(
                reason::ROLLOUT_STARTED,
                format!("rolling out revision {desired_revision}{from}"),
            ));
        }
        Decision::Proceed(Phase::Complete)
            if previous.last_good_revision.as_deref() != Some(desired_revision) =>
        {
            notes.push(Note::normal(
                reason::ROLLOUT_COMPLETE,
                format!("revision {desired_revision} is available on all pods"),
            ));
        }
        Decision::Fail {
            failure,
            rollback_to,
        } => {
            notes.push(Note::warning(
                reason::ROLLOUT_FAILED,
                format!(
                    "revision {desired_revision} failed: {}: {}",
                    failure.reason(),
                    failure.message()
                ),
            ));
            if let Some(good) = rollback_to {
                notes.push(Note::warning(
                    reason::ROLLED_BACK,
                    format!(
                        "rolled back to revision {good}; revision {desired_revision} is not retried until the spec changes"
                    ),
                ));
            }
        }
        _ => {}
    }
    if let Some(before) = previous.instances.filter(|n| *n != instances) {
        notes.push(Note::normal(
            reason::SCALED_INSTANCES,
            format!("instances {before} -> {instances}"),
        ));
    }
    notes
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rollout::Failure;

    fn deployment_on(revision: &str) -> ObservedDeployment {
        ObservedDeployment {
            revision: Some(revision.into()),
            ..Default::default()
        }
    }

    fn reasons(notes: &[Note]) -> Vec<&'static str> {
        notes.iter().map(|n| n.reason).collect()
    }

    #[test]
    fn events_follow_rollout_steps() {
        let good_a = AppStatus {
            last_good_revision: Some("a".into()),
            instances: Some(3),
            ..Default::default()
        };
        let before = deployment_on("a");

        let started = rollout_notes(
            &good_a,
            Some(&before),
            &Decision::Proceed(Phase::Starting),
            "b",
            3,
        );
        assert_eq!(
            started,
            [Note::normal(
                reason::ROLLOUT_STARTED,
                "rolling out revision b (replacing revision a)".into()
            )]
        );

        let rolling = rollout_notes(
            &good_a,
            Some(&before),
            &Decision::Proceed(Phase::InProgress),
            "b",
            3,
        );
        assert!(rolling.is_empty());

        let done = rollout_notes(
            &good_a,
            Some(&before),
            &Decision::Proceed(Phase::Complete),
            "b",
            3,
        );
        assert_eq!(reasons(&done), [reason::ROLLOUT_COMPLETE]);

        let good_b = AppStatus {
            last_good_revision: Some("b".into()),
            ..good_a.clone()
        };
        let steady = rollout_notes(
            &good_b,
            Some(&before),
            &Decision::Proceed(Phase::Complete),
            "b",
            3,
        );
        assert!(
            steady.is_empty(),
            "no repeat of RolloutComplete: {steady:?}"
        );

        let failed = Decision::Fail {
            failure: Failure::TooManyRestarts {
                restarts: 5,
                max: 2,
            },
            rollback_to: Some("a".into()),
        };
        let notes = rollout_notes(&good_a, Some(&before), &failed, "b", 3);
        assert_eq!(
            reasons(&notes),
            [reason::ROLLOUT_FAILED, reason::ROLLED_BACK]
        );
        assert!(notes.iter().all(|n| n.warning));
        assert!(
            notes[0].message.contains("TooManyRestarts"),
            "{}",
            notes[0].message
        );

        let held = rollout_notes(
            &good_a,
            Some(&before),
            &Decision::Hold {
                rollback_to: Some("a".into()),
            },
            "b",
            3,
        );
        assert!(held.is_empty(), "holding repeats nothing: {held:?}");
    }

    #[test]
    fn scaling_is_reported_once_known() {
        let three = AppStatus {
            instances: Some(3),
            last_good_revision: Some("a".into()),
            ..Default::default()
        };
        let scaled = rollout_notes(&three, None, &Decision::Proceed(Phase::Complete), "a", 5);
        assert_eq!(
            scaled,
            [Note::normal(
                reason::SCALED_INSTANCES,
                "instances 3 -> 5".into()
            )]
        );
        let first = rollout_notes(
            &AppStatus::default(),
            None,
            &Decision::Proceed(Phase::Starting),
            "a",
            5,
        );
        assert_eq!(reasons(&first), [reason::ROLLOUT_STARTED]);
    }
}
