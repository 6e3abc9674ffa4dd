//! What each App looked like right after readyroll's own last status
//! write, so observe can decide on the cached App instead of reading it
//! again whenever the cache is known to hold that write:
//!
//! - the cache is at exactly the version the write produced;
//! - or the cache is at a later generation: a status write leaves the
//!   generation alone, so the spec edit that raised it came after the write,
//!   and a watch delivers one object's changes in order.
//!
//! Any other version (the cache lagging behind the write, or a metadata
//! change by someone else) is read fresh, and so is an App this process has
//! not written: another replica that led before it may have, moments ago.
//! A write whose outcome is unknown (it failed, perhaps after the API
//! server took it) trusts no cache until the next write succeeds.
//!
//! A fresh read is remembered like a write (`record_read`): it is the
//! newest version there was, holding every earlier write, readyroll's or
//! another replica's. So an App this process has not written (every App
//! right after a restart) is read once, not on every reconcile until its
//! status next changes. After a write of unknown outcome a read proves
//! nothing (the write may still land after it) and is not remembered.
//!
//! Reading fresh is not the only answer to a lagging cache: until the App
//! watch has delivered the write's own version, every cached App is older
//! than the write, and that delivery triggers a reconcile of its own. A
//! reconcile started by a Deployment or pod event in between (the usual
//! case: the Deployment moves while the status write is on the wire) can be
//! left to it (`lags_behind_write`). Bounded in time, in case the delivery
//! never comes as such: a relist may jump past the write's version.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::runtime::watcher;
use kube::Resource;

use super::watches::app_key;
use crate::locked::Locked;

/// How long after a status write a reconcile may be left to the write's
/// own watch event. Far above the API server's usual watch latency (tens
/// of milliseconds); past it, the App is read as before.
const DELIVERY_BOUND: Duration = Duration::from_secs(5);

#[derive(Debug, Default)]
pub struct WrittenVersions(Locked<HashMap<String, Written>>);

#[derive(Debug, Clone, PartialEq, Eq)]
enum Written {
    /// The App's resourceVersion and generation in the write's answer.
    Known {
        version: String,
        generation: Option<i64>,
        /// When the answer came, and whether the App watch has delivered
        /// this version since (or relisted, which may have skipped it).
        at: Instant,
        delivered: bool,
    },
    Unknown,
}

impl WrittenVersions {
    /// Records the App as the API server answered a status write.
    pub fn record(&self, app: &str, answer: &ObjectMeta) {
        self.record_at(app, answer, Instant::now());
    }

    fn record_at(&self, app: &str, answer: &ObjectMeta, at: Instant) {
        let written = match &answer.resource_version {
            Some(version) => Written::Known {
                version: version.clone(),
                generation: answer.generation,
                at,
                delivered: false,
            },
            None => Written::Unknown,
        };
        self.0.lock().insert(app.to_string(), written);
    }

    /// Remembers a fresh read of the App (`fresh`, its metadata) made because
    /// the cached copy (`cached`) could not be trusted; see the module docs.
    pub fn record_read(&self, app: &str, fresh: &ObjectMeta, cached: &ObjectMeta) {
        self.record_read_at(app, fresh, cached, Instant::now());
    }

    fn record_read_at(&self, app: &str, fresh: &ObjectMeta, cached: &ObjectMeta, at: Instant) {
        let mut written = self.0.lock();
        if matches!(written.get(app), Some(Written::Unknown)) {
            return;
        }
        let Some(version) = fresh.resource_version.clone() else {
            return;
        };
        // A cache already at the read's version has had its delivery; one
        // behind it will get it, and that event triggers a reconcile.
        let delivered = cached.resource_version.as_ref() == Some(&version);
        let read = Written::Known {
            version,
            generation: fresh.generation,
            at,
            delivered,
        };
        written.insert(app.to_string(), read);
    }

