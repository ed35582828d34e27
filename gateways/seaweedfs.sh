#!/usr/bin/env bash
# SeaweedFS (master, volume, filer and its S3 gateway in one `weed server`), built once from the Go
# module proxy. `go install` refuses its replace directive, so a small wrapper module requires it
# and repeats the replace. gateways/seaweedfs.sh install | start PORT STATE | stop STATE
# Its S3 identity is test/test. Prints S3BATCH_SEAWEEDFS_URL.
set -euo pipefail
source "$(dirname "$0")/daemon.sh"
version="v0.0.0-20261109003541-7506e5f91cd6"
cache="${S3BATCH_CACHE:-$HOME/.cache/s3batch}"
dir="$cache/seaweedfs-$version"
bin="$dir/weed"

install() {
  [[ -x "$bin" ]] && return 0
  mkdir -p "$dir/src"
  exec 8>"$cache/seaweedfs-install.lock"
  flock 8
  [[ -x "$bin" ]] && return 0
  echo "building SeaweedFS $version into $dir (one-off, several minutes)" >&2
  cat >"$dir/src/go.mod" <<MOD
module s3batch/weed

go 1.24

require github.com/seaweedfs/seaweedfs $version

replace github.com/tyler-smith/go-bip39 => github.com/cosmos/go-bip39 v1.0.0
MOD
  cat >"$dir/src/main.go" <<'GO'
package main

import _ "github.com/seaweedfs/seaweedfs/weed"

func main() {}
GO
  (
    cd "$dir/src"
    env -u AWS_CA_BUNDLE GOFLAGS=-mod=mod go mod tidy >&2
    env -u AWS_CA_BUNDLE GOFLAGS=-mod=mod go build -o "$bin" github.com/seaweedfs/seaweedfs/weed >&2
  )
}

healthy() { curl -sS -m 2 "http://127.0.0.1:$1/" 2>/dev/null | grep -q "<Error>\|ListAllMyBucketsResult"; }

start() {
  local port="$1" state="$2"
  install
  mkdir -p "$state/data"
  state="$(cd "$state" && pwd)"
  if ! healthy "$port"; then
    cat >"$state/s3.json" <<JSON
{"identities":[{"name":"test","credentials":[{"accessKey":"test","secretKey":"test"}],"actions":["Admin","Read","Write","List","Tagging"]}]}
JSON
    local p=$((port + 200))
    daemon_start weed "$state" "$bin" server -ip=127.0.0.1 -ip.bind=127.0.0.1 -dir="$state/data" \
      -master.port=$((p + 1)) -master.port.grpc=$((p + 11)) \
      -volume.port=$((p + 2)) -volume.port.grpc=$((p + 12)) -volume.max=100 \
      -filer -filer.port=$((p + 3)) -filer.port.grpc=$((p + 13)) \
      -s3 -s3.port="$port" -s3.port.grpc=$((p + 14)) -s3.config="$state/s3.json"
    daemon_wait weed "$state" "$port" 120
  fi
  echo "S3BATCH_SEAWEEDFS_URL=http://127.0.0.1:$port"
}

stop() { daemon_stop weed "$1"; }

daemon_main seaweedfs.sh "$@"
