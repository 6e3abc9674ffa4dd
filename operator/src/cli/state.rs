//! Where an App stands, read the way GitOps tools read it: its status must
//! describe the current generation (`observedGeneration`), then `Stalled`,
//! `Ready` and `Reconciling` say the rest.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use readyroll_core::crd::{
    App, AppStatus, CONDITION_PAUSED, CONDITION_READY, CONDITION_RECONCILING, CONDITION_STALLED,
};

/// The state of an App's rollout.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum State {
    /// readyroll has not acted on the current generation yet.
    Pending(String),
    /// A rollout (or rollback) is going on.
    Rolling(String),
    /// `spec.paused` holds rollouts (`readyroll resume` lets them go on).
    Paused(String),
    /// The rollout of the current generation is complete and available.
    Complete(String),
    /// The App is Degraded: the rollout failed, or it cannot be rolled out.
    Failed(String),
}

impl State {
    pub fn of(app: &App) -> State {
        let generation = app.metadata.generation.unwrap_or(0);
        let Some(status) = app.status.as_ref() else {
            return State::Pending("waiting for readyroll to observe the App".into());
        };
        if status.observed_generation.unwrap_or(0) < generation {
            return State::Pending(format!(
                "waiting for readyroll to observe generation {generation}"
            ));
        }
        let current = |type_| {
            status.conditions.iter().find(|c| {
                c.type_ == type_
                    && c.status == "True"
                    && c.observed_generation.unwrap_or(generation) >= generation
            })
        };
        if let Some(stalled) = current(CONDITION_STALLED) {
            return State::Failed(describe(stalled));
        }
        if let Some(paused) = current(CONDITION_PAUSED) {
            return State::Paused(describe(paused));
        }
        if let Some(ready) = current(CONDITION_READY) {
            return State::Complete(describe(ready));
        }
        let detail = current(CONDITION_RECONCILING)
            .map(describe)
            .unwrap_or_else(|| progress(status));
        State::Rolling(detail)
    }

    /// The word `ls` shows, in PM2's vocabulary where it has one.
    pub fn word(&self) -> &'static str {
        match self {
            State::Pending(_) => "pending",
            State::Rolling(_) => "rolling",
            State::Paused(_) => "paused",
            State::Complete(_) => "online",
            State::Failed(_) => "errored",
        }
    }

    pub fn detail(&self) -> &str {
        match self {
            State::Pending(d)
            | State::Rolling(d)
            | State::Paused(d)
            | State::Complete(d)
            | State::Failed(d) => d,
        }
    }
}

/// `REASON: message`.
pub fn describe(c: &Condition) -> String {
    if c.message.is_empty() {
        c.reason.clone()
    } else {
        format!("{}: {}", c.reason, c.message)
    }
}

/// Replica counts in one line.
pub fn progress(status: &AppStatus) -> String {
    format!(
        "{} of {} instances updated, {} ready, {} available",
        status.updated_replicas.unwrap_or(0),
        status.instances.unwrap_or(0),
        status.ready_replicas.unwrap_or(0),
        status.available_replicas.unwrap_or(0),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
    use k8s_openapi::jiff::Timestamp;
    use readyroll_core::crd::AppSpec;

    fn condition(type_: &str, status: &str, reason: &str, generation: i64) -> Condition {
        Condition {
            type_: type_.into(),
            status: status.into(),
            reason: reason.into(),
            message: "m".into(),
            observed_generation: Some(generation),
            last_transition_time: Time(Timestamp::UNIX_EPOCH),
        }
    }

    fn app(generation: i64, observed: i64, conditions: Vec<Condition>) -> App {
        let mut app = App::new("web", AppSpec::default());
        app.metadata.generation = Some(generation);
        app.status = Some(AppStatus {
            observed_generation: Some(observed),
            conditions,
            ..AppStatus::default()
        });
        app
    }

    #[test]
    fn the_current_generation_decides() {
        let ready = condition("Ready", "True", "RolloutComplete", 2);
        assert_eq!(
            State::of(&app(2, 2, vec![ready.clone()])),
            State::Complete("RolloutComplete: m".into())
        );
        assert!(matches!(
            State::of(&app(3, 2, vec![ready.clone()])),
            State::Pending(_)
        ));
        let mut stale = ready;
        stale.observed_generation = Some(1);
        assert!(matches!(
            State::of(&app(2, 2, vec![stale])),
            State::Rolling(_)
        ));
        let stalled = condition("Stalled", "True", "ProgressDeadlineExceeded", 2);
        assert_eq!(
            State::of(&app(2, 2, vec![stalled.clone()])).word(),
            "errored"
        );
        let paused = condition("Paused", "True", "RolloutPaused", 2);
        assert_eq!(State::of(&app(2, 2, vec![paused.clone()])).word(), "paused");
        assert_eq!(
            State::of(&app(2, 2, vec![paused, stalled])).word(),
            "errored",
            "a failure shows through a pause"
        );
        assert_eq!(
            State::of(&App::new("x", AppSpec::default())).word(),
            "pending"
        );
    }
}
