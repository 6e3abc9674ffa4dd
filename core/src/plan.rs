//! The plan of one reconcile: the App, what was observed and the time in;
//! the writes, in the order they must happen, and when to look again out.
//!
//! The order is the contract the rest of readyroll relies on:
//! - a due cron restart and a failed rollout are recorded on the status
//!   before anything rolls, so a reconcile that fails halfway can neither
//!   restart the App twice nor retry a revision that was rolled back;
//! - then the objects are applied, and those no longer desired deleted
//!   (only when the App controls them): a same-named object the App does
//!   not control is never touched, only reported (`ownership`);
//! - then the Events, then the final status: whoever sees the status of a
//!   finished step also finds its Event.
//!
//! Besides the rollout, the plan reports what the pods say (see
//! `pod_reports`): memory restarts are counted on the status and kept out
//! of the restarts held against `maxRestarts`; slow starts are reported, and
//! the plan wakes when the next starting pod crosses `listenTimeout`.

use std::time::Duration;

use k8s_openapi::api::apps::v1::{ControllerRevision, Deployment};
use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::jiff::Timestamp;

use crate::build::{self, BuildOptions, Desired, SpecError};
use crate::conditions;
use crate::crd::{App, AppStatus, PodMemoryRestarts, CONDITION_DEGRADED};
use crate::cron::{self, CronPlan};
use crate::history;
use crate::instance_index::{self, PodFacts, PodPatch};
use crate::last_good;
use crate::notes::{self, Note};
use crate::observed::{controlled_by, revision_of, Observed};
use crate::ownership::{self, Conflict};
use crate::paused;
use crate::pod_reports::{PodReports, ReportInputs};
use crate::problems::{self, Problem};
use crate::reason;
use crate::rollout::{self, Decision, ObservedDeployment, Phase, RolloutInputs};
use crate::slow_start;
use crate::status::{self, StatusInputs};

/// Even without any change, every App is looked at this often, so a missed
/// watch event can never leave it unattended for long.
pub const RESYNC: Duration = Duration::from_secs(600);

/// While a foreign object blocks one of the App's, look again this often:
/// its removal is no event readyroll watches.
pub const CONFLICT_RECHECK: Duration = Duration::from_secs(30);

/// What one reconcile does.
#[derive(Clone, Debug, PartialEq)]
pub struct Plan {
    /// The writes, in order.
    pub steps: Vec<Step>,
    /// When to reconcile again if nothing changes.
    pub requeue: Requeue,
    /// The rollout decision, for logs and metrics; `None` for an App whose
    /// spec cannot be built.
    pub decision: Option<Decision>,
}

/// When to reconcile again.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Requeue {
    After(Duration),
    /// Only when the App (or something it watches) changes.
    AwaitChange,
}

/// One write.
#[derive(Clone, Debug, PartialEq)]
pub enum Step {
    /// Write the App's status now, before anything that follows.
    Status(Box<AppStatus>),
    /// Server-side apply an object.
    Apply(Object),
    /// Delete an object the App controls that is no longer desired.
    Delete(Delete),
    /// Write instance indices and deletion costs on the App's pods (PM2's
    /// `NODE_APP_INSTANCE`, see `instance_index`), in order.
    PodAnnotations(Vec<PodPatch>),
    /// Publish Events about the App.
    Events(Vec<Note>),
    /// The last write: the status worked out from the Deployment as its
    /// apply returned it, written only when it changed.
    FinalStatus(Box<FinalStatus>),
}

/// An object readyroll applies.
#[derive(Clone, Debug, PartialEq)]
pub enum Object {
    Deployment(Box<Deployment>),
    Service(Box<Service>),
    PodDisruptionBudget(Box<PodDisruptionBudget>),
    /// The last good pod template, saved (see `last_good`).
    LastGood(Box<ControllerRevision>),
    /// A revision's spec, saved for `readyroll rollback` (see `history`).
    Revision(Box<ControllerRevision>),
}

