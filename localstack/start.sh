#!/usr/bin/env bash
# Starts the emulators on loopback, each health-checked before this script returns:
#   control   LocalStack (SQS + the internal bucket)  port S3BATCH_PORT_BASE
#   gateway a LocalStack (S3)                          port S3BATCH_PORT_BASE+1
#   gateway b moto_server (S3)                         port S3BATCH_PORT_BASE+2
#   gateway c versitygw (S3 over a POSIX directory)   port S3BATCH_PORT_BASE+3, only with
#            S3BATCH_THIRD_GATEWAY=1 (npm run test:gateways)
# Gateway b is moto, not a third LocalStack: LocalStack instances share one temp folder per bucket
# name for large objects, and the seed scenario has bucket "pool" on both gateways.
# Idempotent: an emulator already healthy on its port is left running. Logs and PID files go to
# S3BATCH_STATE_DIR (default .state/emulators-<base>). Each runs in its own session, so a signal to
# the caller's process group does not reach it: only stop.sh stops it. Prints the endpoints as
# shell variables.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
base="${S3BATCH_PORT_BASE:-4710}"
state="${S3BATCH_STATE_DIR:-$here/../.state/emulators-$base}"
cache="${S3BATCH_CACHE:-$HOME/.cache/s3batch}"
mkdir -p "$state"
state="$(cd "$state" && pwd)"

"$here/install.sh"
# shellcheck source=versions.sh
source "$here/versions.sh"

healthy() { # name port
  case "$1" in
    # Unsigned requests are refused: any S3 answer means it is up.
    versitygw) curl -sS -m 2 "http://127.0.0.1:$2/" 2>/dev/null | grep -q "<Error>" ;;
    moto) curl -fsS -m 2 "http://127.0.0.1:$2/" 2>/dev/null | grep -q ListAllMyBucketsResult ;;
    *) curl -fsS -m 2 "http://127.0.0.1:$2/_localstack/health" 2>/dev/null | grep -q '"s3": "\(available\|running\)"' ;;
  esac
}

start_localstack() { # name port services
  local name="$1" port="$2" services="$3"
  healthy "$name" "$port" && return 0
  mkdir -p "$state/$name"
  (
    cd "$state/$name"
    env OVERRIDE_IN_DOCKER=0 DNS_ADDRESS=0 \
      GATEWAY_LISTEN="127.0.0.1:$port" LOCALSTACK_HOST="127.0.0.1:$port" \
      FILESYSTEM_ROOT="$state/$name/fs" SERVICES="$services" EAGER_SERVICE_LOADING=1 \
      SKIP_SSL_CERT_DOWNLOAD=1 DISABLE_EVENTS=1 SQS_ENDPOINT_STRATEGY=path \
      LOCALSTACK_CLI=0 PERSISTENCE=0 DEBUG=0 \
      setsid nohup "$cache/venv-localstack/bin/python" -m localstack.runtime.main \
      >"$state/$name.log" 2>&1 </dev/null &
    echo $! >"$state/$name.pid"
  )
}

start_moto() { # name port
  local name="$1" port="$2"
  healthy "$name" "$port" && return 0
  setsid nohup "$cache/venv-moto/bin/moto_server" -H 127.0.0.1 -p "$port" >"$state/$name.log" 2>&1 </dev/null &
  echo $! >"$state/$name.pid"
}

start_localstack control "$base" s3,sqs
start_localstack gateway-a "$((base + 1))" s3
start_moto moto "$((base + 2))"

start_versitygw() { # name port
  local name="$1" port="$2"
  healthy "$name" "$port" && return 0
  mkdir -p "$state/$name-data"
  setsid nohup "$cache/versitygw-$VERSITYGW_VERSION/versitygw" --access test --secret test --port "127.0.0.1:$port" \
    posix "$state/$name-data" >"$state/$name.log" 2>&1 </dev/null &
  echo $! >"$state/$name.pid"
}
if [[ "${S3BATCH_THIRD_GATEWAY:-}" == "1" ]]; then start_versitygw versitygw "$((base + 3))"; fi

wait_healthy() { # name port
  for _ in $(seq 1 240); do
    healthy "$1" "$2" && return 0
    if [[ -f "$state/$1.pid" ]] && ! kill -0 "$(cat "$state/$1.pid")" 2>/dev/null; then
      echo "$1 exited while starting; its log:" >&2
      tail -n 40 "$state/$1.log" >&2
      return 1
    fi
    sleep 0.5
  done
  echo "$1 did not become healthy on port $2 within 120 s; see $state/$1.log" >&2
  return 1
}
wait_healthy control "$base"
wait_healthy gateway-a "$((base + 1))"
wait_healthy moto "$((base + 2))"
if [[ "${S3BATCH_THIRD_GATEWAY:-}" == "1" ]]; then wait_healthy versitygw "$((base + 3))"; fi

echo "S3BATCH_CONTROL_URL=http://127.0.0.1:$base"
echo "S3BATCH_GATEWAY_A_URL=http://127.0.0.1:$((base + 1))"
echo "S3BATCH_GATEWAY_B_URL=http://127.0.0.1:$((base + 2))"
if [[ "${S3BATCH_THIRD_GATEWAY:-}" == "1" ]]; then echo "S3BATCH_GATEWAY_C_URL=http://127.0.0.1:$((base + 3))"; fi
