#!/usr/bin/env bash
# scripts/s3-up.sh — a real S3 server on this machine for OpenBatch's object-store tests (CI runs it
# from .ci/run) and for trying `"objectStore": { "type": "s3" }` on a laptop: a single-node Ceph
# cluster (one ceph-mon, one ceph-osd, one radosgw; Debian packages ceph-mon ceph-osd radosgw
# ceph-common) answering S3 on http://127.0.0.1:7480 (path-style requests; SigV4 and v2).
#
# Measured here (2 cores, Debian 12, ceph 16.2 "pacific"), cold (no ceph package, no data): 49 s
# with the .debs in apt's cache (29 s of apt-get install, 20 s of bootstrap: monitor, OSD, radosgw
# started twice, user), about 65 s when apt downloads them (44 s of install); a restart of a stopped
# cluster 6 s; a run while it is up < 1 s.
#
# It needs root and no systemd: daemons are started directly and known by the PID files under the
# data directory. Everything is the cluster's own: its config (<dir>/ceph.conf), data, logs,
# admin sockets and PID files live under the data directory, and every ceph command is given that
# config, so another Ceph on the machine is not touched.
#
# Idempotent: packages are installed only when missing (apt-get update only if that fails), the
# cluster is bootstrapped only once (monitor store, OSD on a sparse bluestore file, zonegroup, user),
# daemons that are not running are started, and it waits (at most 60 s) until the user's keys are
# accepted by a signed ListBuckets. An S3 server that already answers on the port with the user's
# keys (this script's, or a test RGW started otherwise) is accepted as it is. scripts/s3-down.sh
# stops what it started.
#
# The cluster: auth none (no cephx) and messenger v1 only (msgr2 with auth none fails for radosgw),
# pools of size 1, the zonegroup's S3 api name set to the region (so CreateBucket with
# LocationConstraint ap-guangzhou, which the AWS SDK sends for that region, is accepted), and one S3
# user `openbatch` with the given keys.
#
# Settings (environment):
#   S3_DATA_DIR=/var/lib/openbatch-s3   where the cluster lives (ceph.conf, mon/, osd/, log/, run/)
#   S3_ACCESS_KEY=testak S3_SECRET_KEY=testsk   the S3 user's keys
#   S3_REGION=ap-guangzhou              the zonegroup's api name (the region clients sign for)
#   S3_PORT=7480                        radosgw's port (on 127.0.0.1)
#   S3_MON_PORT=6790                    ceph-mon's port (not Ceph's usual 6789, so that another
#                                       test cluster on this machine does not collide)
#   S3_OSD_BYTES=10737418240            size of the OSD's sparse block file (10 GiB)
set -euo pipefail

DIR="${S3_DATA_DIR:-/var/lib/openbatch-s3}"
AK="${S3_ACCESS_KEY:-testak}"
SK="${S3_SECRET_KEY:-testsk}"
REGION="${S3_REGION:-ap-guangzhou}"
PORT="${S3_PORT:-7480}"
MON_PORT="${S3_MON_PORT:-6790}"
OSD_BYTES="${S3_OSD_BYTES:-10737418240}"
S3_USER=openbatch
T0=$(date +%s)

say() { echo "[s3-up] $*" >&2; }
die() { say "$*"; exit 1; }
[ "$(id -u)" = 0 ] || die "needs root (the Ceph daemons run as root): sudo $0"
for n in "$PORT" "$MON_PORT" "$OSD_BYTES"; do case "$n" in ''|*[!0-9]*) die "S3_PORT, S3_MON_PORT and S3_OSD_BYTES must be numbers";; esac; done
case "$REGION" in *[!a-z0-9-]*|'') die "S3_REGION must be a region name like ap-guangzhou, got '$REGION'";; esac

