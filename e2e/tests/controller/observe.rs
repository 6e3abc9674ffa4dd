//! Watching and comparing what the cluster holds.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::api::events::v1::Event;
use kube::api::ListParams;
use kube::runtime::{watcher, WatchStreamExt};
use kube::{Api, ResourceExt};
use readyroll::crd::App;
use readyroll_e2e::conditions::is_pod_ready;
use readyroll_e2e::Must;
use serde_json::Value;
use tokio::task::JoinHandle;

/// Follows the pods of one App for the whole test and remembers the fewest
/// Ready pods seen since [`ReadyPods::arm`]. A pod being deleted does not
/// count as Ready: it is on its way out of load balancing.
pub struct ReadyPods {
    state: Arc<Mutex<Tracked>>,
    task: JoinHandle<()>,
}

#[derive(Default)]
struct Tracked {
    /// Pod name -> (Ready and not terminating, revision annotation).
    pods: BTreeMap<String, (bool, String)>,
    armed: bool,
    min_ready: Option<usize>,
    /// Every distinct Ready count seen while armed, in order.
    timeline: Vec<usize>,
}

impl Tracked {
    fn ready(&self) -> usize {
        self.pods.values().filter(|(ready, _)| *ready).count()
    }

    fn observe(&mut self) {
        if !self.armed {
            return;
        }
        let ready = self.ready();
        self.min_ready = Some(self.min_ready.map_or(ready, |m| m.min(ready)));
        if self.timeline.last() != Some(&ready) {
            self.timeline.push(ready);
        }
    }
}

impl ReadyPods {
    pub fn follow(pods: Api<Pod>, app: &str) -> Self {
        let state = Arc::new(Mutex::new(Tracked::default()));
        let shared = state.clone();
        let config =
            watcher::Config::default().labels(&format!("app.kubernetes.io/instance={app}"));
        let task = tokio::spawn(async move {
            let mut events = watcher(pods, config).default_backoff().boxed();
            while let Some(event) = events.next().await {
                let Ok(event) = event else { continue };
                let mut tracked = shared.lock().unwrap_or_else(PoisonError::into_inner);
                match event {
                    watcher::Event::Apply(pod) | watcher::Event::InitApply(pod) => {
                        let serving =
                            is_pod_ready(&pod) && pod.metadata.deletion_timestamp.is_none();
                        let revision = pod
                            .annotations()
                            .get(readyroll::core::REVISION_ANNOTATION)
                            .cloned()
                            .unwrap_or_default();
                        tracked.pods.insert(pod.name_any(), (serving, revision));
                    }
                    watcher::Event::Delete(pod) => {
                        tracked.pods.remove(&pod.name_any());
                    }
                    watcher::Event::Init => tracked.pods.clear(),
                    watcher::Event::InitDone => {}
                }
                tracked.observe();
            }
        });
        ReadyPods { state, task }
    }

    fn with<T>(&self, f: impl FnOnce(&mut Tracked) -> T) -> T {
        f(&mut self.state.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// Starts counting the minimum from the current state on.
    pub fn arm(&self) {
        self.with(|t| {
            t.armed = true;
            t.observe();
        });
    }

    pub fn min_ready(&self) -> Option<usize> {
        self.with(|t| t.min_ready)
    }

    pub fn timeline(&self) -> Vec<usize> {
        self.with(|t| t.timeline.clone())
    }

    pub fn ready_now(&self) -> usize {
        self.with(|t| t.ready())
    }

    /// Ready pods per revision right now.
    pub fn ready_by_revision(&self) -> BTreeMap<String, usize> {
        self.with(|t| {
            let mut by = BTreeMap::new();
            for (ready, revision) in t.pods.values() {
                if *ready {
                    *by.entry(revision.clone()).or_insert(0) += 1;
                }
            }
            by
        })
    }

    /// Pods (ready or not) of `revision` right now.
    pub fn pods_of(&self, revision: &str) -> usize {
        self.with(|t| t.pods.values().filter(|(_, r)| r == revision).count())
    }

    /// Waits until `ready_now()` is `n`.
    pub async fn wait_ready(&self, n: usize, timeout: Duration) {
        let deadline = tokio::time::Instant::now() + timeout;
        while self.ready_now() != n {
            assert!(
                tokio::time::Instant::now() < deadline,
                "{n} Ready pods expected within {timeout:?}, have {}",
                self.ready_now()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for ReadyPods {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Asserts that every field of `expected` is in `actual` with the same
/// value. The API server adds defaults and metadata; those extras are fine,
/// anything readyroll asked for must be there unchanged.
pub fn assert_contains(actual: &Value, expected: &Value, path: &str) {
    match (actual, expected) {
        (Value::Object(a), Value::Object(e)) => {
            for (key, value) in e {
                let here = format!("{path}.{key}");
                match a.get(key) {
                    Some(found) => assert_contains(found, value, &here),
                    None => panic!("{here} is missing; expected {value}"),
                }
            }
        }
        (Value::Array(a), Value::Array(e)) => {
            assert_eq!(a.len(), e.len(), "{path}: {actual} vs expected {expected}");
            for (i, (found, value)) in a.iter().zip(e).enumerate() {
                assert_contains(found, value, &format!("{path}[{i}]"));
            }
        }
        _ => assert_eq!(actual, expected, "{path}"),
    }
}

/// Reasons of the Events readyroll recorded about the App, oldest first; an
/// Event that stands for a series counts as often as it happened.
pub async fn event_reasons(events: Api<Event>, app: &App) -> Vec<String> {
    let mut list: Vec<Event> = events
        .list(&ListParams::default())
        .await
        .must("list events")
        .items
        .into_iter()
        .filter(|e| {
            e.regarding.as_ref().is_some_and(|r| {
                r.kind.as_deref() == Some("App")
                    && r.name.as_deref() == Some(app.name_any().as_str())
            }) && e.reporting_controller.as_deref() == Some(readyroll::controller::CONTROLLER_NAME)
        })
        .collect();
    list.sort_by_key(|e| e.event_time.as_ref().map(|t| t.0));
    list.into_iter()
        .flat_map(|e| {
            let times = e.series.as_ref().map_or(1, |s| s.count.max(1));
            std::iter::repeat_n(
                e.reason.unwrap_or_default(),
                usize::try_from(times).unwrap_or(1),
            )
        })
        .collect()
}

/// `(status, reason)` of the App's condition `type_`.
pub fn condition(app: &App, type_: &str) -> Option<(String, String)> {
    app.status
        .as_ref()?
        .conditions
        .iter()
        .find(|c| c.type_ == type_)
        .map(|c| (c.status.clone(), c.reason.clone()))
}

/// A wait condition on the App's status.
pub fn app_status(f: impl Fn(&App) -> bool) -> impl kube::runtime::wait::Condition<App> {
    move |app: Option<&App>| app.is_some_and(&f)
}

/// The App has caught up with its spec and its rollout of `revision` is complete.
pub fn rolled_out(app: &App) -> bool {
    let status = app.status.as_ref();
    status.and_then(|s| s.observed_generation) == app.metadata.generation
        && status.and_then(|s| s.last_good_revision.as_ref())
            == status.and_then(|s| s.current_revision.as_ref())
        && status.and_then(|s| s.current_revision.as_ref()).is_some()
        && condition(app, "Progressing") == Some(("False".into(), "RolloutComplete".into()))
}
