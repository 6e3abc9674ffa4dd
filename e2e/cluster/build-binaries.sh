#!/usr/bin/env bash
# Builds the pinned Kubernetes, etcd, kwok, helm, actionlint and promtool binaries from Go modules
# into the cache, and on request the Argo Rollouts controller the scale benchmark compares against.
# A component whose stamp matches its pin is reused; a changed pin builds into a new directory.
#
# Usage: build-binaries.sh [kubernetes|etcd|kwok|helm|actionlint|promtool|argo-rollouts ...]
#        (default: all but argo-rollouts, which only `make bench-scale` needs)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=env.sh
source "$here/env.sh"
# shellcheck source=lib/log.sh
source "$here/lib/log.sh"
# shellcheck source=lib/gobuild.sh
source "$here/lib/gobuild.sh"
# shellcheck source=lib/kubernetes-module.sh
source "$here/lib/kubernetes-module.sh"

KUBERNETES_COMMANDS=(kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy kubectl)

build_kubernetes() {
  if stamp_is_current "$KUBERNETES_BIN" kubernetes "$KUBERNETES_VERSION" "${KUBERNETES_COMMANDS[@]}"; then
    log "kubernetes $KUBERNETES_VERSION: reusing $KUBERNETES_BIN"
    return
  fi
  local src="$CACHE/src/kubernetes-$KUBERNETES_VERSION" staging="$KUBERNETES_BIN.tmp"
  local packages=() cmd
  for cmd in "${KUBERNETES_COMMANDS[@]}"; do
    packages+=("k8s.io/kubernetes/cmd/$cmd")
  done
  log "kubernetes $KUBERNETES_VERSION: preparing build module in $src"
  write_kubernetes_module "$src" "$KUBERNETES_VERSION" "${packages[@]}"
  local ldflags
  ldflags="$(kubernetes_version_ldflags "$KUBERNETES_VERSION") -s -w"
  rm -rf "$staging" && mkdir -p "$staging"
  log "kubernetes $KUBERNETES_VERSION: go build ${KUBERNETES_COMMANDS[*]}"
  # Same flags as upstream's release build (hack/lib/golang.sh) for static binaries.
  (cd "$src" && go build -trimpath -tags selinux,notest -ldflags "$ldflags" -o "$staging/" "${packages[@]}")
  write_stamp "$staging" kubernetes "$KUBERNETES_VERSION"
  install_bin_dir "$staging" "$KUBERNETES_BIN"
}

build_etcd() {
  if stamp_is_current "$ETCD_BIN" etcd "$ETCD_VERSION" etcd etcdctl; then
    log "etcd $ETCD_VERSION: reusing $ETCD_BIN"
    return
  fi
  # etcd's modules carry relative replace lines, so `go install pkg@version` refuses them;
  # a scratch module requiring the published versions builds them instead.
  local src="$CACHE/src/etcd-$ETCD_VERSION" staging="$ETCD_BIN.tmp"
  local packages=(go.etcd.io/etcd/server/v3 go.etcd.io/etcd/etcdctl/v3)
  rm -rf "$src" && mkdir -p "$src"
  write_tools_go "$src" "${packages[@]}"
  printf 'module readyroll.dev/build/etcd\n\ngo 1.24\n\nrequire (\n\tgo.etcd.io/etcd/server/v3 %s\n\tgo.etcd.io/etcd/etcdctl/v3 %s\n)\n' \
    "$ETCD_VERSION" "$ETCD_VERSION" >"$src/go.mod"
  (cd "$src" && go mod tidy)
  rm -rf "$staging" && mkdir -p "$staging"
  log "etcd $ETCD_VERSION: go build etcd etcdctl"
  (cd "$src" && go build -trimpath -ldflags "-s -w" -o "$staging/etcd" go.etcd.io/etcd/server/v3 &&
    go build -trimpath -ldflags "-s -w" -o "$staging/etcdctl" go.etcd.io/etcd/etcdctl/v3)
  write_stamp "$staging" etcd "$ETCD_VERSION"
  install_bin_dir "$staging" "$ETCD_BIN"
}

build_kwok() {
  if stamp_is_current "$KWOK_BIN" kwok "$KWOK_VERSION" kwok; then
    log "kwok $KWOK_VERSION: reusing $KWOK_BIN"
    return
  fi
  local staging="$KWOK_BIN.tmp"
  rm -rf "$staging" && mkdir -p "$staging"
  log "kwok $KWOK_VERSION: go install sigs.k8s.io/kwok/cmd/kwok"
  # kwok's release version is a constant in its source; no ldflags needed.
  GOBIN="$staging" go install -trimpath -ldflags "-s -w" "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION"
  write_stamp "$staging" kwok "$KWOK_VERSION"
  install_bin_dir "$staging" "$KWOK_BIN"
}

build_helm() {
  if stamp_is_current "$HELM_BIN" helm "$HELM_VERSION" helm; then
    log "helm $HELM_VERSION: reusing $HELM_BIN"
    return
  fi
  local staging="$HELM_BIN.tmp" helm_mod client_go minor
  # Helm's Makefile derives its default Kubernetes version from the client-go it links.
  helm_mod="$(module_download_field "helm.sh/helm/v3@$HELM_VERSION" GoMod)"
  client_go="$(awk '$1 == "k8s.io/client-go" { print $2; exit }' "$helm_mod")"
  [[ "$client_go" =~ ^v0\.([0-9]+)\. ]] || die "cannot find k8s.io/client-go in $helm_mod"
  minor="${BASH_REMATCH[1]}"
  local ldflags="-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION"
  ldflags+=" -X helm.sh/helm/v3/internal/version.metadata= -X helm.sh/helm/v3/internal/version.gitTreeState=clean"
  local pkg
  for pkg in helm.sh/helm/v3/pkg/lint/rules helm.sh/helm/v3/pkg/chartutil; do
    ldflags+=" -X $pkg.k8sVersionMajor=1 -X $pkg.k8sVersionMinor=$minor"
  done
  rm -rf "$staging" && mkdir -p "$staging"
  log "helm $HELM_VERSION: go install helm.sh/helm/v3/cmd/helm"
  GOBIN="$staging" go install -trimpath -ldflags "$ldflags" "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
  write_stamp "$staging" helm "$HELM_VERSION"
  install_bin_dir "$staging" "$HELM_BIN"
}

