//! A failed release that is held stays held: a cron restart does not roll
//! the failed spec out again, and a Deployment deleted by hand comes back
//! with the last good template.

use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::events::v1::Event;
use k8s_openapi::jiff::tz::TimeZone;
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::api::DeleteParams;
use readyroll::core::REVISION_ANNOTATION;
use readyroll::crd::{App, RolloutSpec};
use readyroll_e2e::kwok::NEVER_READY_ANNOTATION;
use readyroll_e2e::{wait_for, Must};

use crate::harness::{Env, MustSome, TIMEOUT};
use crate::observe::{app_status, condition, event_reasons, rolled_out};

/// Long enough after the App is created for the bad release to have failed
/// and been rolled back before the one cron restart is due.
const TICK_AFTER: SignedDuration = SignedDuration::from_secs(70);

fn template_revision(deployment: &Deployment) -> Option<String> {
    deployment
        .spec
        .as_ref()?
        .template
        .metadata
        .as_ref()?
        .annotations
        .as_ref()?
        .get(REVISION_ANNOTATION)
        .cloned()
}

fn status_of(app: &App) -> readyroll::crd::AppStatus {
    app.status.clone().must_some("status")
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs a cluster: run by the api tier"]
async fn a_held_release_survives_a_cron_restart_and_a_deleted_deployment() {
    let env = Env::start("held", 8).await;
    let apps = env.ns.api::<App>();
    let deployments = env.ns.api::<Deployment>();
    // One cron restart a day, due a little after this test's start (UTC).
    let tick = Timestamp::now() + TICK_AFTER;
    let at = tick.to_zoned(TimeZone::UTC);
    let mut web = env.app("web", 2);
    web.spec.cron_restart = Some(format!(
        "{} {} {} * * *",
        at.second(),
        at.minute(),
        at.hour()
    ));
    web.spec.rollout = Some(RolloutSpec {
        progress_deadline_seconds: Some(10),
        ..Default::default()
    });
    env.apply(&web).await;
    let good = wait_for(&apps, "web", app_status(rolled_out), TIMEOUT)
        .await
        .must("the good release rolls out");
    let good = status_of(&good).current_revision.must_some("good revision");

    web.spec
        .annotations
        .insert(NEVER_READY_ANNOTATION.into(), "true".into());
    env.apply(&web).await;
    let held = wait_for(
        &apps,
        "web",
        app_status(|a| {
            a.status
                .as_ref()
                .is_some_and(|s| s.failed_revision.is_some())
                && condition(a, "Progressing") == Some(("False".into(), "RolledBack".into()))
        }),
        TIMEOUT,
    )
    .await
    .must("the bad release fails and is rolled back");
    let bad = status_of(&held)
        .failed_revision
        .must_some("failed revision");
    assert!(
        Timestamp::now() < tick,
        "the hold took longer than {TICK_AFTER:?}; the cron restart came first"
    );

    // The Deployment is deleted by hand: it comes back with the good pods.
    let old = deployments.get("web").await.must("Deployment");
    deployments
        .delete("web", &DeleteParams::background())
        .await
        .must("delete the Deployment");
    let recreated = wait_for(
        &deployments,
        "web",
        |d: Option<&Deployment>| d.is_some_and(|d| d.metadata.uid != old.metadata.uid),
        TIMEOUT,
    )
    .await
    .must("the Deployment is recreated");
    assert_eq!(template_revision(&recreated), Some(good.clone()));

    // The cron restart comes due while the release is held: it must not
    // roll the failed spec out again.
    let wait = tick.duration_since(Timestamp::now()) + SignedDuration::from_secs(10);
    tokio::time::sleep(Duration::try_from(wait).unwrap_or_default()).await;
    let now = deployments.get("web").await.must("Deployment");
    assert_eq!(
        now.metadata.uid, recreated.metadata.uid,
        "not deleted again"
    );
    assert_eq!(template_revision(&now), Some(good.clone()));
    assert_eq!(
        now.metadata.generation, recreated.metadata.generation,
        "the Deployment's spec is untouched"
    );
    let app = apps.get("web").await.must("App");
    let status = status_of(&app);
    assert_eq!(status.failed_revision, Some(bad));
    assert_eq!(status.last_cron_restart, None, "the restart was suspended");
    assert!(
        status.next_cron_restart.as_deref() > Some(tick.to_string().as_str()),
        "the next one is tomorrow's: {status:?}"
    );
    let reasons = event_reasons(env.ns.api::<Event>(), &app).await;
    assert!(!reasons.iter().any(|r| r == "CronRestart"), "{reasons:?}");
}