/// The kinds readyroll may delete.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Service,
    PodDisruptionBudget,
    /// The saved last good template, replaced by a newer one.
    LastGood,
    /// A revision's saved spec that the history no longer lists.
    Revision,
}

/// A delete, guarded by the uid that was observed, so a same-named object
/// created meanwhile is safe.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Delete {
    pub kind: Kind,
    pub name: String,
    pub uid: Option<String>,
}

/// The final status, pending the Deployment the apply returns (its
/// generation and status are the API server's to tell).
#[derive(Clone, Debug, PartialEq)]
pub struct FinalStatus {
    /// The status as the API server holds it once the earlier steps ran.
    pub written: AppStatus,
    /// The Deployment as observed, should no apply return one.
    pub before: ObservedDeployment,
    basis: StatusBasis,
}

impl FinalStatus {
    /// The status to write after the Deployment was applied; `None` when it
    /// equals what the API server holds, so a reconcile caused by readyroll's
    /// own status write ends without another.
    pub fn after(&self, applied: &ObservedDeployment) -> Option<AppStatus> {
        self.after_failures(applied, &[])
    }

    /// [`FinalStatus::after`] when some applies failed: `Degraded` says
    /// which and why.
    pub fn after_failures(
        &self,
        applied: &ObservedDeployment,
        failures: &[Problem],
    ) -> Option<AppStatus> {
        let problems: Vec<Problem> = self
            .basis
            .problems
            .iter()
            .chain(failures)
            .cloned()
            .collect();
        let status = problems::report(
            self.basis.status(&self.written, applied),
            &problems,
            self.basis.generation,
            self.basis.now,
        );
        (status != self.written).then_some(status)
    }

    /// The Events for `failures` the status does not report yet.
    pub fn failure_notes(&self, failures: &[Problem]) -> Vec<Note> {
        problems::notes(&self.written, failures)
    }
}

/// What the status is computed from besides the previous status and the
/// Deployment.
#[derive(Clone, Debug, PartialEq)]
struct StatusBasis {
    generation: Option<i64>,
    instances: i32,
    desired_revision: String,
    selector: String,
    decision: Decision,
    restarts: i32,
    max_restarts: i32,
    next_cron_restart: Option<Timestamp>,
    reports: PodReports,
    now: Timestamp,
    /// Objects the plan leaves alone because the App does not own them.
    problems: Vec<Problem>,
    /// The spec as `status.history` records it.
    history: history::Current,
    /// `spec.paused`.
    paused: bool,
}

impl StatusBasis {
    fn status(&self, previous: &AppStatus, deployment: &ObservedDeployment) -> AppStatus {
        let mut status = status::compute(&StatusInputs {
            previous,
            generation: self.generation,
            instances: self.instances,
            desired_revision: &self.desired_revision,
            selector: &self.selector,
            decision: &self.decision,
            deployment,
            restarts: self.restarts,
            max_restarts: self.max_restarts,
            next_cron_restart: self.next_cron_restart,
            now: self.now,
        });
        self.reports.apply(&mut status, self.generation, self.now);
        status.history = history::record(&status.history, &self.history, &self.decision, self.now);
        paused::overlay(&mut status, self.paused, self.generation, self.now);
        status
    }
}

/// Plans one reconcile of `app` (as read from the API server, not a cache:
/// its status decides whether a failed revision may be retried).
pub fn plan(app: &App, observed: &Observed, opts: &BuildOptions, now: Timestamp) -> Plan {
    let previous = app.status.clone().unwrap_or_default();
    match rollout_plan(app, observed, opts, &previous, now) {
        Ok(plan) => plan,
        Err(error) => invalid(&previous, app.metadata.generation, &error.to_string(), now),
    }
}

