//! readyroll: PM2's zero-downtime reload contract as a Kubernetes operator.
#![forbid(unsafe_code)]

pub mod convert;
pub mod crd;
pub mod leader;
pub mod telemetry;
