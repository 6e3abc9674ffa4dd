//! The resourceVersion each App had right after readyroll's own last
//! status write. A cached App at exactly that version already holds the
//! write, so observe can decide on the cache instead of reading the App
//! again; any other version (older: the cache lags; newer: someone else
//! wrote since) is read fresh.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

#[derive(Debug, Default)]
pub struct WrittenVersions(Mutex<HashMap<String, String>>);

impl WrittenVersions {
    /// Records the version the API server answered a status write with.
    pub fn record(&self, app: &str, version: String) {
        self.lock().insert(app.to_string(), version);
    }

    /// Forgets an App that is gone (or whose write failed).
    pub fn forget(&self, app: &str) {
        self.lock().remove(app);
    }

    /// Whether `version` of `app` is the one readyroll's last status write
    /// produced.
    pub fn is_own_write(&self, app: &str, version: Option<&str>) -> bool {
        version.is_some_and(|v| self.lock().get(app).is_some_and(|w| w == v))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, String>> {
        // A panic elsewhere cannot leave the map half-written: each call is one
        // insert or remove.
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_exact_version_of_the_last_write_counts() {
        let written = WrittenVersions::default();
        assert!(!written.is_own_write("shop/web", Some("7")));
        written.record("shop/web", "7".into());
        assert!(written.is_own_write("shop/web", Some("7")));
        assert!(
            !written.is_own_write("shop/web", Some("6")),
            "an older cache"
        );
        assert!(
            !written.is_own_write("shop/web", Some("8")),
            "another writer since"
        );
        assert!(!written.is_own_write("shop/web", None));
        assert!(!written.is_own_write("shop/api", Some("7")));
        written.forget("shop/web");
        assert!(!written.is_own_write("shop/web", Some("7")));
    }
}
