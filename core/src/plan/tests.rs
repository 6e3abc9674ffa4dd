//! The write-ordering rules, as properties of the plan: no API involved.

use k8s_openapi::api::apps::v1::{DeploymentCondition, DeploymentStatus};
use k8s_openapi::api::core::v1::PodTemplateSpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{OwnerReference, Time};

use super::*;
use crate::build::RESTARTED_AT_ANNOTATION;
use crate::crd::{AppSpec, Instances, RolloutSpec};
use crate::memory_restart::MemoryRestart;
use crate::observed::{revision_of, PodRestarts};
use crate::rollout::Phase;

pub(super) const UID: &str = "app-uid";

pub(super) fn now() -> Timestamp {
    "2030-01-01T12:00:00Z".parse().unwrap()
}

pub(super) fn opts() -> BuildOptions {
    BuildOptions {
        shim_image: "readyroll:test".into(),
    }
}

pub(super) fn app(image: &str, instances: i32, status: Option<AppStatus>) -> App {
    let mut app = App::new(
        "web",
        AppSpec {
            image: image.into(),
            instances: Some(Instances::Count(instances)),
            port: Some(8080),
            ..Default::default()
        },
    );
    app.metadata.namespace = Some("shop".into());
    app.metadata.uid = Some(UID.into());
    app.metadata.generation = Some(1);
    app.metadata.creation_timestamp = Some(Time("2029-12-31T00:00:00Z".parse().unwrap()));
    app.status = status;
    app
}

pub(super) fn desired(app: &App) -> Desired {
    build::build(app, &[], &opts()).expect("test App builds")
}

fn template(desired: &Desired) -> PodTemplateSpec {
    desired.deployment.spec.as_ref().unwrap().template.clone()
}

/// `desired`'s Deployment as the Deployment controller reports it.
pub(super) fn running(desired: &Desired, status: DeploymentStatus) -> Deployment {
    let mut deployment = desired.deployment.clone();
    deployment.metadata.generation = Some(2);
    deployment.status = Some(DeploymentStatus {
        observed_generation: Some(2),
        ..status
    });
    deployment
}

fn timed_out() -> DeploymentStatus {
    DeploymentStatus {
        replicas: Some(4),
        updated_replicas: Some(1),
        ready_replicas: Some(3),
        available_replicas: Some(3),
        conditions: Some(vec![DeploymentCondition {
            type_: "Progressing".into(),
            status: "False".into(),
            reason: Some("ProgressDeadlineExceeded".into()),
            message: Some("ReplicaSet \"web-bbb\" has timed out progressing.".into()),
            ..Default::default()
        }]),
        ..Default::default()
    }
}

pub(super) fn settled(replicas: i32) -> DeploymentStatus {
    DeploymentStatus {
        replicas: Some(replicas),
        updated_replicas: Some(replicas),
        ready_replicas: Some(replicas),
        available_replicas: Some(replicas),
        ..Default::default()
    }
}

pub(super) fn owned_by(uid: &str) -> ObjectMeta {
    ObjectMeta {
        name: Some("web".into()),
        uid: Some(format!("{uid}-object")),
        owner_references: Some(vec![OwnerReference {
            uid: uid.into(),
            controller: Some(true),
            ..Default::default()
        }]),
        ..Default::default()
    }
}

/// The names of the steps, in order.
pub(super) fn shape(plan: &Plan) -> Vec<&'static str> {
    plan.steps
        .iter()
        .map(|step| match step {
            Step::Status(_) => "status",
            Step::Apply(object) => match object {
                Object::Deployment(_) => "apply deployment",
                Object::Service(_) => "apply service",
                Object::PodDisruptionBudget(_) => "apply pdb",
                Object::LastGood(_) => "save last good",
                Object::Revision(_) => "save revision",
            },
            Step::Delete(_) => "delete",
            Step::PodAnnotations(_) => "pod annotations",
            Step::Events(_) => "events",
            Step::FinalStatus(_) => "final status",
        })
        .collect()
}

