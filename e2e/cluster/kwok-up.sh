#!/usr/bin/env bash
# Starts kwok against the local cluster so nodes labelled type=kwok behave like real nodes,
# with the pod lifecycle defined by the stages in kwok/. Does nothing when kwok already runs.
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

KWOK_SERVER_ADDRESS=127.0.0.1:$KWOK_PORT

kwok_healthy() { curl -sf "http://$KWOK_SERVER_ADDRESS/healthz"; }

main() {
  if daemon_running kwok && kwok_healthy >/dev/null; then
    log "kwok already running"
    return
  fi
  stop_daemon kwok
  [[ -f "$PKI_DIR/kwok.crt" ]] || sign_client_cert kwok readyroll-kwok system:masters
  write_kubeconfig "$CLUSTER_DIR/kwok.kubeconfig" kwok
  local config_flags=() stage
  for stage in "$here"/kwok/*.yaml; do
    config_flags+=("--config=$stage")
  done
  # KWOK_WORKDIR keeps kwok from also loading a developer's ~/.kwok/kwok.yaml.
  mkdir -p "$CLUSTER_DIR/kwok"
  KWOK_WORKDIR="$CLUSTER_DIR/kwok" start_daemon kwok "$KWOK_BIN/kwok" \
    "${config_flags[@]}" \
    --kubeconfig="$CLUSTER_DIR/kwok.kubeconfig" \
    --manage-all-nodes=false \
    --manage-nodes-with-label-selector=type=kwok \
    --node-lease-duration-seconds=40 \
    --cidr=10.244.0.1/16 \
    --server-address="$KWOK_SERVER_ADDRESS"
  wait_until 60 "kwok healthy" kwok_healthy || die "kwok did not become healthy; see $LOG_DIR/kwok.log"
}

main "$@"
