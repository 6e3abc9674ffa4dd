#!/usr/bin/env bash
# The host-side state of the real node: kernel settings, the pod bridge, iptables chains,
# mounts, cgroups and CNI cache files, with functions to set up, remove and check each.
# Needs env.sh, node-env.sh and log.sh.

# Kernel settings the node needs. Their previous values are saved on first change and put
# back by restore_sysctls, so the host is left as it was found.
NODE_SYSCTLS=(
  net.ipv4.ip_forward=1
  # Service NAT for traffic between pods on the same bridge (kube-proxy's hairpin case).
  net.bridge.bridge-nf-call-iptables=1
  net.bridge.bridge-nf-call-ip6tables=1
)
# kube-proxy turns this on itself for NodePorts on 127.0.0.1; listed to be restored.
RESTORED_SYSCTLS=(net.ipv4.conf.all.route_localnet)

sysctl_file() { echo "/proc/sys/${1//.//}"; }

apply_sysctls() {
  # br_netfilter provides the bridge-nf-call settings; it may be built in.
  [[ -d /proc/sys/net/bridge ]] || modprobe br_netfilter ||
    die "the br_netfilter kernel module is needed (modprobe br_netfilter)"
  local saved="$NODE_DIR/sysctls.orig" setting name
  mkdir -p "$NODE_DIR"
  if [[ ! -f "$saved" ]]; then
    for setting in "${NODE_SYSCTLS[@]}" "${RESTORED_SYSCTLS[@]}"; do
      name="${setting%%=*}"
      echo "$name=$(cat "$(sysctl_file "$name")")"
    done >"$saved.part"
    mv "$saved.part" "$saved"
  fi
  for setting in "${NODE_SYSCTLS[@]}"; do
    echo "${setting#*=}" >"$(sysctl_file "${setting%%=*}")"
  done
}

restore_sysctls() {
  local saved="$NODE_DIR/sysctls.orig" setting
  [[ -f "$saved" ]] || return 0
  while read -r setting; do
    echo "${setting#*=}" >"$(sysctl_file "${setting%%=*}")"
  done <"$saved"
  rm -f "$saved"
}

# ensure_pod_bridge: the bridge exists before any pod, carrying the address the API server
# advertises, so the `kubernetes` Service has a reachable endpoint from the start.
ensure_pod_bridge() {
  ip link show "$POD_BRIDGE" >/dev/null 2>&1 || ip link add "$POD_BRIDGE" type bridge
  ip -4 addr show dev "$POD_BRIDGE" | grep -qF "inet $POD_BRIDGE_ADDRESS " ||
    ip addr add "$POD_BRIDGE_ADDRESS" dev "$POD_BRIDGE"
  ip link set "$POD_BRIDGE" up
}

remove_pod_bridge() {
  if ip link show "$POD_BRIDGE" >/dev/null 2>&1; then
    ip link delete "$POD_BRIDGE"
  fi
}

# Chains created by kube-proxy and kubelet (KUBE-*) and by the portmap plugin (CNI-*).
NODE_CHAIN_PATTERN='(KUBE|CNI)-[A-Za-z0-9_-]+'

# node_chains TOOL TABLE: the node's chains in TABLE of TOOL (iptables or ip6tables).
node_chains() {
  "$1" -w -t "$2" -S 2>/dev/null | awk -v p="^$NODE_CHAIN_PATTERN\$" '$1 == "-N" && $2 ~ p { print $2 }'
}

# remove_iptables_chains: deletes every rule that jumps to one of the node's chains, then
# the chains themselves, in all tables of IPv4 and IPv6.
remove_iptables_chains() {
  local tool table rule chain
  for tool in iptables ip6tables; do
    command -v "$tool" >/dev/null || continue
    for table in filter nat mangle raw; do
      # Rules of other chains that lead into ours (e.g. PREROUTING -j KUBE-SERVICES).
      while read -r rule; do
        [[ -n "$rule" ]] || continue
        # -S prints rules in the syntax -A takes, quoting comments; eval restores the words.
        eval "\"\$tool\" -w -t \"\$table\" -D ${rule#-A }" ||
          log "could not delete $tool -t $table rule: $rule"
      done < <("$tool" -w -t "$table" -S 2>/dev/null |
        grep -E -- "^-A " | grep -vE -- "^-A $NODE_CHAIN_PATTERN " |
        grep -E -- "-[jg] $NODE_CHAIN_PATTERN( |\$)" || true)
      for chain in $(node_chains "$tool" "$table"); do
        "$tool" -w -t "$table" -F "$chain"
      done
      for chain in $(node_chains "$tool" "$table"); do
        "$tool" -w -t "$table" -X "$chain"
      done
    done
  done
}

