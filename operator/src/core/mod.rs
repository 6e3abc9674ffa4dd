//! The pure heart of readyroll: an `App` (plus the cluster's nodes) in, the
//! desired Deployment, Service and PodDisruptionBudget out. No client, no
//! async, no I/O, so every rule is tested with plain objects.

mod defaults;
mod error;
mod instances;
mod names;
mod quantity;
mod scheduling;
mod timings;

#[cfg(test)]
mod testing;

pub use defaults::max_restarts;
pub use error::SpecError;
pub use instances::resolve_instances;