/// The rules every plan keeps: early status writes come before any object
/// is touched; the Events come just before the last status write.
fn assert_ordered(plan: &Plan) {
    let shape = shape(plan);
    let first_object = shape
        .iter()
        .position(|s| s.starts_with("apply") || *s == "delete");
    let last_status = shape.iter().rposition(|s| *s == "status");
    if let (Some(object), Some(status)) = (first_object, last_status) {
        assert!(status < object, "status after an object: {shape:?}");
    }
    if let Some(final_status) = shape.iter().position(|s| *s == "final status") {
        assert_eq!(final_status, shape.len() - 1, "{shape:?}");
        assert!(first_object.is_some_and(|o| o < final_status), "{shape:?}");
    }
    assert!(
        shape.iter().filter(|s| **s == "events").count() <= 1,
        "{shape:?}"
    );
    if let Some(events) = shape.iter().position(|s| *s == "events") {
        assert!(
            shape[events + 1..]
                .iter()
                .all(|s| *s == "final status" || *s == "status")
                && shape.len() - events <= 2,
            "only the last status write follows the Events: {shape:?}"
        );
    }
}

pub(super) fn reasons(plan: &Plan) -> Vec<&'static str> {
    plan.steps
        .iter()
        .filter_map(|s| match s {
            Step::Events(notes) => Some(notes.iter().map(|n| n.reason)),
            _ => None,
        })
        .flatten()
        .collect()
}

pub(super) fn early_statuses(plan: &Plan) -> Vec<&AppStatus> {
    plan.steps
        .iter()
        .filter_map(|s| match s {
            Step::Status(status) => Some(&**status),
            _ => None,
        })
        .collect()
}

pub(super) fn applied_deployment(plan: &Plan) -> &Deployment {
    plan.steps
        .iter()
        .find_map(|s| match s {
            Step::Apply(Object::Deployment(d)) => Some(&**d),
            _ => None,
        })
        .expect("the plan applies a Deployment")
}

pub(super) fn final_status(plan: &Plan) -> &FinalStatus {
    match plan.steps.last() {
        Some(Step::FinalStatus(f)) => f,
        other => panic!("the last step is {other:?}"),
    }
}

fn degraded(status: &AppStatus) -> (&str, &str) {
    let c = conditions::find(&status.conditions, CONDITION_DEGRADED).expect("Degraded");
    (c.status.as_str(), c.reason.as_str())
}

#[test]
fn a_first_rollout_applies_then_announces_then_records() {
    let web = app("web:1", 3, None);
    let plan = plan(&web, &Observed::default(), &opts(), now());

    assert_ordered(&plan);
    assert_eq!(
        shape(&plan),
        [
            "apply deployment",
            "apply service",
            "apply pdb",
            // The first revision's spec, for `readyroll rollback`.
            "save revision",
            "events",
            "final status"
        ]
    );
    assert_eq!(applied_deployment(&plan), &desired(&web).deployment);
    assert_eq!(reasons(&plan), [reason::ROLLOUT_STARTED]);
    assert_eq!(plan.requeue, Requeue::After(RESYNC));
}

#[test]
fn a_failure_is_recorded_before_the_rollback_is_applied() {
    let good = desired(&app("web:1", 3, None));
    let bad_app = app(
        "web:2",
        3,
        Some(AppStatus {
            last_good_revision: Some(good.revision.clone()),
            ..Default::default()
        }),
    );
    let bad = desired(&bad_app);
    let mut good_rs = template(&good);
    good_rs
        .metadata
        .as_mut()
        .unwrap()
        .labels
        .as_mut()
        .unwrap()
        .insert("pod-template-hash".into(), "aaa".into());
    let observed = Observed {
        deployment: Some(running(&bad, timed_out())),
        replica_set_templates: vec![template(&bad), good_rs],
        ..Default::default()
    };

    let plan = plan(&bad_app, &observed, &opts(), now());

    assert_ordered(&plan);
    assert_eq!(shape(&plan)[..2], ["status", "apply deployment"]);
    let early = early_statuses(&plan);
    assert_eq!(early.len(), 1);
    assert_eq!(
        early[0].failed_revision.as_deref(),
        Some(bad.revision.as_str())
    );
    assert_eq!(
        degraded(early[0]),
        ("True", reason::PROGRESS_DEADLINE_EXCEEDED),
        "the early write already says why"
    );
    assert_eq!(
        applied_deployment(&plan).spec.as_ref().unwrap().template,
        template(&good),
        "the last good template, without pod-template-hash"
    );
    assert_eq!(
        reasons(&plan),
        [reason::ROLLOUT_FAILED, reason::ROLLED_BACK]
    );
    assert_eq!(final_status(&plan).written, *early[0]);
    assert!(matches!(plan.decision, Some(Decision::Fail { .. })));
}