    /// Takes in one event of the App watch (after the store has it); an App
    /// that is gone is forgotten.
    pub fn observe<K: Resource>(&self, event: &watcher::Event<K>) {
        let mut written = self.0.lock();
        let mut deliver = |key: &str, version: Option<&String>| {
            if let Some(Written::Known {
                version: held,
                delivered,
                ..
            }) = written.get_mut(key)
            {
                // A listed copy may be newer than the write without its
                // event ever coming: from then on lag cannot be told apart.
                *delivered |= version.is_none_or(|v| v == held);
            }
        };
        match event {
            watcher::Event::Apply(app) => {
                deliver(&app_key(app), app.meta().resource_version.as_ref());
            }
            watcher::Event::InitApply(app) => deliver(&app_key(app), None),
            watcher::Event::Init => {
                for entry in written.values_mut() {
                    if let Written::Known { delivered, .. } = entry {
                        *delivered = true;
                    }
                }
            }
            watcher::Event::Delete(app) => {
                written.remove(&app_key(app));
            }
            watcher::Event::InitDone => {}
        }
    }

    /// Forgets an App that is gone.
    pub fn forget(&self, app: &str) {
        self.0.lock().remove(app);
    }

    /// Records a write of unknown outcome.
    pub fn unknown(&self, app: &str) {
        self.0.lock().insert(app.to_string(), Written::Unknown);
    }

    /// Whether the cached App (`cached`, its metadata) holds readyroll's
    /// last status write (see the module docs).
    pub fn cache_is_current(&self, app: &str, cached: &ObjectMeta) -> bool {
        match self.0.lock().get(app) {
            None | Some(Written::Unknown) => false,
            Some(Written::Known {
                version,
                generation,
                ..
            }) => holds(cached, version, *generation),
        }
    }

    /// Whether the cached App is surely older than readyroll's last status
    /// write, whose watch event is still on its way and will trigger a
    /// reconcile on a cache that holds it (see the module docs).
    pub fn lags_behind_write(&self, app: &str, cached: &ObjectMeta) -> bool {
        self.lags_behind_write_at(app, cached, Instant::now())
    }

    fn lags_behind_write_at(&self, app: &str, cached: &ObjectMeta, now: Instant) -> bool {
        match self.0.lock().get(app) {
            Some(Written::Known {
                version,
                generation,
                at,
                delivered: false,
            }) => {
                !holds(cached, version, *generation)
                    && now.saturating_duration_since(*at) < DELIVERY_BOUND
            }
            _ => false,
        }
    }
}

