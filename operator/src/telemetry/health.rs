//! Liveness and readiness as the kubelet sees them.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crate::locked::Locked;

/// Shared health flags. Clones share state.
///
/// * live (`/healthz`): true from creation until a long-running loop of the
///   operator reports it has stopped ([`Health::set_stopped`]); the kubelet
///   then restarts the container instead of leaving a zombie operator behind.
/// * ready (`/readyz`): false until the controller's caches are synced
///   ([`Health::set_ready`]). A standby replica (not the leader) becomes
///   ready too: it keeps warm caches so it can take over at once.
#[derive(Clone, Debug)]
pub struct Health {
    inner: Arc<HealthState>,
}

#[derive(Debug)]
struct HealthState {
    ready: AtomicBool,
    stopped: Locked<Option<String>>,
}

impl Health {
    /// Live, not yet ready.
    pub fn new() -> Self {
        Self {
            inner: Arc::new(HealthState {
                ready: AtomicBool::new(false),
                stopped: Locked::new(None),
            }),
        }
    }

    /// Marks the caches as synced (or not, when a watch had to restart).
    pub fn set_ready(&self, ready: bool) {
        self.inner.ready.store(ready, Ordering::Release);
    }

    /// Records that a loop the operator depends on has ended; `/healthz`
    /// fails from now on with `reason` in its body.
    pub fn set_stopped(&self, reason: impl Into<String>) {
        let mut stopped = self.inner.stopped.lock();
        stopped.get_or_insert_with(|| reason.into());
    }

    /// True once the caches are synced and while the process is live.
    pub fn is_ready(&self) -> bool {
        self.inner.ready.load(Ordering::Acquire) && self.stopped_reason().is_none()
    }

    /// `None` while every loop runs; the first reported stop otherwise.
    pub fn stopped_reason(&self) -> Option<String> {
        self.inner.stopped.lock().clone()
    }
}

impl Default for Health {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starts_live_and_unready() {
        let health = Health::new();
        assert!(!health.is_ready());
        assert_eq!(health.stopped_reason(), None);
    }

    #[test]
    fn ready_flag_is_shared_between_clones() {
        let health = Health::new();
        let seen_by_server = health.clone();
        health.set_ready(true);
        assert!(seen_by_server.is_ready());
        health.set_ready(false);
        assert!(!seen_by_server.is_ready());
    }

    #[test]
    fn a_stopped_loop_is_not_ready_and_keeps_the_first_reason() {
        let health = Health::new();
        health.set_ready(true);
        health.set_stopped("controller loop ended");
        health.set_stopped("later reason");
        assert!(!health.is_ready());
        assert_eq!(
            health.stopped_reason().as_deref(),
            Some("controller loop ended")
        );
    }
}
