#!/usr/bin/env bash
# Runs the real-node tier (the e2e/tests/node_*.rs tests) against a kind cluster, for
# machines with Docker: creates the cluster (cluster.yaml), builds the operator and test
# images with Docker, loads them into the node, installs the operator with its Helm chart
# and runs the same test binaries the local cluster runs, pointed at kind's kubeconfig.
#
# Usage: run.sh [--keep] [--reuse] [-- EXTRA_CARGO_TEST_ARGS...]
#   --keep    leave the cluster running afterwards (default: delete it)
#   --reuse   use the cluster if it already exists instead of failing
# Environment:
#   READYROLL_KIND_CLUSTER   cluster name (default readyroll)
#   KIND_NODE_IMAGE          node image (default: kind's own image for Kubernetes 1.34)
#   KIND                     kind binary (default: `kind` on PATH, else built with Go)
#   HELM, KUBECTL            helm and kubectl binaries (default: on PATH, else the pinned
#                            ones from e2e/cluster/build-binaries.sh)
set -euo pipefail

KIND_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
E2E="$(dirname "$KIND_DIR")"
REPO_ROOT="$(dirname "$E2E")"
# shellcheck source=../versions.env
source "$E2E/versions.env"

# kind v0.30.0 publishes its node image for Kubernetes 1.34 (the pinned minor) with this
# digest (sigs.k8s.io/kind@v0.30.0, pkg/apis/config/defaults/image.go).
KIND_VERSION="${KIND_VERSION:-v0.30.0}"
KIND_NODE_IMAGE="${KIND_NODE_IMAGE:-kindest/node:v1.34.0@sha256:7416a61b42b1662ca6ca89f02028ac133a309a2a30ba309614e8ec94d976dc5a}"
CLUSTER_NAME="${READYROLL_KIND_CLUSTER:-readyroll}"
CACHE="${READYROLL_CACHE:-$HOME/.cache/readyroll}"
KUBECONFIG_FILE="$CACHE/kind/$CLUSTER_NAME.kubeconfig"
# Published on 127.0.0.1 by cluster.yaml; the tests give their Services these node ports.
NODE_PORT_FIRST=30100
NODE_PORT_LAST=30119
OPERATOR_IMAGE=readyroll.dev/readyroll:dev
RELEASE=readyroll
NAMESPACE=readyroll-system

log() { printf '[%s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

keep=false
reuse=false
cargo_args=()
while (($#)); do
  case "$1" in
    --keep) keep=true; shift ;;
    --reuse) reuse=true; shift ;;
    --) shift; cargo_args=("$@"); break ;;
    *) die "unknown argument '$1' (see the usage at the top of $0)" ;;
  esac
done

# tool NAME VARIABLE BUILD_COMPONENT BIN_DIR: the binary to use for NAME.
tool() {
  local name="$1" override="$2" component="$3" dir="$4"
  if [[ -n "$override" ]]; then
    echo "$override"
  elif command -v "$name" >/dev/null; then
    command -v "$name"
  else
    log "$name is not on PATH: building the pinned one"
    "$E2E/cluster/build-binaries.sh" "$component" >&2
    echo "$dir/$name"
  fi
}

kind_binary() {
  if [[ -n "${KIND:-}" ]]; then
    echo "$KIND"
  elif command -v kind >/dev/null; then
    command -v kind
  else
    local bin="$CACHE/bin/kind-$KIND_VERSION"
    if [[ ! -x "$bin/kind" ]]; then
      log "building kind $KIND_VERSION"
      GOBIN="$bin" go install "sigs.k8s.io/kind@$KIND_VERSION" >&2
    fi
    echo "$bin/kind"
  fi
}

check_port_mappings() {
  local port
  for ((port = NODE_PORT_FIRST; port <= NODE_PORT_LAST; port++)); do
    grep -q "containerPort: $port, hostPort: $port, listenAddress: \"127.0.0.1\"" "$KIND_DIR/cluster.yaml" ||
      die "cluster.yaml does not publish node port $port on 127.0.0.1"
  done
}

create_cluster() {
  if "$KIND_BIN" get clusters 2>/dev/null | grep -qx "$CLUSTER_NAME"; then
    "$reuse" || die "kind cluster $CLUSTER_NAME exists; pass --reuse or delete it (kind delete cluster --name $CLUSTER_NAME)"
    log "reusing kind cluster $CLUSTER_NAME"
    "$KIND_BIN" export kubeconfig --name "$CLUSTER_NAME" --kubeconfig "$KUBECONFIG_FILE" >&2
    return
  fi
  log "creating kind cluster $CLUSTER_NAME ($KIND_NODE_IMAGE)"
  "$KIND_BIN" create cluster --name "$CLUSTER_NAME" --image "$KIND_NODE_IMAGE" \
    --config "$KIND_DIR/cluster.yaml" --kubeconfig "$KUBECONFIG_FILE" --wait 3m >&2
}

