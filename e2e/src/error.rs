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

    #[error("{variable}={value:?} is invalid: expected {expected}")]
    BadSetting {
        variable: &'static str,
        value: String,
        expected: &'static str,
    },

    #[error(
        "every node port of {first}-{last} is taken; free some or widen READYROLL_E2E_NODE_PORTS"
    )]
    NoFreeNodePort { first: u16, last: u16 },

    #[error("no node of the cluster runs real containers (every node is a kwok node or not Ready): start the local real node (make cluster-up) or use a kind cluster (e2e/kind/run.sh)")]
    NoWorkloadNode,

    #[error("the readyroll operator does not run in the cluster ({reason}): the node tier tests the operator as installed by its chart; run `make install-operator` (e2e/install-operator.sh) first")]
    NoOperator { reason: String },
}
