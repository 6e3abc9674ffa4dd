//! Rollouts on the Deployment controller and kwok's pod lifecycle: no Ready
//! pod is lost, and a release that never gets Ready is rolled back.

use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::api::events::v1::Event;
use readyroll::core::REVISION_ANNOTATION;
use readyroll::crd::{App, RolloutSpec};
use readyroll_e2e::kwok::{NEVER_READY_ANNOTATION, READY_DELAY_ANNOTATION};
use readyroll_e2e::{wait_for, Must};

use crate::harness::{Env, MustSome, TIMEOUT};
use crate::observe::{app_status, condition, event_reasons, rolled_out, ReadyPods};

fn revision(app: &App) -> String {
    app.status
        .as_ref()
        .and_then(|s| s.current_revision.clone())
        .must_some("current revision")
}

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

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs a cluster: run by the api tier"]
async fn a_rollout_never_has_fewer_ready_pods_than_instances() {
    let env = Env::start("zero-downtime", 8).await;
    let apps = env.ns.api::<App>();
    let mut web = env.app("web", 3);
    web.spec
        .annotations
        .insert(READY_DELAY_ANNOTATION.into(), "2s".into());
    env.apply(&web).await;
    let pods = ReadyPods::follow(env.ns.api::<Pod>(), "web");
    let first = wait_for(&apps, "web", app_status(rolled_out), TIMEOUT)
        .await
        .must("first revision rolled out");
    pods.wait_ready(3, TIMEOUT).await;

    pods.arm();
    web.spec.env.insert("RELEASE".into(), "2".into());
    env.apply(&web).await;
    let old = revision(&first);
    let second = wait_for(
        &apps,
        "web",
        app_status(|a| rolled_out(a) && revision(a) != old),
        TIMEOUT,
    )
    .await
    .must("second revision rolled out");
    let new = revision(&second);
    pods.wait_ready(3, TIMEOUT).await;

    let timeline = pods.timeline();
    eprintln!("Ready pods during the rollout: {timeline:?}");
    assert_eq!(
        pods.min_ready(),
        Some(3),
        "Ready pods dropped below 3: {timeline:?}"
    );
    assert_eq!(pods.ready_by_revision().get(&new), Some(&3));
    assert!(
        timeline.contains(&4),
        "a surge pod was Ready beside the old ones: {timeline:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs a cluster: run by the api tier"]
async fn a_release_that_never_gets_ready_is_rolled_back_and_not_retried() {
    let env = Env::start("rollback", 8).await;
    let apps = env.ns.api::<App>();
    let deployments = env.ns.api::<Deployment>();
    let mut web = env.app("web", 2);
    web.spec.rollout = Some(RolloutSpec {
        progress_deadline_seconds: Some(10),
        ..Default::default()
    });
    env.apply(&web).await;
    let pods = ReadyPods::follow(env.ns.api::<Pod>(), "web");
    let good = revision(
        &wait_for(&apps, "web", app_status(rolled_out), TIMEOUT)
            .await
            .must("good revision rolled out"),
    );
    pods.wait_ready(2, TIMEOUT).await;
    pods.arm();

    // The bad release: its pods run but never turn Ready.
    web.spec
        .annotations
        .insert(NEVER_READY_ANNOTATION.into(), "true".into());
    env.apply(&web).await;
    let failed = wait_for(
        &apps,
        "web",
        app_status(|a| {
            a.status
                .as_ref()
                .is_some_and(|s| s.failed_revision.is_some())
        }),
        TIMEOUT,
    )
    .await
    .must("the bad release fails");
    let bad = failed
        .status
        .as_ref()
        .and_then(|s| s.failed_revision.clone())
        .must_some("failed revision");
    assert_ne!(bad, good);
    assert_eq!(
        condition(&failed, "Degraded"),
        Some(("True".into(), "ProgressDeadlineExceeded".into()))
    );

    let settled = wait_for(
        &apps,
        "web",
        app_status(|a| condition(a, "Progressing") == Some(("False".into(), "RolledBack".into()))),
        TIMEOUT,
    )
    .await
    .must("rolled back to the good revision");
    assert_eq!(
        settled
            .status
            .as_ref()
            .and_then(|s| s.current_revision.clone()),
        Some(good.clone())
    );
    let deployment = deployments.get("web").await.must("Deployment");
    assert_eq!(template_revision(&deployment), Some(good.clone()));
    assert_eq!(
        pods.min_ready(),
        Some(2),
        "old pods kept serving: {:?}",
        pods.timeline()
    );
    let reasons = event_reasons(env.ns.api::<Event>(), &settled).await;
    for reason in ["RolloutFailed", "RolledBack"] {
        assert!(
            reasons.iter().any(|r| r == reason),
            "{reason} in {reasons:?}"
        );
    }

    // Unchanged spec: the bad revision is not tried again, even after
    // longer than its progress deadline.
    let generation = deployment.metadata.generation;
    tokio::time::sleep(Duration::from_secs(15)).await;
    let deployment = deployments.get("web").await.must("Deployment");
    assert_eq!(
        deployment.metadata.generation, generation,
        "Deployment spec untouched"
    );
    assert_eq!(template_revision(&deployment), Some(good.clone()));
    assert_eq!(pods.pods_of(&bad), 0, "no pod of the bad revision");
    let app = apps.get("web").await.must("App");
    assert_eq!(
        app.status.as_ref().and_then(|s| s.failed_revision.clone()),
        Some(bad.clone())
    );
    assert_eq!(pods.min_ready(), Some(2), "{:?}", pods.timeline());

    // A changed spec proceeds normally and clears the failure.
    web.spec.annotations.remove(NEVER_READY_ANNOTATION);
    web.spec.env.insert("RELEASE".into(), "fixed".into());
    env.apply(&web).await;
    let fixed = wait_for(
        &apps,
        "web",
        app_status(|a| rolled_out(a) && revision(a) != good),
        TIMEOUT,
    )
    .await
    .must("the fixed release rolls out");
    assert_eq!(
        fixed
            .status
            .as_ref()
            .and_then(|s| s.failed_revision.clone()),
        None
    );
    assert_eq!(
        condition(&fixed, "Degraded"),
        Some(("False".into(), "AsExpected".into()))
    );
    assert_ne!(revision(&fixed), bad);
    eprintln!("Ready pods throughout: {:?}", pods.timeline());
    assert_eq!(pods.min_ready(), Some(2));
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs a cluster: run by the api tier"]
async fn a_cron_restart_rolls_every_pod_without_losing_one() {
    let env = Env::start("cron", 8).await;
    let apps = env.ns.api::<App>();
    let mut web = env.app("web", 2);
    env.apply(&web).await;
    let pods = ReadyPods::follow(env.ns.api::<Pod>(), "web");
    let before = revision(
        &wait_for(&apps, "web", app_status(rolled_out), TIMEOUT)
            .await
            .must("rolled out"),
    );
    pods.wait_ready(2, TIMEOUT).await;
    pods.arm();

    // Every 10 seconds: the first restart is due within 10s of the change.
    web.spec.cron_restart = Some("*/10 * * * * *".into());
    env.apply(&web).await;
    let restarted = wait_for(
        &apps,
        "web",
        app_status(|a| {
            a.status
                .as_ref()
                .is_some_and(|s| s.last_cron_restart.is_some())
                && rolled_out(a)
                && revision(a) != before
        }),
        TIMEOUT,
    )
    .await
    .must("a cron restart rolled out");
    let status = restarted.status.clone().must_some("status");
    assert!(
        status.next_cron_restart > status.last_cron_restart,
        "{status:?}"
    );
    let deployment = env
        .ns
        .api::<Deployment>()
        .get("web")
        .await
        .must("Deployment");
    let annotations = deployment
        .spec
        .as_ref()
        .and_then(|s| s.template.metadata.as_ref())
        .and_then(|m| m.annotations.clone())
        .unwrap_or_default();
    assert!(
        annotations.contains_key(readyroll::core::RESTARTED_AT_ANNOTATION),
        "{annotations:?}"
    );
    let reasons = event_reasons(env.ns.api::<Event>(), &restarted).await;
    assert!(reasons.iter().any(|r| r == "CronRestart"), "{reasons:?}");

    // Stop the schedule before measuring, so no restart is half-way.
    web.spec.cron_restart = None;
    env.apply(&web).await;
    wait_for(&apps, "web", app_status(rolled_out), TIMEOUT)
        .await
        .must("settled");
    pods.wait_ready(2, TIMEOUT).await;
    eprintln!("Ready pods during cron restarts: {:?}", pods.timeline());
    assert_eq!(pods.min_ready(), Some(2), "{:?}", pods.timeline());
}
