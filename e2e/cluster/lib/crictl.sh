#!/usr/bin/env bash
# crictl, the CRI client, built from its Go module: node-down.sh uses it to stop and remove
# pod sandboxes through the CRI (which also tears down their networks via CNI), and tests use
# it to look at the node. Needs env.sh, log.sh and gobuild.sh.

CRICTL_BIN="$CACHE/bin/crictl-$CRICTL_VERSION"

# ensure_crictl: builds crictl into $CRICTL_BIN unless the pinned build is already there.
ensure_crictl() {
  stamp_is_current "$CRICTL_BIN" crictl "$CRICTL_VERSION" crictl && return
  command -v go >/dev/null || die "go is required to build crictl"
  local staging="$CRICTL_BIN.tmp" started
  started="$(now_s)"
  rm -rf "$staging" && mkdir -p "$staging"
  log "crictl $CRICTL_VERSION: go install sigs.k8s.io/cri-tools/cmd/crictl"
  (
    go_build_env
    GOBIN="$staging" go install -trimpath \
      -ldflags "-s -w -X sigs.k8s.io/cri-tools/pkg/version.Version=$CRICTL_VERSION" \
      "sigs.k8s.io/cri-tools/cmd/crictl@$CRICTL_VERSION"
  )
  write_stamp "$staging" crictl "$CRICTL_VERSION"
  install_bin_dir "$staging" "$CRICTL_BIN"
  log "crictl $CRICTL_VERSION: built in $(elapsed "$started")"
}

# crictl_config: the config file pointing crictl at the node's containerd
# (`crictl --config FILE ...`; printed by node-up.sh for people and used by tests).
crictl_config() {
  local file="$NODE_DIR/crictl.yaml"
  if [[ ! -f "$file" ]]; then
    mkdir -p "$NODE_DIR"
    printf 'runtime-endpoint: unix://%s\nimage-endpoint: unix://%s\ntimeout: 30\n' \
      "$CONTAINERD_SOCK" "$CONTAINERD_SOCK" >"$file"
  fi
  echo "$file"
}

# crictl_node ARG...: crictl talking to the node's containerd.
crictl_node() { "$CRICTL_BIN/crictl" --config "$(crictl_config)" "$@"; }
