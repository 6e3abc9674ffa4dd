//! What the App's pods say beyond the Deployment's counts, gathered once
//! per reconcile: memory restarts (`memory_restart`) and slow starts
//! (`slow_start`). Their status fields, Events and wake-up are laid on top
//! of the rollout's own.

use std::time::Duration;

use k8s_openapi::jiff::Timestamp;

use crate::conditions::{self, Wanted};
use crate::crd::{AppStatus, CONDITION_PROGRESSING};
use crate::memory_restart::{self, Tally};
use crate::notes::Note;
use crate::observed::PodRestarts;
use crate::reason;
use crate::slow_start::{self, Report};

/// The pod reports of one reconcile.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PodReports {
    pub memory: Tally,
    pub slow: Report,
}

/// What the reports are worked out from.
#[derive(Clone, Copy, Debug)]
pub struct ReportInputs<'a> {
    /// The status as read: what was counted and reported before.
    pub previous: &'a AppStatus,
    pub pods: &'a [PodRestarts],
    /// The revision the spec asks for: only its pods can start slowly.
    pub desired_revision: &'a str,
    /// `listenTimeout`, PM2's default applied.
    pub listen_timeout: Duration,
    /// The Deployment's progress deadline in seconds, which the slow-start
    /// messages name.
    pub progress_deadline: Option<i32>,
    pub now: Timestamp,
}

impl PodReports {
    pub fn of(facts: &ReportInputs<'_>) -> Self {
        PodReports {
            memory: memory_restart::tally(facts.previous, facts.pods),
            slow: slow_start::report(
                &facts.previous.slow_starts,
                facts.pods,
                facts.desired_revision,
                facts.listen_timeout,
                facts.progress_deadline,
                facts.now,
            ),
        }
    }

    /// One Event per memory restart and per slow start not reported before.
    pub fn notes(&self) -> Vec<Note> {
        let memory = self.memory.new.iter().map(memory_restart::note);
        memory.chain(self.slow.notes.iter().cloned()).collect()
    }

    /// When the next starting pod crosses `listenTimeout`.
    pub fn wake_in(&self) -> Option<Duration> {
        self.slow.wake_in
    }

    /// Lays the reports on `status`: the memory-restart and slow-start
    /// fields, and, while a rollout is in progress and a pod of it is slow,
    /// `Progressing` with reason `SlowStart` (still `True`: the rollout
    /// goes on, the progress deadline decides).
    pub fn apply(&self, status: &mut AppStatus, generation: Option<i64>, now: Timestamp) {
        status.memory_restarts = self.memory.total;
        status.last_memory_restart = self.memory.last.clone();
        status.memory_restarts_by_pod = self.memory.by_pod.clone();
        status.slow_starts = self.slow.records.clone();
        let Some(message) = &self.slow.message else {
            return;
        };
        let rolling = conditions::find(&status.conditions, CONDITION_PROGRESSING)
            .is_some_and(|c| c.status == "True" && c.reason == reason::ROLLOUT_IN_PROGRESS);
        if rolling {
            let slow = Wanted::new(
                CONDITION_PROGRESSING,
                true,
                reason::SLOW_START,
                message.clone(),
            );
            status.conditions = conditions::merge(&status.conditions, &[slow], generation, now);
        }
    }
}
