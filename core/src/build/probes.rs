//! Readiness, startup and liveness probes.
//!
//! Readiness decides when a new pod may take traffic (and so when an old
//! one may go), in this order: an explicit `spec.readiness` check; the
//! runtime shim's `/ready` (PM2's `process.send('ready')`, or its
//! `listening` when `waitReady` is off); a TCP connect to `spec.port`
//! (PM2's `listening`). With none of these the pod is Ready once its
//! container runs, as Kubernetes does by default.
//!
//! No probe restarts a container for being slow to become ready: PM2's
//! `listen_timeout` is the time a start is expected to take, past which the
//! App reports a slow start (see `slow_start`), and the rollout's progress
//! deadline, derived from it, decides rollback. A startup probe exists only
//! to hold off a user's liveness check until the app is up, with a failure
//! budget as long as the progress deadline, so even then a start is given
//! up on no sooner than the rollout itself would be.

use k8s_openapi::api::core::v1::{ExecAction, HTTPGetAction, Probe, TCPSocketAction};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use crate::crd::{AppSpec, Check, HttpScheme};

use super::deployment::{min_ready_seconds, progress_deadline_seconds};
use super::error::SpecError;
use super::shim::{Shim, READY_PATH};
use super::timings::Timings;

/// Readiness is checked every second and one failure takes the pod out of
/// the Service: a stopping app leaves the endpoints fast.
const READINESS_PERIOD_SECONDS: i32 = 1;
const READINESS_FAILURE_THRESHOLD: i32 = 1;
/// Kubernetes' own liveness defaults: restarting is drastic, be patient.
const LIVENESS_PERIOD_SECONDS: i32 = 10;
const LIVENESS_FAILURE_THRESHOLD: i32 = 3;
const TIMEOUT_SECONDS: i32 = 1;

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Probes {
    pub readiness: Option<Probe>,
    pub startup: Option<Probe>,
    pub liveness: Option<Probe>,
}

pub fn probes(spec: &AppSpec, shim: Option<&Shim>, timings: &Timings) -> Result<Probes, SpecError> {
    let readiness = readiness(spec, shim)?;
    let liveness = spec
        .liveness
        .as_ref()
        .map(|check| {
            from_check(
                check,
                spec.port,
                "spec.liveness",
                LIVENESS_PERIOD_SECONDS,
                LIVENESS_FAILURE_THRESHOLD,
            )
        })
        .transpose()?;
    let startup = match &liveness {
        Some(live) => Some(Probe {
            period_seconds: Some(1),
            failure_threshold: Some(startup_budget_checks(spec, timings)?),
            success_threshold: Some(1),
            ..readiness.clone().unwrap_or_else(|| live.clone())
        }),
        None => None,
    };
    Ok(Probes {
        readiness,
        startup,
        liveness,
    })
}

/// One startup check per second of the rollout's progress deadline: the
/// liveness check waits as long as the rollout would.
fn startup_budget_checks(spec: &AppSpec, timings: &Timings) -> Result<i32, SpecError> {
    Ok(progress_deadline_seconds(spec, timings, min_ready_seconds(timings))?.max(1))
}

fn readiness(spec: &AppSpec, shim: Option<&Shim>) -> Result<Option<Probe>, SpecError> {
    if let Some(check) = &spec.readiness {
        return from_check(
            check,
            spec.port,
            "spec.readiness",
            READINESS_PERIOD_SECONDS,
            READINESS_FAILURE_THRESHOLD,
        )
        .map(Some);
    }
    let handler = if let Some(shim) = shim {
        Probe {
            http_get: Some(HTTPGetAction {
                path: Some(READY_PATH.into()),
                port: IntOrString::Int(shim.probe_port),
                scheme: Some("HTTP".into()),
                ..Default::default()
            }),
            ..Default::default()
        }
    } else if let (Some(port), false) = (spec.port, spec.wait_ready == Some(true)) {
        Probe {
            tcp_socket: Some(TCPSocketAction {
                port: IntOrString::Int(port),
                host: None,
            }),
            ..Default::default()
        }
    } else {
        return Ok(None);
    };
    Ok(Some(Probe {
        period_seconds: Some(READINESS_PERIOD_SECONDS),
        timeout_seconds: Some(TIMEOUT_SECONDS),
        failure_threshold: Some(READINESS_FAILURE_THRESHOLD),
        success_threshold: Some(1),
        ..handler
    }))
}

fn from_check(
    check: &Check,
    default_port: Option<i32>,
    field: &str,
    default_period: i32,
    default_failures: i32,
) -> Result<Probe, SpecError> {
    let port = |own: Option<i32>, handler: &str| {
        own.or(default_port).map(IntOrString::Int).ok_or_else(|| {
            SpecError::new(
                format!("{field}.{handler}.port"),
                "is required when spec.port is not set",
            )
        })
    };
    let handler = match (&check.http_get, &check.tcp_socket, &check.exec) {
        (Some(http), None, None) => Probe {
            http_get: Some(HTTPGetAction {
                path: Some(http.path.clone().unwrap_or_else(|| "/".into())),
                port: port(http.port, "httpGet")?,
                scheme: Some(
                    match http.scheme.unwrap_or(HttpScheme::Http) {
                        HttpScheme::Http => "HTTP",
                        HttpScheme::Https => "HTTPS",
                    }
                    .into(),
                ),
                ..Default::default()
            }),
            ..Default::default()
        },
        (None, Some(tcp), None) => Probe {
            tcp_socket: Some(TCPSocketAction {
                port: port(tcp.port, "tcpSocket")?,
                host: None,
            }),
            ..Default::default()
        },
        (None, None, Some(exec)) => {
            if exec.command.is_empty() {
                return Err(SpecError::new(
                    format!("{field}.exec.command"),
                    "must name a command",
                ));
            }
            Probe {
                exec: Some(ExecAction {
                    command: Some(exec.command.clone()),
                }),
                ..Default::default()
            }
        }
        _ => {
            return Err(SpecError::new(
                field,
                "needs exactly one of httpGet, tcpSocket or exec",
            ))
        }
    };
    let positive = |value: Option<i32>, default: i32, name: &str| {
        let value = value.unwrap_or(default);
        if value >= 1 {
            Ok(value)
        } else {
            Err(SpecError::new(
                format!("{field}.{name}"),
                format!("{value} must be at least 1"),
            ))
        }
    };
    Ok(Probe {
        period_seconds: Some(positive(
            check.period_seconds,
            default_period,
            "periodSeconds",
        )?),
        timeout_seconds: Some(positive(
            check.timeout_seconds,
            TIMEOUT_SECONDS,
            "timeoutSeconds",
        )?),
        failure_threshold: Some(positive(
            check.failure_threshold,
            default_failures,
            "failureThreshold",
        )?),
        success_threshold: Some(1),
        ..handler
    })
}

#[cfg(test)]
mod tests;
