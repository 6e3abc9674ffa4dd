#!/usr/bin/env bash
# Logging and timing helpers for the cluster scripts.

log() { printf '[%s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# Seconds since the epoch with millisecond precision, for timings.
now_s() { date +%s.%3N; }

# elapsed START -> "12.3s"
elapsed() { awk -v s="$1" -v e="$(now_s)" 'BEGIN { printf "%.1fs", e - s }'; }
