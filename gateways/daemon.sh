# Sourced by the scripts in gateways/: a daemon started in its own session with its log and pid
# in the state directory, waited for until `healthy PORT` (each script's own) answers, stopped by
# its pid (TERM, then KILL after 10 s), and the command line every script takes.

# Starts `cmd...` as NAME in STATE: its output in STATE/NAME.log, its pid in STATE/NAME.pid.
daemon_start() { # name state cmd...
  local name="$1" state="$2"
  shift 2
  setsid nohup "$@" >"$state/$name.log" 2>&1 </dev/null &
  echo $! >"$state/$name.pid"
}

# Waits up to SECONDS for `healthy PORT`; fails with the log's tail if the daemon died or time ran out.
daemon_wait() { # name state port seconds
  local name="$1" state="$2" port="$3" seconds="$4"
  for _ in $(seq 1 $((seconds * 2))); do
    healthy "$port" && return 0
    kill -0 "$(cat "$state/$name.pid")" 2>/dev/null || break
    sleep 0.5
  done
  healthy "$port" && return 0
  echo "$name did not answer on port $port within $seconds s; its log:" >&2
  tail -n 40 "$state/$name.log" >&2 || true
  exit 1
}

daemon_stop() { # name state
  local pidfile="$2/$1.pid"
  [[ -f "$pidfile" ]] || return 0
  local pid
  pid="$(cat "$pidfile")"
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
  kill -9 "$pid" 2>/dev/null || true
  rm -f "$pidfile"
}

# install | start PORT STATE | stop STATE, to the script's install, start and stop functions.
daemon_main() { # script "$@"
  local script="$1"
  shift
  case "${1:-}" in
    install) install ;;
    start) start "${2:?port}" "${3:?state dir}" ;;
    stop) stop "${2:?state dir}" ;;
    *) echo "usage: $script install | start PORT STATE | stop STATE" >&2; exit 2 ;;
  esac
}
