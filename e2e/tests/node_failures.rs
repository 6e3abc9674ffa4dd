//! Failures on a real node, with the operator running in the cluster:
//!
//! - a release that never becomes ready, and one that crash-loops, under continuous load:
//!   no request fails, the App turns Degraded, rolls back to the last good revision and
//!   says why in its Events;
//! - `killTimeout`: an app that ignores its stop signal is killed after drain + killTimeout
//!   (by the kubelet, or by the runtime shim), an app that exits promptly is not held for
//!   its grace period;
//! - `maxMemoryRestart`: an app allocating past it is OOM-killed and restarted, and the App
//!   reports the restarts and turns Degraded past `maxRestarts`.
mod node_support;

use std::time::{Duration, Instant};

use k8s_openapi::api::{
    apps::v1::Deployment,
    core::v1::{Event, Pod},
};
use kube::{
    api::{ListParams, Patch, PatchParams},
    runtime::wait::Condition,
    Api,
};
use node_support::{
    pods::PodTracker,
    rollouts::ROLLOUT_TIMEOUT,
    stops::stop_pod_of,
    wait_serving,
    workload::{Desired, Workload},
    NodeEnv, TESTAPP, TESTAPP_PORT,
};
use readyroll::{
    core::REVISION_ANNOTATION,
    crd::{App, CONDITION_AVAILABLE, CONDITION_DEGRADED, CONDITION_PROGRESSING},
};
use readyroll_e2e::{
    bench::{self, Measurement, Scenario},
    conditions::deployment_available,
    load::{Load, LoadConfig},
    wait_for, Must,
};
use serde_json::{json, Value};

