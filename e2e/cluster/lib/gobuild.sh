#!/usr/bin/env bash
# Helpers for building pinned Go tools from the Go module proxy into the cache.
# Needs env.sh and log.sh sourced first.

# Bump when the way a tool is built changes, so cached binaries are rebuilt.
BUILD_RECIPE=1

go_build_env() {
  export GOMODCACHE="$CACHE/go/mod"
  export GOCACHE="$CACHE/go/build"
  export GOFLAGS=-modcacherw
  export CGO_ENABLED=0
}

# The stamp says which pin, Go toolchain and recipe produced a bin dir.
expected_stamp() { # COMPONENT VERSION
  printf 'component=%s\nversion=%s\ngo=%s\nrecipe=%s\n' "$1" "$2" "$(go env GOVERSION)" "$BUILD_RECIPE"
}

# stamp_is_current DIR COMPONENT VERSION BINARY...: true when every binary exists
# and the stamp matches what this script would build now.
stamp_is_current() {
  local dir="$1" component="$2" version="$3"
  shift 3
  [[ -f "$dir/.stamp" ]] || return 1
  [[ "$(cat "$dir/.stamp")" == "$(expected_stamp "$component" "$version")" ]] || return 1
  local bin
  for bin in "$@"; do
    [[ -x "$dir/$bin" ]] || return 1
  done
}

write_stamp() { # DIR COMPONENT VERSION
  expected_stamp "$2" "$3" >"$1/.stamp"
}

# module_download_field MODULE@VERSION FIELD: prints one string field of `go mod download -json`.
module_download_field() {
  go mod download -json "$1" | sed -n "s/^[[:space:]]*\"$2\": \"\(.*\)\",\{0,1\}\$/\1/p"
}

# write_tools_go DIR PACKAGE...: a build-tag-guarded file importing the packages to build,
# so `go mod tidy` keeps every module they need.
write_tools_go() {
  local dir="$1"
  shift
  {
    echo '//go:build tools'
    echo
    echo 'package tools'
    echo
    echo 'import ('
    local pkg
    for pkg in "$@"; do
      printf '\t_ "%s"\n' "$pkg"
    done
    echo ')'
  } >"$dir/tools.go"
}

# install_bin_dir STAGING FINAL: replace FINAL with the freshly built STAGING dir.
install_bin_dir() {
  rm -rf "$2"
  mv "$1" "$2"
}
