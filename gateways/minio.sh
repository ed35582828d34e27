#!/usr/bin/env bash
# MinIO, built from the Go module proxy once (a few minutes) and cached:
#   gateways/minio.sh install | start PORT STATE | stop STATE
# Its root user is test/testtest (MinIO wants a secret of 8 characters or more). Prints S3BATCH_MINIO_URL.
set -euo pipefail
version="v0.0.0-20260212201848-7aac2a2c5b7c"
cache="${S3BATCH_CACHE:-$HOME/.cache/s3batch}"
bin="$cache/minio-$version/minio"

install() {
  [[ -x "$bin" ]] && return 0
  exec 8>"$cache/minio-install.lock"
  flock 8
  [[ -x "$bin" ]] && return 0
  echo "building MinIO $version into $cache (one-off, a few minutes)" >&2
  # Some Go tools refuse to start with the machine's AWS_CA_BUNDLE set.
  env -u AWS_CA_BUNDLE GOBIN="$(dirname "$bin")" GOFLAGS=-mod=mod go install "github.com/minio/minio@$version" >&2
}

healthy() { curl -fsS -m 2 "http://127.0.0.1:$1/minio/health/live" >/dev/null 2>&1; }

start() {
  local port="$1" state="$2"
  install
  mkdir -p "$state/data"
  state="$(cd "$state" && pwd)"
  if ! healthy "$port"; then
    MINIO_ROOT_USER=test MINIO_ROOT_PASSWORD=testtest MINIO_BROWSER=off \
      setsid nohup "$bin" server --address "127.0.0.1:$port" --quiet "$state/data" >"$state/minio.log" 2>&1 </dev/null &
    echo $! >"$state/minio.pid"
    for _ in $(seq 1 120); do healthy "$port" && break; sleep 0.5; done
    healthy "$port" || { tail -n 40 "$state/minio.log" >&2; exit 1; }
  fi
  echo "S3BATCH_MINIO_URL=http://127.0.0.1:$port"
}

stop() {
  [[ -f "$1/minio.pid" ]] || return 0
  kill "$(cat "$1/minio.pid")" 2>/dev/null || true
  rm -f "$1/minio.pid"
}

case "${1:-}" in
  install) install ;;
  start) start "${2:?port}" "${3:?state}" ;;
  stop) stop "${2:?state}" ;;
  *) echo "usage: minio.sh install | start PORT STATE | stop STATE" >&2; exit 2 ;;
esac
