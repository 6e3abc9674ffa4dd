//! The controller: thin I/O around the pure core. Each reconcile step lives
//! in its own file: `cron` → `core::build` → `rollout` → `apply` → `events`
//! → `status`, wired together in `reconcile` and started by `run`.

mod apply;
mod args;
mod conditions;
mod context;
mod cron;
mod error;
mod events;
mod invalid;
mod reconcile;
mod rollout;
mod run;
mod status;
mod synced;
mod watches;

#[cfg(test)]
mod fake_api;
#[cfg(test)]
mod reconcile_tests;

pub use apply::FIELD_MANAGER;
pub use args::RunArgs;
pub use conditions::reason;
pub use error::Error;
pub use run::{run, ControllerConfig, CONTROLLER_NAME};
