#!/usr/bin/env bash
# MinIO, built from the Go module proxy once (a few minutes) and cached:
#   gateways/minio.sh install | start PORT STATE | stop STATE
# Its root user is test/testtest (MinIO wants a secret of 8 characters or more). Prints S3BATCH_MINIO_URL.
set -euo pipefail
source "$(dirname "$0")/daemon.sh"
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
    daemon_start minio "$state" env MINIO_ROOT_USER=test MINIO_ROOT_PASSWORD=testtest MINIO_BROWSER=off \
      "$bin" server --address "127.0.0.1:$port" --quiet "$state/data"
    daemon_wait minio "$state" "$port" 60
  fi
  echo "S3BATCH_MINIO_URL=http://127.0.0.1:$port"
}

stop() { daemon_stop minio "$1"; }

daemon_main minio.sh "$@"
