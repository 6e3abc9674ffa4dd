#!/usr/bin/env bash
# Installs the operator into the local cluster the way users install it: the operator image
# (static /readyroll and /readyroll-shim, built offline by cluster/images.sh and imported
# into the real node's containerd) and `helm upgrade --install` of charts/readyroll.
# The real-node tests (`make test-node`) need it; they never run a controller themselves.
#
# Usage: install-operator.sh [--uninstall | HELM_ARG...]
#   --uninstall   remove the release instead (the CRD and Apps stay, as with any
#                 `helm uninstall` of the chart); the other tiers run their own controllers
#   HELM_ARG...   further values for `helm upgrade --install`, e.g. `--set replicas=2`
# Environment:
#   READYROLL_RELEASE      Helm release name (default readyroll)
#   READYROLL_NAMESPACE    namespace of the operator (default readyroll-system)
#   READYROLL_OPERATOR_BINARY  install this static operator binary instead of building one
#                          (e.g. to compare two builds in the scale benchmark)
# Rerunning it with changed code rolls the operator to the new binaries.
set -euo pipefail

E2E="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(dirname "$E2E")"
# shellcheck source=cluster/env.sh
source "$E2E/cluster/env.sh"
# shellcheck source=cluster/lib/log.sh
source "$E2E/cluster/lib/log.sh"

RELEASE="${READYROLL_RELEASE:-readyroll}"
NAMESPACE="${READYROLL_NAMESPACE:-readyroll-system}"
IMAGE_REPOSITORY=readyroll.dev/readyroll
IMAGE_TAG=dev
TARGET=x86_64-unknown-linux-gnu

# build_operator: the static operator binary (glibc's static libraries on the gnu target,
# as shim/scripts/build-static.sh does for the shim); prints its path.
build_operator() {
  local target_dir binary
  log "building the operator (static, release)"
  (cd "$REPO_ROOT" && RUSTFLAGS="${RUSTFLAGS:-} -C target-feature=+crt-static" \
    cargo build --quiet --release --locked -p readyroll --target "$TARGET" >&2)
  target_dir="${CARGO_TARGET_DIR:-$REPO_ROOT/target}"
  binary="$target_dir/$TARGET/release/readyroll"
  [[ -x "$binary" ]] || die "the build did not produce $binary"
  echo "$binary"
}

main() {
  local started operator shim fingerprint
  started="$(now_s)"
  command -v helm >/dev/null || die "helm is missing; run make binaries"
  kubectl get --raw /readyz >/dev/null 2>&1 || die "the local cluster is not running; run make cluster-up"

  operator="${READYROLL_OPERATOR_BINARY:-}"
  if [[ -n "$operator" ]]; then
    [[ -x "$operator" ]] || die "READYROLL_OPERATOR_BINARY=$operator is not an executable"
    log "installing the operator binary $operator"
  else
    operator="$(build_operator)"
  fi
  log "building the runtime shim (static)"
  shim="$("$REPO_ROOT/shim/scripts/build-static.sh" | tail -n 1)"
  "$E2E/cluster/images.sh" --operator "$operator" --shim "$shim"

  # The tag stays `dev`, so a new build would not change the pod template: this annotation
  # does, and makes Helm roll the operator onto the new binaries.
  fingerprint="$(cat "$operator" "$shim" | sha256sum | cut -c1-16)"

  # The chart applies the CRD on every upgrade (templates/crds.yaml); the tiers that run their
  # own controllers apply it too, so the release takes it over instead of refusing it.
  log "helm upgrade --install $RELEASE in namespace $NAMESPACE"
  helm upgrade --install "$RELEASE" "$REPO_ROOT/charts/readyroll" \
    --namespace "$NAMESPACE" --create-namespace --take-ownership \
    --set "image.repository=$IMAGE_REPOSITORY" \
    --set "image.tag=$IMAGE_TAG" \
    --set image.pullPolicy=Never \
    --set-string "podAnnotations.readyroll\.dev/binaries=$fingerprint" \
    "$@" \
    --wait --timeout 5m >&2
  kubectl -n "$NAMESPACE" rollout status "deployment/$RELEASE" --timeout=3m >&2
  log "operator $IMAGE_REPOSITORY:$IMAGE_TAG ($fingerprint) installed in $(elapsed "$started")"
}

uninstall() {
  command -v helm >/dev/null || die "helm is missing; run make binaries"
  if helm status "$RELEASE" --namespace "$NAMESPACE" >/dev/null 2>&1; then
    log "helm uninstall $RELEASE in namespace $NAMESPACE"
    helm uninstall "$RELEASE" --namespace "$NAMESPACE" --wait --timeout 2m >&2
  else
    log "release $RELEASE is not installed in namespace $NAMESPACE"
  fi
}

case "${1:-}" in
  --uninstall) uninstall ;;
  "" | --set | --set-string | --values) main "$@" ;;
  *) die "unknown argument '$1' (see the usage at the top of $0)" ;;
esac
