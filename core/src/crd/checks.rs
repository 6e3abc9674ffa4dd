//! Explicit health checks an App may name instead of the defaults.

use kube::KubeSchema;
use serde::{Deserialize, Serialize};

/// A check the kubelet runs: exactly one of `httpGet`, `tcpSocket`, `exec`.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("[has(self.httpGet), has(self.tcpSocket), has(self.exec)].filter(x, x).size() == 1").message("a check needs exactly one of httpGet, tcpSocket or exec"))]
pub struct Check {
    /// Ready when an HTTP GET answers with a status from 200 to 399.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_get: Option<HttpGetCheck>,

    /// Ready when a TCP connection opens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tcp_socket: Option<TcpSocketCheck>,

    /// Ready when the command exits 0 inside the container.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exec: Option<ExecCheck>,

    /// Seconds between checks. Default 1 for readiness, 10 for liveness.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 3600))]
    pub period_seconds: Option<i32>,

    /// Seconds after which one check counts as failed. Default 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 3600))]
    pub timeout_seconds: Option<i32>,

    /// Consecutive failures before the pod is unready (or restarted, for
    /// liveness). Default 1 for readiness, 3 for liveness.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 1000))]
    pub failure_threshold: Option<i32>,
}

/// An HTTP GET check.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HttpGetCheck {
    /// Path to request. Default `/`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    // Starts with `/`, and no character apply bodies cannot carry
    // (`super::text::APPLY_SAFE_PATTERN`, which this pattern replaces).
    #[schemars(regex(pattern = r"^/[^\x7F-\x9F\x{FFFE}\x{FFFF}]*$"))]
    pub path: Option<String>,

    /// Port to request. Default `spec.port`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 65535))]
    pub port: Option<i32>,

    /// `HTTP` (default) or `HTTPS` (certificate not verified).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheme: Option<HttpScheme>,
}

/// Scheme of an HTTP check.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, schemars::JsonSchema)]
pub enum HttpScheme {
    #[serde(rename = "HTTP")]
    Http,
    #[serde(rename = "HTTPS")]
    Https,
}

/// A TCP connect check.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TcpSocketCheck {
    /// Port to connect to. Default `spec.port`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 65535))]
    pub port: Option<i32>,
}

/// A command run inside the app container.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExecCheck {
    /// The command and its arguments (not run through a shell).
    #[schemars(length(min = 1))]
    pub command: Vec<String>,
}
