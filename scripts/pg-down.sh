#!/usr/bin/env bash
# scripts/pg-down.sh — stops the PostgreSQL cluster `main` that scripts/pg-up.sh started (pg_ctlcluster;
# its data, settings and trust lines stay, so pg-up.sh starts it again as it was). A cluster that is not
# running, or no PostgreSQL at all, is fine.
set -euo pipefail
command -v pg_lsclusters >/dev/null || { echo "[pg-down] no PostgreSQL installed" >&2; exit 0; }
VER=$(ls /usr/lib/postgresql/ 2>/dev/null | sort -n | tail -1)
[ -n "$VER" ] || exit 0
if pg_lsclusters -h | awk -v v="$VER" '$1 == v && $2 == "main" { print $4 }' | grep -q online; then
  pg_ctlcluster "$VER" main stop
  echo "[pg-down] stopped $VER/main" >&2
else
  echo "[pg-down] $VER/main is not running" >&2
fi