/// The plan for an App that cannot be rolled out (its spec cannot be built,
/// or it does not even parse): the Event, unless the status already says
/// the same for this generation, then the status; no object is touched,
/// and nothing is retried until the App changes.
pub fn invalid(
    previous: &AppStatus,
    generation: Option<i64>,
    message: &str,
    now: Timestamp,
) -> Plan {
    let mut steps = Vec::new();
    if !already_reported(previous, generation, message) {
        steps.push(Step::Events(vec![Note::warning(
            reason::INVALID_SPEC,
            message.to_string(),
        )]));
    }
    let status = status::invalid_spec(previous, generation, message, now);
    if status != *previous {
        steps.push(Step::Status(Box::new(status)));
    }
    Plan {
        steps,
        requeue: Requeue::AwaitChange,
        decision: None,
    }
}

fn already_reported(previous: &AppStatus, generation: Option<i64>, message: &str) -> bool {
    conditions::find(&previous.conditions, CONDITION_DEGRADED).is_some_and(|c| {
        c.reason == reason::INVALID_SPEC
            && c.message == message
            && c.observed_generation == generation
    })
}

fn rollout_plan(
    app: &App,
    observed: &Observed,
    opts: &BuildOptions,
    previous: &AppStatus,
    now: Timestamp,
) -> Result<Plan, SpecError> {
    let cron = cron::plan(app, cron_since(app, previous, now), now)?;
    let due = cron.as_ref().filter(|c| c.restart_now);
    let restart = match due {
        Some(_) if holds_failed_release(app, observed, opts, previous)? => None,
        due => due,
    };
    let restarted_at = match restart {
        Some(_) => Some(now.to_string()),
        None => previous.last_cron_restart.clone(),
    };
    let desired = build::build_restarted_at(app, &observed.nodes, opts, restarted_at.as_deref())?;

    let mut steps = Vec::new();
    let mut notes = Vec::new();
    // The status as the API server holds it, step by step.
    let mut written = previous.clone();
    if let Some(restart) = restart {
        written.last_cron_restart = restarted_at;
        written.next_cron_restart = Some(restart.next.to_string());
        steps.push(Step::Status(Box::new(written.clone())));
        notes.push(cron_note(restart));
    }

    let conflicts = Conflicts::of(app, observed, &desired);
    // A Deployment that is not the App's says nothing about its release.
    let before = observed
        .deployment
        .as_ref()
        .filter(|_| conflicts.deployment.is_none())
        .map(ObservedDeployment::from_deployment);
    let reports = PodReports::of(&ReportInputs {
        previous,
        pods: &observed.pods,
        desired_revision: &desired.revision,
        listen_timeout: slow_start::listen_timeout(app)?,
        progress_deadline: desired
            .deployment
            .spec
            .as_ref()
            .and_then(|s| s.progress_deadline_seconds),
        now,
    });
    let memory = &reports.memory.by_pod;
    let (decision, deployment) = decide(app, observed, memory, &desired, &written, before.as_ref());
    let basis = StatusBasis {
        generation: app.metadata.generation,
        instances: desired.instances,
        desired_revision: desired.revision.clone(),
        selector: desired.selector.clone(),
        decision: decision.clone(),
        restarts: observed.max_crash_restarts(None, memory),
        max_restarts: build::max_restarts(app),
        next_cron_restart: cron.as_ref().map(|c| c.next),
        reports: reports.clone(),
        now,
        problems: conflicts.problems(),
        history: history::Current::of(
            app,
            &desired.revision,
            observed
                .history_latest
                .as_ref()
                .and_then(history::spec_of)
                .as_ref(),
        ),
        paused: paused::is_paused(app),
    };
    if matches!(decision, Decision::Fail { .. }) {
        written = basis.status(&written, &before.clone().unwrap_or_default());
        steps.push(Step::Status(Box::new(written.clone())));
    }

    let save = save_last_good(observed, &decision, &desired, &deployment);
    if conflicts.deployment.is_none() {
        let indices = instance_indices(&deployment, observed.instance_pods.as_deref());
        steps.push(Step::Apply(Object::Deployment(Box::new(deployment))));
        if let Some((patches, shared)) = indices {
            if !patches.is_empty() {
                steps.push(Step::PodAnnotations(patches));
            }
            notes.extend(shared);
        }
    }
    steps.extend(owned_objects(
        app,
        observed,
        desired.service.filter(|_| conflicts.service.is_none()),
        desired.pdb.filter(|_| conflicts.pdb.is_none()),
    ));
    if let Some(save) = save.filter(|_| conflicts.none_block_saving()) {
        // A ControllerRevision's data is immutable: the old one goes first.
        if let Some(old) = &observed.last_good {
            steps.push(Step::Delete(Delete {
                kind: Kind::LastGood,
                name: old.metadata.name.clone().unwrap_or_default(),
                uid: old.metadata.uid.clone(),
            }));
        }
        steps.push(Step::Apply(Object::LastGood(Box::new(save))));
    }
    if conflicts.deployment.is_none() {
        steps.extend(history_steps(
            app,
            observed,
            previous,
            &basis,
            &desired.deployment,
        ));
    }
    notes.extend(problems::notes(previous, &basis.problems));
    if conflicts.deployment.is_none() {
        notes.extend(notes::rollout_notes(
            previous,
            before.as_ref(),
            &decision,
            &desired.revision,
            desired.instances,
        ));
    }
    notes.extend(reports.notes());
    if !notes.is_empty() {
        steps.push(Step::Events(notes));
    }
    let mut wakeup = next_wakeup(cron.map(|c| c.next), now);
    if !basis.problems.is_empty() {
        wakeup = wakeup.min(CONFLICT_RECHECK);
    }
    wakeup = earliest(wakeup, reports.wake_in());
    steps.push(Step::FinalStatus(Box::new(FinalStatus {
        written,
        before: before.unwrap_or_default(),
        basis,
    })));
    Ok(Plan {
        steps,
        requeue: Requeue::After(wakeup),
        decision: Some(decision),
    })
}

