//! The controller: thin I/O around the pure core (`readyroll-core`, which
//! holds cron planning, the build, the rollout decision, status and event
//! notes). Wired together in `reconcile`, written by `apply` and `events`,
//! started by `run`.

mod apply;
mod args;
mod context;
mod error;
mod events;
mod invalid;
mod reconcile;
mod run;
mod synced;
mod watches;

#[cfg(test)]
mod fake_api;
#[cfg(test)]
mod reconcile_tests;

pub use apply::FIELD_MANAGER;
pub use args::RunArgs;
pub use error::Error;
pub use readyroll_core::reason;
pub use run::{run, ControllerConfig, CONTROLLER_NAME};
