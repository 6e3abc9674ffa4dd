//! The controller against a real API server, with kwok nodes for the pods:
//! what only a real cluster can show (defaulting, garbage collection, the
//! Deployment controller's rollouts, CEL validation, server-side apply).
//!
//! Each test runs its own controller in-process, watching its own
//! namespace, and uses kwok nodes of its own.

mod harness;
mod observe;

mod admission;
mod cli;
mod cli_ops;
mod conflicts;
mod generated;
mod gitops;
mod held;
mod instance_index;
mod instances;
mod metrics;
mod objects;
mod ownership;
mod pod_reports;
mod rollout;
mod scale;
mod validation;