const FAILURE_TIMEOUT: Duration = Duration::from_secs(240);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a real node and the installed operator: run by the node tier"]
async fn a_release_that_never_becomes_ready_is_rolled_back_under_load() {
    let env = NodeEnv::start("never-ready").await;
    // Listening only after an hour: the startup check fails, nothing ever turns Ready.
    let bad = BadRelease {
        env: json!({"READY_DELAY_MS": "3600000"}),
        spec: json!({"maxRestarts": 1000, "rollout": {"progressDeadlineSeconds": 20}}),
        reason: "ProgressDeadlineExceeded",
    };
    rolls_back_under_load(&env, "never-ready", bad).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a real node and the installed operator: run by the node tier"]
async fn a_crash_looping_release_is_rolled_back_under_load() {
    let env = NodeEnv::start("crash-loop").await;
    let bad = BadRelease {
        env: json!({"CRASH_ON_START": "1"}),
        spec: json!({"maxRestarts": 1, "rollout": {"progressDeadlineSeconds": 600}}),
        reason: "TooManyRestarts",
    };
    rolls_back_under_load(&env, "crash-loop", bad).await;
}

/// A release that must fail: environment and spec fields merged into the good App, and
/// the reason its failure must be reported with.
struct BadRelease {
    env: Value,
    spec: Value,
    reason: &'static str,
}

async fn rolls_back_under_load(env: &NodeEnv, name: &str, bad: BadRelease) {
    let tracker = PodTracker::start(env.ns.api());
    let apps = env.ns.api::<App>();
    let deployments = env.ns.api::<Deployment>();
    let (node_port, addr) = env.node_port().await;
    let workload = Workload::app(&env.ns, app_manifest(name, node_port, json!({})));
    let good = Desired::new(TESTAPP, "v1", 2);
    workload.apply(&good).await.must("create the App");
    workload
        .wait_settled(&good, ROLLOUT_TIMEOUT)
        .await
        .must("first release available");
    let good_revision = current_revision(&apps, name).await;
    wait_serving(addr, "v1").await;

    let load = Load::start(LoadConfig::new(addr)).must("start the load");
    tokio::time::sleep(Duration::from_secs(2)).await;
    let changed = Instant::now();
    let mut patch = json!({"spec": bad.spec});
    patch["spec"]["image"] = json!(format!("{TESTAPP}:v2"));
    patch["spec"]["env"] = bad.env;
    apps.patch(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .must("release the bad revision");

    let reason = bad.reason;
    let degraded = wait_for(
        &apps,
        name,
        move |app: Option<&App>| {
            app.and_then(|a| a.status.as_ref()).is_some_and(|s| {
                s.failed_revision.is_some()
                    && s.conditions.iter().any(|c| {
                        c.type_ == CONDITION_DEGRADED && c.status == "True" && c.reason == reason
                    })
            })
        },
        FAILURE_TIMEOUT,
    )
    .await
    .must("App Degraded by the bad release");
    let to_degraded = changed.elapsed();
    let status = degraded.status.clone().unwrap_or_default();
    let failed_revision = status.failed_revision.clone().unwrap_or_default();
    assert_ne!(
        failed_revision, good_revision,
        "the failed revision is the new one"
    );

    let good_rev = good_revision.clone();
    wait_for(
        &deployments,
        name,
        move |d: Option<&Deployment>| {
            d.is_some_and(|d| template_revision(d).as_deref() == Some(good_rev.as_str()))
                && deployment_available().matches_object(d)
        },
        FAILURE_TIMEOUT,
    )
    .await
    .must("Deployment back on the last good revision");
    workload
        .wait_old_pods_gone(FAILURE_TIMEOUT)
        .await
        .must("pods of the failed revision gone");
    let to_rolled_back = changed.elapsed();
    // The failed revision is not retried while the spec still asks for it.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let run = load.finish();

    let deployment = deployments.get(name).await.must("get Deployment");
    assert_eq!(
        template_revision(&deployment).as_deref(),
        Some(good_revision.as_str()),
        "the failed revision was tried again"
    );
    let app = apps.get(name).await.must("get App");
    let status = app.status.clone().unwrap_or_default();
    assert_eq!(
        status.current_revision.as_deref(),
        Some(good_revision.as_str())
    );
    assert_eq!(
        status.last_good_revision.as_deref(),
        Some(good_revision.as_str())
    );
    assert_eq!(
        status.failed_revision.as_deref(),
        Some(failed_revision.as_str())
    );
    let condition = |type_: &str| status.conditions.iter().find(|c| c.type_ == type_).cloned();
    let available = condition(CONDITION_AVAILABLE).expect("Available condition");
    assert_eq!(available.status, "True", "{available:?}");
    let progressing = condition(CONDITION_PROGRESSING).expect("Progressing condition");
    assert_eq!(progressing.reason, "RolledBack", "{progressing:?}");

    let events = app_events(env, name).await;
    for wanted in ["RolloutFailed", "RolledBack"] {
        assert!(
            events.iter().any(|(reason, _)| reason == wanted),
            "no {wanted} Event on the App; events: {events:#?}"
        );
    }
    let failed_message = events
        .iter()
        .find(|(reason, _)| reason == "RolloutFailed")
        .map(|(_, m)| m.clone())
        .unwrap_or_default();
    assert!(
        failed_message.contains(&failed_revision),
        "the RolloutFailed Event names the revision: {failed_message}"
    );

    let total = run.tally();
    eprintln!(
        "{name}: Degraded after {:.1} s, rolled back after {:.1} s; {} requests, {} failed, versions {:?}",
        to_degraded.as_secs_f64(),
        to_rolled_back.as_secs_f64(),
        total.requests,
        total.failed,
        total.versions
    );
    env.record(
        &format!("node_failures_{}", name.replace('-', "_")),
        vec![Scenario {
            name: format!("{name} release rolled back"),
            setup: format!(
                "2 instances of v1 under load, then v2 with {}",
                bad_description(reason)
            ),
            load: bench::LoadSummary::of(&run),
            total: total.clone(),
            rollouts: vec![],
        }],
        vec![
            Measurement {
                name: format!("{name}: release → Degraded ({reason})"),
                expected: expected_failure_time(reason).to_owned(),
                measured_ms: bench::millis(to_degraded),
                detail: format!("failed revision {failed_revision}"),
            },
            Measurement {
                name: format!("{name}: release → back on the last good revision"),
                expected: "shortly after Degraded".to_owned(),
                measured_ms: bench::millis(to_rolled_back),
                detail: format!("revision {good_revision}, pods of the failed one gone"),
            },
        ],
    )
    .await;

    assert_eq!(
        total.failed, 0,
        "requests failed during the failed release:\n{:?}",
        total.failures
    );
    assert_eq!(
        total.versions.keys().collect::<Vec<_>>(),
        ["v1"],
        "only the good release may answer"
    );
    for host in total.hosts.keys() {
        assert_eq!(
            tracker.ever_ready(host),
            Some(true),
            "{host} answered unready"
        );
    }
}

fn bad_description(reason: &str) -> &'static str {
    match reason {
        "ProgressDeadlineExceeded" => {
            "READY_DELAY_MS of an hour (never ready), listenTimeout 4 s, progressDeadlineSeconds 20"
        }
        _ => "CRASH_ON_START (exits at once), maxRestarts 1",
    }
}

fn expected_failure_time(reason: &str) -> &'static str {
    match reason {
        "ProgressDeadlineExceeded" => "≈ 20 s progress deadline + detection",
        _ => "≈ 2 restarts with the kubelet's 10 s, 20 s back-off",
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a real node and the installed operator: run by the node tier"]
async fn kill_timeout_bounds_the_stop_and_a_prompt_exit_is_not_held() {
    let env = NodeEnv::start("kill-timeout").await;
    // (name, stop behaviour, drainDelayMs, killTimeout, through the runtime shim)
    let cases = [
        KillCase::new("ignores", "ignore", 2000, 8000, false),
        KillCase::new("prompt", "graceful", 2000, 8000, false),
        KillCase::new("shim-ignores", "ignore", 1000, 3000, true),
    ];
    for case in &cases {
        let workload = Workload::app(&env.ns, case.manifest());
        workload
            .apply(&Desired::new(TESTAPP, "v1", 1))
            .await
            .must("create the App");
    }
    for case in &cases {
        let workload = Workload::app(&env.ns, case.manifest());
        workload
            .wait_settled(&Desired::new(TESTAPP, "v1", 1), ROLLOUT_TIMEOUT)
            .await
            .must("App available");
    }
    let stops = futures::future::join_all(cases.iter().map(|c| stop_pod_of(&env, c.name))).await;

    let mut measurements = Vec::new();
    let mut problems = Vec::new();
    for (case, stop) in cases.iter().zip(stops) {
        let exit = stop.exit_description();
        eprintln!(
            "{}: container exit seen {}, pod gone {:.2} s after deletion, {exit}",
            case.name,
            stop.exited
                .map(|d| format!("{:.2} s", d.as_secs_f64()))
                .unwrap_or_else(|| "never".to_owned()),
            stop.gone.as_secs_f64()
        );
        let (low, high) = case.exit_bounds();
        match stop.exited {
            Some(exited) if exited >= low && exited <= high => {}
            other => problems.push(format!(
                "{}: container exit seen after {other:?}, expected within {low:?}..={high:?}",
                case.name
            )),
        }
        let code = case.exit_code();
        if stop.terminated.as_ref().map(|t| t.exit_code) != Some(code) {
            problems.push(format!("{}: {exit}, expected exit code {code}", case.name));
        }
        if stop.gone > case.killed_at() + POD_REMOVAL {
            problems.push(format!(
                "{}: pod gone only after {:?}, more than the stop deadline + {POD_REMOVAL:?}",
                case.name, stop.gone
            ));
        }
        measurements.push(Measurement {
            name: format!("pod deletion → container exit seen: {}", case.describe()),
            expected: format!("{:.1}–{:.1} s", low.as_secs_f64(), high.as_secs_f64()),
            measured_ms: stop.exited.map_or(0, bench::millis),
            detail: exit.clone(),
        });
        measurements.push(Measurement {
            name: format!("pod deletion → pod object gone: {}", case.name),
            expected: format!(
                "≤ {:.0} s (stop deadline + {} s)",
                (case.killed_at() + POD_REMOVAL).as_secs_f64(),
                POD_REMOVAL.as_secs()
            ),
            measured_ms: bench::millis(stop.gone),
            detail: "the kubelet removes the pod once its containers and volumes are cleaned up"
                .to_owned(),
        });
    }
    env.record("node_failures_kill_timeout", vec![], measurements)
        .await;
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// An App whose single pod is deleted to time its stop.
struct KillCase {
    name: &'static str,
    stop_signal: &'static str,
    drain_ms: u64,
    kill_timeout_ms: u64,
    shim: bool,
}

/// How late a container's exit may show in the pod's status: the kubelet notices exits by
/// relisting the runtime every second, then writes the status (1–2 s measured on two busy
/// CPUs).
const EXIT_REPORTING: Duration = Duration::from_secs(3);
/// How long after the grace period the kubelet may take to remove the pod object.
const POD_REMOVAL: Duration = Duration::from_secs(5);
/// How far the shim's drain may run past `drainDelayMs` by default (`drainMaxMs`).
const DRAIN_EXTENSION_MS: u64 = 25_000;

impl KillCase {
    fn new(
        name: &'static str,
        stop_signal: &'static str,
        drain_ms: u64,
        kill_timeout_ms: u64,
        shim: bool,
    ) -> Self {
        KillCase {
            name,
            stop_signal,
            drain_ms,
            kill_timeout_ms,
            shim,
        }
    }

    /// The pod's `terminationGracePeriodSeconds`. The shim's drain may run to
    /// `drainMaxMs` (default drain + 25 s), so its grace period covers that.
    fn grace(&self) -> Duration {
        let drain = if self.shim {
            self.drain_ms + DRAIN_EXTENSION_MS
        } else {
            self.drain_ms
        };
        Duration::from_secs((drain + self.kill_timeout_ms).div_ceil(1000))
    }

    /// When the app is killed if it ignores its signal: by the shim exactly at drain +
    /// killTimeout (no connection arrives here, so the drain is its minimum), by the kubelet
    /// at the grace period.
    fn killed_at(&self) -> Duration {
        if self.shim {
            Duration::from_millis(self.drain_ms + self.kill_timeout_ms)
        } else {
            self.grace()
        }
    }

    /// When the container's exit may be seen after the pod's deletion. An app ignoring its
    /// signal is killed at drain + killTimeout (by the shim; without the shim by the kubelet
    /// at the grace period, the same sum rounded up to seconds). A prompt app exits right
    /// after the drain, well before the grace period ends.
    fn exit_bounds(&self) -> (Duration, Duration) {
        let drain = Duration::from_millis(self.drain_ms);
        let kill = drain + Duration::from_millis(self.kill_timeout_ms);
        match self.stop_signal {
            "ignore" => (kill, self.killed_at() + EXIT_REPORTING),
            _ => (drain, drain + EXIT_REPORTING),
        }
    }

    /// Killed apps exit with 128 + SIGKILL; the prompt one with 0.
    fn exit_code(&self) -> i32 {
        match self.stop_signal {
            "ignore" => 137,
            _ => 0,
        }
    }

    fn describe(&self) -> String {
        format!(
            "{} (drain {} ms + killTimeout {} ms, grace {} s{})",
            match self.stop_signal {
                "ignore" => "app ignores its stop signal",
                _ => "app exits promptly",
            },
            self.drain_ms,
            self.kill_timeout_ms,
            self.grace().as_secs(),
            if self.shim {
                ", runtime shim sends SIGINT"
            } else {
                ", kubelet sends SIGTERM"
            }
        )
    }

    fn manifest(&self) -> Value {
        let mut extra = json!({
            "killTimeout": self.kill_timeout_ms,
            "rollout": {"drainDelayMs": self.drain_ms},
            "env": {"STOP_SIGNAL": self.stop_signal, "DRAIN_MS": "30000"},
        });
        if self.shim {
            // PM2's contract: ready over IPC, stopped with SIGINT by the shim.
            extra["waitReady"] = json!(true);
            extra["script"] = json!("/testapp");
            extra["interpreter"] = json!("none");
            extra["env"]["READINESS"] = json!("pm2");
        }
        app_manifest(self.name, 0, extra)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a real node and the installed operator: run by the node tier"]
async fn an_app_above_max_memory_restart_is_oom_killed_and_the_app_reports_it() {
    let env = NodeEnv::start("max-memory").await;
    let name = "hungry";
    let manifest = app_manifest(
        name,
        0,
        json!({"maxMemoryRestart": "64M", "maxRestarts": 1, "env": {"ALLOCATE_MB": "256"}}),
    );
    let workload = Workload::app(&env.ns, manifest);
    let created = Instant::now();
    workload
        .apply(&Desired::new(TESTAPP, "v1", 1))
        .await
        .must("create the App");

    let deployments = env.ns.api::<Deployment>();
    let deployment = wait_for(
        &deployments,
        name,
        |d: Option<&Deployment>| d.is_some(),
        ROLLOUT_TIMEOUT,
    )
    .await
    .must("Deployment created");
    let limit = deployment
        .spec
        .as_ref()
        .and_then(|s| s.template.spec.as_ref())
        .and_then(|s| s.containers.first())
        .and_then(|c| c.resources.as_ref())
        .and_then(|r| r.limits.as_ref())
        .and_then(|l| l.get("memory"))
        .map(|q| q.0.clone());
    assert_eq!(
        limit.as_deref(),
        Some("64Mi"),
        "maxMemoryRestart is the memory limit"
    );

    let pods = env.ns.api::<Pod>();
    let selector = format!("app.kubernetes.io/instance={name}");
    let oom_seen = wait_until(FAILURE_TIMEOUT, || {
        let pods = pods.clone();
        let selector = selector.clone();
        async move {
            let list = pods
                .list(&ListParams::default().labels(&selector))
                .await
                .ok()?;
            list.items.iter().find_map(|p| {
                let status = p.status.as_ref()?.container_statuses.as_ref()?.first()?;
                let last = status.last_state.as_ref()?.terminated.as_ref()?;
                (last.reason.as_deref() == Some("OOMKilled"))
                    .then_some((last.exit_code, status.restart_count))
            })
        }
    })
    .await
    .unwrap_or_else(|| panic!("no container was OOM-killed within {FAILURE_TIMEOUT:?}"));
    let to_oom = created.elapsed();

    let apps = env.ns.api::<App>();
    let app = wait_for(
        &apps,
        name,
        |app: Option<&App>| {
            app.and_then(|a| a.status.as_ref()).is_some_and(|s| {
                s.restarts.unwrap_or_default() > 1
                    && s.conditions.iter().any(|c| {
                        c.type_ == CONDITION_DEGRADED
                            && c.status == "True"
                            && c.reason == "TooManyRestarts"
                    })
            })
        },
        FAILURE_TIMEOUT,
    )
    .await
    .must("App Degraded by restarts past maxRestarts");
    let to_degraded = created.elapsed();
    let status = app.status.unwrap_or_default();
    let degraded = status
        .conditions
        .iter()
        .find(|c| c.type_ == CONDITION_DEGRADED)
        .map(|c| c.message.clone())
        .unwrap_or_default();
    eprintln!(
        "OOM kill (exit {}) seen after {:.1} s; Degraded after {:.1} s with {} restarts: {degraded}",
        oom_seen.0,
        to_oom.as_secs_f64(),
        to_degraded.as_secs_f64(),
        status.restarts.unwrap_or_default()
    );
    env.record(
        "node_failures_max_memory",
        vec![],
        vec![
            Measurement {
                name:
                    "maxMemoryRestart 64M, app allocates 256 MiB: App created → first OOM kill seen"
                        .to_owned(),
                expected: "seconds".to_owned(),
                measured_ms: bench::millis(to_oom),
                detail: format!("exit code {}, reason OOMKilled", oom_seen.0),
            },
            Measurement {
                name: "maxRestarts 1: App created → Degraded (TooManyRestarts)".to_owned(),
                expected: "≈ 2 restarts with the kubelet's back-off".to_owned(),
                measured_ms: bench::millis(to_degraded),
                detail: degraded,
            },
        ],
    )
    .await;
    assert_eq!(oom_seen.0, 137, "an OOM kill is a SIGKILL");
}

/// Polls `probe` every half second until it returns something, at most `timeout`.
async fn wait_until<T, F, Fut>(timeout: Duration, probe: F) -> Option<T>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(found) = probe().await {
            return Some(found);
        }
        if Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// A testapp App; `extra` is merged into its spec (its `env` into the App's env). A node
/// port of 0 gives it no NodePort Service.
fn app_manifest(name: &str, node_port: i32, extra: Value) -> Value {
    let mut spec = json!({
        "image": TESTAPP,
        "imagePullPolicy": "Never",
        "port": TESTAPP_PORT,
        "readiness": {"httpGet": {"path": "/healthz"}},
        "listenTimeout": 4000,
        "env": {"READY_DELAY_MS": "1000", "LATENCY_MS": "20"},
    });
    if node_port > 0 {
        spec["service"] = json!({"type": "NodePort", "nodePort": node_port});
    }
    if let Some(extra) = extra.as_object() {
        for (key, value) in extra {
            if key == "env" {
                for (k, v) in value.as_object().into_iter().flatten() {
                    spec["env"][k] = v.clone();
                }
            } else {
                spec[key] = value.clone();
            }
        }
    }
    // The shim's IPC readiness replaces the HTTP check.
    if spec["waitReady"] == json!(true) {
        spec.as_object_mut().map(|s| s.remove("readiness"));
    }
    json!({
        "apiVersion": "readyroll.dev/v1alpha1",
        "kind": "App",
        "metadata": {"name": name},
        "spec": spec,
    })
}

async fn current_revision(apps: &Api<App>, name: &str) -> String {
    apps.get(name)
        .await
        .must("get App")
        .status
        .and_then(|s| s.current_revision)
        .expect("App reports its current revision")
}

fn template_revision(d: &Deployment) -> Option<String> {
    d.spec
        .as_ref()?
        .template
        .metadata
        .as_ref()?
        .annotations
        .as_ref()?
        .get(REVISION_ANNOTATION)
        .cloned()
}

/// (reason, message) of every Event about App `name`.
async fn app_events(env: &NodeEnv, name: &str) -> Vec<(String, String)> {
    let events = env
        .ns
        .api::<Event>()
        .list(&ListParams::default())
        .await
        .must("list Events");
    events
        .items
        .into_iter()
        .filter(|e| {
            e.involved_object.kind.as_deref() == Some("App")
                && e.involved_object.name.as_deref() == Some(name)
        })
        .map(|e| (e.reason.unwrap_or_default(), e.message.unwrap_or_default()))
        .collect()
}
