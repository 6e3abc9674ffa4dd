//! The day-to-day commands of the `readyroll` binary, run as a process with
//! the cluster's kubeconfig, against Apps the in-process controller rolls;
//! and the same binary as a kubectl plugin (`kubectl readyroll ls`).

use std::path::PathBuf;
use std::process::{Command, Output};

use readyroll::crd::{App, RolloutSpec};
use readyroll_e2e::kwok::{NEVER_READY_ANNOTATION, READY_DELAY_ANNOTATION};
use readyroll_e2e::{readyroll_binary, wait_for, Kubectl, Must};

use crate::harness::{Env, TIMEOUT};
use crate::observe::{app_status, rolled_out};

/// `readyroll ARGS` with the test cluster's kubeconfig, in the background.
pub(crate) async fn readyroll(env: &Env, args: &[&str]) -> Output {
    let mut command = Command::new(readyroll_binary());
    command
        .args(args)
        .env("KUBECONFIG", env.cluster.kubeconfig());
    tokio::task::spawn_blocking(move || command.output().must("run readyroll"))
        .await
        .must("readyroll task")
}

pub(crate) fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The `ls` line of `name`, split into columns.
pub(crate) fn ls_row(stdout: &str, name: &str) -> Vec<String> {
    stdout
        .lines()
        .map(|l| l.split_whitespace().map(str::to_string).collect::<Vec<_>>())
        .find(|cols| cols.first().map(String::as_str) == Some(name))
        .unwrap_or_else(|| panic!("no line for {name} in:\n{stdout}"))
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs a cluster: run by the api tier"]
async fn ls_and_status_watch_report_rollouts_with_exit_codes() {
    let env = Env::start("cli-status", 8).await;
    let apps = env.ns.api::<App>();
    let ns = env.ns.name();
    let mut web = env.app("web", 3);
    web.spec.rollout = Some(RolloutSpec {
        progress_deadline_seconds: Some(10),
        ..Default::default()
    });
    web.spec
        .annotations
        .insert(READY_DELAY_ANNOTATION.into(), "2s".into());
    env.apply(&web).await;

    // A good rollout: --watch follows it and exits 0 once it is complete.
    let watched = readyroll(
        &env,
        &["status", "web", "-n", ns, "--watch", "--timeout", "90s"],
    )
    .await;
    let out = text(&watched.stdout);
    assert_eq!(
        watched.status.code(),
        Some(0),
        "{out}{}",
        text(&watched.stderr)
    );
    assert!(out.contains("app/web: rollout complete"), "{out}");
    let app = apps.get("web").await.must("App");
    assert!(rolled_out(&app), "complete when status --watch returned");

    let ls = readyroll(&env, &["ls", "-n", ns]).await;
    assert!(ls.status.success(), "{}", text(&ls.stderr));
    let stdout = text(&ls.stdout);
    let header = ls_row(&stdout, "NAME");
    assert_eq!(
        header,
        [
            "NAME",
            "INSTANCES",
            "READY",
            "UPDATED",
            "REVISION",
            "STATUS",
            "RESTARTS",
            "AGE"
        ]
    );
    let row = ls_row(&stdout, "web");
    let revision = app.status.as_ref().and_then(|s| s.current_revision.clone());
    assert_eq!(
        &row[1..7],
        [
            "3",
            "3/3",
            "3",
            revision.as_deref().unwrap_or("-"),
            "online",
            "0"
        ]
    );

    // -A lists every namespace, with a NAMESPACE column.
    let all = readyroll(&env, &["ls", "-A"]).await;
    let stdout = text(&all.stdout);
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with(ns) && l.contains(" web ")),
        "{stdout}"
    );

    // Through kubectl's plugin mechanism: kubectl-readyroll on PATH.
    let plugins = tempdir(&env);
    std::os::unix::fs::symlink(readyroll_binary(), plugins.join("kubectl-readyroll"))
        .must("link plugin");
    let kubectl = Kubectl::require(env.cluster.kubeconfig()).with_path_prefix(&plugins);
    let run = kubectl.run(["readyroll", "ls", "-n", ns]);
    assert!(run.success(), "kubectl readyroll ls: {}", run.stderr());
    assert_eq!(
        ls_row(&run.stdout(), "web")[5],
        "online",
        "{}",
        run.stdout()
    );
    let help = kubectl.run(["readyroll", "--help"]);
    assert!(
        help.stdout().contains("kubectl readyroll"),
        "{}",
        help.stdout()
    );

    // A missing App is an error, not a wait.
    let missing = readyroll(&env, &["status", "nope", "-n", ns, "--watch"]).await;
    assert_eq!(missing.status.code(), Some(1));
    assert!(
        text(&missing.stderr).contains("not found"),
        "{}",
        text(&missing.stderr)
    );

    // A release that never gets Ready: --watch exits 1 once it is Stalled.
    web.spec
        .annotations
        .insert(NEVER_READY_ANNOTATION.into(), "true".into());
    env.apply(&web).await;
    let watched = readyroll(
        &env,
        &["status", "web", "-n", ns, "--watch", "--timeout", "90s"],
    )
    .await;
    let out = text(&watched.stdout);
    assert_eq!(
        watched.status.code(),
        Some(1),
        "{out}{}",
        text(&watched.stderr)
    );
    assert!(
        out.contains("rollout failed: ProgressDeadlineExceeded"),
        "{out}"
    );

    // A timeout that passes first: exit 2.
    web.spec.annotations.remove(NEVER_READY_ANNOTATION);
    web.spec
        .annotations
        .insert(READY_DELAY_ANNOTATION.into(), "30s".into());
    env.apply(&web).await;
    let watched = readyroll(
        &env,
        &["status", "web", "-n", ns, "--watch", "--timeout", "3s"],
    )
    .await;
    assert_eq!(watched.status.code(), Some(2), "{}", text(&watched.stderr));
    assert!(
        text(&watched.stderr).contains("timed out"),
        "{}",
        text(&watched.stderr)
    );
    wait_for(&apps, "web", app_status(|a| a.status.is_some()), TIMEOUT)
        .await
        .must("App still there");
}

/// A directory of the test's own, removed with the process's temp files.
fn tempdir(env: &Env) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("readyroll-plugin-{}", env.ns.name()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).must("create plugin dir");
    dir
}