/// The saved last good template, when `deployment` carries a template
/// known to be good (the desired one, complete; or the rollback target's)
/// that is not the one saved.
fn save_last_good(
    observed: &Observed,
    decision: &Decision,
    desired: &Desired,
    deployment: &Deployment,
) -> Option<ControllerRevision> {
    let good = match decision {
        Decision::Proceed(Phase::Complete) => Some(desired.revision.as_str()),
        other => other.rollback_target(),
    }?;
    let template = &deployment.spec.as_ref()?.template;
    let saved = observed.last_good.as_ref();
    let unsaved = saved.and_then(last_good::saved_revision).as_deref() != Some(good);
    (revision_of(template) == Some(good) && unsaved)
        .then(|| last_good::save(deployment, saved))
        .flatten()
}

/// Saves the current spec when the history gets a revision for it (or its
/// saved copy is missing), and removes the saved specs of revisions the
/// history drops.
fn history_steps(
    app: &App,
    observed: &Observed,
    previous: &AppStatus,
    basis: &StatusBasis,
    deployment: &Deployment,
) -> Vec<Step> {
    let history = history::record(
        &previous.history,
        &basis.history,
        &basis.decision,
        basis.now,
    );
    let mut steps = Vec::new();
    let Some(newest) = history.last() else {
        return steps;
    };
    let saved = observed
        .history_latest
        .as_ref()
        .and_then(|c| c.metadata.name.as_deref())
        == Some(newest.controller_revision.as_str());
    if !saved {
        if let Some(object) = history::save(app, deployment, newest.revision) {
            steps.push(Step::Apply(Object::Revision(Box::new(object))));
        }
    }
    steps.extend(
        history::dropped(&previous.history, &history)
            .into_iter()
            .map(|name| {
                Step::Delete(Delete {
                    kind: Kind::Revision,
                    name,
                    uid: None,
                })
            }),
    );
    steps
}

