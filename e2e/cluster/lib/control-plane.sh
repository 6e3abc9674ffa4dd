#!/usr/bin/env bash
# etcd, kube-apiserver, kube-controller-manager and kube-scheduler as local processes.
# Flags follow Kubernetes' hack/local-up-cluster.sh. Needs env.sh, log.sh, procs.sh, pki.sh.

# Everything in-cluster that is signed (service account tokens) names this issuer.
SERVICE_ACCOUNT_ISSUER=https://kubernetes.default.svc.cluster.local

etcd_healthy() { curl -sf "http://127.0.0.1:$ETCD_CLIENT_PORT/health" | grep -q '"health":"true"'; }

apiserver_ready() {
  curl -sf --cacert "$PKI_DIR/ca.crt" --cert "$PKI_DIR/admin.crt" --key "$PKI_DIR/admin.key" \
    "https://127.0.0.1:$APISERVER_PORT/readyz" | grep -qx ok
}

# The components' own /healthz is allowed without authentication by default.
component_healthy() { curl -skf "https://127.0.0.1:$1/healthz" | grep -qx ok; }
controller_manager_healthy() { component_healthy "$CONTROLLER_MANAGER_PORT"; }
scheduler_healthy() { component_healthy "$SCHEDULER_PORT"; }

start_etcd() {
  daemon_running etcd && return
  local binary="$ETCD_BIN/etcd"
  # The cluster is disposable test state: skipping fsync makes every API write much faster.
  local args=(
    --name=readyroll
    --data-dir="$CLUSTER_DIR/etcd"
    --listen-client-urls="http://127.0.0.1:$ETCD_CLIENT_PORT"
    --advertise-client-urls="http://127.0.0.1:$ETCD_CLIENT_PORT"
    --listen-peer-urls="http://127.0.0.1:$ETCD_PEER_PORT"
    --initial-advertise-peer-urls="http://127.0.0.1:$ETCD_PEER_PORT"
    --initial-cluster="readyroll=http://127.0.0.1:$ETCD_PEER_PORT"
    --unsafe-no-fsync
    --log-level=warn
  )
  # etcd reads every ETCD_* environment variable as a flag; our own must not reach it.
  (
    unset ETCD_VERSION ETCD_BIN ETCD_CLIENT_PORT ETCD_PEER_PORT
    start_daemon etcd "$binary" "${args[@]}"
  )
}

# The audit log records every write a service account outside kube-system makes to the
# objects readyroll writes (Metadata level), and each Lease write with the Lease the API
# server answered (who holds it, renewed when): the chaos tier reads it to prove that only
# the Lease holder of the moment wrote.
AUDIT_POLICY="$CLUSTER_DIR/apiserver/audit-policy.yaml"
AUDIT_LOG="$LOG_DIR/kube-apiserver-audit.log"

