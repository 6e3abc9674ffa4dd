use k8s_openapi::api::apps::v1::{
    Deployment, DeploymentCondition, DeploymentSpec, DeploymentStatus,
};
use k8s_openapi::api::core::v1::PodTemplateSpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::*;

/// A Deployment on `revision` with `replicas` pods, of which `updated` run
/// the revision and `available` are available.
fn on(
    revision: &str,
    replicas: i32,
    updated: i32,
    total: i32,
    available: i32,
) -> ObservedDeployment {
    ObservedDeployment {
        revision: Some(revision.to_string()),
        spec_observed: true,
        replicas,
        total,
        updated,
        ready: available,
        available,
        deadline_exceeded: None,
    }
}

fn settled(revision: &str, replicas: i32) -> ObservedDeployment {
    on(revision, replicas, replicas, replicas, replicas)
}

fn past_deadline(mut d: ObservedDeployment) -> ObservedDeployment {
    d.deadline_exceeded = Some("ReplicaSet \"web-1\" has timed out progressing.".into());
    d
}

fn unobserved(mut d: ObservedDeployment) -> ObservedDeployment {
    d.spec_observed = false;
    d
}

struct Case {
    name: &'static str,
    desired: &'static str,
    last_good: Option<&'static str>,
    failed: Option<&'static str>,
    deployment: Option<ObservedDeployment>,
    restarts: i32,
    auto_rollback: bool,
    expect: Decision,
}

fn case(
    name: &'static str,
    desired: &'static str,
    deployment: Option<ObservedDeployment>,
    expect: Decision,
) -> Case {
    Case {
        name,
        desired,
        last_good: None,
        failed: None,
        deployment,
        restarts: 0,
        auto_rollback: true,
        expect,
    }
}

impl Case {
    fn good(mut self, revision: &'static str) -> Self {
        self.last_good = Some(revision);
        self
    }
    fn failed(mut self, revision: &'static str) -> Self {
        self.failed = Some(revision);
        self
    }
    fn restarts(mut self, n: i32) -> Self {
        self.restarts = n;
        self
    }
    fn no_rollback(mut self) -> Self {
        self.auto_rollback = false;
        self
    }
}

fn deadline() -> Failure {
    Failure::ProgressDeadlineExceeded {
        message: "ReplicaSet \"web-1\" has timed out progressing.".into(),
    }
}

fn rollback(to: &str, failure: Failure) -> Decision {
    Decision::Fail {
        failure,
        rollback_to: Some(to.to_string()),
    }
}

#[test]
fn decision_table() {
    use Decision::*;
    let too_many = Failure::TooManyRestarts {
        restarts: 4,
        max: 3,
    };
    let cases = [
        case("first apply", "b", None, Proceed(Phase::Starting)),
        case(
            "spec changed",
            "b",
            Some(settled("a", 3)),
            Proceed(Phase::Starting),
        )
        .good("a"),
        case(
            "rolling",
            "b",
            Some(on("b", 3, 1, 4, 3)),
            Proceed(Phase::InProgress),
        )
        .good("a"),
        case(
            "not yet observed",
            "b",
            Some(unobserved(settled("b", 3))),
            Proceed(Phase::InProgress),
        )
        .good("a"),
        case(
            "old pod still terminating",
            "b",
            Some(on("b", 3, 3, 4, 3)),
            Proceed(Phase::InProgress),
        )
        .good("a"),
        case(
            "new pods not available yet",
            "b",
            Some(on("b", 3, 3, 3, 2)),
            Proceed(Phase::InProgress),
        )
        .good("a"),
        case(
            "complete",
            "b",
            Some(settled("b", 3)),
            Proceed(Phase::Complete),
        )
        .good("a"),
        case(
            "complete again",
            "b",
            Some(settled("b", 3)),
            Proceed(Phase::Complete),
        )
        .good("b"),
        case(
            "first revision complete",
            "a",
            Some(settled("a", 1)),
            Proceed(Phase::Complete),
        ),
        case(
            "deadline exceeded rolls back",
            "b",
            Some(past_deadline(on("b", 3, 1, 4, 3))),
            rollback("a", deadline()),
        )
        .good("a"),
        case(
            "stale deadline condition is ignored",
            "b",
            Some(unobserved(past_deadline(on("b", 3, 1, 4, 3)))),
            Proceed(Phase::InProgress),
        )
        .good("a"),
        case(
            "too many restarts rolls back",
            "b",
            Some(on("b", 3, 1, 4, 3)),
            rollback("a", too_many.clone()),
        )
        .good("a")
        .restarts(4),
        case(
            "restarts at the limit are fine",
            "b",
            Some(on("b", 3, 1, 4, 3)),
            Proceed(Phase::InProgress),
        )
        .good("a")
        .restarts(3),
        case(
            "first revision fails: nothing to roll back to",
            "a",
            Some(past_deadline(on("a", 2, 1, 1, 0))),
            Fail {
                failure: deadline(),
                rollback_to: None,
            },
        ),
        case(
            "auto rollback disabled",
            "b",
            Some(past_deadline(on("b", 3, 1, 4, 3))),
            Fail {
                failure: deadline(),
                rollback_to: None,
            },
        )
        .good("a")
        .no_rollback(),
        case(
            "good revision stalls while scaling",
            "a",
            Some(past_deadline(on("a", 5, 5, 3, 3))),
            Proceed(Phase::Stalled(deadline())),
        )
        .good("a"),
        case(
            "failed revision is held on the good one",
            "b",
            Some(settled("a", 3)),
            Hold {
                rollback_to: Some("a".into()),
            },
        )
        .good("a")
        .failed("b"),
        case(
            "held even while the rollback runs",
            "b",
            Some(on("a", 3, 1, 4, 3)),
            Hold {
                rollback_to: Some("a".into()),
            },
        )
        .good("a")
        .failed("b"),
        case(
            "new spec after a failure proceeds",
            "c",
            Some(settled("a", 3)),
            Proceed(Phase::Starting),
        )
        .good("a")
        .failed("b"),
        case(
            "new spec after a failure completes",
            "c",
            Some(settled("c", 3)),
            Proceed(Phase::Complete),
        )
        .good("a")
        .failed("b"),
        case(
            "spec back to the good revision",
            "a",
            Some(settled("a", 3)),
            Proceed(Phase::Complete),
        )
        .good("a")
        .failed("b"),
        case(
            "failed without rollback keeps trying",
            "b",
            Some(on("b", 3, 1, 4, 3)),
            Hold { rollback_to: None },
        )
        .good("a")
        .failed("b")
        .no_rollback(),
        case(
            "failed without rollback, then made it",
            "b",
            Some(settled("b", 3)),
            Proceed(Phase::Complete),
        )
        .good("a")
        .failed("b")
        .no_rollback(),
        case(
            "failed first revision, then made it",
            "a",
            Some(settled("a", 2)),
            Proceed(Phase::Complete),
        )
        .failed("a"),
    ];
    for c in cases {
        let inputs = RolloutInputs {
            desired_revision: c.desired,
            last_good: c.last_good,
            failed: c.failed,
            deployment: c.deployment.as_ref(),
            desired_restarts: c.restarts,
            max_restarts: 3,
            auto_rollback: c.auto_rollback,
        };
        assert_eq!(decide(&inputs), c.expect, "case {:?}", c.name);
    }
}

