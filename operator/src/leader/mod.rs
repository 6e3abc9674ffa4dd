//! Leader election among operator replicas on a `coordination.k8s.io/v1`
//! Lease, so that more than one replica can run for availability while
//! exactly one writes.
//!
//! Built on [`kube_lease_manager`] (which acquires, renews and releases the
//! Lease with server-side apply) plus a write fence of our own: the crate
//! only reports *changes*, and keeps reporting "leader" while renewals fail,
//! so on its own a leader cut off from the API server would keep writing
//! after a standby took over.
//!
//! # Contract for the controller
//!
//! * Every replica watches and keeps its caches warm; only **writes** are
//!   gated. A standby is ready (`/readyz`) as soon as its caches are synced.
//! * Call [`Leadership::is_leader`] immediately before **every** write
//!   (apply, status patch, Event) and skip the write when it is false. It
//!   reads the clock on each call: it turns false by itself at the fence
//!   deadline, `max_clock_skew` before the Lease could pass to another
//!   replica, even when the election task cannot reach the API server.
//!   A write already sent when leadership ends is not recalled; the fence
//!   margin (2 s by default) is its budget, and writes are server-side
//!   applies of the same desired state, so a late duplicate is harmless.
//! * Watch [`Leadership::changes`]: on `true`, reconcile every App (a
//!   standby skipped its writes); on `false`, stop leader-only timers.
//! * A replica that acquires the Lease starts writing one `retry_period`
//!   later, after reading the Lease again: kube-lease-manager takes over an
//!   expired Lease with unconditional patches, so two standbys racing for
//!   it can both believe for a moment that they won.
//! * Losing the Lease (taken by another replica, expired, or released)
//!   turns `is_leader()` false at once; the election keeps running, and a
//!   replica that lost the Lease competes again.
//! * On shutdown call [`LeaderElection::release`]: writes stop first, then
//!   the Lease is cleared (only if still ours, guarded by its
//!   resourceVersion) so a standby (which reads the Lease every
//!   `retry_period`, 2 s) takes over at once instead of after expiry.
//! * Without `--leader-elect` use [`Leadership::always`].

mod config;
mod elector;
mod fence;
mod handle;
mod retry;

pub use config::{ConfigError, LeaderConfig, LeaderElectArgs, DEFAULT_LEASE_NAME};
pub use elector::{LeaderElection, LeaderError};
pub use handle::Leadership;
