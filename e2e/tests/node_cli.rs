//! `readyroll reload` and `readyroll logs` on a real node: three instances of a PM2-style
//! Node app behind a NodePort take continuous load while `readyroll reload` replaces each
//! of them, and not one request fails; `readyroll logs -f`, started before the reload,
//! shows every instance's output prefixed with its index (`0|web | ...`), the new pods'
//! too, and `readyroll logs` without -f shows each instance's recent lines.
mod node_support;

use std::collections::BTreeMap;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use node_support::{
    pods::PodTracker,
    wait_serving,
    workload::{Desired, Workload},
    NodeEnv, NODE_APP, NODE_APP_PORT,
};
use readyroll::crd::App;
use readyroll_e2e::load::{Load, LoadConfig};
use readyroll_e2e::{readyroll_binary, Must};
use serde_json::json;

const NAME: &str = "web";
const INSTANCES: i32 = 3;
const TIMEOUT: Duration = Duration::from_secs(90);

fn readyroll(env: &NodeEnv, args: &[&str]) -> Command {
    let mut command = Command::new(readyroll_binary());
    command
        .args(args)
        .args(["-n", env.ns.name()])
        .env("KUBECONFIG", env.cluster.kubeconfig());
    command
}

async fn run(env: &NodeEnv, args: &[&str]) -> (bool, String) {
    let mut command = readyroll(env, args);
    let out = tokio::task::spawn_blocking(move || command.output().must("run readyroll"))
        .await
        .must("readyroll task");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// `readyroll logs -f` in the background, its output into a file.
fn follow_logs(env: &NodeEnv, path: &std::path::Path) -> Child {
    let file = std::fs::File::create(path).must("logs output file");
    readyroll(env, &["logs", NAME, "-f", "--lines", "50"])
        .stdout(file)
        .stderr(Stdio::inherit())
        .spawn()
        .must("start readyroll logs -f")
}

/// Per instance index, the lines `logs` printed for it (`INDEX|web | text`).
fn by_index(output: &str) -> BTreeMap<String, Vec<String>> {
    let mut lines: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for line in output.lines() {
        if let Some((index, text)) = line
            .split_once(&format!("|{NAME} | "))
            .filter(|(i, _)| i.chars().all(|c| c.is_ascii_digit()))
        {
            lines
                .entry(index.to_string())
                .or_default()
                .push(text.to_string());
        }
    }
    lines
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a real node and the installed operator: run by the node tier"]
async fn reload_under_load_fails_no_request_and_logs_follow_every_instance() {
    let env = NodeEnv::start("cli").await;
    let tracker = PodTracker::start(env.ns.api());
    let (node_port, addr) = env.node_port().await;
    let manifest = json!({
        "apiVersion": "readyroll.dev/v1alpha1",
        "kind": "App",
        "metadata": {"name": NAME},
        "spec": {
            "image": NODE_APP,
            "imagePullPolicy": "Never",
            "script": "/app/server.js",
            "waitReady": true,
            "port": NODE_APP_PORT,
            "env": {"READY_DELAY_MS": "1000"},
            "service": {"type": "NodePort", "nodePort": node_port},
        }
    });
    let workload = Workload::app(&env.ns, manifest);
    let desired = Desired::new(NODE_APP, "v1", INSTANCES);
    workload.apply(&desired).await.must("create the App");
    workload
        .wait_settled(&desired, TIMEOUT)
        .await
        .must("App available");
    wait_serving(addr, "v1").await;

    let log_path = std::env::temp_dir().join(format!("readyroll-logs-{}.txt", env.ns.name()));
    let mut logs = follow_logs(&env, &log_path);
    let load = Load::start(LoadConfig::new(addr)).must("start the load");
    tokio::time::sleep(Duration::from_secs(2)).await;
    let before = workload.pod_names().await.must("pods");

    let (ok, out) = run(&env, &["reload", NAME]).await;
    assert!(ok, "{out}");
    let (ok, out) = run(&env, &["status", NAME, "--watch", "--timeout", "90s"]).await;
    assert!(ok, "status --watch after reload: {out}");
    workload
        .wait_old_pods_gone(TIMEOUT)
        .await
        .must("old pods gone");
    tokio::time::sleep(Duration::from_secs(2)).await;
    let run_ = load.finish();
    let tally = run_.tally();
    eprintln!(
        "readyroll reload under load: {} requests, {} failed, {:.1}s",
        tally.requests,
        tally.failed,
        run_.duration.as_secs_f64()
    );
    assert!(tally.requests > 100, "{tally:?}");
    assert_eq!(
        tally.failed,
        0,
        "{:?}",
        run_.failures().take(20).collect::<Vec<_>>()
    );
    let after = workload.pod_names().await.must("pods");
    assert_eq!(after.len(), INSTANCES as usize, "{after:?}");
    assert!(
        before.is_disjoint(&after),
        "every instance was replaced: {before:?} -> {after:?}"
    );
    for host in tally.hosts.keys().filter(|h| !h.is_empty()) {
        assert_eq!(tracker.ever_ready(host), Some(true), "{host}");
    }
    let app = env.ns.api::<App>().get(NAME).await.must("App");
    assert!(
        app.spec.restarted_at.is_some(),
        "reload is a field of the App"
    );

    // -f followed the old pods and the ones the reload started: each index
    // started twice ("listening on" from its old and its new pod).
    tokio::time::sleep(Duration::from_secs(1)).await;
    logs.kill().must("stop logs -f");
    logs.wait().must("logs -f exits");
    let followed = std::fs::read_to_string(&log_path).must("read logs output");
    let _ = std::fs::remove_file(&log_path);
    let lines = by_index(&followed);
    let indices: Vec<&String> = lines.keys().collect();
    assert_eq!(indices, ["0", "1", "2"], "{followed}");
    for (index, texts) in &lines {
        let started = texts
            .iter()
            .filter(|t| t.starts_with("listening on"))
            .count();
        assert!(started >= 2, "index {index} started twice: {texts:?}");
        assert!(
            texts.iter().any(|t| t.starts_with("stopping (SIGINT)")),
            "index {index}'s old pod stopped gracefully: {texts:?}"
        );
    }

    // Without -f: the recent lines of every instance, prefixed.
    let (ok, recent) = run(&env, &["logs", NAME, "--lines", "20"]).await;
    assert!(ok, "{recent}");
    let lines = by_index(&recent);
    assert_eq!(
        lines.keys().collect::<Vec<_>>(),
        ["0", "1", "2"],
        "{recent}"
    );
    assert!(
        lines.values().all(|t| t.iter().any(|l| l == "sent ready")),
        "{recent}"
    );
}
