//! The controller: thin I/O around the pure core (`readyroll-core`). One
//! reconcile (`reconcile`) is `observe` (read everything the plan needs,
//! from caches where possible) → `readyroll_core::plan` (pure: the ordered
//! writes) → `execute` (the writes; `events` publishes). `invalid` reports
//! Apps that do not parse; `run` wires the watches (`watches`) and caches.

mod applied;
mod args;
mod context;
mod error;
mod events;
mod execute;
mod instance_pods;
mod invalid;
mod observe;
mod reconcile;
mod revisions;
mod run;
mod synced;
mod templates;
mod triggers;
mod trim;
mod watches;
mod written;

#[cfg(test)]
mod fake_api;
#[cfg(test)]
mod reconcile_tests;
#[cfg(test)]
mod test_objects;

pub use args::RunArgs;
pub use error::Error;
pub use execute::FIELD_MANAGER;
pub use readyroll_core::reason;
pub use run::{run, ControllerConfig, CONTROLLER_NAME};