#[test]
fn without_the_good_template_the_failed_one_stays() {
    let good = desired(&app("web:1", 3, None));
    let bad_app = app(
        "web:2",
        3,
        Some(AppStatus {
            last_good_revision: Some(good.revision.clone()),
            ..Default::default()
        }),
    );
    let bad = desired(&bad_app);
    let observed = Observed {
        deployment: Some(running(&bad, timed_out())),
        ..Default::default()
    };

    let plan = plan(&bad_app, &observed, &opts(), now());

    assert_ordered(&plan);
    assert_eq!(applied_deployment(&plan), &bad.deployment);
    assert_eq!(reasons(&plan), [reason::ROLLOUT_FAILED]);
    assert_eq!(
        plan.decision.as_ref().and_then(Decision::rollback_target),
        None
    );
}

#[test]
fn crash_looping_pods_of_the_new_revision_fail_it() {
    let good = desired(&app("web:1", 2, None));
    let mut bad_app = app(
        "web:2",
        2,
        Some(AppStatus {
            last_good_revision: Some(good.revision.clone()),
            ..Default::default()
        }),
    );
    bad_app.spec.max_restarts = Some(2);
    bad_app.spec.rollout = Some(RolloutSpec {
        auto_rollback: Some(false),
        ..Default::default()
    });
    let bad = desired(&bad_app);
    let observed = Observed {
        deployment: Some(running(
            &bad,
            DeploymentStatus {
                replicas: Some(3),
                updated_replicas: Some(1),
                ..settled(2)
            },
        )),
        pods: vec![
            PodRestarts {
                revision: Some(good.revision.clone()),
                restarts: 9,
                ..Default::default()
            },
            PodRestarts {
                revision: Some(bad.revision.clone()),
                restarts: 3,
                ..Default::default()
            },
        ],
        ..Default::default()
    };

    let plan = plan(&bad_app, &observed, &opts(), now());

    assert_ordered(&plan);
    assert_eq!(shape(&plan)[0], "status");
    assert_eq!(
        applied_deployment(&plan),
        &bad.deployment,
        "autoRollback off"
    );
    assert_eq!(
        degraded(early_statuses(&plan)[0]),
        ("True", reason::TOO_MANY_RESTARTS)
    );
    assert_eq!(final_status(&plan).written.restarts, Some(9));
}

#[test]
fn a_due_cron_restart_is_recorded_first_and_rolls_the_pods() {
    let mut web = app("web:1", 2, None);
    web.spec.cron_restart = Some("0 * * * *".into());

    let plan = plan(&web, &Observed::default(), &opts(), now());

    assert_ordered(&plan);
    assert_eq!(shape(&plan)[..2], ["status", "apply deployment"]);
    let restarted = early_statuses(&plan)[0];
    assert_eq!(restarted.last_cron_restart, Some(now().to_string()));
    assert_eq!(
        restarted.next_cron_restart.as_deref(),
        Some("2030-01-01T13:00:00Z")
    );
    let annotations = applied_deployment(&plan)
        .spec
        .as_ref()
        .unwrap()
        .template
        .metadata
        .as_ref()
        .unwrap()
        .annotations
        .clone()
        .unwrap();
    assert_eq!(annotations[RESTARTED_AT_ANNOTATION], now().to_string());
    assert_eq!(
        reasons(&plan),
        [reason::CRON_RESTART, reason::ROLLOUT_STARTED]
    );
    assert_eq!(
        plan.requeue,
        Requeue::After(Duration::from_secs(3600).min(RESYNC))
    );
}

