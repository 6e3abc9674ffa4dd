//! readyroll: PM2's zero-downtime reload contract as a Kubernetes operator.
#![forbid(unsafe_code)]

pub mod controller;
pub mod convert;
pub mod leader;
mod locked;
pub mod telemetry;

/// The desired objects of an App (pure; lives in `readyroll-core`).
pub use readyroll_core::build as core;
/// The `App` custom resource (lives in `readyroll-core`).
pub use readyroll_core::crd;
