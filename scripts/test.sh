#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR/..
# `make test`: every test tier, in order, each asserting what the one below cannot.
#   1. unit        pure logic, CLI, CRD drift, shim and test-app processes (no cluster)
#   2. scripts     shellcheck of every script, actionlint of every workflow
#   3. chart       the Helm chart as the pinned helm renders it (no cluster)
#   4. api         a real API server with kwok nodes: controllers run in-process, one
#                  namespace per test; leader election between real processes; then
#                  cluster_smoke and controller again on the newest supported Kubernetes
#   5. node        the operator installed cluster-wide by Helm from its offline image;
#                  real containers on a real kubelet under load (zero-downtime proof);
#                  the scale benchmark's harness at 50 Apps on kwok nodes (make bench-scale
#                  runs it at thousands)
#                  (the plain-Deployment baselines are `make bench-zero-downtime`'s)
#   6. chaos       faults mid-rollout under load on the real node, two operator replicas
#   7. release     Helm releases of the chart, each confined to its own namespace:
#                  install, helm test, upgrade, uninstall, leader failover
# The local cluster is started (or reused) before tier 4 and, when this run started it,
# stopped at the end. READYROLL_KEEP_CLUSTER=1 keeps it running.
set -euo pipefail
cd "$(dirname "$0")/.."

tier() { printf '\n=== tier: %s\n' "$*"; }
# The cluster and chart tests are #[ignore]d (a plain `cargo test` lists them as ignored);
# a tier runs its own with --ignored, and they fail when what they need is missing.
e2e_tests() {
  local tests=()
  while (($#)); do tests+=(--test "$1"); shift; done
  cargo test --locked -p readyroll-e2e "${tests[@]}" -- --ignored
}

tier "unit"
cargo test --workspace --locked

tier "scripts"
mapfile -t scripts < <(git ls-files '*.sh' .ci/run)
shellcheck -x "${scripts[@]}"
echo "shellcheck: ${#scripts[@]} scripts clean"
# The GitHub Actions workflows cannot run here: the pinned actionlint checks them (with
# its shellcheck integration on every `run:` block), after proving on a broken workflow that
# it refuses one.
e2e/cluster/build-binaries.sh actionlint
# shellcheck source=e2e/cluster/env.sh
source e2e/cluster/env.sh
actionlint=("$ACTIONLINT_BIN/actionlint" -no-color)
broken=$'on: push\njobs:\n  lint:\n    runs-on: ubuntu-24.04\n    steps:\n      - run: echo ${{ github.no_such_property }}\n'
if "${actionlint[@]}" -stdin-filename broken.yaml - <<<"$broken" >/dev/null; then
  echo "actionlint accepted a broken workflow" >&2
  exit 1
fi
mapfile -t workflows < <(git ls-files '.github/workflows/*.yaml' '.github/workflows/*.yml')
"${actionlint[@]}" "${workflows[@]}"
echo "actionlint $ACTIONLINT_VERSION: ${#workflows[@]} workflows clean"

tier "chart"
e2e/cluster/build-binaries.sh
e2e_tests chart_render

# shellcheck source=e2e/cluster/env.sh
source e2e/cluster/env.sh
started_cluster=1
if kubectl get --raw /readyz --request-timeout=5s >/dev/null 2>&1; then
  started_cluster=0
else
  # Whatever an interrupted run left behind (state, mounts, iptables chains) goes first.
  e2e/cluster/down.sh
fi
stop_cluster() {
  if [[ $started_cluster == 1 && ${READYROLL_KEEP_CLUSTER:-0} != 1 ]]; then
    e2e/cluster/down.sh
  fi
}
trap stop_cluster EXIT
KUBECONFIG="$(e2e/cluster/up.sh | tail -n 1)"
export KUBECONFIG

# A cluster-wide operator (left by `make demo`) would reconcile the Apps of the tiers that
# run their own controllers.
e2e/install-operator.sh --uninstall

tier "api"
e2e_tests cluster_smoke controller leader_election operator_failover
# The same in-process tiers once more on the newest supported Kubernetes, in a second,
# kwok-only cluster that the script stops again (about 4 minutes).
scripts/test-versions.sh

tier "node"
make --no-print-directory test-node

tier "chaos"
make --no-print-directory test-chaos

tier "release"
e2e_tests chart_install
