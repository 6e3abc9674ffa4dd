use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use super::*;
use crate::crd::{CONDITION_READY, CONDITION_RECONCILING, CONDITION_STALLED};

fn at(seconds: i64) -> Timestamp {
    Timestamp::from_second(seconds).unwrap()
}

fn deployment(
    revision: &str,
    replicas: i32,
    updated: i32,
    total: i32,
    available: i32,
) -> ObservedDeployment {
    ObservedDeployment {
        revision: Some(revision.into()),
        spec_observed: true,
        replicas,
        total,
        updated,
        ready: available,
        available,
        deadline_exceeded: None,
    }
}

struct Run<'a> {
    previous: &'a AppStatus,
    decision: Decision,
    deployment: ObservedDeployment,
    restarts: i32,
}

impl Run<'_> {
    fn compute(&self, now: i64) -> AppStatus {
        compute(&StatusInputs {
            previous: self.previous,
            generation: Some(4),
            instances: 3,
            desired_revision: "b",
            selector: "app.kubernetes.io/instance=web",
            decision: &self.decision,
            deployment: &self.deployment,
            restarts: self.restarts,
            max_restarts: 5,
            next_cron_restart: None,
            now: at(now),
        })
    }
}

fn condition(status: &AppStatus, type_: &str) -> (String, String, String) {
    let c = conditions::find(&status.conditions, type_)
        .unwrap_or_else(|| panic!("no {type_} condition"));
    (c.status.clone(), c.reason.clone(), c.message.clone())
}

fn summary(status: &AppStatus) -> [(String, String); 3] {
    [
        CONDITION_AVAILABLE,
        CONDITION_PROGRESSING,
        CONDITION_DEGRADED,
    ]
    .map(|t| {
        let (s, r, _) = condition(status, t);
        (s, r)
    })
}

fn pair(status: &str, reason: &str) -> (String, String) {
    (status.to_string(), reason.to_string())
}

#[test]
fn rollout_in_progress_then_complete() {
    let previous = AppStatus {
        last_good_revision: Some("a".into()),
        ..Default::default()
    };
    let rolling = Run {
        previous: &previous,
        decision: Decision::Proceed(Phase::InProgress),
        deployment: deployment("b", 3, 1, 4, 3),
        restarts: 0,
    }
    .compute(10);
    assert_eq!(rolling.observed_generation, Some(4));
    assert_eq!(rolling.instances, Some(3));
    assert_eq!(
        (
            rolling.replicas,
            rolling.updated_replicas,
            rolling.available_replicas
        ),
        (Some(4), Some(1), Some(3))
    );
    assert_eq!(rolling.current_revision.as_deref(), Some("b"));
    assert_eq!(rolling.last_good_revision.as_deref(), Some("a"));
    assert_eq!(
        summary(&rolling),
        [
            pair("True", "InstancesAvailable"),
            pair("True", "RolloutInProgress"),
            pair("False", "AsExpected")
        ]
    );
    assert_eq!(
        condition(&rolling, CONDITION_PROGRESSING).2,
        "rolling out revision b: 1 of 3 pods updated, 3 available"
    );

    let done = Run {
        previous: &rolling,
        decision: Decision::Proceed(Phase::Complete),
        deployment: deployment("b", 3, 3, 3, 3),
        restarts: 0,
    }
    .compute(20);
    assert_eq!(done.last_good_revision.as_deref(), Some("b"));
    assert_eq!(done.failed_revision, None);
    assert_eq!(
        summary(&done),
        [
            pair("True", "InstancesAvailable"),
            pair("False", "RolloutComplete"),
            pair("False", "AsExpected")
        ]
    );
    let available = conditions::find(&done.conditions, CONDITION_AVAILABLE).unwrap();
    assert_eq!(
        available.last_transition_time,
        Time(at(10)),
        "Available never flipped"
    );
    let progressing = conditions::find(&done.conditions, CONDITION_PROGRESSING).unwrap();
    assert_eq!(progressing.last_transition_time, Time(at(20)));

    // Nothing changed: the same status, so no write.
    let again = Run {
        previous: &done,
        decision: Decision::Proceed(Phase::Complete),
        deployment: deployment("b", 3, 3, 3, 3),
        restarts: 0,
    }
    .compute(30);
    assert_eq!(again, done);
}