#[test]
fn a_cron_restart_not_yet_due_keeps_the_last_one() {
    let mut web = app(
        "web:1",
        2,
        Some(AppStatus {
            last_cron_restart: Some("2030-01-01T11:00:00Z".into()),
            ..Default::default()
        }),
    );
    web.spec.cron_restart = Some("0 13 * * *".into());

    let plan = plan(&web, &Observed::default(), &opts(), now());

    assert!(early_statuses(&plan).is_empty());
    let template = &applied_deployment(&plan).spec.as_ref().unwrap().template;
    assert_eq!(
        template
            .metadata
            .as_ref()
            .unwrap()
            .annotations
            .as_ref()
            .unwrap()[RESTARTED_AT_ANNOTATION],
        "2030-01-01T11:00:00Z"
    );
    assert_eq!(
        final_status(&plan)
            .after(&ObservedDeployment::default())
            .and_then(|s| s.next_cron_restart),
        Some("2030-01-01T13:00:00Z".into())
    );
    assert_eq!(plan.requeue, Requeue::After(RESYNC));
}

#[test]
fn an_invalid_spec_touches_no_object_and_is_reported_once() {
    let mut web = app("web:1", 2, None);
    web.spec.cron_restart = Some("every day at noon".into());

    let first = plan(&web, &Observed::default(), &opts(), now());

    assert_ordered(&first);
    assert_eq!(shape(&first), ["events", "status"]);
    assert_eq!(reasons(&first), [reason::INVALID_SPEC]);
    assert_eq!(first.requeue, Requeue::AwaitChange);
    let status = early_statuses(&first)[0].clone();
    assert_eq!(degraded(&status), ("True", reason::INVALID_SPEC));

    web.status = Some(status);
    let again = plan(&web, &Observed::default(), &opts(), now());
    assert!(again.steps.is_empty(), "{:?}", shape(&again));
}

#[test]
fn only_what_the_app_controls_is_deleted() {
    let mut web = app("web:1", 1, None);
    web.spec.port = None;
    let mine = Observed {
        service: Some(owned_by(UID)),
        pdb: Some(owned_by(UID)),
        ..Default::default()
    };
    let plan_mine = plan(&web, &mine, &opts(), now());
    assert_ordered(&plan_mine);
    assert_eq!(
        shape(&plan_mine),
        [
            "apply deployment",
            "delete",
            "delete",
            "save revision",
            "events",
            "final status"
        ]
    );
    assert!(plan_mine.steps.contains(&Step::Delete(Delete {
        kind: Kind::PodDisruptionBudget,
        name: "web".into(),
        uid: Some(format!("{UID}-object")),
    })));

    let theirs = Observed {
        service: Some(ObjectMeta {
            owner_references: None,
            ..owned_by(UID)
        }),
        pdb: Some(owned_by("another-app")),
        ..Default::default()
    };
    let plan_theirs = plan(&web, &theirs, &opts(), now());
    assert!(
        !shape(&plan_theirs).contains(&"delete"),
        "{:?}",
        shape(&plan_theirs)
    );
}

#[test]
fn a_settled_app_writes_no_final_status_twice() {
    let web = app("web:1", 2, None);
    let want = desired(&web);
    let observed = Observed {
        deployment: Some(running(&want, settled(2))),
        ..Default::default()
    };
    let first = plan(&web, &observed, &opts(), now());
    assert_eq!(reasons(&first), [reason::ROLLOUT_COMPLETE]);
    let applied = ObservedDeployment::from_deployment(observed.deployment.as_ref().unwrap());
    let status = final_status(&first).after(&applied).expect("changed");
    assert_eq!(
        status.last_good_revision.as_deref(),
        Some(want.revision.as_str())
    );

    assert_eq!(
        shape(&first)[..4],
        [
            "apply deployment",
            "apply service",
            "apply pdb",
            "save last good"
        ]
    );

    let settled_app = app("web:1", 2, Some(status));
    // The revision's spec was saved by the first plan.
    let observed = Observed {
        last_good: last_good::save(&want.deployment, None),
        history_latest: crate::history::save(&settled_app, &want.deployment, 1),
        ..observed
    };
    let again = plan(&settled_app, &observed, &opts(), now());
    assert_eq!(
        shape(&again),
        [
            "apply deployment",
            "apply service",
            "apply pdb",
            "final status"
        ]
    );
    assert_eq!(final_status(&again).after(&applied), None);
}

