#!/usr/bin/env bash
# Adds or removes a kwok fake node on the local cluster.
#
# Usage: kwok-node.sh add NAME CPU [MEMORY]
#        kwok-node.sh delete NAME
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=env.sh
source "$here/env.sh"
# shellcheck source=lib/log.sh
source "$here/lib/log.sh"
# shellcheck source=lib/kwok-nodes.sh
source "$here/lib/kwok-nodes.sh"

case "${1:-}" in
  add)
    [[ $# -ge 3 ]] || die "usage: kwok-node.sh add NAME CPU [MEMORY]"
    add_kwok_node "$2" "$3" "${4:-32Gi}"
    log "kwok node $2 ready with $3 CPU"
    ;;
  delete)
    [[ $# -eq 2 ]] || die "usage: kwok-node.sh delete NAME"
    delete_kwok_node "$2"
    ;;
  *) die "usage: kwok-node.sh add NAME CPU [MEMORY] | delete NAME" ;;
esac