#[test]
fn failure_rolls_back_and_holds() {
    let previous = AppStatus {
        last_good_revision: Some("a".into()),
        ..Default::default()
    };
    let failed = Run {
        previous: &previous,
        decision: Decision::Fail {
            failure: Failure::ProgressDeadlineExceeded {
                message: "ReplicaSet \"web-b\" has timed out progressing.".into(),
            },
            rollback_to: Some("a".into()),
        },
        deployment: deployment("a", 3, 0, 4, 3),
        restarts: 0,
    }
    .compute(10);
    assert_eq!(failed.failed_revision.as_deref(), Some("b"));
    assert_eq!(failed.last_good_revision.as_deref(), Some("a"));
    assert_eq!(
        summary(&failed),
        [
            pair("True", "InstancesAvailable"),
            pair("True", "RolledBack"),
            pair("True", "ProgressDeadlineExceeded")
        ]
    );
    assert_eq!(
        condition(&failed, CONDITION_DEGRADED).2,
        "revision b failed: ReplicaSet \"web-b\" has timed out progressing.; rolled back to revision a"
    );

    let held = Run {
        previous: &failed,
        decision: Decision::Hold {
            rollback_to: Some("a".into()),
        },
        deployment: deployment("a", 3, 3, 3, 3),
        restarts: 0,
    }
    .compute(20);
    assert_eq!(held.failed_revision.as_deref(), Some("b"));
    assert_eq!(held.current_revision.as_deref(), Some("a"));
    assert_eq!(
        summary(&held),
        [
            pair("True", "InstancesAvailable"),
            pair("False", "RolledBack"),
            pair("True", "ProgressDeadlineExceeded")
        ]
    );
    assert_eq!(
        condition(&held, CONDITION_DEGRADED),
        condition(&failed, CONDITION_DEGRADED),
        "the failure stays reported while the spec is unchanged"
    );
}

#[test]
fn failure_without_a_target_says_so() {
    let failed = Run {
        previous: &AppStatus::default(),
        decision: Decision::Fail {
            failure: Failure::TooManyRestarts {
                restarts: 7,
                max: 5,
            },
            rollback_to: None,
        },
        deployment: deployment("b", 3, 3, 3, 0),
        restarts: 7,
    }
    .compute(10);
    assert_eq!(
        summary(&failed),
        [
            pair("False", "InstancesUnavailable"),
            pair("False", "TooManyRestarts"),
            pair("True", "TooManyRestarts")
        ]
    );
    assert!(condition(&failed, CONDITION_DEGRADED)
        .2
        .ends_with("no earlier revision to roll back to"));
    assert_eq!(
        condition(&failed, CONDITION_AVAILABLE).2,
        "0 of 3 instances available"
    );
}

#[test]
fn restarts_past_the_limit_degrade_a_running_app() {
    let previous = AppStatus {
        last_good_revision: Some("b".into()),
        ..Default::default()
    };
    let status = Run {
        previous: &previous,
        decision: Decision::Proceed(Phase::Complete),
        deployment: deployment("b", 3, 3, 3, 3),
        restarts: 6,
    }
    .compute(10);
    assert_eq!(status.restarts, Some(6));
    assert_eq!(condition(&status, CONDITION_DEGRADED).0, "True");
    assert_eq!(
        condition(&status, CONDITION_DEGRADED).2,
        "a pod restarted 6 times, more than maxRestarts 5"
    );
}