#[test]
fn held_revisions_come_back_from_the_deployment_itself() {
    let good = desired(&app("web:1", 2, None));
    let bad_app = app(
        "web:2",
        2,
        Some(AppStatus {
            last_good_revision: Some(good.revision.clone()),
            failed_revision: Some(desired(&app("web:2", 2, None)).revision),
            ..Default::default()
        }),
    );
    let observed = Observed {
        deployment: Some(running(&good, settled(2))),
        ..Default::default()
    };

    let plan = plan(&bad_app, &observed, &opts(), now());

    assert_ordered(&plan);
    assert!(early_statuses(&plan).is_empty());
    let applied = &applied_deployment(&plan).spec.as_ref().unwrap().template;
    assert_eq!(revision_of(applied), Some(good.revision.as_str()));
    assert!(reasons(&plan).is_empty(), "{:?}", reasons(&plan));
}

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

#[test]
fn pod_restarts_count_all_pods_or_one_revision() {
    let observed = Observed {
        pods: vec![
            PodRestarts {
                revision: Some("a".into()),
                restarts: 4,
                ..Default::default()
            },
            PodRestarts {
                revision: Some("b".into()),
                restarts: 1,
                ..Default::default()
            },
        ],
        ..Default::default()
    };
    assert_eq!(observed.max_restarts(None), 4);
    assert_eq!(observed.max_restarts(Some("b")), 1);
    assert_eq!(observed.max_restarts(Some("c")), 0);
}

fn in_progress() -> DeploymentStatus {
    DeploymentStatus {
        replicas: Some(3),
        updated_replicas: Some(1),
        ..settled(2)
    }
}

fn memory_restarted(revision: &str, restarts: i32) -> PodRestarts {
    PodRestarts {
        name: "web-new".into(),
        uid: Some("u-new".into()),
        revision: Some(revision.into()),
        restarts,
        app_restarts: restarts,
        memory_restart: Some(MemoryRestart {
            pod: "web-new".into(),
            pod_uid: Some("u-new".into()),
            restart_count: restarts,
            finished_at: Some(now()),
            message: "readyroll-shim: memory restart: rss_bytes=70000000 threshold_bytes=62914560"
                .into(),
        }),
        ..Default::default()
    }
}

fn progressing(status: &AppStatus) -> (&str, &str, &str) {
    let c = conditions::find(&status.conditions, crate::crd::CONDITION_PROGRESSING)
        .expect("Progressing");
    (c.status.as_str(), c.reason.as_str(), c.message.as_str())
}

#[test]
fn memory_restarts_are_counted_once_and_never_fail_a_rollout() {
    let good = desired(&app("web:1", 2, None));
    let status = AppStatus {
        last_good_revision: Some(good.revision.clone()),
        ..Default::default()
    };
    let mut new_app = app("web:2", 2, Some(status.clone()));
    new_app.spec.max_restarts = Some(0);
    let new = desired(&new_app);
    let deployment = running(&new, in_progress());
    let applied = ObservedDeployment::from_deployment(&deployment);
    let observed = Observed {
        deployment: Some(deployment),
        pods: vec![memory_restarted(&new.revision, 1)],
        ..Default::default()
    };

    let first = plan(&new_app, &observed, &opts(), now());
    assert_ordered(&first);
    assert_eq!(first.decision, Some(Decision::Proceed(Phase::InProgress)));
    assert!(early_statuses(&first).is_empty(), "nothing failed");
    assert_eq!(reasons(&first), [reason::MEMORY_RESTART]);
    let counted = final_status(&first).after(&applied).expect("changed");
    assert_eq!(counted.memory_restarts, Some(1));
    assert_eq!(counted.restarts, Some(0), "not a crash");
    assert_eq!(
        counted.last_memory_restart.as_ref().map(|l| l.pod.as_str()),
        Some("web-new")
    );
    assert_eq!(degraded(&counted), ("False", reason::AS_EXPECTED));

    // The next reconciles see the same termination: nothing new.
    new_app.status = Some(counted.clone());
    let again = plan(&new_app, &observed, &opts(), now());
    assert!(reasons(&again).is_empty(), "{:?}", reasons(&again));
    assert_eq!(final_status(&again).after(&applied), None);

    // Memory-restarted over and over: still no failure, one Event each.
    let mut status = counted;
    for restarts in 2..=5 {
        new_app.status = Some(status.clone());
        let observed = Observed {
            pods: vec![memory_restarted(&new.revision, restarts)],
            ..observed.clone()
        };
        let next = plan(&new_app, &observed, &opts(), now());
        assert_eq!(next.decision, Some(Decision::Proceed(Phase::InProgress)));
        assert_eq!(reasons(&next), [reason::MEMORY_RESTART]);
        status = final_status(&next).after(&applied).expect("counted");
    }
    assert_eq!(status.memory_restarts, Some(5));
    assert_eq!(status.restarts, Some(0));
    assert_eq!(status.memory_restarts_by_pod[0].count, 5);

    // The same restarts as crashes fail the release.
    let mut crashed = memory_restarted(&new.revision, 1);
    crashed.memory_restart = None;
    new_app.status = Some(AppStatus {
        last_good_revision: Some(good.revision.clone()),
        ..Default::default()
    });
    let crashing = Observed {
        pods: vec![crashed],
        ..observed.clone()
    };
    let failed = plan(&new_app, &crashing, &opts(), now());
    assert!(matches!(failed.decision, Some(Decision::Fail { .. })));
}

