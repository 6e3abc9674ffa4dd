#!/usr/bin/env bash
# Paths shared by every cluster script. Source it; it defines no functions with side effects.
#
#   CACHE            cache root for downloads and built tools (READYROLL_CACHE)
#   KUBERNETES_VERSION  the pin from versions.env, or READYROLL_KUBERNETES_VERSION
#   CLUSTER_DIR      state of the local cluster: pki, etcd data, logs, pid files (READYROLL_CLUSTER_DIR)
#   KUBERNETES_BIN, ETCD_BIN, KWOK_BIN, HELM_BIN   directories holding the pinned tools
#   ACTIONLINT_BIN   the pinned workflow linter (not put on PATH: only the scripts tier uses it)
#   PROMTOOL_BIN     Prometheus' rule checker (not put on PATH: only the chart tier uses it)
#   ARGO_ROLLOUTS_BIN  Argo Rollouts' controller, compared in the scale benchmark (not on PATH)
#   KUBECONFIG       the admin kubeconfig of the local cluster (exported)
# and puts the pinned tools first on PATH.

E2E_CLUSTER_SCRIPTS="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
E2E_DIR="$(dirname "$E2E_CLUSTER_SCRIPTS")"

# shellcheck source=../versions.env
source "$E2E_DIR/versions.env"
# READYROLL_KUBERNETES_VERSION runs the scripts with another Kubernetes release than the pin
# (e2e/versions.sh uses it for KUBERNETES_NEWEST_VERSION); each version has its own bin dir.
KUBERNETES_VERSION="${READYROLL_KUBERNETES_VERSION:-$KUBERNETES_VERSION}"

CACHE="${READYROLL_CACHE:-$HOME/.cache/readyroll}"
CLUSTER_DIR="${READYROLL_CLUSTER_DIR:-$CACHE/cluster}"

KUBERNETES_BIN="$CACHE/bin/kubernetes-$KUBERNETES_VERSION"
ETCD_BIN="$CACHE/bin/etcd-$ETCD_VERSION"
KWOK_BIN="$CACHE/bin/kwok-$KWOK_VERSION"
HELM_BIN="$CACHE/bin/helm-$HELM_VERSION"
ACTIONLINT_BIN="$CACHE/bin/actionlint-$ACTIONLINT_VERSION"
PROMTOOL_BIN="$CACHE/bin/promtool-$PROMTOOL_VERSION"
ARGO_ROLLOUTS_BIN="$CACHE/bin/argo-rollouts-$ARGO_ROLLOUTS_VERSION"

PKI_DIR="$CLUSTER_DIR/pki"
LOG_DIR="$CLUSTER_DIR/logs"
RUN_DIR="$CLUSTER_DIR/run"

# Ports chosen away from the defaults so a developer's own etcd or cluster does not collide;
# each can be overridden to run a second cluster beside the first (with its own CLUSTER_DIR).
ETCD_CLIENT_PORT="${READYROLL_ETCD_CLIENT_PORT:-23790}"
ETCD_PEER_PORT="${READYROLL_ETCD_PEER_PORT:-23800}"
APISERVER_PORT="${READYROLL_APISERVER_PORT:-6443}"
CONTROLLER_MANAGER_PORT="${READYROLL_CONTROLLER_MANAGER_PORT:-10257}"
SCHEDULER_PORT="${READYROLL_SCHEDULER_PORT:-10259}"
KWOK_PORT="${READYROLL_KWOK_PORT:-10247}"
# The pod bridge gateway created by node-up.sh; in-cluster clients reach the API through it.
APISERVER_ADVERTISE_ADDRESS=10.88.0.1
SERVICE_CLUSTER_IP_RANGE=10.96.0.0/16
CLUSTER_CIDR=10.88.0.0/16

export CACHE CLUSTER_DIR KUBERNETES_BIN ETCD_BIN KWOK_BIN HELM_BIN ACTIONLINT_BIN PROMTOOL_BIN ARGO_ROLLOUTS_BIN PKI_DIR LOG_DIR RUN_DIR
export ETCD_CLIENT_PORT ETCD_PEER_PORT APISERVER_PORT CONTROLLER_MANAGER_PORT SCHEDULER_PORT KWOK_PORT APISERVER_ADVERTISE_ADDRESS SERVICE_CLUSTER_IP_RANGE CLUSTER_CIDR
export KUBERNETES_VERSION ETCD_VERSION KWOK_VERSION HELM_VERSION ACTIONLINT_VERSION PROMTOOL_VERSION ARGO_ROLLOUTS_VERSION
export KUBECONFIG="$CLUSTER_DIR/admin.kubeconfig"

case ":$PATH:" in
  *":$KUBERNETES_BIN:"*) ;;
  *) export PATH="$KUBERNETES_BIN:$ETCD_BIN:$KWOK_BIN:$HELM_BIN:$PATH" ;;
esac