delete_cluster() {
  if "$keep"; then
    log "keeping kind cluster $CLUSTER_NAME (KUBECONFIG=$KUBECONFIG_FILE)"
  else
    log "deleting kind cluster $CLUSTER_NAME"
    "$KIND_BIN" delete cluster --name "$CLUSTER_NAME" >&2 || true
  fi
}

build_images() {
  local version
  log "building $OPERATOR_IMAGE"
  docker build -t "$OPERATOR_IMAGE" -f "$REPO_ROOT/Dockerfile" "$REPO_ROOT" >&2
  for version in v1 v2; do
    log "building readyroll.dev/testapp, node-app and pm2-apps:$version"
    docker build -t "readyroll.dev/testapp:$version" --build-arg "VERSION=$version" \
      -f "$E2E/testapp/Dockerfile" "$REPO_ROOT" >&2
    docker build -t "readyroll.dev/node-app:$version" --build-arg "VERSION=$version" \
      -f "$E2E/images/node-app/Dockerfile" "$E2E/images/node-app" >&2
    docker build -t "readyroll.dev/pm2-apps:$version" --build-arg "VERSION=$version" \
      -f "$E2E/images/pm2-apps/Dockerfile" "$E2E/images/pm2-apps" >&2
  done
}

load_images() {
  local image
  for image in "$OPERATOR_IMAGE" readyroll.dev/testapp:v1 readyroll.dev/testapp:v2 \
    readyroll.dev/node-app:v1 readyroll.dev/node-app:v2 \
    readyroll.dev/pm2-apps:v1 readyroll.dev/pm2-apps:v2; do
    log "loading $image into the node"
    "$KIND_BIN" load docker-image --name "$CLUSTER_NAME" "$image" >&2
  done
}

install_operator() {
  local image_id
  # The tag stays `dev`: the image id in an annotation makes Helm roll a rebuilt operator.
  image_id="$(docker image inspect --format '{{.Id}}' "$OPERATOR_IMAGE" | cut -d: -f2 | cut -c1-16)"
  log "installing the operator with its chart"
  # The chart installs and upgrades the CRD itself (templates/crds.yaml); --take-ownership
  # adopts one that a test or an earlier version of the chart left behind.
  "$HELM" upgrade --install "$RELEASE" "$REPO_ROOT/charts/readyroll" \
    --namespace "$NAMESPACE" --create-namespace --take-ownership \
    --set "image.repository=${OPERATOR_IMAGE%:*}" \
    --set "image.tag=${OPERATOR_IMAGE##*:}" \
    --set image.pullPolicy=Never \
    --set-string "podAnnotations.readyroll\.dev/image=$image_id" \
    --wait --timeout 5m >&2
  "$KUBECTL" -n "$NAMESPACE" rollout status "deployment/$RELEASE" --timeout=3m >&2
}

run_tests() {
  local tests=() file
  for file in "$E2E"/tests/node_*.rs; do
    tests+=(--test "$(basename "$file" .rs)")
  done
  ((${#tests[@]})) || die "no node_*.rs tests in $E2E/tests"
  log "running ${#tests[@]} node-tier test binaries against kind"
  # One test at a time: the load measurements must not compete for the CPUs.
  (cd "$REPO_ROOT" && READYROLL_E2E_NODE_HOST=127.0.0.1 \
    READYROLL_E2E_NODE_PORTS="$NODE_PORT_FIRST-$NODE_PORT_LAST" \
    cargo test -p readyroll-e2e "${tests[@]}" -- --ignored --test-threads=1 "${cargo_args[@]}")
}

main() {
  command -v docker >/dev/null || die "docker is required for the kind path (the local cluster needs none: make test-node)"
  docker info >/dev/null 2>&1 || die "the Docker engine is not reachable"
  check_port_mappings
  KIND_BIN="$(kind_binary)"
  # shellcheck source=../cluster/env.sh
  source "$E2E/cluster/env.sh"
  HELM="$(tool helm "${HELM:-}" helm "$HELM_BIN")"
  KUBECTL="$(tool kubectl "${KUBECTL:-}" kubernetes "$KUBERNETES_BIN")"
  # env.sh points KUBECONFIG at the local cluster; everything here talks to kind.
  export KUBECONFIG="$KUBECONFIG_FILE"
  mkdir -p "$(dirname "$KUBECONFIG_FILE")"

  create_cluster
  trap delete_cluster EXIT
  build_images
  load_images
  install_operator
  run_tests
}

main
