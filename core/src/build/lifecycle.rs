//! Stopping a pod without dropping requests: first a pre-stop drain while
//! endpoints and proxies stop routing to it, then the stop signal, then
//! `killTimeout` for the app to exit before the kubelet kills it.
//!
//! With the runtime shim the drain is the shim's `drain` command: at least
//! `drainDelayMs`, longer while new connections still reach the pod (a
//! proxy that has not caught up, as after an API-server outage), at most
//! `drainMaxMs`. Without it, a native sleep of `drainDelayMs`.

use k8s_openapi::api::core::v1::{ExecAction, Lifecycle, LifecycleHandler, SleepAction};
use readyroll_shim_contract::DrainArgs;

use super::shim::{Shim, BINARY_IN_POD};
use super::timings::{ceil_seconds, Timings};

/// `terminationGracePeriodSeconds`. The kubelet counts the pre-stop hook in
/// the grace period, so it is the longest drain plus the kill timeout.
/// The shim's drain is exact to the millisecond, so the sum is rounded up
/// once; a native sleep is whole seconds, so it and the kill timeout are
/// rounded up each (rounding them together would take the sleep's rounding
/// out of the kill timeout).
pub fn termination_grace_period_seconds(timings: &Timings, shim: Option<&Shim>) -> i64 {
    match shim {
        Some(_) if timings.drain_delay_ms > 0 => {
            ceil_seconds(timings.drain_max_ms + timings.kill_timeout_ms)
        }
        _ => sleep_seconds(timings) + ceil_seconds(timings.kill_timeout_ms),
    }
}

/// The drain as a native `sleep` can do it: whole seconds, rounded up (a
/// sub-second sleep would need an `exec` of a `sleep` binary, which images
/// built `FROM scratch` do not have).
fn sleep_seconds(timings: &Timings) -> i64 {
    ceil_seconds(timings.drain_delay_ms)
}

/// The pre-stop hook; `None` when the drain is 0.
pub fn pre_stop(timings: &Timings, shim: Option<&Shim>) -> Option<Lifecycle> {
    if timings.drain_delay_ms <= 0 {
        return None;
    }
    let handler = match shim {
        Some(shim) => LifecycleHandler {
            exec: Some(ExecAction {
                command: Some(drain_command(timings, shim)),
            }),
            ..Default::default()
        },
        // Native since Kubernetes 1.30: no binary or shell needed in the image.
        None => LifecycleHandler {
            sleep: Some(SleepAction {
                seconds: sleep_seconds(timings),
            }),
            ..Default::default()
        },
    };
    Some(Lifecycle {
        pre_stop: Some(handler),
        ..Default::default()
    })
}

/// `readyroll-shim drain ...`. Connections to the shim's probe port do not
/// count: the kubelet keeps probing readiness while the pod terminates.
fn drain_command(timings: &Timings, shim: &Shim) -> Vec<String> {
    let args = DrainArgs {
        min_ms: timings.drain_delay_ms.unsigned_abs(),
        max_ms: timings.drain_max_ms.unsigned_abs(),
        quiet_ms: readyroll_shim_contract::DEFAULT_QUIET_MS,
        ignore_ports: u16::try_from(shim.probe_port).into_iter().collect(),
    };
    std::iter::once(BINARY_IN_POD.to_string())
        .chain(args.to_args())
        .collect()
}

#[cfg(test)]
mod tests;
