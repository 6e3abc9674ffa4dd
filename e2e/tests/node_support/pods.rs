//! Which pods of a namespace ever became Ready, watched for the whole test: a response may
//! only ever come from one of them.
use std::{
    collections::BTreeMap,
    sync::{Arc, Mutex},
};

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::Pod;
use kube::{
    runtime::{watcher, WatchStreamExt},
    Api, ResourceExt,
};
use readyroll_e2e::conditions::is_pod_ready;

/// Pod name → whether it was ever seen Ready, and the highest restart count seen among its
/// containers.
pub struct PodTracker {
    seen: Arc<Mutex<BTreeMap<String, (bool, i32)>>>,
    task: tokio::task::JoinHandle<()>,
}

impl PodTracker {
    pub fn start(pods: Api<Pod>) -> PodTracker {
        let seen = Arc::new(Mutex::new(BTreeMap::new()));
        let record = Arc::clone(&seen);
        let task = tokio::spawn(async move {
            let mut stream = watcher(pods, watcher::Config::default())
                .default_backoff()
                .touched_objects()
                .boxed();
            loop {
                match stream.try_next().await {
                    Ok(Some(pod)) => {
                        let ready = is_pod_ready(&pod);
                        let restarts = pod
                            .status
                            .iter()
                            .flat_map(|s| s.container_statuses.iter().flatten())
                            .map(|c| c.restart_count)
                            .max()
                            .unwrap_or(0);
                        let mut seen = record.lock().unwrap_or_else(|p| p.into_inner());
                        let entry = seen.entry(pod.name_any()).or_insert((false, 0));
                        entry.0 |= ready;
                        entry.1 = entry.1.max(restarts);
                    }
                    Ok(None) => break,
                    // The backoff retries; a gap only delays what is seen.
                    Err(err) => eprintln!("pod watch error (retrying): {err}"),
                }
            }
        });
        PodTracker { seen, task }
    }

    /// `Some(true)` when the pod was seen Ready, `Some(false)` when seen but never Ready,
    /// `None` when never seen.
    pub fn ever_ready(&self, name: &str) -> Option<bool> {
        self.seen
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(name)
            .map(|(ready, _)| *ready)
    }

    /// Every pod seen, with the highest container restart count it ever reported.
    pub fn restarts(&self) -> BTreeMap<String, i32> {
        self.seen
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(|(name, (_, restarts))| (name.clone(), *restarts))
            .collect()
    }
}

impl Drop for PodTracker {
    fn drop(&mut self) {
        self.task.abort();
    }
}