URL="http://127.0.0.1:$PORT/"
# HTTP status of a ListBuckets signed (SigV4) with the user's keys: 200 once the user exists, 403
# while it does not, 000 when nothing answers
# (RGW wants the payload's hash, here of the empty body, among the signed headers)
EMPTY_SHA256=e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
signed_status() {
  # the keys go through stdin (-K -), not the command line that ps shows
  printf 'user = "%s:%s"\n' "$AK" "$SK" | curl -s -o /dev/null -m 5 -w '%{http_code}' -K - \
    -H "x-amz-content-sha256: $EMPTY_SHA256" --aws-sigv4 "aws:amz:$REGION:s3" "$URL" || true
}
answers() { [ "$(curl -s -o /dev/null -m 3 -w '%{http_code}' "$URL" || true)" != 000 ]; }
running() { [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }
done_in() { say "$* ($(( $(date +%s) - T0 )) s)"; exit 0; }

CONF=$DIR/ceph.conf
RUN=$DIR/run
RGW_PID=$RUN/client.rgw.openbatch.pid

# --- 0. already up? -------------------------------------------------------------------------------
if [ "$(signed_status)" = 200 ]; then
  if running "$RGW_PID"; then done_in "radosgw up: $URL (region $REGION, user $S3_USER)"; fi
  done_in "an S3 server already answers on $URL and accepts the keys of $AK; using it as it is (not started by this script)"
fi
if answers && ! running "$RGW_PID"; then
  die "something else answers on $URL but refuses the keys of $AK: stop it or choose another S3_PORT"
fi

# --- 1. packages ----------------------------------------------------------------------------------
missing=()
for pkg in ceph-mon ceph-osd radosgw ceph-common curl; do
  [ "$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true)" = installed ] || missing+=("$pkg")
done
if [ "${#missing[@]}" -gt 0 ]; then
  command -v apt-get >/dev/null || die "missing packages ${missing[*]} and no apt-get to install them"
  say "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt_log=$(mktemp /tmp/s3-up-apt.XXXXXX)
  if ! apt-get install -y -q --no-install-recommends "${missing[@]}" >"$apt_log" 2>&1; then
    say "install failed; apt-get update and once more"
    apt-get update -q >>"$apt_log" 2>&1 || true
    apt-get install -y -q --no-install-recommends "${missing[@]}" >>"$apt_log" 2>&1 \
      || { tail -20 "$apt_log" >&2; die "could not install ${missing[*]} (log: $apt_log)"; }
  fi
  rm -f "$apt_log"
  say "installed ($(( $(date +%s) - T0 )) s)"
fi

# --- 2. ceph.conf ---------------------------------------------------------------------------------
install -d -m 0755 "$DIR" "$DIR/mon" "$DIR/osd/ceph-0" "$DIR/rgw" "$DIR/log" "$RUN"
[ -s "$DIR/fsid" ] || cat /proc/sys/kernel/random/uuid >"$DIR/fsid"
FSID=$(cat "$DIR/fsid")
MON_ADDR="v1:127.0.0.1:$MON_PORT"
cat >"$CONF.new" <<EOF
# Written by OpenBatch's scripts/s3-up.sh: a single-node test cluster. Edits are overwritten.
[global]
fsid = $FSID
mon host = [$MON_ADDR]
ms bind msgr2 = false
ms bind ipv6 = false
public network = 127.0.0.0/8
auth cluster required = none
auth service required = none
auth client required = none
auth allow insecure global id reclaim = true
keyring = $DIR/keyring
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
mon allow pool size one = true
mon allow pool delete = true
mon max pg per osd = 1000
mon warn on pool no redundancy = false
log file = $DIR/log/\$name.log
pid file = $RUN/\$name.pid
admin socket = $RUN/\$name.asok
[mon.a]
mon data = $DIR/mon/a
[osd]
osd data = $DIR/osd/ceph-\$id
osd objectstore = bluestore
bluestore block path = $DIR/osd/ceph-\$id.block
bluestore block create = true
bluestore block size = $OSD_BYTES
bluestore fsck on mount = false
bluestore cache autotune = false
bluestore cache size = 268435456
osd memory target = 1073741824
# RGW's object names are long (bucket markers + keys up to 1 KiB)
osd max object name len = 460
osd max object namespace len = 64
[client.rgw.openbatch]
rgw data = $DIR/rgw
rgw frontends = beast endpoint=127.0.0.1:$PORT
rgw dns name = localhost
rgw enable usage log = false
rgw thread pool size = 64
EOF
mv "$CONF.new" "$CONF"
touch "$DIR/keyring"
C=(-c "$CONF")

# --- 3. monitor -----------------------------------------------------------------------------------
if [ ! -f "$DIR/mon/a/kv_backend" ]; then
  say "creating the monitor"
  rm -rf "$DIR/mon/a"
  monmaptool --create --clobber --fsid "$FSID" --addv a "[$MON_ADDR]" "$DIR/monmap" >/dev/null
  ceph-mon "${C[@]}" --mkfs -i a --monmap "$DIR/monmap" 2>"$DIR/log/mon-mkfs.err" >/dev/null \
    || { cat "$DIR/log/mon-mkfs.err" >&2; die "ceph-mon --mkfs failed"; }
fi
if ! running "$RUN/mon.a.pid"; then say "starting ceph-mon"; ceph-mon "${C[@]}" -i a 2>>"$DIR/log/daemons.err"; fi
ok=0
for _ in $(seq 100); do timeout 5 ceph "${C[@]}" mon stat >/dev/null 2>&1 && { ok=1; break; }; sleep 0.3; done
[ "$ok" = 1 ] || { tail -20 "$DIR/log/mon.a.log" >&2; die "ceph-mon does not answer"; }

# --- 4. OSD ---------------------------------------------------------------------------------------
if [ ! -f "$DIR/osd/ceph-0/whoami" ]; then
  say "creating the OSD (a sparse $((OSD_BYTES / 1073741824)) GiB bluestore file)"
  uuid=$(cat /proc/sys/kernel/random/uuid)
  id=$(ceph "${C[@]}" osd new "$uuid")
  [ "$id" = 0 ] || die "the new OSD got id $id, expected 0 (a half-made cluster? remove $DIR and run again)"
  rm -f "$DIR/osd/ceph-0.block"
  ceph-osd "${C[@]}" -i 0 --mkfs --osd-uuid "$uuid" >/dev/null 2>"$DIR/log/osd-mkfs.err" \
    || { cat "$DIR/log/osd-mkfs.err" >&2; die "ceph-osd --mkfs failed"; }
fi
# On a busy machine a just-started OSD can ask the monitor before it knows the cluster's fsid ("wrong
# fsid", then it exits at init): it is started again, at most three times.
for try in 1 2 3; do
  running "$RUN/osd.0.pid" && break
  say "starting ceph-osd (try $try)"
  ceph-osd "${C[@]}" -i 0 2>>"$DIR/log/daemons.err" && break
  [ "$try" = 3 ] && { tail -5 "$DIR/log/osd.0.log" >&2; die "ceph-osd exited at start three times"; }
  sleep 2
done
ok=0
for _ in $(seq 200); do ceph "${C[@]}" osd stat 2>/dev/null | grep -q '1 up' && { ok=1; break; }; sleep 0.3; done
[ "$ok" = 1 ] || { tail -20 "$DIR/log/osd.0.log" >&2; die "ceph-osd did not come up"; }

# --- 5. radosgw: zonegroup api name, user ---------------------------------------------------------
start_rgw() { say "starting radosgw"; radosgw "${C[@]}" -n client.rgw.openbatch 2>>"$DIR/log/daemons.err"; }
wait_rgw() {
  for _ in $(seq 200); do answers && return 0; sleep 0.3; done
  tail -30 "$DIR/log/client.rgw.openbatch.log" >&2; die "radosgw does not answer on $URL"
}
if ! running "$RGW_PID"; then start_rgw; fi
wait_rgw
# The default zonegroup exists once radosgw has started; its api name is read at radosgw's start,
# so a change means one restart.
if ! radosgw-admin "${C[@]}" zonegroup get 2>/dev/null | grep -q "\"api_name\": \"$REGION\""; then
  say "zonegroup api name := $REGION (restarting radosgw once)"
  radosgw-admin "${C[@]}" zonegroup modify --rgw-zonegroup=default --api-name="$REGION" >/dev/null
  pid=$(cat "$RGW_PID")
  kill "$pid"
  for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
  rm -f "$RGW_PID"
  start_rgw
  wait_rgw
fi
if ! radosgw-admin "${C[@]}" user info --uid="$S3_USER" >/dev/null 2>&1; then
  say "creating S3 user $S3_USER"
  radosgw-admin "${C[@]}" user create --uid="$S3_USER" --display-name="OpenBatch tests" \
    --access-key="$AK" --secret-key="$SK" >/dev/null
elif ! radosgw-admin "${C[@]}" user info --access-key="$AK" >/dev/null 2>&1; then
  say "adding access key $AK to user $S3_USER"
  radosgw-admin "${C[@]}" key create --uid="$S3_USER" --key-type=s3 --access-key="$AK" --secret-key="$SK" >/dev/null
fi
if ! radosgw-admin "${C[@]}" user info --access-key="$AK" 2>/dev/null | grep -qF "\"secret_key\": \"$SK\""; then
  die "access key $AK already exists in this cluster with another secret key (S3_SECRET_KEY)"
fi
status=000
for _ in $(seq 200); do status=$(signed_status); [ "$status" = 200 ] && break; sleep 0.3; done
[ "$status" = 200 ] || die "radosgw answers but a signed ListBuckets gets HTTP $status"
done_in "radosgw up: $URL (region $REGION, user $S3_USER)"
