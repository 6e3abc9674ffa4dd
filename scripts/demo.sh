#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR/..
# `make demo`: from a fresh machine to a zero-downtime rollout you can watch.
# Installs what is missing, builds the pinned Kubernetes binaries, starts the
# local cluster (control plane + a real node), installs readyroll with its Helm
# chart, deploys examples/hello.yaml and rolls it from v1 to v2 under traffic.
# The cluster keeps running afterwards; `make cluster-down` stops it.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "system packages"
scripts/install-deps.sh

step "Kubernetes binaries (built once from Go modules, then cached)"
e2e/cluster/build-binaries.sh

step "local cluster"
kubeconfig="$(e2e/cluster/up.sh | tail -n 1)"
export KUBECONFIG="$kubeconfig"
# shellcheck source=e2e/cluster/env.sh
source e2e/cluster/env.sh

step "readyroll, installed with its Helm chart"
e2e/install-operator.sh

step "the sample App (examples/hello.yaml)"
# A re-run starts from v1 again: the last run's App (rolled to v2 by its patch, which owns
# .spec.image now) would refuse the apply. Foreground deletion waits for its Deployment.
kubectl delete app hello --ignore-not-found --cascade=foreground --wait=true
kubectl apply --server-side -f examples/hello.yaml
kubectl wait app/hello --for=condition=Available --timeout=180s
kubectl get app hello
url="http://127.0.0.1:30080/"
echo "curl $url -> $(curl -fsS "$url")"

step "rolling hello to v2 while requests keep flowing"
load_log="$(mktemp)"
(
  end=$((SECONDS + 90))
  while ((SECONDS < end)); do
    curl -sS -o /dev/null -w '%{http_code}\n' --max-time 5 "$url" || echo failed
    sleep 0.05
  done
) >"$load_log" 2>&1 &
load_pid=$!
kubectl patch app hello --type merge -p '{"spec":{"image":"readyroll.dev/testapp:v2","env":{"READY_DELAY_MS":"2000","DRAIN_MS":"3000","VERSION":"v2"}}}'
kubectl get app hello --watch --output-watch-events &
watch_pid=$!
until kubectl get app hello -o jsonpath='{.status.updatedReplicas}/{.status.availableReplicas}/{.status.replicas}' | grep -qx '3/3/3' &&
  [[ "$(curl -fsS "$url")" == *v2* ]]; do
  sleep 1
done
kill "$watch_pid" 2>/dev/null || true
kill "$load_pid" 2>/dev/null || true
wait "$load_pid" 2>/dev/null || true
sent=$(wc -l <"$load_log")
ok=$(grep -cx 200 "$load_log" || true)
echo "requests during the rollout: $sent sent, $((sent - ok)) failed"
echo "curl $url -> $(curl -fsS "$url")"
rm -f "$load_log"

cat <<MSG

The cluster is still running. Try:
  export KUBECONFIG=$KUBECONFIG PATH=$KUBERNETES_BIN:\$PATH
  kubectl get apps                      # Desired / Ready / Up-To-Date / Available / Degraded
  kubectl describe app hello            # conditions and rollout Events
  kubectl edit app hello                # change anything: readyroll rolls it out safely
  make cluster-down                     # stop everything
MSG
