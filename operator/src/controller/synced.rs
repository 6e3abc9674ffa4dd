//! Whether the watches have delivered their first full list yet.
//!
//! A reflector `Store` can tell this too, but its readiness signal wakes
//! only the last task waiting on it (it is a single oneshot channel): with
//! several reconciles waiting, or the Controller's own start-up wait, the
//! others would never wake. These flags are `watch` channels, which wake
//! every waiter, and the last cache to fill marks the process ready.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use kube::runtime::watcher;
use tokio::sync::watch;
use tracing::{debug, info};

use crate::telemetry::Health;

/// Counts the caches still filling; readiness (`/readyz`) follows when
/// none is left.
pub struct CachesReady {
    remaining: AtomicUsize,
    health: Health,
}

impl CachesReady {
    pub fn new(caches: usize, health: Health) -> Arc<Self> {
        Arc::new(CachesReady {
            remaining: AtomicUsize::new(caches),
            health,
        })
    }

    fn one_synced(&self) {
        if self.remaining.fetch_sub(1, Ordering::AcqRel) == 1 {
            info!("caches synced");
            self.health.set_ready(true);
        }
    }
}

/// Set by a watch stream when its initial list is complete.
pub struct SyncFlag {
    sender: watch::Sender<bool>,
    /// What is listed, for the log.
    what: &'static str,
    all: Arc<CachesReady>,
}

/// Waited on by anyone who needs the full list.
#[derive(Clone, Debug)]
pub struct Synced(watch::Receiver<bool>);

/// A flag for the list of `what`, one of the caches `all` counts.
pub fn sync_flag(what: &'static str, all: &Arc<CachesReady>) -> (SyncFlag, Synced) {
    let (sender, rx) = watch::channel(false);
    let flag = SyncFlag {
        sender,
        what,
        all: all.clone(),
    };
    (flag, Synced(rx))
}

impl SyncFlag {
    /// Call for every event the watch stream yields, after the store saw it.
    pub fn observe<K>(&self, event: &watcher::Event<K>) {
        if matches!(event, watcher::Event::InitDone) && !self.sender.send_replace(true) {
            debug!(what = self.what, "full list received");
            self.all.one_synced();
        }
    }
}

impl Synced {
    /// Already synced: for stores the tests fill by hand.
    #[cfg(test)]
    pub fn done() -> Self {
        Synced(watch::channel(true).1)
    }

    /// Waits until the first full list arrived. False when the watch ended
    /// before that (the controller is shutting down).
    pub async fn wait(&self) -> bool {
        self.0.clone().wait_for(|synced| *synced).await.is_ok()
    }
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::core::v1::Node;

    use super::*;

    #[tokio::test]
    async fn every_waiter_wakes_and_the_last_cache_makes_ready() {
        let health = Health::new();
        let all = CachesReady::new(2, health.clone());
        let (nodes, nodes_synced) = sync_flag("nodes", &all);
        let (pods, _) = sync_flag("pods", &all);
        let waiters: Vec<_> = (0..3)
            .map(|_| {
                let synced = nodes_synced.clone();
                tokio::spawn(async move { synced.wait().await })
            })
            .collect();
        tokio::task::yield_now().await;
        nodes.observe::<Node>(&watcher::Event::Init);
        nodes.observe::<Node>(&watcher::Event::InitDone);
        for waiter in waiters {
            assert!(waiter.await.unwrap());
        }
        assert!(!health.is_ready(), "pods are not listed yet");
        // A relist after a watch error must not count twice.
        nodes.observe::<Node>(&watcher::Event::InitDone);
        assert!(!health.is_ready());
        pods.observe::<Node>(&watcher::Event::InitDone);
        assert!(health.is_ready());
    }

    #[tokio::test]
    async fn a_watch_that_ends_early_releases_its_waiters() {
        let all = CachesReady::new(1, Health::new());
        let (flag, synced) = sync_flag("nodes", &all);
        drop(flag);
        assert!(!synced.wait().await);
        assert!(Synced::done().wait().await);
    }
}
