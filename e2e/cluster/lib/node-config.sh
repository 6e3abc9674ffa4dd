#!/usr/bin/env bash
# Configuration files of the real node's daemons. Needs env.sh and node-env.sh.
# Each function (re)writes its file, so a changed script takes effect on the next node-up.

# containerd with only what the node needs, every path under $CONTAINERD_DIR. The shims'
# sockets are the exception: containerd 1.6 always puts them in /run/containerd/s/ (named by
# a hash that includes our socket path, so they never collide with a host containerd).
# restrict_oom_score_adj: true when this process may not lower its oom_score_adj, i.e.
# lacks CAP_SYS_RESOURCE (bit 24 of the effective capability set).
restrict_oom_score_adj() {
  local caps
  caps="$(awk '$1 == "CapEff:" { print $2 }' /proc/self/status)"
  if (((16#$caps >> 24) & 1)); then echo false; else echo true; fi
}

write_containerd_config() {
  mkdir -p "$CONTAINERD_DIR"
  cat >"$CONTAINERD_CONFIG" <<TOML
version = 2
root = "$CONTAINERD_DIR/root"
state = "$CONTAINERD_DIR/state"
# Snapshotters and runtimes this node never uses; they only log warnings at startup.
disabled_plugins = [
  "io.containerd.snapshotter.v1.aufs",
  "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.snapshotter.v1.zfs",
]

[grpc]
  address = "$CONTAINERD_SOCK"

[ttrpc]
  address = "$CONTAINERD_SOCK.ttrpc"

[plugins."io.containerd.internal.v1.opt"]
  path = "$CONTAINERD_DIR/opt"

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$PAUSE_IMAGE"
  # Network namespaces as files under our state dir instead of /var/run/netns.
  netns_mounts_under_state_dir = true
  disable_apparmor = true
  # kubelet asks for negative oom_score_adj values (-998 for sandboxes), which need
  # CAP_SYS_RESOURCE; where root lacks it (containers, some VMs) runc fails with "can't get
  # final child's PID from pipe". This clamps requests to containerd's own score instead.
  restrict_oom_score_adj = $(restrict_oom_score_adj)
  enable_selinux = false
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"

  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"

    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"

      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        # kubelet runs with cgroupDriver: cgroupfs; both must agree.
        SystemdCgroup = false
        # runc's own state, instead of /run/containerd/runc.
        Root = "$CONTAINERD_DIR/runc"

  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "$CNI_BIN_DIR"
    conf_dir = "$CNI_CONF_DIR"
    max_conf_num = 1

  [plugins."io.containerd.grpc.v1.cri".registry]
    # No registry is reachable: kubelet uses imported images with imagePullPolicy: Never.
    config_path = "$CONTAINERD_DIR/certs.d"
TOML
}

# One bridge for all pods, addresses from host-local, hostPort support from portmap. The
# bridge's own address ($APISERVER_ADVERTISE_ADDRESS) is the pods' gateway and where the API
# server is reached, so pods need no masquerading to talk to the control plane.
write_cni_config() {
  mkdir -p "$CNI_CONF_DIR" "$CNI_DIR/ipam"
  cat >"$CNI_CONF_DIR/10-$CNI_NETWORK.conflist" <<JSON
{
  "cniVersion": "1.0.0",
  "name": "$CNI_NETWORK",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "$POD_BRIDGE",
      "isGateway": true,
      "ipMasq": false,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "dataDir": "$CNI_DIR/ipam",
        "ranges": [[{ "subnet": "$CLUSTER_CIDR", "gateway": "$APISERVER_ADVERTISE_ADDRESS" }]],
        "routes": [{ "dst": "0.0.0.0/0" }]
      }
    },
    { "type": "portmap", "capabilities": { "portMappings": true } }
  ]
}
JSON
}

# kubelet: cgroupfs (containerd 1.6 cannot tell kubelet its cgroup driver), no swap check,
# x509 + webhook authentication and webhook authorization like a production node, every
# directory it writes under $KUBELET_DIR or $NODE_DIR, and no garbage collection of images:
# they were imported, and nothing could pull them back.
write_kubelet_config() {
  mkdir -p "$KUBELET_DIR" "$POD_LOG_DIR"
  cat >"$KUBELET_DIR/config.yaml" <<YAML
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: $APISERVER_ADVERTISE_ADDRESS
port: $KUBELET_PORT
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: 10248
containerRuntimeEndpoint: unix://$CONTAINERD_SOCK
cgroupDriver: cgroupfs
failSwapOn: false
failCgroupV1: false
tlsCertFile: $PKI_DIR/kubelet-serving.crt
tlsPrivateKeyFile: $PKI_DIR/kubelet-serving.key
rotateCertificates: false
serverTLSBootstrap: false
authentication:
  anonymous:
    enabled: false
  x509:
    clientCAFile: $PKI_DIR/ca.crt
  webhook:
    enabled: true
authorization:
  mode: Webhook
podLogsDir: $POD_LOG_DIR
volumePluginDir: $KUBELET_DIR/volume-plugins
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard:
  memory.available: 100Mi
  nodefs.available: 1%
  nodefs.inodesFree: 1%
  imagefs.available: 1%
YAML
}

# kube-proxy in iptables mode; NodePorts only on 127.0.0.1 so nothing is exposed on the
# host's real interfaces. Conntrack settings 0 = leave the host's values alone.
# A running kube-proxy exits as soon as its configuration file is written to, so a rerun of
# node-up.sh replaces the file only when its content changes (and then restarts it).
write_kube_proxy_config() {
  local config="$KUBE_PROXY_DIR/config.yaml"
  mkdir -p "$KUBE_PROXY_DIR"
  kube_proxy_config >"$config.new"
  if cmp -s "$config.new" "$config"; then
    rm -f "$config.new"
    return
  fi
  mv "$config.new" "$config"
  # A kube-proxy that read the old file is on its way out; start_kube_proxy starts anew.
  stop_daemon kube-proxy
}

kube_proxy_config() {
  cat <<YAML
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection:
  kubeconfig: $KUBE_PROXY_DIR/kubeconfig
hostnameOverride: $NODE_NAME
mode: iptables
clusterCIDR: $CLUSTER_CIDR
nodePortAddresses: ["127.0.0.1/32"]
healthzBindAddress: 127.0.0.1:10256
metricsBindAddress: 127.0.0.1:10249
iptables:
  localhostNodePorts: true
conntrack:
  maxPerCore: 0
  min: 0
  tcpEstablishedTimeout: 0s
  tcpCloseWaitTimeout: 0s
YAML
}
