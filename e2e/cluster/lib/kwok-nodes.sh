#!/usr/bin/env bash
# Fake nodes simulated by kwok. Needs env.sh (for KUBECONFIG and kubectl on PATH).

# add_kwok_node NAME CPU [MEMORY]: creates (or updates) a fake node with that capacity. It
# carries label type=kwok, which kwok manages, and a NoSchedule taint so only pods that ask for
# fake nodes land there.
add_kwok_node() {
  local name="$1" cpu="$2" memory="${3:-32Gi}"
  kubectl apply --server-side --field-manager=readyroll-e2e -f - >/dev/null <<NODE
apiVersion: v1
kind: Node
metadata:
  name: $name
  labels:
    type: kwok
    kubernetes.io/hostname: $name
    kubernetes.io/os: linux
    kubernetes.io/arch: amd64
  annotations:
    kwok.x-k8s.io/node: fake
    node.alpha.kubernetes.io/ttl: "0"
spec:
  taints:
  - key: kwok.x-k8s.io/node
    value: fake
    effect: NoSchedule
status:
  allocatable:
    cpu: "$cpu"
    memory: $memory
    pods: "110"
  capacity:
    cpu: "$cpu"
    memory: $memory
    pods: "110"
NODE
  kubectl wait --for=condition=Ready "node/$name" --timeout=60s >/dev/null
}

# delete_kwok_node NAME
delete_kwok_node() {
  kubectl delete node "$1" --ignore-not-found --wait=true >/dev/null
}
