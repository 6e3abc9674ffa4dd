//! Settings of the runtime shim that speaks PM2's protocol inside the pod.

use kube::KubeSchema;
use serde::{Deserialize, Serialize};

/// Port of the shim's readiness endpoint when none is configured.
pub const DEFAULT_SHIM_PROBE_PORT: i32 = 9797;

/// The runtime shim runs as the container's entry point: it gives the app
/// a Node IPC channel (`process.send('ready')`), reports readiness to the
/// kubelet, and stops the app the PM2 way (SIGINT or `'shutdown'`, then
/// kill after `killTimeout`).
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RuntimeShimSpec {
    /// Use the shim. Default: on for every App with a `script` (PM2's stop
    /// signal, `treekill`, `shutdownWithMessage`, `process.send('ready')` and
    /// `maxMemoryRestart` need it), off without one (the image's entry point
    /// runs as it is). With it off, Kubernetes stops the container with the
    /// image's stop signal (usually SIGTERM) to PID 1, and `maxMemoryRestart`
    /// is a hard memory limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,

    /// Image that provides the shim binary. Default: the operator's own image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new("self.trim().size() > 0").message("runtimeShim.image must not be empty"))]
    pub image: Option<String>,

    /// Port of the shim's readiness endpoint inside the pod. Default 9797;
    /// must differ from `spec.port`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 65535))]
    pub probe_port: Option<i32>,
}