#[test]
fn invalid_spec_keeps_what_was_observed() {
    let running = Run {
        previous: &AppStatus::default(),
        decision: Decision::Proceed(Phase::Complete),
        deployment: deployment("b", 3, 3, 3, 3),
        restarts: 0,
    }
    .compute(10);
    let invalid = invalid_spec(
        &running,
        Some(5),
        "spec.cronRestart: \"x\" is not a cron expression",
        at(20),
    );
    assert_eq!(invalid.observed_generation, Some(5));
    assert_eq!(invalid.last_good_revision, running.last_good_revision);
    assert_eq!(invalid.ready_replicas, Some(3));
    assert_eq!(
        condition(&invalid, CONDITION_DEGRADED),
        (
            "True".into(),
            "InvalidSpec".into(),
            "spec.cronRestart: \"x\" is not a cron expression".into()
        )
    );
    assert_eq!(condition(&invalid, CONDITION_AVAILABLE).0, "True");
}

#[test]
fn the_summary_conditions_follow_the_rollout_for_this_generation() {
    let previous = AppStatus {
        last_good_revision: Some("a".into()),
        ..Default::default()
    };
    let brief = |status: &AppStatus| {
        [CONDITION_READY, CONDITION_RECONCILING, CONDITION_STALLED].map(|t| {
            let c = conditions::find(&status.conditions, t).unwrap();
            assert_eq!(c.observed_generation, Some(4), "{t} names its generation");
            (c.status.clone(), c.reason.clone())
        })
    };
    let rolling = Run {
        previous: &previous,
        decision: Decision::Proceed(Phase::InProgress),
        deployment: deployment("b", 3, 1, 4, 3),
        restarts: 0,
    }
    .compute(10);
    assert_eq!(
        brief(&rolling),
        [
            pair("False", "RolloutInProgress"),
            pair("True", "RolloutInProgress"),
            pair("False", "AsExpected")
        ]
    );
    let done = Run {
        previous: &rolling,
        decision: Decision::Proceed(Phase::Complete),
        deployment: deployment("b", 3, 3, 3, 3),
        restarts: 0,
    }
    .compute(20);
    assert_eq!(
        brief(&done),
        [
            pair("True", "RolloutComplete"),
            pair("False", "RolloutComplete"),
            pair("False", "AsExpected")
        ]
    );
    let invalid = invalid_spec(&done, Some(4), "spec.x is wrong", at(30));
    assert_eq!(
        brief(&invalid),
        [
            pair("False", "InvalidSpec"),
            pair("False", "InvalidSpec"),
            pair("True", "InvalidSpec")
        ]
    );
}

#[test]
fn a_rollout_s_first_status_already_says_what_the_deployment_controller_will_report() {
    // Revision b is applied over a Deployment running a on 3 available
    // pods; the controller has not seen the new template yet, so its
    // counts (3 updated) are revision a's.
    let previous = AppStatus::default();
    let mut unobserved = deployment("b", 3, 3, 3, 3);
    unobserved.spec_observed = false;
    let starting = Run {
        previous: &previous,
        decision: Decision::Proceed(Phase::Starting),
        deployment: unobserved.clone(),
        restarts: 0,
    }
    .compute(10);
    let (_, _, message) = condition(&starting, CONDITION_PROGRESSING);
    assert_eq!(
        message,
        "rolling out revision b: 0 of 3 pods updated, 3 available"
    );
    let unseen = Run {
        previous: &starting,
        decision: Decision::Proceed(Phase::InProgress),
        deployment: unobserved,
        restarts: 0,
    }
    .compute(11);
    assert_eq!(
        unseen, starting,
        "stale counts are not reported as the new revision's"
    );

    // The controller's first status for b: no pod of b yet. Nothing to write.
    let first_seen = Run {
        previous: &starting,
        decision: Decision::Proceed(Phase::InProgress),
        deployment: deployment("b", 3, 0, 3, 3),
        restarts: 0,
    }
    .compute(12);
    assert_eq!(first_seen, starting);
}
