//! Problems with the App's objects rather than with its release: a
//! same-named object readyroll may not touch (`OwnershipConflict`, see
//! `ownership`), or an object the API server refused (`ApplyFailed`). Each
//! makes the App `Degraded` with its message, and is announced by one
//! Event, not one per reconcile.

use k8s_openapi::jiff::Timestamp;

use crate::conditions::{self, Wanted};
use crate::crd::{AppStatus, CONDITION_DEGRADED};
use crate::notes::Note;
use crate::reason;

/// One object readyroll could not bring to its desired state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    pub reason: &'static str,
    /// Names the object, and says why.
    pub message: String,
}

impl Problem {
    /// The API server refused an object. `action` names it ("applying
    /// Service web"), `message` is the API server's own, which carries the
    /// field path.
    pub fn apply_failed(action: &str, message: &str) -> Self {
        Problem {
            reason: reason::APPLY_FAILED,
            message: format!("{action}: {message}"),
        }
    }
}

/// Whether a Degraded condition's reason is one of these problems (rather
/// than a failure of the release, which a held release carries on).
pub fn is_problem_reason(reason: &str) -> bool {
    reason == reason::OWNERSHIP_CONFLICT || reason == reason::APPLY_FAILED
}

/// `status` with `Degraded` saying what `problems` are, when there are any:
/// they keep the App from its desired state whatever the release does, so
/// they take precedence. The reason is the first problem's; the message
/// lists them all.
pub fn report(
    mut status: AppStatus,
    problems: &[Problem],
    generation: Option<i64>,
    now: Timestamp,
) -> AppStatus {
    let Some(first) = problems.first() else {
        return status;
    };
    let message = problems
        .iter()
        .map(|p| p.message.as_str())
        .collect::<Vec<_>>()
        .join("; ");
    let wanted = [Wanted::new(CONDITION_DEGRADED, true, first.reason, message)];
    status.conditions = conditions::merge(&status.conditions, &wanted, generation, now);
    status
}

/// A warning Event for each problem the status does not already report:
/// a conflict that lasts is announced once, not at every reconcile.
pub fn notes(previous: &AppStatus, problems: &[Problem]) -> Vec<Note> {
    let reported = conditions::find(&previous.conditions, CONDITION_DEGRADED)
        .filter(|c| c.status == "True" && is_problem_reason(&c.reason))
        .map(|c| c.message.as_str())
        .unwrap_or_default();
    problems
        .iter()
        .filter(|p| !reported.contains(&p.message))
        .map(|p| Note::warning(p.reason, p.message.clone()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> Timestamp {
        "2030-01-01T12:00:00Z".parse().unwrap()
    }

    fn conflict(name: &str) -> Problem {
        Problem {
            reason: reason::OWNERSHIP_CONFLICT,
            message: format!("Service {name} belongs to someone else"),
        }
    }

    #[test]
    fn problems_make_the_app_degraded_and_are_announced_once() {
        let problems = [
            conflict("web"),
            Problem::apply_failed("applying Deployment web", "spec.x: Invalid value"),
        ];
        let status = report(AppStatus::default(), &problems, Some(3), now());
        let degraded = conditions::find(&status.conditions, CONDITION_DEGRADED).unwrap();
        assert_eq!(degraded.status, "True");
        assert_eq!(degraded.reason, reason::OWNERSHIP_CONFLICT);
        assert_eq!(
            degraded.message,
            "Service web belongs to someone else; applying Deployment web: spec.x: Invalid value"
        );
        assert_eq!(degraded.observed_generation, Some(3));

        let first = notes(&AppStatus::default(), &problems);
        assert_eq!(first.len(), 2);
        assert!(first.iter().all(|n| n.warning));
        assert_eq!(first[1].reason, reason::APPLY_FAILED);
        assert!(notes(&status, &problems).is_empty(), "already reported");
        let another = [conflict("web"), conflict("api")];
        let new = notes(&status, &another);
        assert_eq!(new.len(), 1);
        assert!(new[0].message.contains("api"));
    }

    #[test]
    fn without_problems_the_status_is_unchanged() {
        let status = AppStatus {
            restarts: Some(1),
            ..Default::default()
        };
        assert_eq!(report(status.clone(), &[], None, now()), status);
    }
}
