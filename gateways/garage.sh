#!/usr/bin/env bash
# Garage, a single node on SQLite, built once from crates.io (about ten minutes):
#   gateways/garage.sh install | start PORT STATE | stop STATE
# Its key is GK000000000000000000000001 / 0…01 (Garage's own key formats), allowed to create
# buckets. Prints S3BATCH_GARAGE_URL.
set -euo pipefail
source "$(dirname "$0")/daemon.sh"
version="2.5.0"
cache="${S3BATCH_CACHE:-$HOME/.cache/s3batch}"
root="$cache/garage-$version"
bin="$root/bin/garage"
KEY_ID="GK000000000000000000000001"
SECRET="0000000000000000000000000000000000000000000000000000000000000001"

install() {
  [[ -x "$bin" ]] && return 0
  exec 8>"$cache/garage-install.lock"
  flock 8
  [[ -x "$bin" ]] && return 0
  echo "building Garage $version into $root (one-off, about ten minutes)" >&2
  cargo install garage --version "$version" --locked --root "$root" >&2
}

healthy() { curl -sS -m 2 "http://127.0.0.1:$1/" 2>/dev/null | grep -q "<Error>\|ListAllMyBucketsResult"; }

start() {
  local port="$1" state="$2"
  install
  mkdir -p "$state/meta" "$state/data"
  state="$(cd "$state" && pwd)"
  cat >"$state/garage.toml" <<TOML
metadata_dir = "$state/meta"
data_dir = "$state/data"
db_engine = "sqlite"
replication_factor = 1
rpc_bind_addr = "127.0.0.1:$((port + 300))"
rpc_public_addr = "127.0.0.1:$((port + 300))"
rpc_secret = "0000000000000000000000000000000000000000000000000000000000000000"
[s3_api]
s3_region = "us-east-1"
api_bind_addr = "127.0.0.1:$port"
root_domain = ".s3.garage.localhost"
[admin]
api_bind_addr = "127.0.0.1:$((port + 301))"
TOML
  local g=("$bin" -c "$state/garage.toml")
  if ! healthy "$port"; then
    daemon_start garage "$state" "${g[@]}" server
    for _ in $(seq 1 120); do "${g[@]}" status >/dev/null 2>&1 && break; sleep 0.5; done
    if [[ ! -f "$state/configured" ]]; then
      local node
      node="$("${g[@]}" node id -q | cut -d@ -f1)"
      "${g[@]}" layout assign -z dc1 -c 1G "$node" >>"$state/setup.log"
      "${g[@]}" layout apply --version 1 >>"$state/setup.log"
      "${g[@]}" key import --yes -n s3batch "$KEY_ID" "$SECRET" >>"$state/setup.log"
      "${g[@]}" key allow --create-bucket "$KEY_ID" >>"$state/setup.log"
      touch "$state/configured"
    fi
    daemon_wait garage "$state" "$port" 60
  fi
  echo "S3BATCH_GARAGE_URL=http://127.0.0.1:$port"
}

stop() { daemon_stop garage "$1"; }

daemon_main garage.sh "$@"
