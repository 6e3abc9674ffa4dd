//! PM2's defaults and readyroll's own, in one place.
//!
//! The PM2 numbers come from PM2's source (`lib/API/schema.json` and the
//! God daemon): they are what an ecosystem file means when it leaves an
//! option out, so an App that omits them behaves as it did under PM2.

use crate::crd::{AppSpec, DEFAULT_DRAIN_DELAY_MS, DEFAULT_SHIM_PROBE_PORT};

/// PM2 `listen_timeout`: how long a new process may take to become ready.
pub const LISTEN_TIMEOUT_MS: i64 = 3_000;
/// PM2 `kill_timeout`: how long a stopping process may take before SIGKILL.
pub const KILL_TIMEOUT_MS: i64 = 1_600;
/// PM2 `min_uptime`: how long a process must run to count as started.
pub const MIN_UPTIME_MS: i64 = 1_000;
/// PM2 `max_restarts`: restarts before PM2 marks the app errored.
pub const MAX_RESTARTS: i32 = 16;
/// PM2's memory check interval for `max_memory_restart` (its `worker_interval`).
pub const MEMORY_CHECK_INTERVAL_MS: i64 = 30_000;
/// The container's memory limit as a percentage of `max_memory_restart`
/// when the runtime shim restarts gracefully below it.
pub const MEMORY_LIMIT_PERCENT: i32 = 150;
/// PM2's stop signal.
pub const STOP_SIGNAL: &str = "SIGINT";
/// Pre-stop drain before the stop signal (readyroll; PM2 has no load balancer to drain).
pub const DRAIN_DELAY_MS: i64 = DEFAULT_DRAIN_DELAY_MS;
/// How far the shim's drain may run past `drainDelayMs` by default while
/// connections still arrive: enough for kube-proxy to catch up after its
/// watch was cut (client-go backs off up to tens of seconds), and with the
/// PM2 default kill timeout about Kubernetes' own default grace period.
pub const DRAIN_EXTENSION_MS: i64 = 25_000;
/// Extra pods during a rollout: one at a time, like PM2's reload of one worker after another.
pub const MAX_SURGE: i32 = 1;
/// Port of the runtime shim's `/ready` endpoint.
pub const SHIM_PROBE_PORT: i32 = DEFAULT_SHIM_PROBE_PORT;
/// Old ReplicaSets kept for rollback (Kubernetes' own default).
pub const REVISION_HISTORY_LIMIT: i32 = 10;

/// Restarts past which the App is Degraded. Not a pod field: the controller
/// compares it with the pods' restart counts.
pub fn max_restarts(spec: &AppSpec) -> i32 {
    spec.max_restarts.unwrap_or(MAX_RESTARTS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_restarts_defaults_to_pm2s_sixteen() {
        let mut spec = AppSpec::default();
        assert_eq!(max_restarts(&spec), 16);
        spec.max_restarts = Some(3);
        assert_eq!(max_restarts(&spec), 3);
        spec.max_restarts = Some(0);
        assert_eq!(max_restarts(&spec), 0);
    }
}