/// The same-named objects the App would apply but does not control.
struct Conflicts {
    deployment: Option<Conflict>,
    service: Option<Conflict>,
    pdb: Option<Conflict>,
    last_good: Option<Conflict>,
}

impl Conflicts {
    fn of(app: &App, observed: &Observed, desired: &Desired) -> Self {
        let uid = app.metadata.uid.as_deref().unwrap_or_default();
        Conflicts {
            deployment: ownership::conflict(
                "Deployment",
                observed.deployment.as_ref().map(|d| &d.metadata),
                uid,
            ),
            service: desired
                .service
                .as_ref()
                .and_then(|_| ownership::conflict("Service", observed.service.as_ref(), uid)),
            pdb: desired.pdb.as_ref().and_then(|_| {
                ownership::conflict("PodDisruptionBudget", observed.pdb.as_ref(), uid)
            }),
            last_good: ownership::conflict(
                "ControllerRevision",
                observed.last_good.as_ref().map(|c| &c.metadata),
                uid,
            ),
        }
    }

    /// Saving the template needs the App's own Deployment (the template
    /// comes from it) and a ControllerRevision that is the App's or none.
    fn none_block_saving(&self) -> bool {
        self.deployment.is_none() && self.last_good.is_none()
    }

    fn problems(&self) -> Vec<Problem> {
        [&self.deployment, &self.service, &self.pdb, &self.last_good]
            .into_iter()
            .flatten()
            .map(Conflict::problem)
            .collect()
    }
}

/// The spec still asks for the revision that failed. A cron restart would
/// give it a new restart time, hence a new revision, and roll the known-bad
/// spec out again; so while a failed release is held, cron restarts are
/// suspended (the pods keep the template they have, the last good one when
/// there is one) until the spec changes.
fn holds_failed_release(
    app: &App,
    observed: &Observed,
    opts: &BuildOptions,
    previous: &AppStatus,
) -> Result<bool, SpecError> {
    let Some(failed) = previous.failed_revision.as_deref() else {
        return Ok(false);
    };
    let unrestarted = build::build_restarted_at(
        app,
        &observed.nodes,
        opts,
        previous.last_cron_restart.as_deref(),
    )?;
    Ok(unrestarted.revision == failed)
}

/// The pod writes that keep each running pod's instance index distinct,
/// for the pods the Deployment rolls towards, and a warning when pods
/// share one outside a hand-over. `None` when its pods read no index or
/// the pods were not listed fresh.
fn instance_indices(
    deployment: &Deployment,
    pods: Option<&[PodFacts]>,
) -> Option<(Vec<PodPatch>, Option<Note>)> {
    let spec = deployment.spec.as_ref()?;
    if !build::reads_index(&spec.template) {
        return None;
    }
    let revision = crate::observed::revision_of(&spec.template)?;
    let assignment = instance_index::assign(spec.replicas.unwrap_or(1), revision, pods?);
    let shared = (!assignment.shared.is_empty()).then(|| {
        let pairs: Vec<String> = assignment
            .shared
            .iter()
            .map(|(i, pods)| format!("{i}: {}", pods.join(", ")))
            .collect();
        Note::warning(
            reason::INSTANCE_INDEX_SHARED,
            format!(
                "pods share an instance index ({}); all but the first are deleted first on the next scale down or rollout",
                pairs.join("; ")
            ),
        )
    });
    Some((assignment.patches, shared))
}

fn cron_note(restart: &CronPlan) -> Note {
    Note::normal(
        reason::CRON_RESTART,
        format!("scheduled restart; the next one is due at {}", restart.next),
    )
}

