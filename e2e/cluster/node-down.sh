#!/usr/bin/env bash
# Stops the real node and removes everything node-up.sh put on the host: pods and their
# containers (through the CRI, so CNI releases their addresses and ports), network
# namespaces, mounts, pod cgroups, the pod bridge, the iptables chains of kube-proxy, kubelet
# and portmap, and the kernel settings it changed. Fails, listing them, if anything is left.
# Imported images stay in containerd's content store so the next node-up is fast.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=env.sh
source "$here/env.sh"
# shellcheck source=lib/node-env.sh
source "$here/lib/node-env.sh"
# shellcheck source=lib/log.sh
source "$here/lib/log.sh"
# shellcheck source=lib/procs.sh
source "$here/lib/procs.sh"
# shellcheck source=lib/gobuild.sh
source "$here/lib/gobuild.sh"
# shellcheck source=lib/crictl.sh
source "$here/lib/crictl.sh"
# shellcheck source=lib/node-host.sh
source "$here/lib/node-host.sh"

containerd_ready() { ctr --address "$CONTAINERD_SOCK" version; }

# Containers outlive containerd (their shims keep them); containerd is needed to remove them.
containerd_needed() {
  [[ -n "$(node_shim_pids)" ]] || [[ -d "$CONTAINERD_DIR/state/io.containerd.runtime.v2.task" ]]
}

# remove_pods: every pod sandbox stopped (containers killed, CNI DEL) and removed via the
# CRI; then anything the CRI does not know about (left by a crash) through containerd itself.
remove_pods() {
  local ids
  if [[ ! -x "$CRICTL_BIN/crictl" ]]; then
    log "crictl is not built; removing containers without the CRI (CNI DEL is skipped)"
  elif ! ids="$(crictl_node pods --quiet)"; then
    log "the CRI does not answer; removing containers without it (CNI DEL is skipped)"
  elif [[ -n "$ids" ]]; then
    log "removing $(wc -l <<<"$ids") pod sandbox(es)"
    # shellcheck disable=SC2086 # one id per word
    crictl_node stopp $ids >/dev/null || log "stopping pod sandboxes failed"
    # shellcheck disable=SC2086
    crictl_node rmp --force $ids >/dev/null || log "removing pod sandboxes failed"
  fi
  local ctr_ns=(ctr --address "$CONTAINERD_SOCK" --namespace "$CONTAINERD_NAMESPACE")
  local id
  for id in $("${ctr_ns[@]}" tasks list --quiet); do
    "${ctr_ns[@]}" tasks kill --signal SIGKILL "$id" >/dev/null 2>&1 || true
    "${ctr_ns[@]}" tasks delete --force "$id" >/dev/null 2>&1 || true
  done
  for id in $("${ctr_ns[@]}" containers list --quiet); do
    "${ctr_ns[@]}" containers delete "$id" >/dev/null
  done
}

stop_leftover_shims() {
  local pid
  for pid in $(node_shim_pids); do
    log "stopping leftover containerd shim $pid"
    kill -KILL "$pid" 2>/dev/null || true
  done
}

# remove_state_dirs: the runtime state of pods, containers and addresses. Only called once
# nothing is mounted below the cluster dir; --one-file-system guards against a mount that
# appeared anyway.
remove_state_dirs() {
  rm -rf --one-file-system "$KUBELET_DIR" "$CONTAINERD_DIR/state" "$CONTAINERD_DIR/runc" \
    "$CNI_DIR/ipam" "$POD_LOG_DIR"
  rm -f "$CONTAINERD_SOCK" "$CONTAINERD_SOCK.ttrpc"
  # The shims' socket directory (fixed in containerd 1.6); removed only when empty, so a
  # host containerd's sockets are never touched.
  rmdir /run/containerd/s /run/containerd 2>/dev/null || true
}

main() {
  [[ "$(id -u)" == 0 ]] || die "node-down.sh needs root"
  local start
  start="$(now_s)"
  # kubelet first, or it restarts what is being removed.
  stop_daemon kubelet
  stop_daemon kube-proxy
  if ! daemon_running containerd && containerd_needed && [[ -f "$CONTAINERD_CONFIG" ]]; then
    log "containers are left from an earlier run; starting containerd to remove them"
    mkdir -p "$RUN_DIR" "$LOG_DIR"
    start_daemon containerd "$(command -v containerd)" --config "$CONTAINERD_CONFIG"
    wait_until 30 "containerd ready" containerd_ready || log "containerd did not start"
  fi
  if daemon_running containerd && containerd_ready >/dev/null 2>&1; then
    remove_pods
  fi
  stop_daemon containerd
  stop_leftover_shims
  unmount_all
  remove_pod_cgroups
  remove_cni_cache
  remove_iptables_chains
  remove_pod_bridge
  # Connections of pods that no longer exist.
  conntrack -D --orig-src "$CLUSTER_CIDR" >/dev/null 2>&1 || true
  conntrack -D --orig-dst "$CLUSTER_CIDR" >/dev/null 2>&1 || true
  restore_sysctls
  if [[ -z "$(node_mounts)" ]]; then
    remove_state_dirs
  fi
  report_leftovers || die "the node is not fully removed"
  log "node $NODE_NAME down in $(elapsed "$start")"
}

main "$@"
