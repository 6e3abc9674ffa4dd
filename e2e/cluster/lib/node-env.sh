#!/usr/bin/env bash
# Paths and names of the real node (containerd + kubelet + kube-proxy). Source after env.sh.
#
# Everything the node writes lives under $NODE_DIR so that node-down.sh can remove it and
# nothing of the host's own container runtime, CNI setup or kubelet is touched.

NODE_NAME=readyroll-node
NODE_DIR="$CLUSTER_DIR/node"

CONTAINERD_DIR="$CLUSTER_DIR/containerd"
CONTAINERD_SOCK="$CONTAINERD_DIR/containerd.sock"
CONTAINERD_CONFIG="$CONTAINERD_DIR/config.toml"
# The CRI plugin runs everything in this containerd namespace; images must be imported into it.
CONTAINERD_NAMESPACE=k8s.io

CNI_BIN_DIR=/usr/lib/cni
CNI_DIR="$CLUSTER_DIR/cni"
CNI_CONF_DIR="$CNI_DIR/net.d"
# The CNI network name; libcni keys its cache files (under /var/lib/cni) by it.
CNI_NETWORK=readyroll
POD_BRIDGE=rr0
POD_BRIDGE_ADDRESS="$APISERVER_ADVERTISE_ADDRESS/${CLUSTER_CIDR#*/}"

KUBELET_DIR="$CLUSTER_DIR/kubelet"
KUBELET_PORT=10250
KUBE_PROXY_DIR="$NODE_DIR/kube-proxy"
POD_LOG_DIR="$NODE_DIR/pod-logs"

# The sandbox ("pause") image containerd's CRI plugin starts for every pod. It is built
# locally (images.sh) because nothing can be pulled.
PAUSE_IMAGE=registry.k8s.io/pause:3.10
IMAGE_CACHE="$CACHE/images"

export NODE_NAME NODE_DIR CONTAINERD_DIR CONTAINERD_SOCK CONTAINERD_CONFIG CONTAINERD_NAMESPACE
export CNI_BIN_DIR CNI_DIR CNI_CONF_DIR CNI_NETWORK POD_BRIDGE POD_BRIDGE_ADDRESS
export KUBELET_DIR KUBELET_PORT KUBE_PROXY_DIR POD_LOG_DIR PAUSE_IMAGE IMAGE_CACHE
