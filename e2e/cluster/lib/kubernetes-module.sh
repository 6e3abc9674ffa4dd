#!/usr/bin/env bash
# Builds a scratch Go module from which the k8s.io/kubernetes commands can be compiled.
#
# k8s.io/kubernetes requires its staging modules (k8s.io/api, k8s.io/client-go, ...) at
# v0.0.0 and maps them to ./staging with replace lines that only apply inside its own
# repository. The scratch module requires k8s.io/kubernetes and replaces every staging
# module with its published v0.MINOR.PATCH release. Needs log.sh and gobuild.sh.

# staging_modules GOMOD: every module required at exactly v0.0.0 (pseudo-versions such
# as k8s.io/kube-openapi v0.0.0-2025... are real dependencies, not staging modules).
staging_modules() {
  awk '
    /^require \($/ { inside = 1; next }
    inside && /^\)$/ { inside = 0; next }
    inside && $2 == "v0.0.0" { print $1 }
    /^require [^(]/ && $3 == "v0.0.0" { print $2 }
  ' "$1"
}

# godebug_directives GOMOD: the godebug line or block, copied verbatim. Kubernetes'
# own godebug default is ignored when it is a dependency, so the scratch module repeats it.
godebug_directives() {
  awk '
    /^godebug \($/ { block = 1 }
    block { print; if ($0 == ")") block = 0; next }
    /^godebug / { print }
  ' "$1"
}

# write_kubernetes_module DIR VERSION PACKAGE...
write_kubernetes_module() {
  local dir="$1" version="$2"
  shift 2
  local upstream_mod staging_version module
  upstream_mod="$(module_download_field "k8s.io/kubernetes@$version" GoMod)"
  [[ -f "$upstream_mod" ]] || die "go mod download k8s.io/kubernetes@$version gave no go.mod"
  staging_version="v0.${version#v1.}"
  rm -rf "$dir" && mkdir -p "$dir"
  write_tools_go "$dir" "$@"
  {
    echo "module readyroll.dev/build/kubernetes"
    echo
    grep -m1 '^go ' "$upstream_mod"
    echo
    godebug_directives "$upstream_mod"
    echo
    echo "require k8s.io/kubernetes $version"
    echo
    echo "replace ("
    while read -r module; do
      printf '\t%s => %s %s\n' "$module" "$module" "$staging_version"
    done < <(staging_modules "$upstream_mod")
    echo ")"
  } >"$dir/go.mod"
  grep -q ' => ' "$dir/go.mod" || die "no staging modules found in $upstream_mod"
  (cd "$dir" && go mod tidy)
}

# kubernetes_version_ldflags VERSION: the -X flags upstream's hack/lib/version.sh sets, so
# `kubectl version` and Helm's kubeVersion checks see the real release.
kubernetes_version_ldflags() {
  local version="$1" info build_date commit major minor
  info="$(module_download_field "k8s.io/kubernetes@$version" Info)"
  # The release time of the module stands in for the build date, keeping builds reproducible.
  build_date="$(sed -n 's/.*"Time":"\([^"]*\)".*/\1/p' "$info")"
  commit="$(sed -n 's/.*"Hash":"\([0-9a-f]*\)".*/\1/p' "$info")"
  [[ "$version" =~ ^v([0-9]+)\.([0-9]+)\. ]] || die "KUBERNETES_VERSION '$version' is not vMAJOR.MINOR.PATCH"
  major="${BASH_REMATCH[1]}"
  minor="${BASH_REMATCH[2]}"
  local pairs=("gitVersion=$version" "gitMajor=$major" "gitMinor=$minor" "gitTreeState=clean" "buildDate=$build_date")
  [[ -z "$commit" ]] || pairs+=("gitCommit=$commit")
  local pair pkg flags=()
  for pair in "${pairs[@]}"; do
    for pkg in k8s.io/client-go/pkg/version k8s.io/component-base/version; do
      flags+=("-X" "$pkg.$pair")
    done
  done
  echo "${flags[*]}"
}
