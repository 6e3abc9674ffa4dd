//! The Deployment: readiness-gated rolling updates that never remove a
//! ready pod before its replacement is ready.

use k8s_openapi::api::apps::v1::{
    Deployment, DeploymentSpec, DeploymentStrategy, RollingUpdateDeployment,
};
use k8s_openapi::api::core::v1::PodTemplateSpec;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use crate::crd::AppSpec;

use super::defaults;
use super::error::SpecError;
use super::labels::Identity;
use super::timings::{ceil_seconds_i32, Timings};

/// Added to the listen and uptime budgets for the progress deadline: time to
/// schedule a pod, pull its image and start its container, none of which PM2
/// had to wait for. Generous, because a deadline that fires early rolls
/// back a healthy release.
pub const PROGRESS_DEADLINE_SLACK_SECONDS: i32 = 60;

pub fn deployment(
    spec: &AppSpec,
    id: &Identity,
    timings: &Timings,
    replicas: i32,
    template: PodTemplateSpec,
) -> Result<Deployment, SpecError> {
    let min_ready_seconds = min_ready_seconds(timings);
    Ok(Deployment {
        metadata: id.metadata(),
        spec: Some(DeploymentSpec {
            replicas: Some(replicas),
            selector: id.label_selector(),
            template,
            strategy: Some(DeploymentStrategy {
                type_: Some("RollingUpdate".into()),
                rolling_update: Some(RollingUpdateDeployment {
                    // Never below the desired count of ready pods.
                    max_unavailable: Some(IntOrString::Int(0)),
                    max_surge: Some(max_surge(spec)?),
                }),
            }),
            min_ready_seconds: Some(min_ready_seconds),
            progress_deadline_seconds: Some(progress_deadline_seconds(
                spec,
                timings,
                min_ready_seconds,
            )?),
            revision_history_limit: Some(revision_history_limit(spec)?),
            // `readyroll pause`: the Deployment holds the rollout.
            paused: spec.paused.filter(|paused| *paused),
        }),
        status: None,
    })
}

/// PM2 `min_uptime` as `minReadySeconds`, rounded up.
pub fn min_ready_seconds(timings: &Timings) -> i32 {
    ceil_seconds_i32(timings.min_uptime_ms)
}

/// `rollout.progressDeadlineSeconds`, or the listen timeout plus the
/// minimum uptime plus [`PROGRESS_DEADLINE_SLACK_SECONDS`]. Kubernetes
/// requires it to exceed `minReadySeconds`.
pub fn progress_deadline_seconds(
    spec: &AppSpec,
    timings: &Timings,
    min_ready_seconds: i32,
) -> Result<i32, SpecError> {
    let explicit = spec
        .rollout
        .as_ref()
        .and_then(|r| r.progress_deadline_seconds);
    let deadline = explicit.unwrap_or_else(|| {
        ceil_seconds_i32(timings.listen_timeout_ms)
            .saturating_add(min_ready_seconds)
            .saturating_add(PROGRESS_DEADLINE_SLACK_SECONDS)
    });
    // Also a CEL rule of the CRD (`crd::rules`), checked here for Apps
    // admitted before the CRD held it.
    if deadline <= min_ready_seconds {
        return Err(SpecError::new(
            "spec.rollout.progressDeadlineSeconds",
            format!("{deadline} must be more than minReadySeconds ({min_ready_seconds}, from spec.minUptime)"),
        ));
    }
    Ok(deadline)
}

/// At least one pod, or a percentage above 0%: with `maxUnavailable` 0 a
/// surge of 0 could never replace anything.
fn max_surge(spec: &AppSpec) -> Result<IntOrString, SpecError> {
    let field = "spec.rollout.maxSurge";
    match spec.rollout.as_ref().and_then(|r| r.max_surge.clone()) {
        None => Ok(IntOrString::Int(defaults::MAX_SURGE)),
        Some(IntOrString::Int(n)) if n >= 1 => Ok(IntOrString::Int(n)),
        Some(IntOrString::String(s)) if is_positive_percent(&s) => Ok(IntOrString::String(s)),
        Some(other) => Err(SpecError::new(
            field,
            format!("{other:?} must be at least 1 or a percentage above 0%"),
        )),
    }
}

fn is_positive_percent(s: &str) -> bool {
    s.strip_suffix('%')
        .filter(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        .is_some_and(|n| n.bytes().any(|b| b != b'0'))
}

fn revision_history_limit(spec: &AppSpec) -> Result<i32, SpecError> {
    let limit = spec
        .rollout
        .as_ref()
        .and_then(|r| r.revision_history_limit)
        .unwrap_or(defaults::REVISION_HISTORY_LIMIT);
    if limit < 1 {
        // The last good revision must survive for a rollback.
        return Err(SpecError::new(
            "spec.rollout.revisionHistoryLimit",
            format!("{limit} must be at least 1 to keep a revision to roll back to"),
        ));
    }
    Ok(limit)
}

#[cfg(test)]
mod tests;
