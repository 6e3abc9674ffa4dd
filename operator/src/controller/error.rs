//! What can go wrong in a reconcile, and how soon to try again.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use kube::runtime::reflector::ObjectRef;

use crate::crd::App;
use readyroll_core::problems::Problem;

/// A reconcile that could not finish. Invalid specs are not errors: they are
/// reported on the App and wait for the spec to change.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A call to the API server failed.
    #[error("{action}: {source}")]
    Api {
        action: String,
        #[source]
        source: kube::Error,
    },

    /// An object from the cluster lacks something every such object has.
    #[error("{0}")]
    MissingField(&'static str),

    /// This replica lost leadership before a write: another one writes now.
    #[error("not the leader: write skipped")]
    NotLeader,

    /// A generated object could not be turned into JSON.
    #[error("serializing {what}: {source}")]
    Serialize {
        what: &'static str,
        #[source]
        source: serde_json::Error,
    },
}

impl Error {
    /// Wraps an API error with the action that failed.
    pub fn api(action: impl Into<String>) -> impl FnOnce(kube::Error) -> Error {
        let action = action.into();
        move |source| Error::Api { action, source }
    }

    /// What the App's status says when the API server refused a write:
    /// the action and the API server's own message (which names the field).
    /// `None` for errors that are not the API server's answer.
    pub fn refusal(&self) -> Option<Problem> {
        let Error::Api { action, source } = self else {
            return None;
        };
        let message = match source {
            kube::Error::Api(response) => response.message.clone(),
            other => other.to_string(),
        };
        Some(Problem::apply_failed(action, &message))
    }

    /// Whether the API server refused a creation because the App's
    /// namespace is being deleted: nothing can be made there any more, not
    /// even an Event, and the App itself goes with the namespace.
    pub fn namespace_terminating(&self) -> bool {
        let Error::Api {
            source: kube::Error::Api(status),
            ..
        } = self
        else {
            return false;
        };
        let cause = status
            .details
            .as_ref()
            .is_some_and(|d| d.causes.iter().any(|c| c.reason == NAMESPACE_TERMINATING));
        status.code == 403 && cause
    }

    /// A short, stable name for metrics labels and log fields.
    pub fn metric_label(&self) -> &'static str {
        match self {
            Error::Api { .. } => "api",
            Error::MissingField(_) => "missing_field",
            Error::NotLeader => "not_leader",
            Error::Serialize { .. } => "serialize",
        }
    }
}

/// The cause the API server gives for a creation refused in a namespace
/// being deleted (`metav1.NamespaceTerminatingCause`).
const NAMESPACE_TERMINATING: &str = "NamespaceTerminating";

/// First retry delay after a failed reconcile.
const BACKOFF_BASE: Duration = Duration::from_secs(1);
/// Retries never wait longer than this.
const BACKOFF_MAX: Duration = Duration::from_secs(300);

/// Exponential backoff per App: every consecutive failure doubles the wait,
/// a successful reconcile starts over.
#[derive(Default)]
pub struct ErrorBackoff {
    failures: Mutex<HashMap<ObjectRef<App>, u32>>,
}

impl ErrorBackoff {
    /// Records one more failure of `app` and returns how long to wait.
    pub fn next_delay(&self, app: ObjectRef<App>) -> Duration {
        let mut failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        let count = failures.entry(app).or_insert(0);
        let delay = delay_after(*count);
        *count = count.saturating_add(1);
        delay
    }

    /// Forgets the failures of `app` after it reconciled cleanly.
    pub fn reset(&self, app: &ObjectRef<App>) {
        let mut failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        failures.remove(app);
    }
}

/// The wait after `previous_failures` failures in a row: 1s, 2s, 4s, ... 300s.
fn delay_after(previous_failures: u32) -> Duration {
    let factor = 1u32.checked_shl(previous_failures).unwrap_or(u32::MAX);
    BACKOFF_BASE.saturating_mul(factor).min(BACKOFF_MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_up_to_the_cap() {
        let secs: Vec<u64> = (0..12).map(|n| delay_after(n).as_secs()).collect();
        assert_eq!(secs, [1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300, 300]);
        assert_eq!(delay_after(u32::MAX), BACKOFF_MAX);
    }

    #[test]
    fn backoff_is_per_object_and_resets_on_success() {
        let backoff = ErrorBackoff::default();
        let a = ObjectRef::<App>::new("a").within("ns");
        let b = ObjectRef::<App>::new("b").within("ns");
        assert_eq!(backoff.next_delay(a.clone()), Duration::from_secs(1));
        assert_eq!(backoff.next_delay(a.clone()), Duration::from_secs(2));
        assert_eq!(backoff.next_delay(b.clone()), Duration::from_secs(1));
        assert_eq!(backoff.next_delay(a.clone()), Duration::from_secs(4));
        backoff.reset(&a);
        assert_eq!(backoff.next_delay(a), Duration::from_secs(1));
    }
}
