//! The runtime shim's pre-stop drain on a real node: it lasts `drainDelayMs` when nothing
//! reaches the pod, and goes on while new connections still arrive, so a proxy that is slow
//! to stop routing to a terminating pod (kube-proxy after an API-server outage, an ingress
//! with its own endpoint watch) never meets a stopped app.
//!
//! The slow proxy is the test itself: it keeps opening connections straight to the pod's IP
//! for seconds after the pod's deletion. With a fixed sleep the app would get its stop
//! signal after `drainDelayMs` and refuse them.
mod node_support;

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use futures::{AsyncBufReadExt, TryStreamExt};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{ListParams, LogParams};
use kube::ResourceExt;
use node_support::{
    rollouts::ROLLOUT_TIMEOUT,
    stops::{stop_pod_of, Stop},
    workload::{Desired, Workload},
    NodeEnv, TESTAPP, TESTAPP_PORT,
};
use readyroll_e2e::{
    bench::{self, Measurement},
    load::{Load, LoadConfig},
    Must,
};
use serde_json::json;

const DRAIN_DELAY_MS: u64 = 2000;
const DRAIN_MAX_MS: u64 = 20_000;
/// The drain ends once this long passed without a new connection (the shim's default).
const QUIET: Duration = Duration::from_millis(1000);
/// How long the direct connections go on after the pod's deletion: well past the drain's
/// minimum, well before its maximum.
const TRAFFIC_AFTER_DELETION: Duration = Duration::from_secs(6);
/// How late a container's exit may show in the pod's status (the kubelet relists the
/// runtime every second, then writes the status).
const EXIT_REPORTING: Duration = Duration::from_secs(3);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a real node and the installed operator: run by the node tier"]
async fn the_drain_lasts_while_connections_still_reach_the_pod() {
    let env = NodeEnv::start("drain").await;
    for name in APPS {
        Workload::app(&env.ns, manifest(name))
            .apply(&Desired::new(TESTAPP, "v1", 1))
            .await
            .must("create the App");
    }
    for name in APPS {
        Workload::app(&env.ns, manifest(name))
            .wait_settled(&Desired::new(TESTAPP, "v1", 1), ROLLOUT_TIMEOUT)
            .await
            .must("App available");
    }
    let busy_pod = only_pod(&env, "busy").await;
    let logs = follow_logs(&env, &busy_pod.name_any());
    let fixed_pod = only_pod(&env, "fixed").await;
    let load_started = Instant::now();
    let load = direct_load(&busy_pod);
    let fixed_load = direct_load(&fixed_pod);
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (busy, idle, fixed) = tokio::join!(
        stop_pod_of(&env, "busy"),
        stop_pod_of(&env, "idle"),
        stop_pod_of(&env, "fixed")
    );
    let fixed_run = fixed_load.finish();
    let fixed_tally = fixed_run.tally();
    let run = load.finish();
    // When the last connection was opened (the load's own duration runs to `finish`).
    let last_sent = run.samples.iter().map(|s| s.at).max().unwrap_or_default();
    let traffic_end = (load_started + last_sent).saturating_duration_since(busy.deleted_at);
    let after_deletion = run
        .samples
        .iter()
        .filter(|s| load_started + s.at >= busy.deleted_at)
        .count();
    let tally = run.tally();
    let log = logs.await.unwrap_or_default();
    let summary = log
        .iter()
        .find(|l| l.contains("readyroll-shim: drain:"))
        .cloned();
    eprintln!(
        "busy: exit seen {:?} after deletion, connections until {:.2} s, {} requests ({after_deletion} after the deletion), {} failed; shim: {summary:?}",
        busy.exited, traffic_end.as_secs_f64(), tally.requests, tally.failed
    );
    eprintln!("idle: exit seen {:?} after deletion", idle.exited);
    eprintln!(
        "fixed (drainMaxMs = drainDelayMs): exit seen {:?} after deletion, {} of {} direct requests failed",
        fixed.exited, fixed_tally.failed, fixed_tally.requests
    );

    let mut problems = Vec::new();
    if tally.failed > 0 {
        problems.push(format!(
            "{} of {} direct requests failed while the pod drained: {}",
            tally.failed,
            tally.requests,
            run.failures()
                .take(5)
                .map(|(s, f)| format!("at {:.2} s: {f:?}", s.at.as_secs_f64()))
                .collect::<Vec<_>>()
                .join("; ")
        ));
    }
    if after_deletion < 50 {
        problems.push(format!(
            "only {after_deletion} requests after the deletion: the test did not keep connecting"
        ));
    }
    let busy_low = traffic_end + QUIET / 2;
    let busy_high = traffic_end + QUIET + EXIT_REPORTING;
    check_exit(&mut problems, "busy", &busy, busy_low, busy_high);
    let min = Duration::from_millis(DRAIN_DELAY_MS);
    check_exit(&mut problems, "idle", &idle, min, min + EXIT_REPORTING);
    // The control: the same traffic against a fixed drain meets a stopped app, so the
    // busy pod's zero is the drain's doing.
    if fixed_tally.failed == 0 {
        problems.push(format!(
            "fixed: none of {} direct requests failed after a fixed {DRAIN_DELAY_MS} ms drain; the test's traffic does not outlast a drain",
            fixed_tally.requests
        ));
    }
    check_exit(&mut problems, "fixed", &fixed, min, min + EXIT_REPORTING);
    match &summary {
        Some(line) if line.contains("extended past the minimum") => {}
        other => problems.push(format!(
            "the busy pod's log has no drain summary saying it was extended: {other:?}"
        )),
    }

    let measurements = vec![
        Measurement {
            name: "pod deletion → app exit, new connections for 6 s after the deletion".into(),
            expected: format!(
                "{:.1}–{:.1} s (last connection + {} s quiet)",
                busy_low.as_secs_f64(),
                busy_high.as_secs_f64(),
                QUIET.as_secs()
            ),
            measured_ms: busy.exited.map_or(0, bench::millis),
            detail: format!(
                "{} direct requests, {} failed; {}",
                tally.requests,
                tally.failed,
                summary.unwrap_or_default()
            ),
        },
        Measurement {
            name: "the same connections against a fixed drain (drainMaxMs = drainDelayMs)".into(),
            expected: "some fail: the app stops after drainDelayMs".into(),
            measured_ms: fixed.exited.map_or(0, bench::millis),
            detail: format!(
                "{} of {} direct requests failed",
                fixed_tally.failed, fixed_tally.requests
            ),
        },
        Measurement {
            name: "pod deletion → app exit, no connections".into(),
            expected: format!(
                "{:.1}–{:.1} s (drainDelayMs)",
                min.as_secs_f64(),
                (min + EXIT_REPORTING).as_secs_f64()
            ),
            measured_ms: idle.exited.map_or(0, bench::millis),
            detail: idle.exit_description(),
        },
    ];
    env.record("node_drain", vec![], measurements).await;
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// `busy` and `fixed` get connections after their deletion, `idle` none; `fixed` has a
/// drain that cannot be extended.
const APPS: [&str; 3] = ["busy", "idle", "fixed"];

/// New connections straight to `pod` for 7 s (1 s before its deletion, 6 s after).
fn direct_load(pod: &Pod) -> Load {
    let pod_ip: IpAddr = pod
        .status
        .as_ref()
        .and_then(|s| s.pod_ip.as_ref())
        .and_then(|ip| ip.parse().ok())
        .expect("the pod has an IP");
    // The cluster scripts' pod network (e2e/cluster/env.sh), on this machine's bridge.
    let pod_network =
        std::env::var("CLUSTER_CIDR").must("CLUSTER_CIDR (source e2e/cluster/env.sh)");
    let mut config = LoadConfig::new(SocketAddr::new(pod_ip, TESTAPP_PORT as u16));
    config.keep_alive_workers = 0;
    config.new_connection_workers = 2;
    config.max_duration = Duration::from_secs(1) + TRAFFIC_AFTER_DELETION;
    Load::start_to_pod(config, pod, &pod_network).must("start the direct connections")
}

fn manifest(name: &str) -> serde_json::Value {
    let max = if name == "fixed" {
        DRAIN_DELAY_MS
    } else {
        DRAIN_MAX_MS
    };
    json!({
        "apiVersion": "readyroll.dev/v1alpha1",
        "kind": "App",
        "metadata": {"name": name},
        "spec": {
            "image": TESTAPP,
            "imagePullPolicy": "Never",
            "port": TESTAPP_PORT,
            // PM2's contract through the shim: ready over IPC, SIGINT on stop.
            "script": "/testapp",
            "interpreter": "none",
            "waitReady": true,
            "listenTimeout": 4000,
            "killTimeout": 1600,
            "rollout": {"drainDelayMs": DRAIN_DELAY_MS, "drainMaxMs": max},
            "env": {"READINESS": "pm2", "READY_DELAY_MS": "500", "STOP_SIGNAL": "graceful"},
        },
    })
}

fn check_exit(problems: &mut Vec<String>, name: &str, stop: &Stop, low: Duration, high: Duration) {
    match stop.exited {
        Some(exited) if exited >= low && exited <= high => {}
        other => problems.push(format!(
            "{name}: app exit seen {other:?} after the deletion, expected {low:?}..={high:?} ({})",
            stop.exit_description()
        )),
    }
}

async fn only_pod(env: &NodeEnv, name: &str) -> Pod {
    let list = env
        .ns
        .api::<Pod>()
        .list(&ListParams::default().labels(&format!("app.kubernetes.io/instance={name}")))
        .await
        .must("list pods");
    assert_eq!(list.items.len(), 1, "{name} has one pod");
    list.items.into_iter().next().expect("one pod")
}

/// The app container's log lines, followed until the container exits.
fn follow_logs(env: &NodeEnv, pod: &str) -> tokio::task::JoinHandle<Vec<String>> {
    let pods = env.ns.api::<Pod>();
    let pod = pod.to_owned();
    tokio::spawn(async move {
        let params = LogParams {
            follow: true,
            container: Some("app".into()),
            ..Default::default()
        };
        let Ok(stream) = pods.log_stream(&pod, &params).await else {
            return Vec::new();
        };
        // Lines up to the end of the stream, or up to an error when the pod goes first.
        let mut lines = stream.lines();
        let mut seen = Vec::new();
        while let Ok(Some(line)) = lines.try_next().await {
            seen.push(line);
        }
        seen
    })
}
