#!/usr/bin/env bash
# Builds the node's container images offline and imports them into the node's containerd:
#
#   registry.k8s.io/pause:3.10         sandbox image: catatonit in pause mode
#   readyroll.dev/testapp:v1, :v2      the static test HTTP server (VERSION baked in)
#   readyroll.dev/node-app:v1, :v2     the node runtime and a PM2-style app in /app
#   readyroll.dev/pm2-apps:v1, :v2     the node runtime, express, and the PM2-style apps of
#                                      e2e/images/pm2-apps in /app (the canonical `server`)
#   readyroll.dev/readyroll:dev        the operator: /readyroll and /readyroll-shim
#   readyroll.dev/readyroll:dev-next   the same operator under a second tag (chart upgrade test)
#
# Usage: images.sh [--testapp BIN] [--operator BIN] [--shim BIN]
#   --testapp   static readyroll-testapp binary (default: built here with cargo)
#   --operator  static readyroll binary    (or READYROLL_OPERATOR_BIN)
#   --shim      static readyroll-shim binary (or READYROLL_SHIM_BIN)
# The operator image is built only when both of its binaries are given. Images are imported
# when the node's containerd is running, otherwise only built (node-up.sh imports them).
set -euo pipefail

SCRIPTS="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=env.sh
source "$SCRIPTS/env.sh"
# shellcheck source=lib/node-env.sh
source "$SCRIPTS/lib/node-env.sh"
# shellcheck source=lib/log.sh
source "$SCRIPTS/lib/log.sh"
# shellcheck source=lib/oci.sh
source "$SCRIPTS/lib/oci.sh"

NONROOT=65532:65532
REPO_ROOT="$(dirname "$(dirname "$SCRIPTS")")"

testapp_bin="${READYROLL_TESTAPP_BIN:-}"
operator_bin="${READYROLL_OPERATOR_BIN:-}"
shim_bin="${READYROLL_SHIM_BIN:-}"
while (($#)); do
  case "$1" in
    --testapp) testapp_bin="${2:?--testapp needs a path}"; shift 2 ;;
    --operator) operator_bin="${2:?--operator needs a path}"; shift 2 ;;
    --shim) shim_bin="${2:?--shim needs a path}"; shift 2 ;;
    *) die "unknown argument '$1' (see the usage at the top of $0)" ;;
  esac
done

# build_static_testapp: builds readyroll-testapp without dynamic libraries and prints its path.
build_static_testapp() {
  local target=x86_64-unknown-linux-gnu target_dir
  log "building readyroll-testapp (static, release)"
  (cd "$REPO_ROOT" && RUSTFLAGS="-C target-feature=+crt-static" \
    cargo build --release --locked -p readyroll-testapp --target "$target" >&2)
  target_dir="$(cd "$REPO_ROOT" && cargo metadata --no-deps --format-version 1 | jq -r .target_directory)"
  echo "$target_dir/$target/release/readyroll-testapp"
}

# require_static BIN: images have no libc, so every binary put in them alone must be static.
require_static() {
  [[ -x "$1" ]] || die "$1 is not an executable file"
  # ldd says "statically linked" for static-pie and "not a dynamic executable" for static.
  local linkage
  linkage="$(ldd "$1" 2>&1 || true)"
  if [[ ! "$linkage" =~ statically\ linked|not\ a\ dynamic\ executable ]]; then
    die "$1 is dynamically linked; build it with RUSTFLAGS='-C target-feature=+crt-static'"
  fi
}

pause_image() {
  local stage catatonit
  catatonit="$(command -v catatonit)" || die "catatonit is not installed (apt-get install catatonit)"
  require_static "$catatonit"
  stage="$(stage_dir pause)"
  stage_file "$catatonit" "$stage" catatonit
  build_image "$PAUSE_IMAGE" "$stage" --config.entrypoint /catatonit --config.entrypoint -P
}

testapp_image() {
  local version="$1" stage
  stage="$(stage_dir "testapp-$version")"
  stage_file "$testapp_bin" "$stage" testapp
  stage_tmp "$stage"
  build_image "readyroll.dev/testapp:$version" "$stage" \
    --config.entrypoint /testapp --config.env "VERSION=$version" \
    --config.exposedports 8080/tcp --config.user "$NONROOT"
}

# stage_node STAGE: the node binary and the shared libraries it loads.
stage_node() {
  local stage="$1" node lib
  node="$(command -v node)" || die "node is not installed"
  stage_file "$node" "$stage" usr/bin/node
  # ldd prints "name => /path (addr)" for libraries and "/path (addr)" for the loader.
  while read -r lib; do
    stage_file "$lib" "$stage" "${lib#/}"
  done < <(ldd "$node" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }')
}

