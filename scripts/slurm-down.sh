#!/usr/bin/env bash
# scripts/slurm-down.sh — stop the single-node Slurm cluster that scripts/slurm-up.sh started.
#
# Daemons are stopped by their PID files only (TERM, then KILL after 10 s), never by name: slurmd,
# then slurmctld, then munged (munged only for the system cluster: a SLURM_ROOT cluster shares the
# system's munged and leaves it running).
#
# Jobs are kept: slurmctld saves its state, and tasks already running go on under their slurmstepd
# and are found again by the next slurm-up.sh. Settings (environment):
#   SLURM_ROOT=      the same as given to slurm-up.sh (empty: the system cluster)
#   SLURM_CANCEL=1   cancel every job of the cluster first (all users'), so that nothing runs on
#   SLURM_PURGE=1    also delete the controller's saved state, the node's spool and the logs
#                    (the cluster starts empty next time)
set -uo pipefail

ROOT="${SLURM_ROOT:-}"
say() { echo "[slurm-down] $*" >&2; }
[ "$(id -u)" = 0 ] || { say "needs root: sudo $0"; exit 1; }

if [ -z "$ROOT" ]; then
  ETC=/etc/slurm; SPOOLS=(/var/spool/slurmctld /var/spool/slurmd); LOGS=/var/log/slurm; RUN=/run
  PIDS=("$RUN/slurmd.pid" "$RUN/slurmctld.pid" /run/munge/munged.pid)
else
  [ -d "$ROOT" ] || { say "no cluster under $ROOT"; exit 0; }
  ROOT=$(cd "$ROOT" && pwd)
  ETC=$ROOT/etc; SPOOLS=("$ROOT/spool/slurmctld" "$ROOT/spool/slurmd"); LOGS=$ROOT/log; RUN=$ROOT/run
  PIDS=("$RUN/slurmd.pid" "$RUN/slurmctld.pid")
fi
export SLURM_CONF=$ETC/slurm.conf

running() { [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

if [ "${SLURM_CANCEL:-0}" = 1 ] && running "$RUN/slurmctld.pid"; then
  jobs=$(squeue -h -o '%A' 2>/dev/null | sort -u | tr '\n' ' ')
  if [ -n "${jobs// /}" ]; then
    say "cancelling jobs $jobs"
    # shellcheck disable=SC2086
    scancel $jobs || true
    for _ in $(seq 100); do [ -z "$(squeue -h -t PD,R,CG,S -o '%A' 2>/dev/null)" ] && break; sleep 0.1; done
  fi
fi

for f in "${PIDS[@]}"; do
  [ -s "$f" ] || continue
  pid=$(cat "$f")
  if kill -0 "$pid" 2>/dev/null; then
    say "stopping $(basename "$f" .pid) (pid $pid)"
    kill "$pid"
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then say "$pid did not stop in 10 s: KILL"; kill -9 "$pid"; fi
  fi
  rm -f "$f"
done

if [ "${SLURM_PURGE:-0}" = 1 ]; then
  say "removing saved state and logs"
  for d in "${SPOOLS[@]}" "$LOGS"; do [ -d "$d" ] && find "$d" -mindepth 1 -delete; done
fi
say "stopped"
