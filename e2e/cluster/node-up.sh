#!/usr/bin/env bash
# Starts the real node `readyroll-node` against the running control plane: its own
# containerd (CRI, runc, CNI bridge), the pod images, kubelet and kube-proxy. Everything it
# creates on the host is listed in lib/node-host.sh and removed by node-down.sh.
# Reuses daemons that already run. Needs root.
#
# The operator image is built when READYROLL_OPERATOR_BIN and READYROLL_SHIM_BIN name
# static binaries (see images.sh).
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
# shellcheck source=lib/pki.sh
source "$here/lib/pki.sh"
# shellcheck source=lib/gobuild.sh
source "$here/lib/gobuild.sh"
# shellcheck source=lib/crictl.sh
source "$here/lib/crictl.sh"
# shellcheck source=lib/node-config.sh
source "$here/lib/node-config.sh"
# shellcheck source=lib/node-host.sh
source "$here/lib/node-host.sh"

check_prerequisites() {
  [[ "$(id -u)" == 0 ]] || die "the real node needs root (containers, mounts, iptables)"
  local tool
  for tool in containerd containerd-shim-runc-v2 runc ctr umoci jq iptables ip6tables conntrack ip; do
    command -v "$tool" >/dev/null || die "$tool is not installed"
  done
  for tool in bridge host-local portmap loopback; do
    [[ -x "$CNI_BIN_DIR/$tool" ]] || die "CNI plugin $CNI_BIN_DIR/$tool is missing (containernetworking-plugins)"
  done
  for tool in kubelet kube-proxy kubectl; do
    [[ -x "$KUBERNETES_BIN/$tool" ]] || die "$KUBERNETES_BIN/$tool is missing; run build-binaries.sh"
  done
  kubectl get --raw /readyz >/dev/null 2>&1 || die "the API server is not ready; start it with up.sh"
}

ensure_node_pki() {
  [[ -f "$PKI_DIR/kubelet.crt" ]] ||
    sign_client_cert kubelet "system:node:$NODE_NAME" system:nodes
  [[ -f "$PKI_DIR/kubelet-serving.crt" ]] ||
    sign_serving_cert kubelet-serving "$NODE_NAME" "DNS:$NODE_NAME" \
      "IP:$APISERVER_ADVERTISE_ADDRESS" IP:127.0.0.1
  # The default RBAC binds system:node-proxier to this user name.
  [[ -f "$PKI_DIR/kube-proxy.crt" ]] || sign_client_cert kube-proxy system:kube-proxy
  mkdir -p "$KUBELET_DIR" "$KUBE_PROXY_DIR"
  write_kubeconfig "$KUBELET_DIR/kubeconfig" kubelet
  write_kubeconfig "$KUBE_PROXY_DIR/kubeconfig" kube-proxy
}

# fail_with_log NAME WHAT: reports a daemon that did not come up, with the end of its log.
fail_with_log() {
  log "$2; last lines of $LOG_DIR/$1.log:"
  tail -n 30 "$LOG_DIR/$1.log" >&2 || true
  die "the node did not come up (clean up with node-down.sh)"
}

containerd_ready() { ctr --address "$CONTAINERD_SOCK" version; }

start_containerd() {
  write_containerd_config
  write_cni_config
  daemon_running containerd && return
  start_daemon containerd "$(command -v containerd)" --config "$CONTAINERD_CONFIG"
  wait_for_daemon containerd 30 "containerd ready" containerd_ready
}

start_kubelet() {
  write_kubelet_config
  daemon_running kubelet && return
  start_daemon kubelet "$KUBERNETES_BIN/kubelet" \
    --config="$KUBELET_DIR/config.yaml" \
    --kubeconfig="$KUBELET_DIR/kubeconfig" \
    --root-dir="$KUBELET_DIR" \
    --cert-dir="$KUBELET_DIR/pki" \
    --hostname-override="$NODE_NAME" \
    --node-ip="$APISERVER_ADVERTISE_ADDRESS" \
    --v=2
}

start_kube_proxy() {
  write_kube_proxy_config
  daemon_running kube-proxy && return
  start_daemon kube-proxy "$KUBERNETES_BIN/kube-proxy" --config="$KUBE_PROXY_DIR/config.yaml" --v=2
}

node_ready() {
  [[ "$(kubectl get node "$NODE_NAME" \
    -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}')" == True ]]
}

kube_proxy_healthy() { curl -sf http://127.0.0.1:10256/healthz; }

# wait_for_daemon NAME TIMEOUT_S WHAT CHECK...: polls CHECK; fails with NAME's log as soon as
# NAME exits or the time is up.
wait_for_daemon() {
  local name="$1" timeout="$2" what="$3" deadline
  shift 3
  deadline=$((SECONDS + timeout))
  until "$@" >/dev/null 2>&1; do
    daemon_running "$name" || fail_with_log "$name" "$name exited (waiting for: $what)"
    ((SECONDS < deadline)) || fail_with_log "$name" "no $what after ${timeout}s"
    sleep 0.2
  done
  log "$what"
}

main() {
  local start
  start="$(now_s)"
  check_prerequisites
  ensure_crictl
  mkdir -p "$NODE_DIR" "$LOG_DIR" "$RUN_DIR"
  apply_sysctls
  ensure_pod_bridge
  start_containerd
  "$here/images.sh"
  ensure_node_pki
  start_kubelet
  start_kube_proxy
  wait_for_daemon kubelet 120 "node $NODE_NAME Ready" node_ready
  wait_for_daemon kube-proxy 60 "kube-proxy healthy" kube_proxy_healthy
  log "node $NODE_NAME up in $(elapsed "$start"); crictl --config $(crictl_config)"
}

main "$@"
