//! What the operator tells the outside world about itself: Prometheus
//! metrics, health and readiness endpoints, and structured logs.
//!
//! The controller owns one [`Metrics`] and one [`Health`], records into them
//! while it works, and hands clones to [`serve`], which answers `/metrics`,
//! `/healthz` and `/readyz` on `--metrics-addr`.

mod app_metrics;
mod args;
mod health;
mod logging;
mod metrics;
mod probe;
mod server;

pub use app_metrics::{CONDITION_TYPES, ROLLOUT_BUCKETS};
pub use args::{LogArgs, MetricsArgs, ProbeArgs, ProbeFailed};
pub use health::Health;
pub use logging::{init_logging, LogFormat, LoggingError};
pub use metrics::{Metrics, ReconcileTimer};
pub use probe::{probe, ProbeError, ProbeResponse};
pub use server::{serve, ServerError, TelemetryServer, DEFAULT_METRICS_ADDR};
