//! readyroll's pure core: the `App` resource and everything a reconcile
//! decides, with no client, no runtime and no clock. The crate depends on
//! Kubernetes types only, so the build, not a habit, keeps I/O out of it.
//!
//! - `crd`: the App custom resource (readyroll.dev/v1alpha1).
//! - `build`: an App (plus the cluster's nodes) in, the desired Deployment,
//!   Service and PodDisruptionBudget out.
//! - `cron`: whether a scheduled rolling restart is due.
//! - `rollout`: where the App's release stands and what template to run.
//! - `status`, `conditions`: the App's status after a reconcile;
//!   `kstatus`: the `Ready`/`Reconciling`/`Stalled` summary GitOps tools read.
//! - `notes`: the Events a reconcile produces.
//! - `reason`: the one set of reasons for conditions and Events.
//! - `observed`, `plan`: what a reconcile read in, the ordered writes out;
//!   the controller around it is observe → plan → execute.
//! - `last_good`: the last good pod template, kept where it outlives the
//!   Deployment.
//! - `ownership`, `problems`: objects readyroll may not touch or the API
//!   server refused, reported on the App.
//! - `instance_index`: PM2's `NODE_APP_INSTANCE`, which index each pod holds.
//! - `slow_start`, `memory_restart`: what the App's pods say about PM2's
//!   `listen_timeout` and `max_memory_restart`; `pod_reports` gathers both
//!   for the plan.
#![forbid(unsafe_code)]

pub mod build;
pub mod conditions;
pub mod crd;
pub mod cron;
pub mod history;
pub mod instance_index;
pub mod kstatus;
pub mod last_good;
pub mod memory_restart;
pub mod notes;
pub mod observed;
pub mod ownership;
pub mod paused;
pub mod plan;
pub mod pod_reports;
pub mod problems;
pub mod reason;
pub mod rollout;
pub mod slow_start;
pub mod status;