fn starting(name: &str, revision: &str, seconds_ago: i64) -> PodRestarts {
    PodRestarts {
        name: name.into(),
        uid: Some(format!("{name}-uid")),
        revision: Some(revision.into()),
        unready_since: Some(now() - jiff::SignedDuration::from_secs(seconds_ago)),
        ..Default::default()
    }
}

#[test]
fn a_slow_start_is_reported_once_and_woken_for() {
    let mut web = app("web:1", 2, None);
    let want = desired(&web);
    let deployment = running(&want, in_progress());
    let applied = ObservedDeployment::from_deployment(&deployment);
    let observed = Observed {
        deployment: Some(deployment),
        pods: vec![
            starting("web-slow", &want.revision, 5),
            starting("web-soon", &want.revision, 1),
            starting("web-old", "another-revision", 50),
        ],
        ..Default::default()
    };

    let first = plan(&web, &observed, &opts(), now());
    assert_ordered(&first);
    assert_eq!(reasons(&first), [reason::SLOW_START]);
    assert_eq!(
        first.requeue,
        Requeue::After(Duration::from_millis(2001)),
        "woken when web-soon crosses listenTimeout"
    );
    let status = final_status(&first).after(&applied).expect("changed");
    let (on, why, message) = progressing(&status);
    assert_eq!((on, why), ("True", reason::SLOW_START));
    assert!(
        message.starts_with(
            "pod web-slow (started 2030-01-01T11:59:55Z) not ready after listenTimeout 3000 ms"
        ),
        "{message}"
    );
    assert!(message.contains("progress deadline (64 s)"), "{message}");
    assert_eq!(status.slow_starts.len(), 1);

    web.status = Some(status);
    let later = now() + jiff::SignedDuration::from_secs(1);
    let again = plan(&web, &observed, &opts(), later);
    assert!(reasons(&again).is_empty(), "reported already");
    assert_eq!(again.requeue, Requeue::After(Duration::from_millis(1001)));
    assert_eq!(
        final_status(&again).after(&applied),
        None,
        "status unchanged"
    );

    let crossed = plan(
        &web,
        &observed,
        &opts(),
        now() + jiff::SignedDuration::from_secs(3),
    );
    assert_eq!(reasons(&crossed), [reason::SLOW_START]);
    let status = final_status(&crossed).after(&applied).expect("changed");
    assert!(
        progressing(&status).2.starts_with("pods web-slow"),
        "{status:?}"
    );
    assert_eq!(crossed.requeue, Requeue::After(RESYNC));

    // Ready: the report is gone, the rollout goes on as before.
    web.status = Some(status);
    let ready = Observed {
        pods: Vec::new(),
        ..observed.clone()
    };
    let done = plan(&web, &ready, &opts(), now());
    let status = final_status(&done).after(&applied).expect("changed");
    assert_eq!(progressing(&status).1, reason::ROLLOUT_IN_PROGRESS);
    assert!(status.slow_starts.is_empty());
}
