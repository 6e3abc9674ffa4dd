//! Test harness for readyroll's end-to-end tests against a real Kubernetes API server.
//!
//! The local cluster comes from `make cluster-up` (scripts in `e2e/cluster/`). Every test that
//! needs it is `#[ignore]`d, so a plain `cargo test` lists it as ignored; its tier runs it with
//! `--ignored`, and then [`Cluster::require`] fails it when the cluster cannot be reached.
//!
//! Each test works in its own [`TestNamespace`], which is deleted when dropped and whose
//! objects are printed when the test panics. Fake nodes come from kwok via [`KwokNode`];
//! [`wait_for`] waits on any object with a [`kube::runtime::wait::Condition`]. The real node
//! and its images are described in [`real_node`].
#![forbid(unsafe_code)]

pub mod argo;
pub mod audit;
mod background;
pub mod bench;
mod cluster;
pub mod conditions;
mod dump;
mod error;
pub mod helm;
pub mod in_cluster;
pub mod kubectl;
pub mod kwok;
pub mod load;
mod must;
pub(crate) mod names;
mod namespace;
pub mod node_ports;
pub mod readyroll_binary;
pub mod real_node;
pub mod scale;
mod wait;

pub use cluster::{cache_dir, Cluster};
pub use dump::dump_namespace;
pub use error::Error;
pub use helm::{Helm, HelmError, Rendered};
pub use kubectl::Kubectl;
pub use kwok::KwokNode;
pub use must::Must;
pub use namespace::TestNamespace;
pub use readyroll_binary::readyroll_binary;
pub use wait::{wait_for, wait_for_deletion};
