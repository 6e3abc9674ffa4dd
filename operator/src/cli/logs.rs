//! `readyroll logs APP [-f] [--lines N]`, like `pm2 logs`: the output of
//! every instance, interleaved, each line prefixed `INDEX|APP | `, with
//! the instance index the pod holds (PM2's `NODE_APP_INSTANCE`, see
//! `readyroll_core::instance_index`) or, for a pod without one, its name.
//!
//! Without `-f` the last N lines of each pod are merged in time order (the
//! API server's timestamps). With `-f` every pod is followed, including
//! those a rollout starts later, until interrupted.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write as _;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::Args;
use futures::{AsyncBufReadExt, StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{ListParams, LogParams};
use kube::runtime::watcher;
use kube::{Api, ResourceExt};
use readyroll_core::build::{APP_CONTAINER, INDEX_ANNOTATION};
use tokio::sync::mpsc;

use super::target::TargetArgs;

#[derive(Debug, Args)]
pub struct LogsArgs {
    /// The App.
    pub app: String,

    /// Follow the output, of new pods too (a rollout's), until interrupted.
    #[arg(long, short = 'f')]
    pub follow: bool,

    /// Lines of each pod's past output to show first (as `pm2 logs --lines`).
    #[arg(long, value_name = "N", default_value_t = 15)]
    pub lines: i64,
}

pub async fn run(target: &TargetArgs, args: &LogsArgs) -> anyhow::Result<ExitCode> {
    let target = target.connect().await?;
    let app = target.app(&args.app).await?;
    let selector = app
        .status
        .as_ref()
        .and_then(|s| s.selector.clone())
        .with_context(|| format!("App {} has no pods yet (no status.selector)", args.app))?;
    let pods: Api<Pod> = Api::namespaced(target.client.clone(), &target.namespace);
    if args.follow {
        follow(pods, &selector, &args.app, args.lines).await
    } else {
        recent(&pods, &selector, &args.app, args.lines).await
    }
}

/// The prefix of a pod's lines: `0|web | `, or `web-5d8f-x2|web | `.
pub fn prefix(pod: &Pod, app: &str) -> String {
    let id = pod
        .annotations()
        .get(INDEX_ANNOTATION)
        .cloned()
        .unwrap_or_else(|| pod.name_any());
    format!("{id}|{app} | ")
}

/// Splits `2026-01-02T03:04:05.123456789Z text` into its time and text.
fn timestamped(line: &str) -> (String, &str) {
    match line.split_once(' ') {
        Some((time, text)) if time.ends_with('Z') => (time.to_string(), text),
        _ => (String::new(), line),
    }
}

/// The last `lines` of every pod, merged by time.
async fn recent(
    pods: &Api<Pod>,
    selector: &str,
    app: &str,
    lines: i64,
) -> anyhow::Result<ExitCode> {
    let listed = pods
        .list(&ListParams::default().labels(selector))
        .await
        .context("listing the App's pods")?
        .items;
    let mut merged: Vec<(String, String)> = Vec::new();
    for pod in &listed {
        let params = LogParams {
            container: Some(APP_CONTAINER.into()),
            tail_lines: Some(lines),
            timestamps: true,
            ..LogParams::default()
        };
        let text = match pods.logs(&pod.name_any(), &params).await {
            Ok(text) => text,
            // A pod that has not started has no output yet.
            Err(kube::Error::Api(e)) if e.code == 400 => continue,
            Err(e) => return Err(e).with_context(|| format!("reading pod {}", pod.name_any())),
        };
        let prefix = prefix(pod, app);
        merged.extend(text.lines().map(|l| {
            let (time, text) = timestamped(l);
            (time, format!("{prefix}{text}"))
        }));
    }
    // RFC 3339 in UTC with the same precision sorts as text; the sort is
    // stable, so each pod's own order stays.
    merged.sort_by(|a, b| a.0.cmp(&b.0));
    let text: String = merged.into_iter().map(|(_, l)| l + "\n").collect();
    super::write_stdout(&text)?;
    Ok(ExitCode::SUCCESS)
}

/// One line of a pod's output.
struct Line {
    pod: String,
    text: String,
}

/// A pod's container as it runs now: a restarted container is a new stream.
type StreamKey = (String, i32);

/// Follows every pod of the App, those started later too.
async fn follow(pods: Api<Pod>, selector: &str, app: &str, lines: i64) -> anyhow::Result<ExitCode> {
    let (tx, mut rx) = mpsc::channel::<Line>(1024);
    let config = watcher::Config::default().labels(selector);
    let mut events = watcher::watcher(pods.clone(), config).boxed();
    let mut prefixes: BTreeMap<String, String> = BTreeMap::new();
    // Every container instance streamed so far: each is streamed once, so
    // a stopped one is not printed again when its pod changes.
    let mut streamed: BTreeSet<StreamKey> = BTreeSet::new();
    // Pods seen in the first listing show their last `lines`; pods that
    // start later show everything they print.
    let mut initial = true;
    let mut stdout = std::io::stdout();
    loop {
        tokio::select! {
            event = events.try_next() => {
                let event = event.context("watching the App's pods")?;
                let Some(event) = event else { anyhow::bail!("the watch of the App's pods ended") };
                let (pods_now, listed) = match event {
                    watcher::Event::Apply(pod) | watcher::Event::InitApply(pod) => (vec![pod], false),
                    watcher::Event::InitDone => (Vec::new(), true),
                    watcher::Event::Init | watcher::Event::Delete(_) => (Vec::new(), false),
                };
                for pod in pods_now {
                    let name = pod.name_any();
                    prefixes.insert(name.clone(), prefix(&pod, app));
                    let Some(key) = running_key(&pod) else { continue };
                    if streamed.insert(key.clone()) {
                        let tail = initial.then_some(lines);
                        tokio::spawn(stream(pods.clone(), key, tail, tx.clone()));
                    }
                }
                if listed {
                    initial = false;
                }
            }
            Some(Line { pod, text }) = rx.recv() => {
                // The index may be written after the pod started.
                let prefix = prefixes.get(&pod).cloned().unwrap_or_else(|| format!("{pod}|{app} | "));
                if writeln!(stdout, "{prefix}{text}").and_then(|()| stdout.flush()).is_err() {
                    // The reader went away (`| head`).
                    return Ok(ExitCode::SUCCESS);
                }
            }
        }
    }
}

/// The stream key of a pod whose app container has started.
fn running_key(pod: &Pod) -> Option<StreamKey> {
    let status = pod.status.as_ref()?;
    let container = status
        .container_statuses
        .as_ref()?
        .iter()
        .find(|c| c.name == APP_CONTAINER)?;
    let state = container.state.as_ref()?;
    (state.running.is_some() || state.terminated.is_some())
        .then(|| (pod.name_any(), container.restart_count))
}

/// Sends the pod's output line by line until its container stops.
async fn stream(pods: Api<Pod>, key: StreamKey, tail: Option<i64>, tx: mpsc::Sender<Line>) {
    let params = LogParams {
        container: Some(APP_CONTAINER.into()),
        follow: true,
        tail_lines: tail,
        ..LogParams::default()
    };
    if let Ok(reader) = pods.log_stream(&key.0, &params).await {
        let mut lines = reader.lines();
        while let Some(Ok(text)) = lines.next().await {
            let line = Line {
                pod: key.0.clone(),
                text,
            };
            if tx.send(line).await.is_err() {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_prefixed_with_the_instance_index_else_the_pod_name() {
        let mut pod = Pod::default();
        pod.metadata.name = Some("web-abc".into());
        assert_eq!(prefix(&pod, "web"), "web-abc|web | ");
        pod.annotations_mut()
            .insert(INDEX_ANNOTATION.into(), "2".into());
        assert_eq!(prefix(&pod, "web"), "2|web | ");
    }

    #[test]
    fn api_server_timestamps_are_split_off() {
        assert_eq!(
            timestamped("2026-01-02T03:04:05.1Z hello world"),
            ("2026-01-02T03:04:05.1Z".to_string(), "hello world")
        );
        assert_eq!(timestamped("no time"), (String::new(), "no time"));
    }
}
