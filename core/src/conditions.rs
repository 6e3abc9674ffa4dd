//! Conditions on the App's status, with Kubernetes' transition-time rule.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use k8s_openapi::jiff::Timestamp;

/// A condition as readyroll wants it; the transition time is filled in by
/// [`merge`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Wanted {
    pub type_: &'static str,
    pub status: bool,
    pub reason: String,
    pub message: String,
}

impl Wanted {
    pub fn new(
        type_: &'static str,
        status: bool,
        reason: &str,
        message: impl Into<String>,
    ) -> Self {
        Wanted {
            type_,
            status,
            reason: reason.to_string(),
            message: message.into(),
        }
    }
}

/// The new condition list: each wanted condition replaces the one of its
/// type. `lastTransitionTime` only moves when the status flips, so a reason
/// or message update does not look like a transition. Conditions of other
/// types are kept.
pub fn merge(
    previous: &[Condition],
    wanted: &[Wanted],
    generation: Option<i64>,
    now: Timestamp,
) -> Vec<Condition> {
    let mut result: Vec<Condition> = previous
        .iter()
        .filter(|c| !wanted.iter().any(|w| w.type_ == c.type_))
        .cloned()
        .collect();
    for w in wanted {
        let status = if w.status { "True" } else { "False" };
        let last_transition_time = previous
            .iter()
            .find(|c| c.type_ == w.type_ && c.status == status)
            .map(|c| c.last_transition_time.clone())
            .unwrap_or(Time(now));
        result.push(Condition {
            type_: w.type_.to_string(),
            status: status.to_string(),
            reason: w.reason.clone(),
            message: w.message.clone(),
            observed_generation: generation,
            last_transition_time,
        });
    }
    result.sort_by(|a, b| a.type_.cmp(&b.type_));
    result
}

/// The condition of `type_`, if present.
pub fn find<'a>(conditions: &'a [Condition], type_: &str) -> Option<&'a Condition> {
    conditions.iter().find(|c| c.type_ == type_)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reason;

    fn at(seconds: i64) -> Timestamp {
        Timestamp::from_second(seconds).unwrap()
    }

    #[test]
    fn transition_time_moves_only_when_status_flips() {
        let first = merge(
            &[],
            &[Wanted::new("Degraded", false, reason::AS_EXPECTED, "fine")],
            Some(1),
            at(100),
        );
        assert_eq!(first[0].last_transition_time, Time(at(100)));

        let reworded = merge(
            &first,
            &[Wanted::new(
                "Degraded",
                false,
                reason::ROLLOUT_COMPLETE,
                "still fine",
            )],
            Some(2),
            at(200),
        );
        assert_eq!(reworded[0].last_transition_time, Time(at(100)));
        assert_eq!(reworded[0].reason, reason::ROLLOUT_COMPLETE);
        assert_eq!(reworded[0].observed_generation, Some(2));

        let flipped = merge(
            &reworded,
            &[Wanted::new(
                "Degraded",
                true,
                reason::TOO_MANY_RESTARTS,
                "crashing",
            )],
            Some(2),
            at(300),
        );
        assert_eq!(flipped[0].status, "True");
        assert_eq!(flipped[0].last_transition_time, Time(at(300)));
    }

    #[test]
    fn other_types_are_kept_and_order_is_stable() {
        let previous = merge(
            &[],
            &[
                Wanted::new("Progressing", true, reason::ROLLOUT_IN_PROGRESS, ""),
                Wanted::new("Available", true, reason::INSTANCES_AVAILABLE, ""),
            ],
            Some(1),
            at(1),
        );
        let next = merge(
            &previous,
            &[Wanted::new("Degraded", false, reason::AS_EXPECTED, "")],
            Some(1),
            at(2),
        );
        let types: Vec<&str> = next.iter().map(|c| c.type_.as_str()).collect();
        assert_eq!(types, ["Available", "Degraded", "Progressing"]);
        assert_eq!(
            find(&next, "Available").map(|c| c.last_transition_time.clone()),
            Some(Time(at(1)))
        );
    }
}
