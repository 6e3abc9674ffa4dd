//! PM2's `NODE_APP_INSTANCE`: every running pod of an App holds a distinct
//! index 0..N-1 in its `readyroll.dev/instance` annotation, through the
//! Deployment controller's rollouts and scaling (kwok runs the pods).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use kube::runtime::{watcher, WatchStreamExt};
use kube::{Api, ResourceExt};
use readyroll::core::{INDEX_ANNOTATION, REVISION_ANNOTATION};
use readyroll::crd::{App, Instances};
use readyroll_e2e::{wait_for, Must};
use tokio::task::JoinHandle;

use crate::harness::{Env, TIMEOUT};
use crate::observe::{app_status, rolled_out};

/// One pod as the watch last saw it.
#[derive(Clone, Debug)]
struct Seen {
    index: Option<String>,
    terminating: bool,
    revision: String,
}

#[derive(Default)]
struct Tracked {
    pods: BTreeMap<String, Seen>,
    /// Changes observed so far.
    changes: usize,
    /// States in which two running pods of one revision shared an index.
    same_revision_duplicates: Vec<String>,
    /// While armed: states in which two running pods shared an index at all.
    armed: bool,
    duplicates: Vec<String>,
}

impl Tracked {
    /// Running (not terminating) pods by index, with their revisions.
    fn holders(&self) -> BTreeMap<String, Vec<(String, String)>> {
        let mut by: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
        for (name, seen) in &self.pods {
            if let (Some(index), false) = (&seen.index, seen.terminating) {
                by.entry(index.clone())
                    .or_default()
                    .push((name.clone(), seen.revision.clone()));
            }
        }
        by
    }

    fn check(&mut self) {
        self.changes += 1;
        for (index, holders) in self.holders() {
            let revisions: BTreeSet<&String> = holders.iter().map(|(_, r)| r).collect();
            if revisions.len() < holders.len() {
                self.same_revision_duplicates
                    .push(format!("index {index}: {holders:?}"));
            }
            if self.armed && holders.len() > 1 {
                self.duplicates.push(format!("index {index}: {holders:?}"));
            }
        }
    }
}

/// Follows the App's pods and checks every state the watch delivers.
struct Indices {
    state: Arc<Mutex<Tracked>>,
    task: JoinHandle<()>,
}

impl Indices {
    fn follow(pods: Api<Pod>, app: &str) -> Self {
        let state = Arc::new(Mutex::new(Tracked::default()));
        let shared = state.clone();
        let config =
            watcher::Config::default().labels(&format!("app.kubernetes.io/instance={app}"));
        let task = tokio::spawn(async move {
            let mut events = watcher(pods, config).default_backoff().boxed();
            while let Some(Ok(event)) = events.next().await {
                let mut tracked = shared.lock().unwrap_or_else(PoisonError::into_inner);
                match event {
                    watcher::Event::Apply(pod) | watcher::Event::InitApply(pod) => {
                        let annotation = |key: &str| pod.annotations().get(key).cloned();
                        let seen = Seen {
                            index: annotation(INDEX_ANNOTATION),
                            terminating: pod.metadata.deletion_timestamp.is_some(),
                            revision: annotation(REVISION_ANNOTATION).unwrap_or_default(),
                        };
                        tracked.pods.insert(pod.name_any(), seen);
                    }
                    watcher::Event::Delete(pod) => {
                        tracked.pods.remove(&pod.name_any());
                    }
                    watcher::Event::Init => tracked.pods.clear(),
                    watcher::Event::InitDone => {}
                }
                tracked.check();
            }
        });
        Indices { state, task }
    }

    fn with<T>(&self, f: impl FnOnce(&mut Tracked) -> T) -> T {
        f(&mut self.state.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// The indices of the running pods when exactly `expected` run, each
    /// of `revision` (any when `None`) and holding an index.
    fn settled(&self, revision: Option<&str>) -> Option<Vec<String>> {
        self.with(|t| {
            let running: Vec<&Seen> = t.pods.values().filter(|s| !s.terminating).collect();
            let all_of_revision = running
                .iter()
                .all(|s| revision.is_none_or(|r| s.revision == r));
            let mut indices: Vec<String> = running.iter().filter_map(|s| s.index.clone()).collect();
            indices.sort();
            (all_of_revision && indices.len() == running.len()).then_some(indices)
        })
    }

    async fn wait_for(&self, expected: &[&str], revision: Option<&str>, what: &str) {
        let deadline = tokio::time::Instant::now() + TIMEOUT;
        loop {
            if self
                .settled(revision)
                .as_deref()
                .is_some_and(|i| i == expected)
            {
                return;
            }
            let pods = self.with(|t| format!("{:?}", t.pods));
            assert!(
                tokio::time::Instant::now() < deadline,
                "{what}: indices {expected:?} expected within {TIMEOUT:?}; pods: {pods}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for Indices {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn scaled(app: &App, instances: i32) -> App {
    let mut app = app.clone();
    app.spec.instances = Some(Instances::Count(instances));
    app
}

fn current_revision(app: &App) -> Option<String> {
    app.status.as_ref()?.current_revision.clone()
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs a cluster: run by the api tier"]
async fn every_running_pod_holds_a_distinct_instance_index() {
    let env = Env::start("instance-index", 8).await;
    let apps = env.ns.api::<App>();
    // A script: the runtime shim is on, so the pods read an index.
    let mut web = env.app("web", 3);
    web.spec.script = Some("server.js".into());
    let indices = Indices::follow(env.ns.api::<Pod>(), "web");
    env.apply(&web).await;
    let first = wait_for(&apps, "web", app_status(rolled_out), TIMEOUT)
        .await
        .must("first revision rolled out");
    let first_revision = current_revision(&first);
    indices
        .wait_for(
            &["0", "1", "2"],
            first_revision.as_deref(),
            "three instances",
        )
        .await;

    // A rollout: each new pod takes over the index of an old one.
    web.spec.env.insert("RELEASE".into(), "2".into());
    env.apply(&web).await;
    let second = wait_for(
        &apps,
        "web",
        app_status(|a| rolled_out(a) && current_revision(a) != first_revision),
        TIMEOUT,
    )
    .await
    .must("second revision rolled out");
    let second_revision = current_revision(&second);
    indices
        .wait_for(
            &["0", "1", "2"],
            second_revision.as_deref(),
            "after the rollout",
        )
        .await;

    // Scale 3 -> 1 -> 3: instance 0 stays, and no two running pods ever
    // share an index.
    indices.with(|t| t.armed = true);
    env.apply(&scaled(&web, 1)).await;
    indices
        .wait_for(&["0"], second_revision.as_deref(), "scaled down to 1")
        .await;
    env.apply(&scaled(&web, 3)).await;
    indices
        .wait_for(
            &["0", "1", "2"],
            second_revision.as_deref(),
            "scaled up to 3",
        )
        .await;

    let (changes, duplicates, same_revision) = indices.with(|t| {
        (
            t.changes,
            t.duplicates.clone(),
            t.same_revision_duplicates.clone(),
        )
    });
    eprintln!("instance-index: {changes} pod changes observed");
    assert!(
        same_revision.is_empty(),
        "pods of one revision shared an index: {same_revision:?}"
    );
    assert!(
        duplicates.is_empty(),
        "running pods shared an index while scaling: {duplicates:?}"
    );
}