#[test]
fn rollback_target_and_its_absence() {
    let fail = rollback("a", deadline());
    assert_eq!(fail.rollback_target(), Some("a"));
    assert_eq!(
        fail.without_rollback(),
        Decision::Fail {
            failure: deadline(),
            rollback_to: None
        }
    );
    let hold = Decision::Hold {
        rollback_to: Some("a".into()),
    };
    assert_eq!(hold.rollback_target(), Some("a"));
    assert_eq!(hold.without_rollback().rollback_target(), None);
    assert_eq!(Decision::Proceed(Phase::Complete).rollback_target(), None);
}

fn deployment(generation: i64, observed: i64, conditions: Vec<DeploymentCondition>) -> Deployment {
    let mut annotations = std::collections::BTreeMap::new();
    annotations.insert(REVISION_ANNOTATION.to_string(), "rev1".to_string());
    Deployment {
        metadata: ObjectMeta {
            generation: Some(generation),
            ..Default::default()
        },
        spec: Some(DeploymentSpec {
            replicas: Some(3),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    annotations: Some(annotations),
                    ..Default::default()
                }),
                spec: None,
            },
            ..Default::default()
        }),
        status: Some(DeploymentStatus {
            observed_generation: Some(observed),
            replicas: Some(4),
            updated_replicas: Some(1),
            available_replicas: Some(3),
            conditions: Some(conditions),
            ..Default::default()
        }),
    }
}

#[test]
fn reads_what_the_deployment_reports() {
    let condition = |status: &str, reason: &str| DeploymentCondition {
        type_: "Progressing".into(),
        status: status.into(),
        reason: Some(reason.into()),
        message: Some("ReplicaSet \"web-1\" has timed out progressing.".into()),
        ..Default::default()
    };
    let observed = ObservedDeployment::from_deployment(&deployment(
        2,
        2,
        vec![condition("False", "ProgressDeadlineExceeded")],
    ));
    assert_eq!(
        observed,
        ObservedDeployment {
            revision: Some("rev1".into()),
            spec_observed: true,
            replicas: 3,
            total: 4,
            updated: 1,
            ready: 0,
            available: 3,
            deadline_exceeded: Some("ReplicaSet \"web-1\" has timed out progressing.".into()),
        }
    );
    assert!(!observed.settled());

    let progressing = ObservedDeployment::from_deployment(&deployment(
        3,
        2,
        vec![condition("True", "ReplicaSetUpdated")],
    ));
    assert!(!progressing.spec_observed);
    assert_eq!(progressing.deadline_exceeded, None);

    let fresh = ObservedDeployment::from_deployment(&Deployment::default());
    assert_eq!(fresh.revision, None);
    assert!(!fresh.settled());
}