build_actionlint() {
  if stamp_is_current "$ACTIONLINT_BIN" actionlint "$ACTIONLINT_VERSION" actionlint; then
    log "actionlint $ACTIONLINT_VERSION: reusing $ACTIONLINT_BIN"
    return
  fi
  local staging="$ACTIONLINT_BIN.tmp"
  rm -rf "$staging" && mkdir -p "$staging"
  log "actionlint $ACTIONLINT_VERSION: go install github.com/rhysd/actionlint/cmd/actionlint"
  # `actionlint -version` prints what the main package's version variable holds.
  GOBIN="$staging" GOFLAGS="$GOFLAGS -mod=mod" go install -trimpath \
    -ldflags "-s -w -X github.com/rhysd/actionlint.version=$ACTIONLINT_VERSION" \
    "github.com/rhysd/actionlint/cmd/actionlint@$ACTIONLINT_VERSION"
  write_stamp "$staging" actionlint "$ACTIONLINT_VERSION"
  install_bin_dir "$staging" "$ACTIONLINT_BIN"
}

build_promtool() {
  if stamp_is_current "$PROMTOOL_BIN" promtool "$PROMTOOL_VERSION" promtool; then
    log "promtool $PROMTOOL_VERSION: reusing $PROMTOOL_BIN"
    return
  fi
  local staging="$PROMTOOL_BIN.tmp"
  rm -rf "$staging" && mkdir -p "$staging"
  log "promtool $PROMTOOL_VERSION: go install github.com/prometheus/prometheus/cmd/promtool"
  GOBIN="$staging" go install -trimpath -ldflags "-s -w" \
    "github.com/prometheus/prometheus/cmd/promtool@$PROMTOOL_VERSION"
  write_stamp "$staging" promtool "$PROMTOOL_VERSION"
  install_bin_dir "$staging" "$PROMTOOL_BIN"
}

build_argo_rollouts() {
  if stamp_is_current "$ARGO_ROLLOUTS_BIN" argo-rollouts "$ARGO_ROLLOUTS_VERSION" rollouts-controller; then
    log "argo-rollouts $ARGO_ROLLOUTS_VERSION: reusing $ARGO_ROLLOUTS_BIN"
    return
  fi
  # Its go.mod maps the k8s.io staging modules (and two forks) with a replace block, which
  # `go install pkg@version` refuses; a scratch module that copies the block builds it.
  local module=github.com/argoproj/argo-rollouts
  local src="$CACHE/src/argo-rollouts-$ARGO_ROLLOUTS_VERSION" staging="$ARGO_ROLLOUTS_BIN.tmp"
  local package="$module/cmd/rollouts-controller" upstream_mod
  upstream_mod="$(module_download_field "$module@$ARGO_ROLLOUTS_VERSION" GoMod)"
  [[ -f "$upstream_mod" ]] || die "go mod download $module@$ARGO_ROLLOUTS_VERSION gave no go.mod"
  rm -rf "$src" && mkdir -p "$src"
  write_tools_go "$src" "$package"
  {
    echo "module readyroll.dev/build/argo-rollouts"
    echo
    grep -m1 '^go ' "$upstream_mod"
    echo
    echo "require $module $ARGO_ROLLOUTS_VERSION"
    echo
    awk '/^replace \($/ { block = 1 } block { print; if ($0 == ")") block = 0 }' "$upstream_mod"
  } >"$src/go.mod"
  grep -q ' => ' "$src/go.mod" || die "no replace block found in $upstream_mod"
  rm -rf "$staging" && mkdir -p "$staging"
  log "argo-rollouts $ARGO_ROLLOUTS_VERSION: go build rollouts-controller"
  (cd "$src" && GOFLAGS="$GOFLAGS -mod=mod" go build -trimpath -ldflags "-s -w" \
    -o "$staging/rollouts-controller" "$package")
  write_stamp "$staging" argo-rollouts "$ARGO_ROLLOUTS_VERSION"
  install_bin_dir "$staging" "$ARGO_ROLLOUTS_BIN"
}

main() {
  local components=("$@")
  [[ ${#components[@]} -gt 0 ]] || components=(kubernetes etcd kwok helm actionlint promtool)
  command -v go >/dev/null || die "go is required to build the pinned tools"
  go_build_env
  local total_start start component
  total_start="$(now_s)"
  for component in "${components[@]}"; do
    start="$(now_s)"
    case "$component" in
      kubernetes | etcd | kwok | helm | actionlint | promtool) "build_$component" ;;
      argo-rollouts) build_argo_rollouts ;;
      *) die "unknown component '$component' (expected kubernetes, etcd, kwok, helm, actionlint, promtool or argo-rollouts)" ;;
    esac
    log "$component: done in $(elapsed "$start")"
  done
  log "all binaries ready in $(elapsed "$total_start")"
}

main "$@"
