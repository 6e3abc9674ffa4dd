#!/usr/bin/env bash
# Writes the krew manifest of a release to stdout, from the release archives:
#   scripts/krew-manifest.sh VERSION ARTIFACTS_DIR
# VERSION is the release tag (v1.2.3). ARTIFACTS_DIR holds one archive per platform,
# readyroll-VERSION-TARGET.tar.gz, each with the `readyroll` binary at its root; every
# sha256 in the manifest is computed here from those files, so a manifest is only
# ever made for archives that exist.
set -euo pipefail

usage() {
  echo "usage: $0 VERSION ARTIFACTS_DIR" >&2
  exit 2
}
(($# == 2)) || usage
version=$1
artifacts=$2
[[ $version =~ ^v[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?$ ]] || {
  echo "error: VERSION must be a release tag such as v1.2.3, not ${version@Q}" >&2
  exit 2
}
[[ -d $artifacts ]] || {
  echo "error: ARTIFACTS_DIR ${artifacts@Q} is not a directory" >&2
  exit 2
}
template="$(dirname "$0")/../plugins/krew/readyroll.yaml.template"
base="https://github.com/readyroll/readyroll/releases/download/$version"

# krew os/arch, then the Rust target the archive is built for.
platforms=(
  "linux amd64 x86_64-unknown-linux-gnu"
  "linux arm64 aarch64-unknown-linux-gnu"
  "darwin amd64 x86_64-apple-darwin"
  "darwin arm64 aarch64-apple-darwin"
)

entries=""
for platform in "${platforms[@]}"; do
  read -r os arch target <<<"$platform"
  archive="readyroll-$version-$target.tar.gz"
  file="$artifacts/$archive"
  [[ -f $file ]] || {
    echo "error: $file is missing (the $os/$arch archive)" >&2
    exit 1
  }
  listing=$(tar -tzf "$file") || {
    echo "error: $file is not a .tar.gz archive" >&2
    exit 1
  }
  grep -qx 'readyroll' <<<"$listing" || {
    echo "error: $file has no readyroll binary at its root" >&2
    exit 1
  }
  sha=$(sha256sum "$file" | cut -d ' ' -f 1)
  entries+="  - selector:
      matchLabels:
        os: $os
        arch: $arch
    uri: $base/$archive
    sha256: $sha
    files:
      - from: readyroll
        to: .
    bin: readyroll
"
done

while IFS= read -r line; do
  case $line in
    '@PLATFORMS@') printf '%s' "$entries" ;;
    *) printf '%s\n' "${line//@VERSION@/$version}" ;;
  esac
done <"$template"
