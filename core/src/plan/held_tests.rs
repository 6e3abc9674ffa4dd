//! A failed release that is held (the App kept on its last good revision)
//! stays held: neither a cron restart nor a deleted Deployment brings the
//! failed template back; the last good template is saved for that.

use k8s_openapi::api::apps::v1::DeploymentStatus;

use super::*;
use crate::build::RESTARTED_AT_ANNOTATION;
use crate::observed::revision_of;
use crate::plan::tests::{
    app, applied_deployment, desired, early_statuses, final_status, now, opts, reasons, running,
    settled, shape,
};

const LAST_RESTART: &str = "2030-01-01T10:00:00Z";

/// An App with an hourly cron restart, last restarted at 10:00 (so one is
/// due at `now`, 12:00), whose spec asks for `image`.
fn hourly(image: &str, status: AppStatus) -> App {
    let mut web = app(
        image,
        2,
        Some(AppStatus {
            last_cron_restart: Some(LAST_RESTART.into()),
            ..status
        }),
    );
    web.spec.cron_restart = Some("0 * * * *".into());
    web
}

/// The good release running, the bad one asked for, failed and held.
fn held() -> (App, Desired, Observed) {
    let good = desired(&hourly("web:1", AppStatus::default()));
    let bad = desired(&hourly("web:2", AppStatus::default()));
    let web = hourly(
        "web:2",
        AppStatus {
            last_good_revision: Some(good.revision.clone()),
            failed_revision: Some(bad.revision.clone()),
            ..Default::default()
        },
    );
    let observed = Observed {
        deployment: Some(running(&good, settled(2))),
        ..Default::default()
    };
    (web, good, observed)
}

fn restarted_at(deployment: &Deployment) -> Option<String> {
    let template = &deployment.spec.as_ref()?.template;
    template
        .metadata
        .as_ref()?
        .annotations
        .as_ref()?
        .get(RESTARTED_AT_ANNOTATION)
        .cloned()
}

#[test]
fn a_cron_restart_is_suspended_while_a_failed_release_is_held() {
    let (web, good, observed) = held();

    let plan = plan(&web, &observed, &opts(), now());

    assert!(early_statuses(&plan).is_empty(), "no restart is recorded");
    let applied = applied_deployment(&plan);
    let template = &applied.spec.as_ref().unwrap().template;
    assert_eq!(revision_of(template), Some(good.revision.as_str()));
    assert_eq!(restarted_at(applied).as_deref(), Some(LAST_RESTART));
    assert!(reasons(&plan).is_empty(), "{:?}", reasons(&plan));
    let status = final_status(&plan)
        .after(&ObservedDeployment::from_deployment(
            observed.deployment.as_ref().unwrap(),
        ))
        .expect("the next restart is shown");
    assert_eq!(status.last_cron_restart.as_deref(), Some(LAST_RESTART));
    assert_eq!(
        status.next_cron_restart.as_deref(),
        Some("2030-01-01T13:00:00Z")
    );
}

#[test]
fn a_changed_spec_ends_the_hold_and_the_due_restart_rides_along() {
    let (mut web, good, observed) = held();
    web.spec.image = "web:3".into();

    let plan = plan(&web, &observed, &opts(), now());

    assert_eq!(
        early_statuses(&plan)[0].last_cron_restart,
        Some(now().to_string())
    );
    let applied = applied_deployment(&plan);
    assert_eq!(restarted_at(applied), Some(now().to_string()));
    let template = &applied.spec.as_ref().unwrap().template;
    assert_ne!(revision_of(template), Some(good.revision.as_str()));
    assert_eq!(
        reasons(&plan),
        [reason::CRON_RESTART, reason::ROLLOUT_STARTED]
    );
}

#[test]
fn a_deleted_deployment_comes_back_with_the_saved_last_good_template() {
    let (web, good, mut observed) = held();
    let saved = plan(&web, &observed, &opts(), now())
        .steps
        .into_iter()
        .find_map(|s| match s {
            Step::Apply(Object::LastGood(saved)) => Some(*saved),
            _ => None,
        })
        .expect("the held good template is saved");
    observed.deployment = None;
    observed.last_good = Some(saved);

    let plan = plan(&web, &observed, &opts(), now());

    let template = &applied_deployment(&plan).spec.as_ref().unwrap().template;
    assert_eq!(revision_of(template), Some(good.revision.as_str()));
    assert!(
        !shape(&plan).contains(&"save last good"),
        "already saved: {:?}",
        shape(&plan)
    );
    assert!(matches!(
        plan.decision,
        Some(Decision::Hold {
            rollback_to: Some(_)
        })
    ));
}

#[test]
fn the_last_good_template_is_saved_once_it_proves_good() {
    let web = app("web:1", 2, None);
    let want = desired(&web);
    let rolling = Observed {
        deployment: Some(running(
            &want,
            DeploymentStatus {
                updated_replicas: Some(1),
                ..settled(2)
            },
        )),
        ..Default::default()
    };
    assert!(!shape(&plan(&web, &rolling, &opts(), now())).contains(&"save last good"));

    let done = Observed {
        deployment: Some(running(&want, settled(2))),
        ..Default::default()
    };
    let saved = plan(&web, &done, &opts(), now())
        .steps
        .into_iter()
        .find_map(|s| match s {
            Step::Apply(Object::LastGood(saved)) => Some(*saved),
            _ => None,
        })
        .expect("saved");
    assert_eq!(last_good::saved_revision(&saved), Some(want.revision));

    // A newer good release replaces the saved one (its data is immutable).
    let next_app = app("web:2", 2, None);
    let next = desired(&next_app);
    let replaced = Observed {
        deployment: Some(running(&next, settled(2))),
        last_good: Some(saved),
        ..Default::default()
    };
    let plan = plan(&next_app, &replaced, &opts(), now());
    let shape = shape(&plan);
    let delete = shape
        .iter()
        .position(|s| *s == "delete")
        .expect("old one deleted");
    assert_eq!(shape.get(delete + 1), Some(&"save last good"), "{shape:?}");
}