/// Whether `cached` holds the write that produced `version` at
/// `generation`: it is that version, or a later generation.
fn holds(cached: &ObjectMeta, version: &str, generation: Option<i64>) -> bool {
    cached.resource_version.as_deref() == Some(version)
        || matches!((cached.generation, generation), (Some(c), Some(w)) if c > w)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crd::App;

    fn at(version: &str, generation: i64) -> ObjectMeta {
        ObjectMeta {
            resource_version: Some(version.into()),
            generation: Some(generation),
            ..Default::default()
        }
    }

    #[test]
    fn the_cache_is_trusted_only_when_it_holds_the_last_write() {
        let written = WrittenVersions::default();
        assert!(
            !written.cache_is_current("shop/web", &at("7", 1)),
            "never written by this process: perhaps by the last leader"
        );
        written.record("shop/web", &at("7", 2));
        assert!(written.cache_is_current("shop/web", &at("7", 2)));
        assert!(
            !written.cache_is_current("shop/web", &at("6", 2)),
            "an older cache"
        );
        assert!(
            !written.cache_is_current("shop/web", &at("8", 2)),
            "someone else's metadata change, or a lagging cache: not told apart"
        );
        assert!(
            written.cache_is_current("shop/web", &at("9", 3)),
            "a spec edit made after the write"
        );
        assert!(!written.cache_is_current("shop/web", &ObjectMeta::default()));
        assert!(!written.cache_is_current("shop/api", &at("7", 2)));
    }

    #[test]
    fn a_write_of_unknown_outcome_trusts_no_cache_until_the_next_one() {
        let written = WrittenVersions::default();
        written.record("shop/web", &at("7", 2));
        written.unknown("shop/web");
        assert!(!written.cache_is_current("shop/web", &at("7", 2)));
        assert!(
            !written.cache_is_current("shop/web", &at("9", 3)),
            "the failed write may have landed after that edit"
        );
        written.record("shop/web", &ObjectMeta::default());
        assert!(
            !written.cache_is_current("shop/web", &at("7", 2)),
            "an answer without a version"
        );
        written.record("shop/web", &at("10", 3));
        assert!(written.cache_is_current("shop/web", &at("10", 3)));
        written.forget("shop/web");
        assert!(!written.cache_is_current("shop/web", &at("10", 3)));
    }

    #[test]
    fn a_fresh_read_is_trusted_like_a_write_unless_a_write_is_unknown() {
        let written = WrittenVersions::default();
        let t0 = Instant::now();
        written.record_read_at("shop/web", &at("7", 2), &at("7", 2), t0);
        assert!(written.cache_is_current("shop/web", &at("7", 2)));
        assert!(
            !written.lags_behind_write_at("shop/web", &at("7", 2), t0),
            "the cache was at the version read"
        );
        assert!(!written.cache_is_current("shop/web", &at("8", 2)));

        written.record_read_at("shop/web", &at("9", 2), &at("8", 2), t0);
        assert!(
            written.lags_behind_write_at("shop/web", &at("8", 2), t0),
            "the cache behind the read gets the read's version next"
        );
        assert!(written.cache_is_current("shop/web", &at("9", 2)));

        written.unknown("shop/web");
        written.record_read_at("shop/web", &at("10", 2), &at("10", 2), t0);
        assert!(
            !written.cache_is_current("shop/web", &at("10", 2)),
            "the unknown write may land after the read"
        );
    }

    fn app_at(version: &str) -> App {
        let mut app = App::new("web", Default::default());
        app.metadata.namespace = Some("shop".into());
        app.metadata.resource_version = Some(version.into());
        app
    }

    #[test]
    fn a_cache_is_known_to_lag_only_until_the_write_is_delivered() {
        let written = WrittenVersions::default();
        let t0 = Instant::now();
        assert!(
            !written.lags_behind_write_at("shop/web", &at("6", 2), t0),
            "nothing written: nothing to wait for"
        );
        written.record_at("shop/web", &at("7", 2), t0);
        assert!(written.lags_behind_write_at("shop/web", &at("6", 2), t0));
        assert!(
            !written.lags_behind_write_at("shop/web", &at("7", 2), t0),
            "the cache holds the write"
        );
        assert!(
            !written.lags_behind_write_at("shop/web", &at("9", 3), t0),
            "a later spec edit holds it too"
        );
        written.observe(&watcher::Event::Apply(app_at("6")));
        assert!(
            written.lags_behind_write_at("shop/web", &at("6", 2), t0),
            "an older version delivered: the write's is still to come"
        );
        written.observe(&watcher::Event::Apply(app_at("7")));
        assert!(
            !written.lags_behind_write_at("shop/web", &at("8", 2), t0),
            "delivered, then someone else's change: read, not waited for"
        );
    }

    #[test]
    fn waiting_for_the_delivery_is_bounded_and_a_relist_ends_it() {
        let written = WrittenVersions::default();
        let t0 = Instant::now();
        written.record_at("shop/web", &at("7", 2), t0);
        assert!(written.lags_behind_write_at("shop/web", &at("6", 2), t0 + Duration::from_secs(4)));
        assert!(!written.lags_behind_write_at("shop/web", &at("6", 2), t0 + DELIVERY_BOUND));

        written.record_at("shop/web", &at("7", 2), t0);
        written.observe(&watcher::Event::<App>::Init);
        assert!(
            !written.lags_behind_write_at("shop/web", &at("6", 2), t0),
            "a relist may jump past the write's version"
        );
        written.record_at("shop/web", &at("7", 2), t0);
        written.observe(&watcher::Event::InitApply(app_at("8")));
        assert!(!written.lags_behind_write_at("shop/web", &at("8", 2), t0));

        written.unknown("shop/web");
        assert!(
            !written.lags_behind_write_at("shop/web", &at("6", 2), t0),
            "an unknown outcome is read, never waited for"
        );

        written.record_at("shop/web", &at("7", 2), t0);
        written.observe(&watcher::Event::Delete(app_at("7")));
        assert!(
            !written.cache_is_current("shop/web", &at("7", 2)),
            "a deleted App is forgotten"
        );
    }
}
