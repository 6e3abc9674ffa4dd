//! The commands that change an App (`reload`, `rollback`, `pause`,
//! `resume`) and those that read its history and description, run as the
//! real binary against Apps the in-process controller rolls on kwok nodes.

use std::time::Duration;

use k8s_openapi::api::apps::v1::{ControllerRevision, Deployment};
use kube::api::ListParams;
use kube::ResourceExt;
use readyroll::core::{RELOADED_AT_ANNOTATION, REVISION_ANNOTATION};
use readyroll::crd::{App, RolloutSpec, HISTORY_LIMIT};
use readyroll_e2e::kwok::READY_DELAY_ANNOTATION;
use readyroll_e2e::{readyroll_binary, wait_for, Must};

use crate::cli::{ls_row, readyroll, text};
use crate::gitops::{argocd_health, dynamic_apps, raw_app};
use crate::harness::{Env, MustSome, TIMEOUT};
use crate::observe::{app_status, condition, rolled_out};

/// The revision of the Deployment's pod template.
async fn deployment_revision(env: &Env, name: &str) -> (String, Deployment) {
    let deployment = env
        .ns
        .api::<Deployment>()
        .get(name)
        .await
        .must("Deployment");
    let revision = deployment
        .spec
        .as_ref()
        .and_then(|s| s.template.metadata.as_ref())
        .and_then(|m| m.annotations.as_ref())
        .and_then(|a| a.get(REVISION_ANNOTATION).cloned())
        .must_some("template revision");
    (revision, deployment)
}

/// Runs `readyroll ARGS` and expects success; returns stdout.
async fn ok(env: &Env, args: &[&str]) -> String {
    let out = readyroll(env, args).await;
    let stdout = text(&out.stdout);
    assert!(
        out.status.success(),
        "readyroll {args:?}: {stdout}{}",
        text(&out.stderr)
    );
    stdout
}

