//! readyroll: PM2's zero-downtime reload contract as a Kubernetes operator.
#![forbid(unsafe_code)]

pub mod controller;
pub mod convert;
pub mod core;
pub mod crd;
pub mod leader;
pub mod telemetry;
