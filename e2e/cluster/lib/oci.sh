#!/usr/bin/env bash
# Building OCI images offline with umoci and importing them into the node's containerd.
# Needs env.sh, node-env.sh and log.sh.
#
# An image is described by a staged root filesystem (a directory) plus umoci config flags.
# Its cache key is the sha256 of both, so an unchanged image is never rebuilt: the built
# OCI layout is kept as a tar under $IMAGE_CACHE and imported only when containerd holds a
# different digest under that name.

# Bump to invalidate every cached image when the way images are built changes.
OCI_BUILD_FORMAT=1

# A fixed timestamp for staged files: identical content then yields identical layers, so
# images that differ only in their config (v1/v2) share their layer blobs in containerd.
STAGE_MTIME=@1

# Each run stages and builds in a directory of its own ($$ is the main shell's pid, also in
# subshells), so runs at the same time never share scratch space; oci_cleanup removes it.
OCI_WORK="$IMAGE_CACHE/work.$$"

# oci_cleanup: removes this run's scratch directory and those left by runs that died.
oci_cleanup() {
  rm -rf "$OCI_WORK"
  local dir
  for dir in "$IMAGE_CACHE"/work.*; do
    [[ -d "$dir" && ! -d "/proc/${dir##*.}" ]] && rm -rf "$dir"
  done
  return 0
}

ctr_node() { ctr --address "$CONTAINERD_SOCK" --namespace "$CONTAINERD_NAMESPACE" "$@"; }

# stage_dir NAME: a fresh empty directory to assemble image NAME's root filesystem in.
stage_dir() {
  local dir="$OCI_WORK/stage/$1"
  rm -rf "$dir"
  mkdir -p "$dir"
  echo "$dir"
}

# stage_file SRC STAGE DEST [MODE]: copies SRC to STAGE/DEST, creating parent directories.
stage_file() {
  local src="$1" stage="$2" dest="$3" mode="${4:-0755}"
  [[ -f "$src" ]] || die "image input $src does not exist"
  install -D -m "$mode" "$src" "$stage/$dest"
}

# stage_tmp STAGE: a world-writable sticky /tmp, for apps running as a non-root user.
stage_tmp() { install -d -m 1777 "$1/tmp"; }

# content_key STAGE CONFIG_ARG...: sha256 over the staged tree (names, modes, owners,
# contents) and the image config.
content_key() {
  local stage="$1"
  shift
  {
    echo "format $OCI_BUILD_FORMAT"
    printf 'config %s\n' "$@"
    tar --sort=name --mtime="$STAGE_MTIME" --owner=0 --group=0 --numeric-owner \
      -C "$stage" -cf - . | sha256sum
  } | sha256sum | cut -d' ' -f1
}

# build_image REF STAGE CONFIG_ARG...: prints the path of an OCI layout tar holding REF
# (e.g. readyroll.dev/testapp:v1) built from STAGE; CONFIG_ARGs are `umoci config` flags.
build_image() {
  local ref="$1" stage="$2"
  shift 2
  local repo="${ref%:*}" tag="${ref##*:}" key
  key="$(content_key "$stage" "$@")"
  local out="$IMAGE_CACHE/layouts/${repo//\//_}_${tag}_$key.tar"
  if [[ -f "$out" ]]; then
    log "image $ref: cached ($(basename "$out"))"
    echo "$out"
    return
  fi
  local started work
  started="$(now_s)"
  mkdir -p "$OCI_WORK"
  work="$(mktemp -d "$OCI_WORK/build.XXXXXX")"
  find "$stage" -exec touch -h -d "$STAGE_MTIME" {} +
  umoci init --layout "$work/layout" >&2
  umoci new --image "$work/layout:$tag" >&2
  umoci insert --image "$work/layout:$tag" --history.created_by "images.sh: $ref" "$stage" / >&2
  umoci config --image "$work/layout:$tag" --no-history "$@" >&2
  # insert and config each leave a superseded manifest and config behind.
  umoci gc --layout "$work/layout" >&2
  mkdir -p "$(dirname "$out")"
  tar -C "$work/layout" -cf "$work/image.tar" .
  mv "$work/image.tar" "$out"
  rm -rf "$work"
  # Older builds of the same image are dead weight once a new one exists (those of the last
  # minutes may belong to a run that has yet to import them).
  find "$IMAGE_CACHE/layouts" -name "${repo//\//_}_${tag}_*.tar" ! -path "$out" -mmin +10 -delete
  log "image $ref: built in $(elapsed "$started") ($(du -h "$out" | cut -f1))"
  echo "$out"
}

# layout_digest TAR: the manifest digest recorded in an OCI layout tar's index.json.
layout_digest() { tar -xOf "$1" ./index.json | jq -r '.manifests[0].digest'; }

# import_image REF TAR: makes REF available to the CRI plugin, unless containerd already
# has exactly this image under that name.
import_image() {
  local ref="$1" tar="$2" want have
  want="$(layout_digest "$tar")"
  have="$(ctr_node images ls "name==$ref" | awk -v r="$ref" '$1 == r { print $3 }')"
  if [[ "$have" == "$want" ]]; then
    log "image $ref: already in containerd ($want)"
    return
  fi
  local started
  started="$(now_s)"
  ctr_node images import --base-name "${ref%:*}" "$tar" >/dev/null
  have="$(ctr_node images ls "name==$ref" | awk -v r="$ref" '$1 == r { print $3 }')"
  [[ "$have" == "$want" ]] || die "importing $ref: containerd holds '$have', expected $want"
  log "image $ref: imported in $(elapsed "$started") ($want)"
}
