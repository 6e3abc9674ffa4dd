#!/usr/bin/env bash
# Starting and stopping the cluster's daemons through pid files. Needs env.sh and log.sh.
#
# Each daemon runs in its own session (setsid), so it outlives the script that started it and
# its whole process group can be signalled at once. $RUN_DIR/NAME.pid holds its pid and
# $RUN_DIR/NAME.exe the binary, so a pid reused by an unrelated process is never signalled.

pid_file() { echo "$RUN_DIR/$1.pid"; }

# take_cluster_lock: serialises up.sh and down.sh on one cluster dir. The lock lives on fd 9,
# which daemons and hook scripts must not inherit (they would hold it after we exit): start_daemon
# closes it, and callers run hooks with `9>&-`.
take_cluster_lock() {
  mkdir -p "$CLUSTER_DIR"
  exec 9>"$CLUSTER_DIR/.lock"
  flock -w 300 9 || die "another up.sh or down.sh has held $CLUSTER_DIR/.lock for 5 minutes"
}

# daemon_pid NAME: prints the pid when the daemon recorded under NAME is alive.
daemon_pid() {
  local name="$1" pid exe
  [[ -f "$(pid_file "$name")" ]] || return 1
  pid="$(cat "$(pid_file "$name")")"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  exe="$(readlink "/proc/$pid/exe" 2>/dev/null)" || return 1
  # A rebuilt binary replaces the file the daemon runs from; it is still that daemon.
  exe="${exe% (deleted)}"
  [[ "$exe" == "$(cat "$RUN_DIR/$name.exe" 2>/dev/null)" ]] || return 1
  echo "$pid"
}

daemon_running() { daemon_pid "$1" >/dev/null; }

# close_inherited_fds: closes every descriptor above stderr in the current (sub)shell. A
# daemon must not keep what its starter had open: a lock taken around up.sh with
# `flock FILE up.sh` (fd 3) or take_cluster_lock's fd 9 would stay held for as long as the
# daemon runs, and everyone waiting for that lock would wait forever.
close_inherited_fds() {
  local fd
  for fd in /proc/"$BASHPID"/fd/*; do
    fd="${fd##*/}"
    if ((fd > 2)); then
      eval "exec $fd>&-" 2>/dev/null || true
    fi
  done
}

# start_daemon NAME BINARY ARG...: starts BINARY in the background, logging to $LOG_DIR/NAME.log.
start_daemon() {
  local name="$1" binary="$2"
  shift 2
  [[ -x "$binary" ]] || die "$binary is missing; run build-binaries.sh first"
  mkdir -p "$RUN_DIR" "$LOG_DIR"
  local log_file="$LOG_DIR/$name.log"
  printf '\n===== %s starting %s\n' "$(date -u +%FT%TZ)" "$name" >>"$log_file"
  readlink -f "$binary" >"$RUN_DIR/$name.exe"
  (
    close_inherited_fds
    exec setsid "$binary" "$@" </dev/null >>"$log_file" 2>&1
  ) &
  echo $! >"$(pid_file "$name")"
  log "started $name (pid $!, log $log_file)"
}

# process_alive PID: true while PID runs (a zombie waiting to be reaped counts as gone).
process_alive() { readlink "/proc/$1/exe" >/dev/null 2>&1; }

# stop_daemon NAME [TIMEOUT_S]: SIGTERM to the daemon's process group, SIGKILL after the timeout.
stop_daemon() {
  local name="$1" timeout="${2:-20}" pid waited=0
  if ! pid="$(daemon_pid "$name")"; then
    rm -f "$(pid_file "$name")" "$RUN_DIR/$name.exe"
    return
  fi
  kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
  while process_alive "$pid" && ((waited < timeout * 10)); do
    sleep 0.1
    waited=$((waited + 1))
  done
  if process_alive "$pid"; then
    log "$name (pid $pid) ignored SIGTERM for ${timeout}s; sending SIGKILL"
    kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
    while process_alive "$pid"; do sleep 0.1; done
  fi
  # Children left in the daemon's process group keep the group id allocated, so it still
  # names only processes this daemon started.
  if pgrep -g "$pid" >/dev/null; then
    kill -KILL -- "-$pid" 2>/dev/null || true
  fi
  rm -f "$(pid_file "$name")" "$RUN_DIR/$name.exe"
  log "stopped $name (pid $pid)"
}

# wait_until TIMEOUT_S DESCRIPTION COMMAND...: polls COMMAND until it succeeds.
wait_until() {
  local timeout="$1" what="$2" deadline
  shift 2
  deadline=$((SECONDS + timeout))
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || return 1
    sleep 0.2
  done
  log "$what"
}
