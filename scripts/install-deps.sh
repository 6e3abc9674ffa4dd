#!/usr/bin/env bash
# Installs the system packages the local cluster and the tests need, when missing.
# Go, Rust (with rustfmt and clippy) and Node.js are expected on the machine already.
set -euo pipefail

packages=(
  containerd runc                       # the real node's container runtime
  containernetworking-plugins           # bridge, host-local, portmap, loopback
  iptables conntrack socat              # kube-proxy and NodePort plumbing
  umoci skopeo                          # offline OCI images
  catatonit                             # the pod sandbox (pause) process
  busybox-static                        # a shell inside test images
  openssl                               # cluster certificates
  shellcheck                            # script lint in the tests
  util-linux iproute2 procps curl jq    # unshare, ip, pgrep, curl, jq
  nodejs                                # PM2-style test apps and convert of .js ecosystems
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# nodejs may come from another packaging of node; accept any working node binary.
if command -v node >/dev/null 2>&1; then
  missing=("${missing[@]/nodejs}")
fi
read -r -a missing <<<"${missing[*]}"

for tool in go cargo; do
  command -v "$tool" >/dev/null 2>&1 || { echo "install-deps: '$tool' is required and not on PATH" >&2; exit 1; }
done

if ((${#missing[@]} == 0)); then
  echo "install-deps: all system packages present"
  exit 0
fi

sudo=""
if [[ $(id -u) -ne 0 ]]; then sudo="sudo"; fi
echo "install-deps: installing ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
