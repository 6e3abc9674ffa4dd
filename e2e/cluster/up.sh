#!/usr/bin/env bash
# Starts the local cluster: etcd, kube-apiserver, kube-controller-manager, kube-scheduler as
# plain processes, kwok for fake nodes and, when node-up.sh exists and READYROLL_REAL_NODE is
# not 0, a real node. Reuses a cluster that is already healthy. The last line printed is the
# admin kubeconfig path.
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

control_plane_healthy() {
  local daemon
  for daemon in "${CONTROL_PLANE_DAEMONS[@]}"; do
    daemon_running "$daemon" || return 1
  done
  apiserver_ready
}

# fail_with_log NAME WHAT: reports a component that did not come up, with the end of its log.
fail_with_log() {
  log "$2; last lines of $LOG_DIR/$1.log:"
  tail -n 30 "$LOG_DIR/$1.log" >&2 || true
  die "cluster did not come up (stop it with down.sh)"
}

start_control_plane() {
  date -u +%FT%TZ >"$RUN_DIR/started-at"
  ensure_control_plane_pki
  write_kubeconfig "$KUBECONFIG" admin
  start_etcd
  wait_until 60 "etcd healthy" etcd_healthy || fail_with_log etcd "etcd is not healthy"
  start_apiserver
  wait_until 120 "kube-apiserver ready" apiserver_ready ||
    fail_with_log kube-apiserver "kube-apiserver is not ready"
  start_controller_manager
  start_scheduler
  wait_until 60 "kube-controller-manager healthy" controller_manager_healthy ||
    fail_with_log kube-controller-manager "kube-controller-manager is not healthy"
  wait_until 60 "kube-scheduler healthy" scheduler_healthy ||
    fail_with_log kube-scheduler "kube-scheduler is not healthy"
  # The default ServiceAccount appears once the controller manager's controllers run.
  wait_until 60 "default ServiceAccount exists" kubectl get serviceaccount default --namespace default ||
    fail_with_log kube-controller-manager "no default ServiceAccount"
}

main() {
  local start
  start="$(now_s)"
  "$here/build-binaries.sh"
  take_cluster_lock
  mkdir -p "$LOG_DIR" "$RUN_DIR"
  if control_plane_healthy; then
    log "reusing the running control plane (started $(cat "$RUN_DIR/started-at" 2>/dev/null || echo '?'))"
    if ! apiserver_config_current; then
      # Started by an older version of control-plane.sh (other flags or audit policy).
      log "kube-apiserver runs with other flags or audit policy; restarting it"
      stop_daemon kube-apiserver
      start_apiserver
      wait_until 120 "kube-apiserver ready" apiserver_ready ||
        fail_with_log kube-apiserver "kube-apiserver is not ready"
    fi
  else
    start_control_plane
  fi
  "$here/kwok-up.sh" 9>&-
  if [[ -x "$here/node-up.sh" && "${READYROLL_REAL_NODE:-1}" != 0 ]]; then
    "$here/node-up.sh" 9>&-
  fi
  log "cluster up in $(elapsed "$start"); kubectl: export KUBECONFIG=$KUBECONFIG"
  echo "$KUBECONFIG"
}

main "$@"
