//! What the status says while `spec.paused` holds rollouts.
//!
//! The Deployment is paused too, so it replaces no pod and never reaches
//! its progress deadline (Kubernetes does not count time while paused).
//! A paused App whose rollout is not done must not look done to a GitOps
//! tool, nor failed: `Ready` stays False and `Reconciling` True, both with
//! reason `RolloutPaused` (kstatus reads InProgress; Argo CD's health check
//! says Suspended from `spec.paused`). The `Paused` condition says whether
//! the App is paused at all; it appears once the App is first paused.

use k8s_openapi::jiff::Timestamp;

use crate::conditions::{self, Wanted};
use crate::crd::{
    App, AppStatus, CONDITION_PAUSED, CONDITION_PROGRESSING, CONDITION_READY, CONDITION_RECONCILING,
};

/// Reason of `Paused=True`, and of `Progressing`, `Ready` and
/// `Reconciling` while a paused rollout waits.
pub const ROLLOUT_PAUSED: &str = "RolloutPaused";
/// Reason of `Paused=False` once the App was resumed.
pub const RESUMED: &str = "Resumed";

/// Whether `spec.paused` holds the App's rollouts.
pub fn is_paused(app: &App) -> bool {
    app.spec.paused == Some(true)
}

/// Lays the pause over a computed status.
pub fn overlay(status: &mut AppStatus, paused: bool, generation: Option<i64>, now: Timestamp) {
    let mut wanted = Vec::new();
    if paused {
        let rolling = conditions::find(&status.conditions, CONDITION_PROGRESSING)
            .is_some_and(|c| c.status == "True");
        let message = if rolling {
            format!(
                "the rollout is paused (spec.paused) with {} of {} instances updated; `readyroll resume` continues it",
                status.updated_replicas.unwrap_or(0),
                status.instances.unwrap_or(0)
            )
        } else {
            "rollouts are paused (spec.paused): a new spec waits for `readyroll resume`".to_string()
        };
        wanted.push(Wanted::new(
            CONDITION_PAUSED,
            true,
            ROLLOUT_PAUSED,
            message.clone(),
        ));
        if rolling {
            for (type_, status) in [
                (CONDITION_PROGRESSING, true),
                (CONDITION_READY, false),
                (CONDITION_RECONCILING, true),
            ] {
                wanted.push(Wanted::new(type_, status, ROLLOUT_PAUSED, message.clone()));
            }
        }
    } else if conditions::find(&status.conditions, CONDITION_PAUSED).is_some() {
        wanted.push(Wanted::new(
            CONDITION_PAUSED,
            false,
            RESUMED,
            "rollouts proceed (spec.paused is not set)",
        ));
    }
    if !wanted.is_empty() {
        status.conditions = conditions::merge(&status.conditions, &wanted, generation, now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crd::CONDITION_STALLED;

    fn status(progressing: bool) -> AppStatus {
        let wanted = [
            Wanted::new(CONDITION_PROGRESSING, progressing, "RolloutInProgress", "p"),
            Wanted::new(CONDITION_READY, !progressing, "RolloutInProgress", "r"),
            Wanted::new(CONDITION_RECONCILING, progressing, "RolloutInProgress", "r"),
            Wanted::new(CONDITION_STALLED, false, "AsExpected", ""),
        ];
        AppStatus {
            instances: Some(3),
            updated_replicas: Some(1),
            conditions: conditions::merge(&[], &wanted, Some(2), Timestamp::UNIX_EPOCH),
            ..AppStatus::default()
        }
    }

    fn get<'a>(status: &'a AppStatus, type_: &str) -> (&'a str, &'a str) {
        let c = conditions::find(&status.conditions, type_).expect(type_);
        (c.status.as_str(), c.reason.as_str())
    }

    #[test]
    fn a_paused_rollout_is_neither_ready_nor_stalled() {
        let mut s = status(true);
        overlay(&mut s, true, Some(2), Timestamp::UNIX_EPOCH);
        assert_eq!(get(&s, CONDITION_PAUSED), ("True", ROLLOUT_PAUSED));
        assert_eq!(get(&s, CONDITION_READY), ("False", ROLLOUT_PAUSED));
        assert_eq!(get(&s, CONDITION_RECONCILING), ("True", ROLLOUT_PAUSED));
        assert_eq!(get(&s, CONDITION_STALLED).0, "False");
        let message = &conditions::find(&s.conditions, CONDITION_READY)
            .unwrap()
            .message;
        assert!(message.contains("1 of 3 instances updated"), "{message}");
    }

    #[test]
    fn a_paused_app_with_nothing_to_roll_stays_ready() {
        let mut s = status(false);
        overlay(&mut s, true, Some(2), Timestamp::UNIX_EPOCH);
        assert_eq!(get(&s, CONDITION_PAUSED), ("True", ROLLOUT_PAUSED));
        assert_eq!(get(&s, CONDITION_READY).0, "True");
    }

    #[test]
    fn resuming_turns_paused_false_and_an_unpaused_app_has_no_paused_condition() {
        let mut never = status(true);
        overlay(&mut never, false, Some(2), Timestamp::UNIX_EPOCH);
        assert!(conditions::find(&never.conditions, CONDITION_PAUSED).is_none());

        let mut s = status(true);
        overlay(&mut s, true, Some(2), Timestamp::UNIX_EPOCH);
        let mut resumed = status(true);
        resumed
            .conditions
            .extend(conditions::find(&s.conditions, CONDITION_PAUSED).cloned());
        overlay(&mut resumed, false, Some(3), Timestamp::UNIX_EPOCH);
        assert_eq!(get(&resumed, CONDITION_PAUSED), ("False", RESUMED));
        assert_eq!(
            get(&resumed, CONDITION_RECONCILING),
            ("True", "RolloutInProgress")
        );
    }
}
