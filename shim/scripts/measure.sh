#!/usr/bin/env bash
# Measures the static shim: binary size and linkage, resident memory while it
# supervises an idle app, and the time it adds to starting a program.
# Usage: shim/scripts/measure.sh [ITERATIONS]   (default 1000)
set -euo pipefail
export LC_ALL=C # EPOCHREALTIME uses the locale's decimal separator

iterations="${1:-1000}"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
shim="$("$here/build-static.sh" 2>/dev/null | tail -n 1)"

echo "== binary"
echo "size_bytes=$(stat -c %s "$shim")"
file -b "$shim"
ldd "$shim" 2>&1 || true

echo "== idle RSS (shim supervising 'sleep 30', sampled after 1 s)"
for mode in "" "--wait-ready" "--port 1"; do
  # shellcheck disable=SC2086 # $mode is deliberately split into flags
  "$shim" $mode --probe-addr 127.0.0.1:0 -- sleep 30 &
  pid=$!
  sleep 1
  echo "flags='${mode}' $(grep -E '^(VmRSS|VmHWM)' "/proc/$pid/status" | tr -s ' \t' ' ' | tr '\n' ' ')"
  kill -TERM "$pid"
  wait "$pid" || true
done

echo "== startup overhead: $iterations runs each of /bin/true and the shim running /bin/true, interleaved"
samples="$(mktemp)"
for ((i = 0; i < iterations; i++)); do
  t0=${EPOCHREALTIME/./}
  /bin/true
  t1=${EPOCHREALTIME/./}
  "$shim" --probe-addr 127.0.0.1:0 -- /bin/true
  t2=${EPOCHREALTIME/./}
  echo "$((t1 - t0)) $((t2 - t1))"
done >"$samples"
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
plain_us=$(cut -d' ' -f1 "$samples" | median)
shim_us=$(cut -d' ' -f2 "$samples" | median)
rm -f "$samples"
echo "median_plain_true_us=$plain_us median_shim_true_us=$shim_us overhead_us=$((shim_us - plain_us))"

echo "== exec of the shim to exec of the app (strace timestamps, 50 runs)"
if ! command -v strace >/dev/null; then
  echo "strace not installed; skipped"
  exit 0
fi
trace="$(mktemp)"
trap 'rm -f "$trace"' EXIT
for ((i = 0; i < 50; i++)); do
  strace -f --seccomp-bpf -e trace=execve -ttt -o "$trace" \
    "$shim" --probe-addr 127.0.0.1:0 -- /bin/true
  # First two execve entries: the shim's own, then the app's.
  awk '/execve\(/ && !/resumed/ { print $2 }' "$trace" | head -n 2 | paste -sd ' '
done | awk '{ print int(($2 - $1) * 1e6) }' | sort -n |
  awk '{ v[NR] = $1 } END { printf "exec_to_exec_us min=%d median=%d p90=%d max=%d\n", v[1], v[int(NR / 2)], v[int(NR * 0.9)], v[NR] }'