async fn settled(env: &Env, name: &str) -> App {
    wait_for(&env.ns.api::<App>(), name, app_status(rolled_out), TIMEOUT)
        .await
        .must("rolled out")
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs a cluster: run by the api tier"]
async fn reload_history_describe_and_rollback_to_a_revision() {
    let env = Env::start("cli-rollback", 8).await;
    let ns = env.ns.name();
    let mut web = env.app("web", 2);
    web.spec.env.insert("LEVEL".into(), "1".into());
    env.apply(&web).await;
    settled(&env, "web").await;
    web.spec.env.insert("LEVEL".into(), "2".into());
    env.apply(&web).await;
    let second = settled(&env, "web").await;
    let (second_template, _) = deployment_revision(&env, "web").await;
    web.spec.image = "readyroll.invalid/app:3".into();
    env.apply(&web).await;
    settled(&env, "web").await;

    // `history`: one revision per spec, what changed, how it ended.
    let history = ok(&env, &["history", "web", "-n", ns]).await;
    let rows: Vec<&str> = history.lines().collect();
    assert_eq!(rows.len(), 4, "{history}");
    assert!(
        rows[1].starts_with("1 ") && rows[1].contains("Complete") && rows[1].ends_with("created"),
        "{history}"
    );
    assert!(rows[2].contains("env.LEVEL: 1 -> 2"), "{history}");
    assert!(
        rows[3].contains("image: readyroll.invalid/app:1 -> readyroll.invalid/app:3"),
        "{history}"
    );

    // `reload`: a new template through spec.restartedAt, rolled like any change.
    let before = deployment_revision(&env, "web").await.0;
    let out = ok(&env, &["reload", "web", "-n", ns]).await;
    assert!(out.contains("app/web reloading"), "{out}");
    let reloaded = settled(&env, "web").await;
    let at = reloaded
        .spec
        .restarted_at
        .clone()
        .must_some("spec.restartedAt");
    let (after, deployment) = deployment_revision(&env, "web").await;
    assert_ne!(after, before, "reload makes a new template");
    let annotations = deployment
        .spec
        .and_then(|s| s.template.metadata)
        .and_then(|m| m.annotations)
        .unwrap_or_default();
    assert_eq!(annotations.get(RELOADED_AT_ANNOTATION), Some(&at));
    let records = reloaded.status.clone().unwrap_or_default().history;
    assert_eq!(
        records.last().map(|r| r.change.as_str()),
        Some("+restartedAt")
    );

    // `rollback --to-revision 2`: revision 2's spec is written back into the
    // App, and its template is what the Deployment runs again.
    let out = ok(&env, &["rollback", "web", "-n", ns, "--to-revision", "2"]).await;
    assert!(out.contains("rolled back to revision 2"), "{out}");
    let back = settled(&env, "web").await;
    assert_eq!(back.spec.env.get("LEVEL").map(String::as_str), Some("2"));
    assert_eq!(back.spec.image, second.spec.image);
    assert_eq!(back.spec.restarted_at, None, "revision 2 had no reload");
    assert_eq!(deployment_revision(&env, "web").await.0, second_template);
    let records = back.status.clone().unwrap_or_default().history;
    let newest = records.last().must_some("history");
    assert_eq!(newest.revision, 5);
    assert_eq!(newest.outcome, "Complete");
    assert_eq!(newest.controller_revision, records[1].controller_revision);
    assert_eq!(newest.pod_revision, second_template);

    // A revision the history does not list is refused, naming the range.
    let missing = readyroll(&env, &["rollback", "web", "-n", ns, "--to-revision", "42"]).await;
    assert_eq!(missing.status.code(), Some(1));
    assert!(
        text(&missing.stderr).contains("revisions 1 to 5"),
        "{}",
        text(&missing.stderr)
    );

    // `describe`: PM2 options with resolved defaults, conditions, Events, history.
    let described = ok(&env, &["describe", "web", "-n", ns]).await;
    for expected in [
        "kill_timeout",
        "1600 ms (default)",
        "listen_timeout",
        "SIGINT (default)",
        "instances",
        "2 (instances: 2)",
        "off (default)",
        "Conditions:",
        "Ready",
        "Events:",
        "Revision history:",
        "env.LEVEL: 1 -> 2",
    ] {
        assert!(
            described.contains(expected),
            "{expected:?} in:\n{described}"
        );
    }
    assert!(
        described
            .lines()
            .any(|l| l.starts_with("Status:") && l.contains("online (RolloutComplete")),
        "{described}"
    );
    let events = described
        .split("Events:\n")
        .nth(1)
        .and_then(|s| s.split("\nRevision history:").next())
        .must_some("events section");
    assert!(
        events.lines().count() >= 2 && !events.contains("<none>"),
        "the App's Events are listed:\n{events}"
    );
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs a cluster: run by the api tier"]
async fn the_history_keeps_ten_revisions_and_removes_older_saved_specs() {
    let env = Env::start("cli-history", 4).await;
    let apps = env.ns.api::<App>();
    let mut web = env.app("web", 1);
    let total = HISTORY_LIMIT + 3;
    for i in 0..total {
        web.spec.env.insert("COUNT".into(), i.to_string());
        let applied = env.apply(&web).await;
        let generation = applied.metadata.generation;
        // Each spec is seen by the controller before the next is written.
        wait_for(
            &apps,
            "web",
            app_status(move |a| {
                a.status.as_ref().and_then(|s| s.observed_generation) >= generation
            }),
            TIMEOUT,
        )
        .await
        .must("observed");
    }
    let app = settled(&env, "web").await;
    let records = app.status.unwrap_or_default().history;
    assert_eq!(records.len(), HISTORY_LIMIT);
    let numbers: Vec<i64> = records.iter().map(|r| r.revision).collect();
    let first = (total - HISTORY_LIMIT + 1) as i64;
    assert_eq!(numbers, (first..=total as i64).collect::<Vec<_>>());
    assert!(records[..HISTORY_LIMIT - 1]
        .iter()
        .all(|r| r.outcome == "Complete" || r.outcome == "Superseded"));

    // The saved specs are exactly those the history lists, owned by the App.
    let saved = env
        .ns
        .api::<ControllerRevision>()
        .list(&ListParams::default())
        .await
        .must("ControllerRevisions")
        .items;
    let mut saved: Vec<String> = saved
        .iter()
        .filter(|c| c.name_any().starts_with("web-rev-"))
        .inspect(|c| {
            assert_eq!(
                c.owner_references().first().map(|o| o.uid.as_str()),
                app.metadata.uid.as_deref()
            )
        })
        .map(|c| c.name_any())
        .collect();
    saved.sort();
    let mut listed: Vec<String> = records
        .iter()
        .map(|r| r.controller_revision.clone())
        .collect();
    listed.sort();
    assert_eq!(saved, listed);
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs a cluster: run by the api tier"]
async fn pause_holds_a_rollout_midway_and_resume_completes_it() {
    let env = Env::start("cli-pause", 8).await;
    // `pause` must land while the rollout below is under way (about 6 s): the
    // binary is built now, not by the first command that needs it.
    tokio::task::spawn_blocking(readyroll_binary)
        .await
        .must("build readyroll");
    let apps = env.ns.api::<App>();
    let ns = env.ns.name();
    let mut web = env.app("web", 3);
    // A deadline the paused rollout outlasts: pausing must not fail it.
    web.spec.rollout = Some(RolloutSpec {
        progress_deadline_seconds: Some(8),
        ..Default::default()
    });
    web.spec
        .annotations
        .insert(READY_DELAY_ANNOTATION.into(), "2s".into());
    env.apply(&web).await;
    settled(&env, "web").await;

    web.spec.env.insert("LEVEL".into(), "2".into());
    env.apply(&web).await;
    wait_for(
        &apps,
        "web",
        app_status(|a| {
            condition(a, "Reconciling").is_some_and(|c| c.0 == "True")
                && a.status.as_ref().and_then(|s| s.updated_replicas) >= Some(1)
        }),
        TIMEOUT,
    )
    .await
    .must("rollout under way");
    let out = ok(&env, &["pause", "web", "-n", ns]).await;
    assert_eq!(out.trim(), "app/web paused");

    let paused = wait_for(
        &apps,
        "web",
        app_status(|a| {
            a.status.as_ref().and_then(|s| s.observed_generation) == a.metadata.generation
                && condition(a, "Paused").is_some_and(|c| c.0 == "True")
        }),
        TIMEOUT,
    )
    .await
    .must("paused");
    let (_, deployment) = deployment_revision(&env, "web").await;
    assert_eq!(deployment.spec.as_ref().and_then(|s| s.paused), Some(true));
    // Past the progress deadline, the rollout is still held, not failed.
    tokio::time::sleep(Duration::from_secs(12)).await;
    let held = apps.get("web").await.must("App");
    let status = held.status.clone().unwrap_or_default();
    assert!(status.updated_replicas < Some(3), "{status:?}");
    assert_eq!(
        condition(&held, "Ready"),
        Some(("False".into(), "RolloutPaused".into()))
    );
    assert_eq!(
        condition(&held, "Reconciling"),
        Some(("True".into(), "RolloutPaused".into()))
    );
    assert_eq!(
        condition(&held, "Stalled").map(|c| c.0),
        Some("False".into())
    );
    assert_eq!(status.failed_revision, None);
    assert_eq!(held.spec.paused, paused.spec.paused);
    let raw = raw_app(&dynamic_apps(env.cluster.client(), ns), "web").await;
    let (health, message) = argocd_health(&raw);
    assert_eq!(health, "Suspended", "{message}");
    assert!(message.starts_with("RolloutPaused"), "{message}");
    let ls = ok(&env, &["ls", "-n", ns]).await;
    assert_eq!(ls_row(&ls, "web")[5], "paused", "{ls}");
    let status_out = readyroll(&env, &["status", "web", "-n", ns]).await;
    assert_eq!(status_out.status.code(), Some(2), "paused is not done");
    assert!(text(&status_out.stdout).contains("app/web: paused"));

    let out = ok(&env, &["resume", "web", "-n", ns]).await;
    assert_eq!(out.trim(), "app/web resumed");
    let watched = ok(
        &env,
        &["status", "web", "-n", ns, "--watch", "--timeout", "60s"],
    )
    .await;
    assert!(watched.contains("rollout complete"), "{watched}");
    let done = settled(&env, "web").await;
    assert_eq!(done.spec.paused, None);
    assert_eq!(
        condition(&done, "Paused"),
        Some(("False".into(), "Resumed".into()))
    );
    let (_, deployment) = deployment_revision(&env, "web").await;
    assert_ne!(deployment.spec.and_then(|s| s.paused), Some(true));
    assert_eq!(done.status.unwrap_or_default().updated_replicas, Some(3));
}
