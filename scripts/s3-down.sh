#!/usr/bin/env bash
# scripts/s3-down.sh — stop the single-node Ceph RGW that scripts/s3-up.sh started.
#
# Daemons are stopped by the PID files under the data directory only (TERM, then KILL after 15 s),
# never by name: radosgw, then ceph-osd, then ceph-mon. An S3 server that s3-up.sh found running
# and did not start is left alone. Objects are kept: the next s3-up.sh starts the same cluster.
# Settings (environment):
#   S3_DATA_DIR=/var/lib/openbatch-s3   the same as given to s3-up.sh
#   S3_PURGE=1                          also delete the cluster (all buckets and objects)
set -uo pipefail

DIR="${S3_DATA_DIR:-/var/lib/openbatch-s3}"
say() { echo "[s3-down] $*" >&2; }
[ "$(id -u)" = 0 ] || { say "needs root: sudo $0"; exit 1; }
[ -d "$DIR" ] || { say "no cluster under $DIR"; exit 0; }

for name in client.rgw.openbatch osd.0 mon.a; do
  f=$DIR/run/$name.pid
  [ -s "$f" ] || continue
  pid=$(cat "$f")
  if kill -0 "$pid" 2>/dev/null; then
    say "stopping $name (pid $pid)"
    kill "$pid"
    for _ in $(seq 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then say "$name did not stop in 15 s: KILL"; kill -9 "$pid"; fi
  fi
  rm -f "$f"
done

if [ "${S3_PURGE:-0}" = 1 ]; then
  say "removing $DIR"
  rm -rf "$DIR"
fi
say "stopped"
