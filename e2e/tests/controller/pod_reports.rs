//! What the pods say beyond the Deployment's counts, on a real API server:
//! a pod unready past `listenTimeout` is reported as a slow start on time
//! (the plan's wake-up, not a watch event) and once; a memory restart, as
//! the kubelet reports the runtime shim's, is counted once and never taken
//! for a crash.

use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::api::events::v1::Event;
use k8s_openapi::jiff::Timestamp;
use kube::api::{ListParams, Patch, PatchParams};
use kube::{Api, ResourceExt};
use readyroll::core::REVISION_ANNOTATION;
use readyroll::crd::App;
use readyroll_e2e::conditions::is_pod_ready;
use readyroll_e2e::kwok::{NEVER_READY_ANNOTATION, READY_DELAY_ANNOTATION};
use readyroll_e2e::{wait_for, Must};
use serde_json::json;

use crate::harness::{Env, MustSome, TIMEOUT};
use crate::observe::{app_status, condition, event_reasons, rolled_out};

/// The runtime shim's termination message for a memory restart (see the
/// shim contract) and its exit status.
const MEMORY_RESTART_MESSAGE: &str =
    "readyroll-shim: memory restart: rss_bytes=70000000 threshold_bytes=62914560\n";
const MEMORY_RESTART_EXIT_CODE: i32 = 75;

fn revision(app: &App) -> String {
    app.status
        .as_ref()
        .and_then(|s| s.current_revision.clone())
        .must_some("current revision")
}

fn count(reasons: &[String], reason: &str) -> usize {
    reasons.iter().filter(|r| *r == reason).count()
}