# node_mounts: mount points under the cluster dir, deepest first.
node_mounts() {
  awk -v dir="$CLUSTER_DIR/" 'index($5, dir) == 1 { print $5 }' /proc/self/mountinfo |
    awk '{ print gsub("/", "/") "\t" $0 }' | sort -rn | cut -f2- | uniq
}

# unmount_all: unmounts every mount under the cluster dir: kubelet's volumes (tmpfs for
# secrets and tokens) and its own rshared bind mount, containerd's rootfs overlays, shm and
# network-namespace files.
unmount_all() {
  local mount pass
  for pass in 1 2 3; do
    while read -r mount; do
      [[ -n "$mount" ]] || continue
      umount "$mount" 2>/dev/null || ((pass < 3)) || umount --lazy "$mount" ||
        log "could not unmount $mount"
    done < <(node_mounts)
    [[ -z "$(node_mounts)" ]] && return
  done
}

# Cgroup hierarchies kubelet creates pod cgroups in (cgroupfs driver, cgroup root "/").
node_cgroup_dirs() {
  local dir
  for dir in /sys/fs/cgroup/*/kubepods /sys/fs/cgroup/kubepods; do
    [[ -d "$dir" ]] && echo "$dir"
  done
  return 0
}

# remove_pod_cgroups: removes kubelet's (by then empty) cgroup trees, leaves first.
remove_pod_cgroups() {
  local dir
  while read -r dir; do
    find "$dir" -depth -type d -exec rmdir {} + 2>/dev/null || true
  done < <(node_cgroup_dirs)
}

# libcni caches each attachment's result under /var/lib/cni/results, named after the
# network; CNI DEL removes them, this sweeps those of sandboxes that never got a DEL.
remove_cni_cache() {
  rm -f /var/lib/cni/results/"$CNI_NETWORK"-*
}

# report_leftovers: prints what of the node is still on the host; fails if anything is.
report_leftovers() {
  local left=() tool table chains
  [[ -z "$(node_mounts)" ]] || left+=("mounts: $(node_mounts | tr '\n' ' ')")
  ! ip link show "$POD_BRIDGE" >/dev/null 2>&1 || left+=("bridge $POD_BRIDGE")
  for tool in iptables ip6tables; do
    command -v "$tool" >/dev/null || continue
    for table in filter nat mangle raw; do
      chains="$(node_chains "$tool" "$table" | tr '\n' ' ')"
      [[ -z "$chains" ]] || left+=("$tool -t $table chains: $chains")
    done
  done
  [[ -z "$(node_cgroup_dirs)" ]] || left+=("cgroups: $(node_cgroup_dirs | tr '\n' ' ')")
  compgen -G "/var/lib/cni/results/$CNI_NETWORK-*" >/dev/null && left+=("CNI cache files")
  local pid
  for pid in $(node_shim_pids); do left+=("containerd shim pid $pid"); done
  if ((${#left[@]})); then
    log "left on the host:"
    printf '  %s\n' "${left[@]}" >&2
    return 1
  fi
}

# node_shim_pids: containerd shims serving the node's containerd (their command line names
# its socket), which outlive containerd itself.
node_shim_pids() {
  local cmdline_file pid
  for cmdline_file in /proc/[0-9]*/cmdline; do
    pid="${cmdline_file#/proc/}"
    pid="${pid%/cmdline}"
    if tr '\0' ' ' 2>/dev/null <"$cmdline_file" | grep -qF -- "-address $CONTAINERD_SOCK "; then
      echo "$pid"
    fi
  done
  return 0
}
