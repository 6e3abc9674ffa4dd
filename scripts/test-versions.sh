#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR/..
# `make test-versions` (and the api tier of `make test`): cluster_smoke and the in-process
# controller tests once more against KUBERNETES_NEWEST_VERSION of e2e/versions.env, the
# newest release the chart supports; the rest of `make test` runs on the pin
# (KUBERNETES_VERSION, the oldest one the chart's kubeVersion admits). The second cluster is kwok-only, has its own directory and
# ports beside the main cluster (which it does not touch), and is stopped at the end.
set -euo pipefail
cd "$(dirname "$0")/.."

# shellcheck source=e2e/versions.env
source e2e/versions.env
export READYROLL_KUBERNETES_VERSION="$KUBERNETES_NEWEST_VERSION"
cache="${READYROLL_CACHE:-$HOME/.cache/readyroll}"
export READYROLL_CLUSTER_DIR="${READYROLL_VERSIONS_CLUSTER_DIR:-$cache/cluster-$KUBERNETES_NEWEST_VERSION}"
export READYROLL_REAL_NODE=0
# The main cluster's ports plus 1000.
export READYROLL_ETCD_CLIENT_PORT=24790 READYROLL_ETCD_PEER_PORT=24800
export READYROLL_APISERVER_PORT=7443 READYROLL_CONTROLLER_MANAGER_PORT=11257
export READYROLL_SCHEDULER_PORT=11259 READYROLL_KWOK_PORT=11247

e2e/cluster/build-binaries.sh kubernetes etcd kwok
# shellcheck source=e2e/cluster/env.sh
source e2e/cluster/env.sh
# kubectl-driven tests use the kubectl of the release under test.
export READYROLL_KUBECTL="$KUBERNETES_BIN/kubectl"

cargo test --locked -p readyroll-e2e --test cluster_smoke --test controller --no-run

trap e2e/cluster/down.sh EXIT
KUBECONFIG="$(e2e/cluster/up.sh | tail -n 1)"
export KUBECONFIG
server="$(kubectl version -o json | jq -r .serverVersion.gitVersion)"
[[ "$server" == "$KUBERNETES_NEWEST_VERSION" ]] ||
  { echo "the second cluster runs $server, not $KUBERNETES_NEWEST_VERSION" >&2; exit 1; }

printf '\n=== tier: api on Kubernetes %s\n' "$server"
cargo test --locked -p readyroll-e2e --test cluster_smoke --test controller -- --ignored \
  --skip the_real_node
