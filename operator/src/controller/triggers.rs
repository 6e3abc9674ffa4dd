//! How watch errors slow the controller down: each watch backs off on its
//! own, and the controller's queue never pauses as a whole.
//!
//! kube-runtime's `Controller` wraps all its triggers (every watch,
//! `reconcile_all_on`, ...) in one stream with a client-go style backoff
//! (0.8 s doubling to 30 s, reset only by the next event). After an API
//! server outage every watch reports errors (refused connections, then
//! "too old resource version" for each resumed watch), and each error
//! paused *all* triggers again for up to 30 s: the new leader's
//! "reconcile everything" and brand-new Apps waited minutes behind watch
//! errors of unrelated kinds. The watches now back off individually
//! (`default_backoff`), so a failing one cannot starve the others.

use std::time::Duration;

use kube::runtime::utils::Backoff;
use kube::runtime::Controller;
use kube::Resource;
use serde::de::DeserializeOwned;
use tokio::time::Instant;

/// Applies readyroll's queue policy to a controller: see the module docs.
pub fn queue_never_pauses<K>(controller: Controller<K>) -> Controller<K>
where
    K: Resource + Clone + DeserializeOwned + std::fmt::Debug + Send + Sync + 'static,
    K::DynamicType: Eq + std::hash::Hash + Clone,
{
    controller.trigger_backoff(QueueNeverPauses)
}

/// The controller queue's backoff: none. Errors still reach the
/// controller's output (and the log), but the queue keeps taking triggers;
/// the watch that failed waits on its own backoff.
#[derive(Debug, Default, Clone, Copy)]
pub struct QueueNeverPauses;

impl Iterator for QueueNeverPauses {
    type Item = Duration;

    fn next(&mut self) -> Option<Duration> {
        Some(Duration::ZERO)
    }
}

impl Backoff for QueueNeverPauses {
    fn reset(&mut self) {}
}

/// At most one log line this often for a series of queue errors.
const LOG_EVERY: Duration = Duration::from_secs(60);

/// Decides which of a series of errors gets logged: the first one, then
/// one per [`LOG_EVERY`].
#[derive(Debug, Default)]
pub struct ThrottledLog {
    last_logged: Option<Instant>,
    unlogged: u64,
}

impl ThrottledLog {
    /// Records an error at `now`. `Some(n)`: log it, with the `n` errors
    /// since the last logged one (this one included).
    pub fn record(&mut self, now: Instant) -> Option<u64> {
        self.unlogged += 1;
        let due = self
            .last_logged
            .is_none_or(|at| now.duration_since(at) >= LOG_EVERY);
        if !due {
            return None;
        }
        self.last_logged = Some(now);
        Some(std::mem::take(&mut self.unlogged))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::{stream, StreamExt};
    use k8s_openapi::api::core::v1::ConfigMap;
    use kube::runtime::controller::Action;
    use kube::runtime::{reflector, watcher};
    use std::sync::Arc;
    use tokio::sync::mpsc;

    /// Virtual time from start until the first reconcile, when the App
    /// watch reports `errors` errors before the App's own event.
    async fn first_reconcile_after(
        errors: usize,
        policy: fn(Controller<ConfigMap>) -> Controller<ConfigMap>,
    ) -> Duration {
        let (store, mut writer) = reflector::store::<ConfigMap>();
        let mut app = ConfigMap::default();
        app.metadata.name = Some("web".into());
        app.metadata.namespace = Some("ns".into());
        writer.apply_watcher_event(&watcher::Event::Init);
        writer.apply_watcher_event(&watcher::Event::InitApply(app.clone()));
        writer.apply_watcher_event(&watcher::Event::InitDone);
        // What a resumed watch sees after an API server restart: a series
        // of errors, then events again.
        let changes = stream::iter((0..errors).map(|_| Err(watcher::Error::NoResourceVersion)))
            .chain(stream::iter([Ok(app)]))
            .chain(stream::pending());
        let (reconciled, mut reconciles) = mpsc::unbounded_channel();
        let started = Instant::now();
        let controller = policy(Controller::for_stream(changes, store));
        tokio::spawn(
            controller
                .run(
                    move |_, reconciled: Arc<mpsc::UnboundedSender<Instant>>| {
                        let _ = reconciled.send(Instant::now());
                        async { Ok::<_, kube::Error>(Action::await_change()) }
                    },
                    |_, _, _| Action::await_change(),
                    Arc::new(reconciled),
                )
                .for_each(|_| async {}),
        );
        let at = tokio::time::timeout(Duration::from_secs(600), reconciles.recv())
            .await
            .expect("a reconcile within 10 minutes")
            .expect("the controller runs");
        at - started
    }

    #[tokio::test(start_paused = true)]
    async fn watch_errors_do_not_hold_back_the_next_trigger() {
        let waited = first_reconcile_after(6, queue_never_pauses).await;
        assert!(
            waited < Duration::from_secs(1),
            "reconciled {waited:?} after the errors"
        );
    }

    /// The cause, kept visible: with kube-runtime's default queue backoff
    /// the same six errors delay the next trigger by the sum of six
    /// doubling pauses (at least 0.8 + 1.6 + ... + 25.6 s).
    #[tokio::test(start_paused = true)]
    async fn kube_runtime_default_queue_backoff_holds_back_every_trigger() {
        let waited = first_reconcile_after(6, |controller| controller).await;
        assert!(
            waited >= Duration::from_millis(50_400),
            "reconciled {waited:?} after the errors"
        );
    }

    #[test]
    fn a_series_of_errors_logs_once_a_minute() {
        let start = Instant::now();
        let mut log = ThrottledLog::default();
        let at = |s: u64| start + Duration::from_secs(s);
        assert_eq!(log.record(at(0)), Some(1));
        assert_eq!(log.record(at(1)), None);
        assert_eq!(log.record(at(59)), None);
        assert_eq!(log.record(at(60)), Some(3));
        assert_eq!(log.record(at(61)), None);
    }
}
