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

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

#[derive(Debug, Default)]
pub struct WrittenVersions(Mutex<HashMap<String, Written>>);

#[derive(Debug, Clone, PartialEq, Eq)]
enum Written {
    /// The App's resourceVersion and generation in the write's answer.
    Known {
        version: String,
        generation: Option<i64>,
    },
    Unknown,
}

impl WrittenVersions {
    /// Records the App as the API server answered a status write.
    pub fn record(&self, app: &str, answer: &ObjectMeta) {
        let written = match &answer.resource_version {
            Some(version) => Written::Known {
                version: version.clone(),
                generation: answer.generation,
            },
            None => Written::Unknown,
        };
        self.lock().insert(app.to_string(), written);
    }

    /// Forgets an App that is gone.
    pub fn forget(&self, app: &str) {
        self.lock().remove(app);
    }

    /// Records a write of unknown outcome.
    pub fn unknown(&self, app: &str) {
        self.lock().insert(app.to_string(), Written::Unknown);
    }

    /// Whether the cached App (`cached`, its metadata) holds readyroll's
    /// last status write (see the module docs).
    pub fn cache_is_current(&self, app: &str, cached: &ObjectMeta) -> bool {
        match self.lock().get(app) {
            None | Some(Written::Unknown) => false,
            Some(Written::Known {
                version,
                generation,
            }) => {
                cached.resource_version.as_ref() == Some(version)
                    || matches!((cached.generation, generation), (Some(c), Some(w)) if c > *w)
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Written>> {
        // A panic elsewhere cannot leave the map half-written: each call is one
        // insert or remove.
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