# node_app_image VERSION: the node binary with the shared libraries it loads, and the
# PM2-style app from e2e/images/node-app as /app (tests may mount their own /app instead).
node_app_image() {
  local version="$1" stage
  stage="$(stage_dir "node-app-$version")"
  stage_node "$stage"
  stage_file "$REPO_ROOT/e2e/images/node-app/server.js" "$stage" app/server.js 0644
  stage_tmp "$stage"
  build_image "readyroll.dev/node-app:$version" "$stage" \
    --config.entrypoint /usr/bin/node --config.cmd /app/server.js \
    --config.workingdir /app --config.env "VERSION=$version" \
    --config.exposedports 3000/tcp --config.user "$NONROOT"
}

# npm_modules DIR: installs the dependencies pinned by DIR/package-lock.json into a scratch
# directory and prints its node_modules path. npm's cache under $CACHE/npm makes reruns
# offline.
npm_modules() {
  local src="$1" work
  command -v npm >/dev/null || die "npm is not installed"
  mkdir -p "$OCI_WORK"
  work="$(mktemp -d "$OCI_WORK/npm.XXXXXX")"
  cp "$src/package.json" "$src/package-lock.json" "$work/"
  (cd "$work" && npm ci --omit=dev --ignore-scripts --prefer-offline --no-audit --no-fund \
    --cache "$CACHE/npm" >&2) || die "npm ci in $src failed"
  echo "$work/node_modules"
}

# pm2_apps_image VERSION MODULES: node, express (MODULES, from npm_modules) and the apps of
# e2e/images/pm2-apps in /app, the working directory, where a `script` is resolved.
pm2_apps_image() {
  local version="$1" modules="$2" stage app
  stage="$(stage_dir "pm2-apps-$version")"
  stage_node "$stage"
  for app in server leak.js tree.js package.json; do
    stage_file "$REPO_ROOT/e2e/images/pm2-apps/$app" "$stage" "app/$app" 0644
  done
  cp -R "$modules" "$stage/app/node_modules"
  stage_tmp "$stage"
  build_image "readyroll.dev/pm2-apps:$version" "$stage" \
    --config.entrypoint /usr/bin/node --config.cmd /app/server \
    --config.workingdir /app --config.env "VERSION=$version" \
    --config.exposedports 3000/tcp --config.user "$NONROOT"
}

# operator_image TAG: the operator image under readyroll.dev/readyroll:TAG.
operator_image() {
  local tag="$1" stage
  require_static "$operator_bin"
  require_static "$shim_bin"
  stage="$(stage_dir "operator-$tag")"
  stage_file "$operator_bin" "$stage" readyroll
  stage_file "$shim_bin" "$stage" readyroll-shim
  build_image "readyroll.dev/readyroll:$tag" "$stage" \
    --config.entrypoint /readyroll --config.cmd run --config.user "$NONROOT"
}

main() {
  local started ref
  started="$(now_s)"
  mkdir -p "$IMAGE_CACHE"
  trap oci_cleanup EXIT
  [[ -n "$testapp_bin" ]] || testapp_bin="$(build_static_testapp)"
  require_static "$testapp_bin"

  declare -A layouts
  local modules
  layouts["$PAUSE_IMAGE"]="$(pause_image)"
  modules="$(npm_modules "$REPO_ROOT/e2e/images/pm2-apps")"
  for version in v1 v2; do
    layouts["readyroll.dev/testapp:$version"]="$(testapp_image "$version")"
    layouts["readyroll.dev/node-app:$version"]="$(node_app_image "$version")"
    layouts["readyroll.dev/pm2-apps:$version"]="$(pm2_apps_image "$version" "$modules")"
  done
  if [[ -n "$operator_bin" && -n "$shim_bin" ]]; then
    for tag in dev dev-next; do
      layouts["readyroll.dev/readyroll:$tag"]="$(operator_image "$tag")"
    done
  else
    log "skipping readyroll.dev/readyroll:dev: give --operator and --shim (static binaries)"
  fi

  if [[ ! -S "$CONTAINERD_SOCK" ]] || ! ctr_node version >/dev/null 2>&1; then
    log "node containerd is not running: images built, not imported (node-up.sh imports them)"
    return
  fi
  for ref in "${!layouts[@]}"; do
    import_image "$ref" "${layouts[$ref]}"
  done
  log "images ready in $(elapsed "$started")"
}

main
