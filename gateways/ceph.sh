#!/usr/bin/env bash
# Ceph's S3 gateway (radosgw, Reef 18.2 from Debian trixie) on this machine, without Docker:
#   gateways/ceph.sh install                  build the chroot once (debootstrap; cached)
#   gateways/ceph.sh start rados PORT STATE   a one-node cluster (monitor, one OSD on memstore)
#                                             and radosgw on 127.0.0.1:PORT
#   gateways/ceph.sh start dbstore PORT STATE radosgw on its SQLite backend (the s3gw way)
#   gateways/ceph.sh stop STATE               stops what start started
# The chroot lives in $S3BATCH_CACHE/ceph-trixie (about 0.9 GB); bookworm's own radosgw is too
# old. Needs root (debootstrap, chroot, bind mounts). Users are made with the emulators' keys,
# test/test, so a client of the emulators is a client of this gateway. Prints S3BATCH_RGW_URL.
set -euo pipefail
cache="${S3BATCH_CACHE:-$HOME/.cache/s3batch}"
root="$cache/ceph-trixie"


die() {
  echo "ceph.sh: $*" >&2
  exit 1
}

install() {
  [[ -f "$root/.s3batch-ready" ]] && return 0
  [[ "$(id -u)" == "0" ]] || die "building the Ceph chroot needs root (debootstrap, chroot)"
  command -v apt-get >/dev/null || die "building the Ceph chroot needs Debian's apt (debootstrap)"
  exec 8>"$cache/ceph-install.lock"
  flock 8
  [[ -f "$root/.s3batch-ready" ]] && return 0
  echo "building the Ceph chroot into $root (one-off, a few minutes)" >&2
  if ! command -v debootstrap >/dev/null; then
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >&2
  fi
  # A half-built chroot may still have /proc, /dev and /sys bound into it: never delete through them.
  umount_all
  for d in proc dev sys; do mountpoint -q "$root/$d" && die "$root/$d is still mounted; unmount it first"; done
  rm -rf "$root"
  mkdir -p "$cache"
  debootstrap --variant=minbase trixie "$root" http://deb.debian.org/debian >&2
  mount_all
  chroot "$root" apt-get update -qq >&2
  chroot "$root" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    radosgw ceph-mon ceph-osd ceph-common >&2
  chroot "$root" apt-get clean >&2
  umount_all
  touch "$root/.s3batch-ready"
}

mount_all() {
  for d in proc dev sys; do
    mountpoint -q "$root/$d" || mount --bind "/$d" "$root/$d"
  done
}

umount_all() {
  for d in sys dev proc; do
    mountpoint -q "$root/$d" && umount -l "$root/$d" || true
  done
}

# Runs a Ceph command inside the chroot, in the background, its output in the state's log.
daemon() { # name args...
  local name="$1"
  shift
  setsid nohup chroot "$root" "$@" >"$state/$name.out" 2>&1 </dev/null &
  echo $! >"$state/$name.pid"
}

healthy() { # port: any S3 answer (an unsigned ListBuckets is refused with an XML error)
  curl -sS -m 2 "http://127.0.0.1:$1/" 2>/dev/null | grep -q "<Error>\|ListAllMyBucketsResult"
}

wait_healthy() { # port
  for _ in $(seq 1 240); do
    healthy "$1" && return 0
    sleep 0.5
  done
  echo "radosgw did not answer on port $1 within 120 s; its log:" >&2
  tail -n 40 "$state/rgw.log" >&2 || true
  return 1
}

