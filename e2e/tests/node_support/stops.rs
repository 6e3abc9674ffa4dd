//! Timing a pod's stop: delete it and watch it from before the deletion until it is gone.

use std::time::{Duration, Instant};

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::{ContainerStateTerminated, Pod};
use kube::{
    api::{DeleteParams, ListParams},
    runtime::{watcher, WatchStreamExt},
    ResourceExt,
};
use readyroll_e2e::Must;

use super::NodeEnv;

/// How a pod went after its deletion.
pub struct Stop {
    /// When the deletion was sent.
    pub deleted_at: Instant,
    /// When the app container was first seen terminated.
    pub exited: Option<Duration>,
    /// When the pod object was gone.
    pub gone: Duration,
    /// The app container's terminated state.
    pub terminated: Option<ContainerStateTerminated>,
}

impl Stop {
    pub fn exit_description(&self) -> String {
        self.terminated
            .as_ref()
            .map(|t| {
                format!(
                    "exit code {}{}",
                    t.exit_code,
                    t.reason
                        .as_ref()
                        .map(|r| format!(" ({r})"))
                        .unwrap_or_default()
                )
            })
            .unwrap_or_else(|| "container exit not seen".to_owned())
    }
}

/// Deletes the single pod of App `name` and times its stop, watching the pod from before
/// the deletion until it is gone.
pub async fn stop_pod_of(env: &NodeEnv, name: &str) -> Stop {
    let pods = env.ns.api::<Pod>();
    let list = pods
        .list(&ListParams::default().labels(&format!("app.kubernetes.io/instance={name}")))
        .await
        .must("list pods");
    assert_eq!(list.items.len(), 1, "{name} has one pod");
    let pod = list.items[0].name_any();
    let mut stream = watcher(
        pods.clone(),
        watcher::Config::default().fields(&format!("metadata.name={pod}")),
    )
    .default_backoff()
    .boxed();
    // The watch is established (its initial list seen) before the deletion starts.
    loop {
        match stream.try_next().await.must("watch pod") {
            Some(watcher::Event::InitDone) => break,
            Some(_) => continue,
            None => panic!("pod watch ended"),
        }
    }
    let deleted = Instant::now();
    pods.delete(&pod, &DeleteParams::default())
        .await
        .must("delete pod");
    let mut stop = Stop {
        deleted_at: deleted,
        exited: None,
        gone: Duration::ZERO,
        terminated: None,
    };
    let deadline = deleted + Duration::from_secs(60);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let event = tokio::time::timeout(left, stream.try_next())
            .await
            .unwrap_or_else(|_| panic!("pod {pod} still there 60 s after deletion"))
            .must("watch pod");
        let (seen, gone) = match event {
            Some(watcher::Event::Apply(p) | watcher::Event::InitApply(p)) => (p, false),
            Some(watcher::Event::Delete(p)) => (p, true),
            Some(_) => continue,
            None => panic!("pod watch ended"),
        };
        if let Some(t) = app_terminated(&seen) {
            stop.exited.get_or_insert(deleted.elapsed());
            stop.terminated = Some(t);
        }
        if gone {
            stop.gone = deleted.elapsed();
            return stop;
        }
    }
}

fn app_terminated(pod: &Pod) -> Option<ContainerStateTerminated> {
    pod.status
        .as_ref()?
        .container_statuses
        .as_ref()?
        .first()?
        .state
        .as_ref()?
        .terminated
        .clone()
}
