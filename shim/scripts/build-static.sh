#!/usr/bin/env bash
# Builds the static, size-tuned readyroll-shim binary and prints its path as
# the last line. Static linking uses glibc's static libraries on the gnu
# target (`+crt-static`); the explicit --target keeps the flag away from
# build scripts and proc macros, which must stay dynamic.
set -euo pipefail

target=x86_64-unknown-linux-gnu
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
target_dir="${CARGO_TARGET_DIR:-$repo_root/target}"

RUSTFLAGS="${RUSTFLAGS:-} -C target-feature=+crt-static" \
  cargo build --manifest-path "$repo_root/Cargo.toml" \
  -p readyroll-shim --profile shim --target "$target" >&2

binary="$target_dir/$target/shim/readyroll-shim"
if ! file "$binary" | grep -Eq 'statically linked|static-pie linked'; then
  echo "error: $binary is not statically linked: $(file "$binary")" >&2
  exit 1
fi
echo "$binary"
