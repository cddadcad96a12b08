#!/usr/bin/env bash
# scripts/pg-up.sh — a PostgreSQL server on this machine for OpenBatch's PostgreSQL store tests (CI runs
# it from .ci/run) and for trying the PostgreSQL store on a laptop: the Debian package `postgresql`
# (Debian 12: PostgreSQL 15), its cluster `main`, listening on 127.0.0.1:5432 only, max_connections 300.
#
# TEST MACHINES ONLY: it sets TRUST authentication for the local socket and 127.0.0.1 (any local user
# connects as any role without a password). Never run it on a server that holds real data.
#
# It needs root and no systemd: the cluster is started with pg_ctlcluster. Idempotent: the package is
# installed only when missing (apt-get update only if the install fails), the cluster is created only
# when missing, the settings file and the trust lines are written once, and a cluster that already runs
# is kept running (reloaded; a setting that needs a restart, such as max_connections, takes effect at its
# next restart unless PG_RESTART=1; a cluster this run installed or created is restarted). It waits until pg_isready answers, then prints the URL:
#   postgres://postgres@127.0.0.1:5432/postgres
# scripts/pg-down.sh stops the cluster (its data stays).
#
# Settings (environment): PG_PORT=5432, PG_MAX_CONNECTIONS=300, PG_RESTART=0.
set -euo pipefail

PORT="${PG_PORT:-5432}"
MAX_CONNECTIONS="${PG_MAX_CONNECTIONS:-300}"
MARK='# openbatch scripts/pg-up.sh: trust, test machines only'

say() { echo "[pg-up] $*" >&2; }
die() { say "$*"; exit 1; }

[ "$(id -u)" = 0 ] || die "run it as root (it installs packages and starts the cluster as user postgres)"

# set when this run installed the package or created the cluster: nobody else uses it yet, so it may be restarted
FRESH=0
installed() { command -v pg_ctlcluster >/dev/null && ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; }
if ! installed; then
  say "installing the Debian package postgresql"
  export DEBIAN_FRONTEND=noninteractive
  if ! apt-get install -y -q --no-install-recommends postgresql >/tmp/openbatch-pg-apt.log 2>&1; then
    say "install failed; apt-get update, then again"
    apt-get update -q >>/tmp/openbatch-pg-apt.log 2>&1 || true
    apt-get install -y -q --no-install-recommends postgresql >>/tmp/openbatch-pg-apt.log 2>&1 \
      || die "cannot install postgresql (see /tmp/openbatch-pg-apt.log)"
  fi
  installed || die "postgresql is installed but no server binary was found under /usr/lib/postgresql"
  FRESH=1
fi

VER=$(ls /usr/lib/postgresql/ | sort -n | tail -1)
state() { pg_lsclusters -h 2>/dev/null | awk -v v="$VER" '$1 == v && $2 == "main" { print $4 }'; }
if [ -z "$(state)" ]; then
  say "creating cluster $VER/main"
  pg_createcluster "$VER" main >/dev/null
  FRESH=1
fi

CONF=/etc/postgresql/$VER/main
# settings of our own, in a file read after the others of conf.d (a later file wins)
mkdir -p "$CONF/conf.d"
cat >"$CONF/conf.d/95-openbatch.conf" <<CONFEOF
# written by OpenBatch's scripts/pg-up.sh (test machines only)
listen_addresses = '127.0.0.1'
port = $PORT
max_connections = $MAX_CONNECTIONS
CONFEOF
chown postgres:postgres "$CONF/conf.d/95-openbatch.conf"
# trust lines first (the first matching line decides), written once; the file's own lines stay after them
HBA=$CONF/pg_hba.conf
if ! grep -qxF "$MARK" "$HBA"; then
  tmp=$(mktemp)
  { echo "$MARK"; echo 'local all all trust'; echo 'host all all 127.0.0.1/32 trust'; echo '# end of openbatch lines'; cat "$HBA"; } >"$tmp"
  cat "$tmp" >"$HBA"
  rm -f "$tmp"
fi

case "$(state)" in
  online*)
    # the package's own start (postinst) ran before our settings were written: a fresh cluster is restarted
    if [ "${PG_RESTART:-0}" = 1 ] || [ "$FRESH" = 1 ]; then
      say "restarting $VER/main"
      pg_ctlcluster "$VER" main restart
    else
      pg_ctlcluster "$VER" main reload
    fi
    ;;
  *)
    say "starting $VER/main"
    pg_ctlcluster "$VER" main start
    ;;
esac

for _ in $(seq 150); do
  pg_isready -q -h 127.0.0.1 -p "$PORT" && break
  sleep 0.2
done
pg_isready -q -h 127.0.0.1 -p "$PORT" || die "PostgreSQL $VER/main does not answer on 127.0.0.1:$PORT (see /var/log/postgresql/postgresql-$VER-main.log)"
pending=$(psql -h 127.0.0.1 -p "$PORT" -U postgres -d postgres -tAc "SELECT string_agg(name, ', ') FROM pg_settings WHERE pending_restart" 2>/dev/null || true)
[ -z "$pending" ] || say "kept the running cluster; these settings take effect at its next restart (PG_RESTART=1 scripts/pg-up.sh): $pending"
say "PostgreSQL $VER/main is up"
echo "postgres://postgres@127.0.0.1:$PORT/postgres"
