#!/usr/bin/env bash
# Stops the emulators that start.sh started for this port base, by PID, and waits for them.
set -uo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
base="${S3BATCH_PORT_BASE:-4710}"
state="${S3BATCH_STATE_DIR:-$here/../.state/emulators-$base}"
for pidfile in "$state"/*.pid; do
  [[ -f "$pidfile" ]] || continue
  pid="$(cat "$pidfile")"
  kill "$pid" 2>/dev/null
  for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
  kill -9 "$pid" 2>/dev/null
  rm -f "$pidfile"
done
exit 0