write_audit_policy() {
  mkdir -p "$(dirname "$AUDIT_POLICY")"
  cat >"$AUDIT_POLICY" <<'EOF'
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
  - level: None
    userGroups: ["system:serviceaccounts:kube-system"]
  - level: RequestResponse
    userGroups: ["system:serviceaccounts"]
    verbs: [create, update, patch, delete]
    resources:
      - group: coordination.k8s.io
        resources: [leases]
  - level: Metadata
    userGroups: ["system:serviceaccounts"]
    verbs: [create, update, patch, delete, deletecollection]
    resources:
      - group: readyroll.dev
        resources: [apps, apps/*]
      - group: apps
        resources: [deployments, deployments/*, controllerrevisions]
      - group: ""
        resources: [services, services/*, events]
      - group: events.k8s.io
        resources: [events]
      - group: policy
        resources: [poddisruptionbudgets, poddisruptionbudgets/*]
  - level: None
EOF
}

# apiserver_args: fills APISERVER_ARGS with the API server's flags.
apiserver_args() {
  # Node names (readyroll-node) do not resolve in DNS: reach kubelets (logs, exec) by their
  # InternalIP first, as kubeadm configures it.
  APISERVER_ARGS=(
    --bind-address=0.0.0.0
    --secure-port="$APISERVER_PORT"
    --advertise-address="$APISERVER_ADVERTISE_ADDRESS"
    --etcd-servers="http://127.0.0.1:$ETCD_CLIENT_PORT"
    --cert-dir="$CLUSTER_DIR/apiserver"
    --tls-cert-file="$PKI_DIR/apiserver.crt"
    --tls-private-key-file="$PKI_DIR/apiserver.key"
    --client-ca-file="$PKI_DIR/ca.crt"
    --kubelet-client-certificate="$PKI_DIR/apiserver-kubelet-client.crt"
    --kubelet-client-key="$PKI_DIR/apiserver-kubelet-client.key"
    "--kubelet-preferred-address-types=InternalIP,Hostname"
    --service-account-issuer="$SERVICE_ACCOUNT_ISSUER"
    --service-account-key-file="$PKI_DIR/sa.pub"
    --service-account-signing-key-file="$PKI_DIR/sa.key"
    --service-cluster-ip-range="$SERVICE_CLUSTER_IP_RANGE"
    "--authorization-mode=Node,RBAC"
    --requestheader-client-ca-file="$PKI_DIR/front-proxy-ca.crt"
    --requestheader-allowed-names=front-proxy-client
    --requestheader-username-headers=X-Remote-User
    --requestheader-group-headers=X-Remote-Group
    --requestheader-extra-headers-prefix=X-Remote-Extra-
    --proxy-client-cert-file="$PKI_DIR/front-proxy-client.crt"
    --proxy-client-key-file="$PKI_DIR/front-proxy-client.key"
    --allow-privileged=true
    --audit-policy-file="$AUDIT_POLICY"
    --audit-log-path="$AUDIT_LOG"
    --audit-log-format=json
    --audit-log-maxsize=512
    --audit-log-maxbackup=1
    --v=1
  )
}

# What the running API server was started with (flags and audit policy), so that up.sh
# can tell a server started with other settings and restart it.
apiserver_config_file() { echo "$RUN_DIR/kube-apiserver.config"; }
apiserver_config() {
  apiserver_args
  printf '%s\n' "${APISERVER_ARGS[@]}"
  cat "$AUDIT_POLICY"
}
apiserver_config_current() {
  write_audit_policy
  [[ "$(apiserver_config)" == "$(cat "$(apiserver_config_file)" 2>/dev/null)" ]]
}

start_apiserver() {
  daemon_running kube-apiserver && return
  write_audit_policy
  apiserver_args
  start_daemon kube-apiserver "$KUBERNETES_BIN/kube-apiserver" "${APISERVER_ARGS[@]}"
  apiserver_config >"$(apiserver_config_file)"
}

start_controller_manager() {
  daemon_running kube-controller-manager && return
  local kubeconfig="$CLUSTER_DIR/controller-manager.kubeconfig"
  write_kubeconfig "$kubeconfig" controller-manager
  # The client QPS is raised from its default (20, burst 30, per controller): at thousands of
  # Deployments the cluster's own controllers would otherwise queue on their client limit, and
  # the scale benchmark would measure that limit instead of the controllers.
  start_daemon kube-controller-manager "$KUBERNETES_BIN/kube-controller-manager" \
    --kubeconfig="$kubeconfig" \
    --authentication-kubeconfig="$kubeconfig" \
    --authorization-kubeconfig="$kubeconfig" \
    --bind-address=127.0.0.1 \
    --secure-port="$CONTROLLER_MANAGER_PORT" \
    --controllers='*' \
    --use-service-account-credentials=true \
    --service-account-private-key-file="$PKI_DIR/sa.key" \
    --root-ca-file="$PKI_DIR/ca.crt" \
    --cluster-signing-cert-file="$PKI_DIR/ca.crt" \
    --cluster-signing-key-file="$PKI_DIR/ca.key" \
    --service-cluster-ip-range="$SERVICE_CLUSTER_IP_RANGE" \
    --cluster-cidr="$CLUSTER_CIDR" \
    --leader-elect=false \
    --kube-api-qps=200 \
    --kube-api-burst=400 \
    --v=1
}

start_scheduler() {
  daemon_running kube-scheduler && return
  local kubeconfig="$CLUSTER_DIR/scheduler.kubeconfig"
  write_kubeconfig "$kubeconfig" scheduler
  start_daemon kube-scheduler "$KUBERNETES_BIN/kube-scheduler" \
    --kubeconfig="$kubeconfig" \
    --authentication-kubeconfig="$kubeconfig" \
    --authorization-kubeconfig="$kubeconfig" \
    --bind-address=127.0.0.1 \
    --secure-port="$SCHEDULER_PORT" \
    --leader-elect=false \
    --v=1
}

# The daemons up.sh starts, in start order; down.sh stops them in reverse.
# shellcheck disable=SC2034 # read by up.sh and down.sh
CONTROL_PLANE_DAEMONS=(etcd kube-apiserver kube-controller-manager kube-scheduler)