/// The rollout decision and the Deployment that carries it out: the desired
/// one, or the desired one with the rollback target's pod template. When
/// no template of the target is left, the decision is not to roll back.
/// Restarts are held against `maxRestarts` without the memory restarts
/// counted in `memory`.
fn decide(
    app: &App,
    observed: &Observed,
    memory: &[PodMemoryRestarts],
    desired: &Desired,
    status: &AppStatus,
    before: Option<&ObservedDeployment>,
) -> (Decision, Deployment) {
    let decision = rollout::decide(&RolloutInputs {
        desired_revision: &desired.revision,
        last_good: status.last_good_revision.as_deref(),
        failed: status.failed_revision.as_deref(),
        deployment: before,
        desired_restarts: observed.max_crash_restarts(Some(&desired.revision), memory),
        max_restarts: build::max_restarts(app),
        auto_rollback: app
            .spec
            .rollout
            .as_ref()
            .and_then(|r| r.auto_rollback)
            .unwrap_or(true),
    });
    let Some(target) = decision.rollback_target() else {
        return (decision, desired.deployment.clone());
    };
    match observed.template_of(target) {
        Some(template) => {
            let mut deployment = desired.deployment.clone();
            if let Some(spec) = deployment.spec.as_mut() {
                // Replicas, strategy and the rest follow the current spec;
                // only the pods go back.
                spec.template = template;
            }
            (decision, deployment)
        }
        None => (decision.without_rollback(), desired.deployment.clone()),
    }
}

/// The Service and the PodDisruptionBudget: applied when desired, else
/// deleted if they exist and the App controls them.
fn owned_objects(
    app: &App,
    observed: &Observed,
    service: Option<Service>,
    pdb: Option<PodDisruptionBudget>,
) -> Vec<Step> {
    let name = app.metadata.name.as_deref().unwrap_or_default();
    let uid = app.metadata.uid.as_deref().unwrap_or_default();
    let service = service.map(|s| Object::Service(Box::new(s)));
    let pdb = pdb.map(|p| Object::PodDisruptionBudget(Box::new(p)));
    [
        apply_or_delete(service, Kind::Service, observed.service.as_ref(), name, uid),
        apply_or_delete(
            pdb,
            Kind::PodDisruptionBudget,
            observed.pdb.as_ref(),
            name,
            uid,
        ),
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// Apply the object when it is desired; otherwise delete the one that
/// exists, if the App controls it: readyroll never removes what it did not
/// create.
fn apply_or_delete(
    desired: Option<Object>,
    kind: Kind,
    existing: Option<&ObjectMeta>,
    name: &str,
    owner_uid: &str,
) -> Option<Step> {
    if let Some(object) = desired {
        return Some(Step::Apply(object));
    }
    let existing = existing.filter(|meta| controlled_by(meta, owner_uid))?;
    Some(Step::Delete(Delete {
        kind,
        name: name.to_string(),
        uid: existing.uid.clone(),
    }))
}

/// The cron schedule counts from the last cron restart, or from the App's
/// creation when there was none yet.
fn cron_since(app: &App, status: &AppStatus, now: Timestamp) -> Timestamp {
    status
        .last_cron_restart
        .as_deref()
        .and_then(|t| t.parse().ok())
        .or_else(|| app.metadata.creation_timestamp.as_ref().map(|t| t.0))
        .unwrap_or(now)
}

/// The sooner of a wake-up and an optional earlier one.
fn earliest(wakeup: Duration, other: Option<Duration>) -> Duration {
    other.map_or(wakeup, |other| other.min(wakeup))
}

/// Wake up for the next cron restart, or for the periodic resync.
fn next_wakeup(next_cron: Option<Timestamp>, now: Timestamp) -> Duration {
    next_cron
        .and_then(|next| Duration::try_from(next.duration_since(now)).ok())
        .map_or(RESYNC, |until| until.min(RESYNC))
}

#[cfg(test)]
mod held_tests;
#[cfg(test)]
mod ownership_tests;
#[cfg(test)]
mod tests;
