#!/usr/bin/env bash
# Faults for the chaos tier: stops and starts the local cluster's API server and kubelet
# the way up.sh and node-up.sh start them, and says where the API server's audit log is.
#
# Usage: chaos.sh stop kube-apiserver|kubelet
#        chaos.sh start kube-apiserver|kubelet   starts it unless it runs; waits until ready
#        chaos.sh restore                        starts whichever of the two is stopped
#        chaos.sh audit-log                      prints the audit log's path
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=env.sh
source "$here/env.sh"
# shellcheck source=lib/log.sh
source "$here/lib/log.sh"
# shellcheck source=lib/procs.sh
source "$here/lib/procs.sh"
# shellcheck source=lib/pki.sh
source "$here/lib/pki.sh"
# shellcheck source=lib/control-plane.sh
source "$here/lib/control-plane.sh"

start_component() {
  case "$1" in
    kube-apiserver)
      start_apiserver
      wait_until 120 "kube-apiserver ready" apiserver_ready ||
        die "kube-apiserver is not ready after 120 s; see $LOG_DIR/kube-apiserver.log"
      ;;
    # node-up.sh reuses what runs, starts the kubelet and waits for the node to be Ready.
    kubelet) "$here/node-up.sh" ;;
    *) die "unknown component '$1' (kube-apiserver or kubelet)" ;;
  esac
}

stop_component() {
  case "$1" in
    kube-apiserver | kubelet) stop_daemon "$1" ;;
    *) die "unknown component '$1' (kube-apiserver or kubelet)" ;;
  esac
}

case "${1:-}" in
  stop) stop_component "${2:-}" ;;
  start) start_component "${2:-}" ;;
  restore)
    start_component kube-apiserver
    start_component kubelet
    ;;
  audit-log) echo "$AUDIT_LOG" ;;
  *) die "usage: chaos.sh stop|start kube-apiserver|kubelet, chaos.sh restore, chaos.sh audit-log" ;;
esac
