use std::{path::PathBuf, time::Duration};

/// Everything the harness can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot read kubeconfig {path}: {source}")]
    Kubeconfig {
        path: PathBuf,
        source: kube::config::KubeconfigError,
    },

    #[error("cannot reach the API server named in {path}: {source}")]
    Unreachable { path: PathBuf, source: kube::Error },

    #[error(transparent)]
    Kube(#[from] kube::Error),

    #[error("watching {what} failed: {source}")]
    Watch {
        what: String,
        source: kube::runtime::wait::Error,
    },

    #[error("{what} did not reach the expected state within {after:?}; last seen:\n{last_seen}")]
    Timeout {
        what: String,
        after: Duration,
        last_seen: String,
    },

    #[error("node {name} does not exist: start the real node with e2e/cluster/node-up.sh (or up.sh without READYROLL_REAL_NODE=0)")]
    NoRealNode { name: String },

    #[error("{what} disappeared while waiting for it")]
    Gone { what: String },
}