async fn pods_of(pods: &Api<Pod>, app: &str) -> Vec<Pod> {
    pods.list(&ListParams::default().labels(&format!("app.kubernetes.io/instance={app}")))
        .await
        .must("list pods")
        .items
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs a cluster: run by the api tier"]
async fn a_pod_unready_past_listen_timeout_is_reported_on_time_and_once() {
    let env = Env::start("slow-start", 4).await;
    let apps = env.ns.api::<App>();
    let pods = env.ns.api::<Pod>();
    let mut web = env.app("web", 2);
    web.spec.listen_timeout = Some(2000);
    // kwok turns the pods Ready 8 s after they start: 6 s past listenTimeout.
    web.spec
        .annotations
        .insert(READY_DELAY_ANNOTATION.into(), "8s".into());
    let started = Instant::now();
    env.apply(&web).await;

    let slow = wait_for(
        &apps,
        "web",
        app_status(|a| condition(a, "Progressing") == Some(("True".into(), "SlowStart".into()))),
        TIMEOUT,
    )
    .await
    .must("the App reports the slow start");
    let reported_after = started.elapsed();
    // Nothing about the pods changes between their start and their Ready,
    // 8 s later: seeing the report before that is the plan's own wake-up.
    let unready = pods_of(&pods, "web").await;
    assert!(
        unready.iter().all(|p| !is_pod_ready(p)),
        "reported after {reported_after:?}, while the pods were still starting"
    );
    let message = slow
        .status
        .as_ref()
        .and_then(|s| s.conditions.iter().find(|c| c.type_ == "Progressing"))
        .map(|c| c.message.clone())
        .must_some("Progressing");
    assert!(
        message.contains("web-") && message.contains("listenTimeout 2000 ms"),
        "{message}"
    );

    let done = wait_for(&apps, "web", app_status(rolled_out), TIMEOUT)
        .await
        .must("the slow pods become ready and the rollout completes");
    let status = done.status.clone().must_some("status");
    assert!(status.slow_starts.is_empty(), "{:?}", status.slow_starts);
    assert_eq!(status.restarts, Some(0), "a slow start is never restarted");
    let reasons = event_reasons(env.ns.api::<Event>(), &done).await;
    assert_eq!(
        count(&reasons, "SlowStart"),
        2,
        "one Event per slow pod, however many reconciles saw it: {reasons:?}"
    );
    eprintln!("slow start reported {reported_after:?} after the App was applied");
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs a cluster: run by the api tier"]
async fn a_memory_restart_is_counted_once_and_does_not_fail_the_rollout() {
    let env = Env::start("memory-restart", 4).await;
    let apps = env.ns.api::<App>();
    let pods = env.ns.api::<Pod>();
    let mut web = env.app("web", 1);
    // Any crash of the new revision fails it and rolls it back.
    web.spec.max_restarts = Some(0);
    env.apply(&web).await;
    let good = revision(
        &wait_for(&apps, "web", app_status(rolled_out), TIMEOUT)
            .await
            .must("first revision rolled out"),
    );

    // The new revision's pod is left to the test to report, as the kubelet
    // reports a pod whose app the shim restarted for its memory.
    web.spec
        .annotations
        .insert(NEVER_READY_ANNOTATION.into(), "true".into());
    env.apply(&web).await;
    let new_pod = wait_for_running_pod_not_of(&pods, "web", &good).await;
    report_memory_restart(&pods, &new_pod).await;

    let rolled = wait_for(
        &apps,
        "web",
        app_status(|a| rolled_out(a) && revision(a) != good),
        TIMEOUT,
    )
    .await
    .must("the new revision rolls out despite its restart");
    let status = rolled.status.clone().must_some("status");
    assert_eq!(status.memory_restarts, Some(1), "{status:?}");
    assert_eq!(status.restarts, Some(0), "not a crash: {status:?}");
    assert_eq!(status.failed_revision, None, "{status:?}");
    let last = status.last_memory_restart.clone().must_some("last");
    assert_eq!(last.pod, new_pod);
    assert!(last.message.contains("rss_bytes=70000000"), "{last:?}");
    assert_eq!(
        condition(&rolled, "Degraded"),
        Some(("False".into(), "AsExpected".into()))
    );

    // Later reconciles, a whole rollout of them, see the same termination
    // (and then the pod gone) and count nothing new.
    let second = revision(&rolled);
    web.spec.annotations.remove(NEVER_READY_ANNOTATION);
    env.apply(&web).await;
    let again = wait_for(
        &apps,
        "web",
        app_status(|a| rolled_out(a) && revision(a) != second),
        TIMEOUT,
    )
    .await
    .must("a third revision rolls out");
    let status = again.status.clone().must_some("status");
    assert_eq!(status.memory_restarts, Some(1), "{status:?}");
    // The rollout completes while the restarted pod is still terminating;
    // its deletion then reaches the status.
    let pruned = wait_for(
        &apps,
        "web",
        app_status(|a| {
            a.status
                .as_ref()
                .is_some_and(|s| s.memory_restarts_by_pod.is_empty())
        }),
        TIMEOUT,
    )
    .await
    .must("the restarted pod, once gone, leaves the status");
    let status = pruned.status.clone().must_some("status");
    assert_eq!(status.memory_restarts, Some(1), "{status:?}");
    let reasons = event_reasons(env.ns.api::<Event>(), &again).await;
    assert_eq!(count(&reasons, "MemoryRestart"), 1, "{reasons:?}");
    for reason in ["RolloutFailed", "RolledBack", "TooManyRestarts"] {
        assert_eq!(count(&reasons, reason), 0, "{reasons:?}");
    }
}

/// The name of the App's pod that runs a revision other than `revision`,
/// once its container runs.
async fn wait_for_running_pod_not_of(pods: &Api<Pod>, app: &str, revision: &str) -> String {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let found = pods_of(pods, app).await.into_iter().find(|p| {
            p.annotations().get(REVISION_ANNOTATION).map(String::as_str) != Some(revision)
                && p.metadata.deletion_timestamp.is_none()
                && p.status
                    .as_ref()
                    .and_then(|s| s.container_statuses.as_ref())
                    .is_some_and(|cs| {
                        cs.iter()
                            .any(|c| c.state.as_ref().is_some_and(|s| s.running.is_some()))
                    })
        });
        if let Some(pod) = found {
            return pod.name_any();
        }
        assert!(
            Instant::now() < deadline,
            "no running pod of a new revision within {TIMEOUT:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Writes the status a kubelet reports after the runtime shim restarted the
/// app for its memory: restart 1, the last termination exit 75 with the
/// shim's message, the restarted container running and Ready.
async fn report_memory_restart(pods: &Api<Pod>, name: &str) {
    let pod = pods.get(name).await.must("get the pod");
    let image = pod
        .spec
        .as_ref()
        .and_then(|s| s.containers.first())
        .and_then(|c| c.image.clone())
        .must_some("image");
    let now = Timestamp::now();
    let exited = now - k8s_openapi::jiff::SignedDuration::from_secs(2);
    let patch = json!({
        "status": {
            "conditions": [
                {"type": "Ready", "status": "True", "lastTransitionTime": now.to_string()},
                {"type": "ContainersReady", "status": "True", "lastTransitionTime": now.to_string()},
            ],
            "containerStatuses": [{
                "name": "app",
                "image": image,
                "imageID": "",
                "ready": true,
                "started": true,
                "restartCount": 1,
                "state": {"running": {"startedAt": now.to_string()}},
                "lastState": {"terminated": {
                    "exitCode": MEMORY_RESTART_EXIT_CODE,
                    "reason": "Error",
                    "message": MEMORY_RESTART_MESSAGE,
                    "startedAt": (exited - k8s_openapi::jiff::SignedDuration::from_secs(30)).to_string(),
                    "finishedAt": exited.to_string(),
                }},
            }],
        }
    });
    pods.patch_status(name, &PatchParams::default(), &Patch::Strategic(&patch))
        .await
        .must("report the memory restart on the pod");
}
