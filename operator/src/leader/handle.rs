//! The controller's view of leadership: may I write right now?

use std::sync::Arc;

use tokio::sync::watch;
use tokio::time::Instant;

use crate::locked::Locked;

/// Whether this replica may write, shared by the elector and everything
/// that writes. Cheap to clone.
///
/// See the [module documentation](super) for the contract.
#[derive(Clone, Debug)]
pub struct Leadership {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    /// Leader from the start, forever (leader election disabled).
    always: bool,
    /// While leading: the instant our Lease may no longer be ours.
    writes_until: Locked<Option<Instant>>,
    /// Publishes changes; kept here so receivers never see a closed channel.
    changes: watch::Sender<bool>,
}

impl Leadership {
    /// A replica that is always the leader: for a single replica running
    /// without `--leader-elect`.
    pub fn always() -> Self {
        Self::with(true)
    }

    /// A replica that is not (yet) the leader; the elector moves it.
    pub(crate) fn follower() -> Self {
        Self::with(false)
    }

    fn with(always: bool) -> Self {
        let (changes, _) = watch::channel(always);
        Self {
            shared: Arc::new(Shared {
                always,
                writes_until: Locked::new(None),
                changes,
            }),
        }
    }

    /// True when this replica may write now. Checks the clock on every
    /// call, so it turns false at the fence deadline even if the elector
    /// task is stuck (e.g. on an unreachable API server).
    pub fn is_leader(&self) -> bool {
        if self.shared.always {
            return true;
        }
        self.writes_until()
            .is_some_and(|until| Instant::now() < until)
    }

    /// A channel of leadership changes, to start and stop leader-only work
    /// (and to reconcile everything on becoming leader). It can lag
    /// [`Leadership::is_leader`] by a few milliseconds; gate writes on
    /// `is_leader()`, not on the last value seen here.
    pub fn changes(&self) -> watch::Receiver<bool> {
        self.shared.changes.subscribe()
    }

    /// The fence deadline, if any.
    pub(crate) fn writes_until(&self) -> Option<Instant> {
        *self.shared.writes_until.lock()
    }

    /// Moves the fence: `Some(deadline)` while we hold the Lease, `None`
    /// to stop writing at once. Publishes the resulting state.
    pub(crate) fn set_writes_until(&self, until: Option<Instant>) {
        *self.shared.writes_until.lock() = until;
        self.publish();
    }

    /// Publishes `is_leader()` if it differs from the last published value.
    /// Returns the published value.
    pub(crate) fn publish(&self) -> bool {
        let leader = self.is_leader();
        self.shared.changes.send_if_modified(|published| {
            let changed = *published != leader;
            *published = leader;
            changed
        });
        leader
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn always_is_leader_and_its_channel_stays_open() {
        let leadership = Leadership::always();
        assert!(leadership.is_leader());
        let mut changes = leadership.changes();
        assert!(*changes.borrow_and_update());
        // No change ever comes, but the channel is not closed either.
        let waited = tokio::time::timeout(Duration::from_millis(50), changes.changed()).await;
        assert!(waited.is_err(), "channel must stay open without changes");
    }

    #[tokio::test]
    async fn the_fence_turns_leadership_off_by_itself() {
        let leadership = Leadership::follower();
        assert!(!leadership.is_leader());
        let mut changes = leadership.changes();

        leadership.set_writes_until(Some(Instant::now() + Duration::from_millis(100)));
        assert!(leadership.is_leader());
        changes.changed().await.expect("open");
        assert!(*changes.borrow_and_update());

        tokio::time::sleep(Duration::from_millis(150)).await;
        // Nobody touched it: the deadline alone ends leadership.
        assert!(!leadership.is_leader());
        assert!(!leadership.publish());
        changes.changed().await.expect("open");
        assert!(!*changes.borrow_and_update());
    }

    #[tokio::test]
    async fn stepping_down_is_immediate_and_shared_by_clones() {
        let leadership = Leadership::follower();
        let writer = leadership.clone();
        leadership.set_writes_until(Some(Instant::now() + Duration::from_secs(60)));
        assert!(writer.is_leader());
        leadership.set_writes_until(None);
        assert!(!writer.is_leader());
    }
}
