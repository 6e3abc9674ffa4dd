#!/usr/bin/env bash
# Stops everything up.sh started and leaves no process behind. The real node (node-down.sh)
# goes first, as it owns the mounts and iptables rules. Cluster state is discarded, so the
# next up.sh starts empty; certificates and logs stay. --purge removes the whole cluster dir.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=env.sh
source "$here/env.sh"
# shellcheck source=lib/log.sh
source "$here/lib/log.sh"
# shellcheck source=lib/procs.sh
source "$here/lib/procs.sh"
# shellcheck source=lib/control-plane.sh
source "$here/lib/control-plane.sh"

main() {
  local purge=false
  case "${1:-}" in
    "") ;;
    --purge) purge=true ;;
    *) die "usage: down.sh [--purge]" ;;
  esac
  take_cluster_lock
  local node_failed=false
  # A kwok-only cluster (READYROLL_REAL_NODE=0, e.g. the second one of make test-versions)
  # must not take down the real node, which belongs to the main cluster.
  if [[ -x "$here/node-down.sh" && "${READYROLL_REAL_NODE:-1}" != 0 ]]; then
    # The control plane is stopped even when the node could not be, then the failure reported.
    "$here/node-down.sh" 9>&- || node_failed=true
  fi
  stop_daemon kwok
  local i
  for ((i = ${#CONTROL_PLANE_DAEMONS[@]} - 1; i >= 0; i--)); do
    stop_daemon "${CONTROL_PLANE_DAEMONS[i]}"
  done
  rm -rf "$CLUSTER_DIR/etcd" "$RUN_DIR"
  if [[ "$purge" == true ]]; then
    rm -rf "$CLUSTER_DIR"
    log "removed $CLUSTER_DIR"
  fi
  [[ "$node_failed" == false ]] || die "node-down.sh failed; the control plane was stopped anyway"
  log "cluster down"
}

main "$@"
