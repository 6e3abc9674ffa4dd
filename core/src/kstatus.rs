//! The summary conditions GitOps tools read: `Ready`, `Reconciling` and
//! `Stalled`, in the shape kstatus (Flux, cli-utils, `kubectl wait`) and
//! Argo CD's health check for App expect. They restate the App's own
//! `Available`, `Progressing` and `Degraded` so that a tool which knows
//! nothing about readyroll can tell when an App is done:
//!
//! - `Reconciling=True` while the desired revision is still being rolled out
//!   (or rolled back), with Progressing's reason;
//! - `Stalled=True` when the App is Degraded: the rollout failed, a pod
//!   restarts past `maxRestarts`, or the spec cannot be built;
//! - `Ready=True` only when the rollout of the current generation is
//!   complete and every instance is available.
//!
//! Stalled wins over Reconciling: a rollback after a failed release is
//! still work in progress for the Deployment, but the generation the user
//! asked for has failed, and kstatus reads `Reconciling` first.
//! Every condition carries the generation it describes (see
//! [`crate::conditions::merge`]), and `kubectl wait` ignores one whose
//! `observedGeneration` is older than `metadata.generation`.

use crate::conditions::Wanted;
use crate::crd::{CONDITION_READY, CONDITION_RECONCILING, CONDITION_STALLED};
use crate::reason;

/// `Ready`, `Reconciling` and `Stalled` from whether every instance is
/// available and from the `Progressing` and `Degraded` conditions.
pub fn summary(available: &Wanted, progressing: &Wanted, degraded: &Wanted) -> [Wanted; 3] {
    [
        ready(available, progressing, degraded),
        reconciling(progressing, degraded),
        stalled(degraded),
    ]
}

fn ready(available: &Wanted, progressing: &Wanted, degraded: &Wanted) -> Wanted {
    let not_ready =
        |cause: &Wanted| Wanted::new(CONDITION_READY, false, &cause.reason, cause.message.clone());
    if degraded.status {
        not_ready(degraded)
    } else if progressing.status {
        not_ready(progressing)
    } else if !available.status {
        not_ready(available)
    } else {
        // Neither progressing nor degraded: the rollout is complete.
        Wanted::new(
            CONDITION_READY,
            true,
            &progressing.reason,
            progressing.message.clone(),
        )
    }
}

fn reconciling(progressing: &Wanted, degraded: &Wanted) -> Wanted {
    if degraded.status {
        Wanted::new(
            CONDITION_RECONCILING,
            false,
            &degraded.reason,
            "stalled: see the Stalled condition",
        )
    } else {
        Wanted::new(
            CONDITION_RECONCILING,
            progressing.status,
            &progressing.reason,
            progressing.message.clone(),
        )
    }
}

fn stalled(degraded: &Wanted) -> Wanted {
    if degraded.status {
        Wanted::new(
            CONDITION_STALLED,
            true,
            &degraded.reason,
            degraded.message.clone(),
        )
    } else {
        Wanted::new(CONDITION_STALLED, false, reason::AS_EXPECTED, "")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crd::{CONDITION_AVAILABLE, CONDITION_DEGRADED, CONDITION_PROGRESSING};

    fn available(status: bool) -> Wanted {
        let reason = if status {
            reason::INSTANCES_AVAILABLE
        } else {
            reason::INSTANCES_UNAVAILABLE
        };
        Wanted::new(CONDITION_AVAILABLE, status, reason, "2 of 3 instances")
    }

    fn progressing(status: bool, reason: &str) -> Wanted {
        Wanted::new(CONDITION_PROGRESSING, status, reason, format!("p:{reason}"))
    }

    fn degraded(status: bool, reason: &str) -> Wanted {
        Wanted::new(CONDITION_DEGRADED, status, reason, format!("d:{reason}"))
    }

    fn brief(summary: &[Wanted; 3]) -> [(bool, &str); 3] {
        [0, 1, 2].map(|i| (summary[i].status, summary[i].reason.as_str()))
    }

    #[test]
    fn types_are_ready_reconciling_stalled() {
        let s = summary(
            &available(true),
            &progressing(false, reason::ROLLOUT_COMPLETE),
            &degraded(false, reason::AS_EXPECTED),
        );
        assert_eq!(
            s.map(|w| w.type_),
            ["Ready", "Reconciling", "Stalled"],
            "the condition types kstatus reads"
        );
    }

    #[test]
    fn each_state_of_a_rollout() {
        let ok = degraded(false, reason::AS_EXPECTED);
        let cases = [
            (
                "complete and available",
                summary(
                    &available(true),
                    &progressing(false, reason::ROLLOUT_COMPLETE),
                    &ok,
                ),
                [
                    (true, reason::ROLLOUT_COMPLETE),
                    (false, reason::ROLLOUT_COMPLETE),
                    (false, reason::AS_EXPECTED),
                ],
            ),
            (
                "rolling out, old pods still available",
                summary(
                    &available(true),
                    &progressing(true, reason::ROLLOUT_IN_PROGRESS),
                    &ok,
                ),
                [
                    (false, reason::ROLLOUT_IN_PROGRESS),
                    (true, reason::ROLLOUT_IN_PROGRESS),
                    (false, reason::AS_EXPECTED),
                ],
            ),
            (
                "settled but an instance is missing",
                summary(
                    &available(false),
                    &progressing(false, reason::ROLLOUT_COMPLETE),
                    &ok,
                ),
                [
                    (false, reason::INSTANCES_UNAVAILABLE),
                    (false, reason::ROLLOUT_COMPLETE),
                    (false, reason::AS_EXPECTED),
                ],
            ),
            (
                "failed, rolling back",
                summary(
                    &available(true),
                    &progressing(true, reason::ROLLED_BACK),
                    &degraded(true, reason::PROGRESS_DEADLINE_EXCEEDED),
                ),
                [
                    (false, reason::PROGRESS_DEADLINE_EXCEEDED),
                    (false, reason::PROGRESS_DEADLINE_EXCEEDED),
                    (true, reason::PROGRESS_DEADLINE_EXCEEDED),
                ],
            ),
            (
                "invalid spec",
                summary(
                    &available(true),
                    &progressing(false, reason::INVALID_SPEC),
                    &degraded(true, reason::INVALID_SPEC),
                ),
                [
                    (false, reason::INVALID_SPEC),
                    (false, reason::INVALID_SPEC),
                    (true, reason::INVALID_SPEC),
                ],
            ),
        ];
        for (what, got, expected) in cases {
            assert_eq!(brief(&got), expected, "{what}");
        }
    }

    #[test]
    fn messages_explain_the_state() {
        let s = summary(
            &available(true),
            &progressing(true, reason::ROLLOUT_IN_PROGRESS),
            &degraded(false, reason::AS_EXPECTED),
        );
        assert_eq!(s[0].message, "p:RolloutInProgress");
        assert_eq!(s[1].message, "p:RolloutInProgress");
        let failed = summary(
            &available(false),
            &progressing(false, reason::TOO_MANY_RESTARTS),
            &degraded(true, reason::TOO_MANY_RESTARTS),
        );
        assert_eq!(failed[0].message, "d:TooManyRestarts");
        assert_eq!(failed[2].message, "d:TooManyRestarts");
    }
}