start() { # kind port state
  local kind="$1" port="$2"
  state="$3"
  install
  mkdir -p "$state"
  state="$(cd "$state" && pwd)"
  [[ "$state" == / || "$state" == "$cache"* ]] && die "refusing state directory $state"
  if healthy "$port"; then
    echo "S3BATCH_RGW_URL=http://127.0.0.1:$port"
    return 0
  fi
  # Whatever an earlier start left running (a killed test run, a half-started cluster) goes first.
  kill_stale
  # memstore keeps nothing across a restart while the monitor would remember the pools: a RADOS
  # cluster is made anew each time (dbstore keeps its SQLite files).
  [[ "$kind" == "rados" ]] && find "$state" -mindepth 1 -delete
  rm -f "$state"/run/*.asok
  mount_all
  # The state lives outside the chroot; the chroot sees it at the same path.
  mkdir -p "$root$state"
  mountpoint -q "$root$state" || mount --bind "$state" "$root$state"
  local mon_port=$((port + 100))
  cat >"$state/ceph.conf" <<EOF
[global]
fsid = $(cat "$state/fsid" 2>/dev/null || (cat /proc/sys/kernel/random/uuid | tee "$state/fsid"))
mon host = v2:127.0.0.1:$mon_port
auth cluster required = none
auth service required = none
auth client required = none
ms mon client mode = crc
ms bind msgr1 = false
ms bind ipv6 = false
public addr = 127.0.0.1
osd pool default size = 1
osd pool default min size = 1
mon allow pool size one = true
mon warn on pool no redundancy = false
osd crush chooseleaf type = 0
osd pool default pg autoscale mode = off
osd pool default pg num = 8
osd pool default pgp num = 8
mon max pg per osd = 1000
osd objectstore = memstore
memstore device bytes = 4294967296
run dir = $state/run
log file = $state/\$name.log
admin socket = $state/run/\$name.asok
mon data = $state/mon.\$id
osd data = $state/osd.\$id
[client.rgw]
rgw frontends = beast endpoint=127.0.0.1:$port
rgw data = $state/rgw
rgw enable usage log = false
rgw dns name = localhost
EOF
  mkdir -p "$state/run" "$state/rgw"
  local conf=(-c "$state/ceph.conf")
  if [[ "$kind" == "dbstore" ]]; then
    mkdir -p "$state/dbstore"
    local db=(--rgw-backend-store=dbstore --rgw-config-store=dbstore --dbstore-db-dir="$state/dbstore")
    if [[ ! -f "$state/user" ]]; then
      chroot "$root" radosgw-admin "${conf[@]}" -n client.rgw "${db[@]}" user create \
        --uid test --display-name test --access-key test --secret-key test >"$state/user" 2>>"$state/admin.log"
    fi
    daemon rgw radosgw "${conf[@]}" -n client.rgw -f "${db[@]}"
  else
    if [[ ! -d "$state/mon.a" ]]; then
      chroot "$root" monmaptool --create --add a "v2:127.0.0.1:$mon_port" --fsid "$(cat "$state/fsid")" \
        "$state/monmap" >>"$state/admin.log" 2>&1
      chroot "$root" ceph-mon "${conf[@]}" --mkfs -i a --monmap "$state/monmap" >>"$state/admin.log" 2>&1
    fi
    daemon mon ceph-mon "${conf[@]}" -i a -f
    mkdir -p "$state/osd.0"
    for _ in $(seq 1 60); do
      chroot "$root" ceph "${conf[@]}" --connect-timeout 5 osd create >/dev/null 2>>"$state/admin.log" && break
      sleep 0.5
    done
    chroot "$root" ceph-osd "${conf[@]}" -i 0 --mkfs >>"$state/admin.log" 2>&1
    daemon osd ceph-osd "${conf[@]}" -i 0 -f
    daemon rgw radosgw "${conf[@]}" -n client.rgw -f
    wait_healthy "$port"
    if [[ ! -f "$state/user" ]]; then
      chroot "$root" radosgw-admin "${conf[@]}" -n client.rgw user create \
        --uid test --display-name test --access-key test --secret-key test >"$state/user" 2>>"$state/admin.log"
    fi
  fi
  wait_healthy "$port"
  echo "S3BATCH_RGW_URL=http://127.0.0.1:$port"
}

stop() { # state
  state="$(cd "$1" 2>/dev/null && pwd)" || return 0
  for name in rgw osd mon; do
    local pidfile="$state/$name.pid"
    [[ -f "$pidfile" ]] || continue
    local pid
    pid="$(cat "$pidfile")"
    pkill -TERM -s "$pid" 2>/dev/null || kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
    pkill -KILL -s "$pid" 2>/dev/null || true
    rm -f "$pidfile"
  done
  kill_stale
  mountpoint -q "$root$state" && umount -l "$root$state" || true
  # The last gateway out unbinds /proc, /dev and /sys, so the cache can be deleted safely.
  in_chroot || umount_all
}

# Kills every daemon started with this state's ceph.conf, whether or not a pid file names it.
kill_stale() {
  local p
  for p in /proc/[0-9]*; do
    { tr '\0' ' ' <"$p/cmdline"; } 2>/dev/null | grep -qF -- "-c $state/ceph.conf " || continue
    kill -KILL "${p#/proc/}" 2>/dev/null || true
  done
  for _ in $(seq 1 20); do
    local left=0
    for p in /proc/[0-9]*; do
      { tr '\0' ' ' <"$p/cmdline"; } 2>/dev/null | grep -qF -- "-c $state/ceph.conf " && left=1
    done
    ((left)) || return 0
    sleep 0.25
  done
}

# Whether any process still runs inside the chroot (its root directory is the chroot).
in_chroot() {
  local p
  for p in /proc/[0-9]*; do
    [[ "$(readlink "$p/root" 2>/dev/null)" == "$root" ]] && return 0
  done
  return 1
}

case "${1:-}" in
  install) install ;;
  start) start "${2:?kind: rados or dbstore}" "${3:?port}" "${4:?state dir}" ;;
  stop) stop "${2:?state dir}" ;;
  *) die "usage: ceph.sh install | start rados|dbstore PORT STATE | stop STATE" ;;
esac

