#!/usr/bin/env bash
# Certificates for the local cluster, made with openssl alone. Needs env.sh and log.sh.
#
# Every certificate is signed by one CA ($PKI_DIR/ca.crt + ca.key) that the API server
# trusts for client certificates, so other scripts (e.g. the real node's) can mint the
# kubelet's and kube-proxy's identities with sign_client_cert.

CERT_DAYS=3650

# A random serial avoids a shared serial file that concurrent signers would race on.
random_serial() { echo "0x$(openssl rand -hex 16)"; }

# ensure_ca [NAME]: the CA $PKI_DIR/NAME.{crt,key}, "ca" unless named.
ensure_ca() {
  local ca="${1:-ca}"
  [[ -f "$PKI_DIR/$ca.crt" && -f "$PKI_DIR/$ca.key" ]] && return
  mkdir -p "$PKI_DIR"
  openssl req -x509 -new -nodes -newkey rsa:2048 -sha256 -days "$CERT_DAYS" \
    -keyout "$PKI_DIR/$ca.key" -out "$PKI_DIR/$ca.crt" -subj "/CN=readyroll-local-$ca" \
    -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature" 2>/dev/null
}

# sign_cert NAME SUBJECT EXTENSIONS [CA]: key + certificate $PKI_DIR/NAME.{key,crt} signed by
# $PKI_DIR/CA.{crt,key} ("ca" unless named).
sign_cert() {
  local name="$1" subject="$2" extensions="$3" ca="${4:-ca}" csr
  csr="$(mktemp)"
  openssl req -new -nodes -newkey rsa:2048 -sha256 -keyout "$PKI_DIR/$name.key" -out "$csr" \
    -subj "$subject" 2>/dev/null
  openssl x509 -req -in "$csr" -CA "$PKI_DIR/$ca.crt" -CAkey "$PKI_DIR/$ca.key" \
    -set_serial "$(random_serial)" -days "$CERT_DAYS" -sha256 \
    -extfile <(printf '%s\n' "$extensions") -out "$PKI_DIR/$name.crt" 2>/dev/null
  rm -f "$csr"
  chmod 600 "$PKI_DIR/$name.key"
}

# sign_client_cert NAME CN [ORGANIZATION]: a client certificate; Kubernetes reads CN as the
# user name and O as the group (e.g. system:node:NAME in system:nodes for a kubelet).
sign_client_cert() {
  local name="$1" cn="$2" org="${3:-}" subject
  subject="/CN=$cn"
  [[ -z "$org" ]] || subject="/O=$org$subject"
  ensure_ca
  sign_cert "$name" "$subject" "basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=clientAuth"
}

# sign_serving_cert NAME CN SAN...: a TLS serving certificate; SANs like DNS:x or IP:1.2.3.4.
sign_serving_cert() {
  local name="$1" cn="$2"
  shift 2
  local sans
  sans="$(IFS=,; echo "$*")"
  ensure_ca
  sign_cert "$name" "/CN=$cn" "basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=$sans"
}

# write_kubeconfig FILE CERT_NAME: a kubeconfig for https://127.0.0.1:$APISERVER_PORT that
# authenticates with $PKI_DIR/CERT_NAME.{crt,key}; everything is embedded so the file can be copied.
write_kubeconfig() (
  local file="$1" cert="$2"
  umask 077
  cat >"$file" <<KUBECONFIG
apiVersion: v1
kind: Config
clusters:
- name: readyroll
  cluster:
    server: https://127.0.0.1:$APISERVER_PORT
    certificate-authority-data: $(base64 -w0 "$PKI_DIR/ca.crt")
users:
- name: $cert
  user:
    client-certificate-data: $(base64 -w0 "$PKI_DIR/$cert.crt")
    client-key-data: $(base64 -w0 "$PKI_DIR/$cert.key")
contexts:
- name: readyroll
  context:
    cluster: readyroll
    user: $cert
current-context: readyroll
KUBECONFIG
)

# ensure_control_plane_pki: everything the control plane needs, made once and then kept,
# so kubeconfigs handed out earlier stay valid across restarts.
ensure_control_plane_pki() {
  mkdir -p "$PKI_DIR"
  ensure_ca
  [[ -f "$PKI_DIR/apiserver.crt" ]] || sign_serving_cert apiserver kube-apiserver \
    DNS:kubernetes DNS:kubernetes.default DNS:kubernetes.default.svc \
    DNS:kubernetes.default.svc.cluster.local DNS:localhost \
    IP:127.0.0.1 "IP:$(first_service_ip)" "IP:$APISERVER_ADVERTISE_ADDRESS"
  [[ -f "$PKI_DIR/apiserver-kubelet-client.crt" ]] ||
    sign_client_cert apiserver-kubelet-client kube-apiserver-kubelet-client system:masters
  [[ -f "$PKI_DIR/admin.crt" ]] || sign_client_cert admin readyroll-admin system:masters
  [[ -f "$PKI_DIR/controller-manager.crt" ]] ||
    sign_client_cert controller-manager system:kube-controller-manager
  [[ -f "$PKI_DIR/scheduler.crt" ]] || sign_client_cert scheduler system:kube-scheduler
  # kwok stands in for many kubelets at once (nodes, pods, leases in every namespace), which
  # the Node authorizer cannot express for one identity; it runs as a cluster admin.
  [[ -f "$PKI_DIR/kwok.crt" ]] || sign_client_cert kwok readyroll-kwok system:masters
  # The front proxy's CA is kept apart from the client CA, as upstream advises: a certificate
  # from it lets its holder assert any user through request headers.
  if [[ ! -f "$PKI_DIR/front-proxy-client.crt" ]]; then
    ensure_ca front-proxy-ca
    sign_cert front-proxy-client /CN=front-proxy-client "basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=clientAuth" front-proxy-ca
  fi
  if [[ ! -f "$PKI_DIR/sa.key" ]]; then
    openssl genrsa -out "$PKI_DIR/sa.key" 2048 2>/dev/null
    openssl rsa -in "$PKI_DIR/sa.key" -pubout -out "$PKI_DIR/sa.pub" 2>/dev/null
    chmod 600 "$PKI_DIR/sa.key"
  fi
}

# first_service_ip: the ClusterIP the API server gives the `kubernetes` Service (x.y.0.1).
first_service_ip() { echo "${SERVICE_CLUSTER_IP_RANGE%.*/*}.1"; }
