#!/usr/bin/env bash
# scripts/slurm-up.sh — a single-node Slurm cluster on this machine, for OpenBatch's tests (CI runs
# it from .ci/run) and for trying THPC_QUEUE compute environments on a laptop.
#
# What it gives: munged, slurmctld and slurmd (Debian packages munge, slurmctld, slurmd,
# slurm-client), partition `batch` with the one node `localhost`. It needs root (the daemons run as
# root) and no systemd: daemons are started directly and known by their PID files.
#
# Idempotent: packages are installed only when missing (apt-get update only if the install fails),
# slurm.conf is rewritten, and then
#   - nothing happens when its settings did not change (comments and line order do not count),
#   - `scontrol reconfigure` when settings other than the node or partition lines changed,
#   - slurmctld and slurmd are restarted when the node or partition lines changed (the controller's
#     saved state is kept: queued jobs stay queued, running ones keep running),
# daemons that are not running are started, and it waits until node localhost is idle, mixed or
# allocated (at most 60 s). Run it again at any time; scripts/slurm-down.sh stops what it started.
#
# Settings (environment):
#   SLURM_CPUS=8            CPUs node localhost declares. May exceed the real CPUs (config_overrides):
#                           each 1-CPU task takes one, so this is how many run at once.
#   SLURM_MEM_MB=           RealMemory of the node in MiB (default: the machine's memory less 1 GiB)
#   SLURM_MIN_JOB_AGE=300   seconds a finished job stays visible to squeue and scontrol
#   SLURM_PROCTRACK=pgid    process tracking plugin: pgid (no cgroup setup needed) or linuxproc
#   SLURM_SCHED_PARAMS=...  SchedulerParameters (default: batch_sched_delay=0 and friends, so that many
#                           short jobs start at once; with Slurm's own defaults batch jobs start about
#                           one per scheduler tick)
#   SLURM_CONF_EXTRA=       lines appended to slurm.conf (e.g. another PartitionName over localhost)
#   SLURM_ROOT=             empty (default): the usual places (/etc/slurm, /var/spool/slurmctld and
#                           slurmd, /var/log/slurm, /run). A directory: a second, private cluster with
#                           everything under it (etc/slurm.conf, spool/, log/, run/) on ports
#                           SLURM_PORT and SLURM_PORT+1; point the commands at it with
#                           SLURM_CONF=$SLURM_ROOT/etc/slurm.conf. munged is shared with the system.
#   SLURM_PORT=6817         slurmctld's port (slurmd: the next one)
#
# Finished jobs are written to the jobcomp file (jobcomp/filetxt, log/jobcomp.log): without slurmdbd,
# `sacct -c` reads it (state, exit code and times of every array element).
set -euo pipefail

CPUS="${SLURM_CPUS:-8}"
MIN_JOB_AGE="${SLURM_MIN_JOB_AGE:-300}"
PROCTRACK="${SLURM_PROCTRACK:-pgid}"
SCHED="${SLURM_SCHED_PARAMS-batch_sched_delay=0,sched_min_interval=0,default_queue_depth=1000,partition_job_depth=1000}"
EXTRA="${SLURM_CONF_EXTRA:-}"
ROOT="${SLURM_ROOT:-}"
PORT="${SLURM_PORT:-6817}"

say() { echo "[slurm-up] $*" >&2; }
die() { say "$*"; exit 1; }

[ "$(id -u)" = 0 ] || die "needs root (the Slurm daemons run as root): sudo $0"
case "$CPUS" in ''|*[!0-9]*|0) die "SLURM_CPUS must be a positive integer, got '$CPUS'";; esac
case "$PROCTRACK" in pgid|linuxproc) ;; *) die "SLURM_PROCTRACK must be pgid or linuxproc, got '$PROCTRACK'";; esac

if [ -z "$ROOT" ]; then
  ETC=/etc/slurm; CTLD_SPOOL=/var/spool/slurmctld; D_SPOOL=/var/spool/slurmd; LOGS=/var/log/slurm; RUN=/run
else
  mkdir -p "$ROOT"; ROOT=$(cd "$ROOT" && pwd)
  ETC=$ROOT/etc; CTLD_SPOOL=$ROOT/spool/slurmctld; D_SPOOL=$ROOT/spool/slurmd; LOGS=$ROOT/log; RUN=$ROOT/run
fi
CONF=$ETC/slurm.conf
CTLD_PID=$RUN/slurmctld.pid
D_PID=$RUN/slurmd.pid
MUNGE_PID=/run/munge/munged.pid
export SLURM_CONF=$CONF

# --- 1. packages ---------------------------------------------------------------------------------
missing=()
for pkg in munge slurmctld slurmd slurm-client; do
  [ "$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true)" = installed ] || missing+=("$pkg")
done
if [ "${#missing[@]}" -gt 0 ]; then
  command -v apt-get >/dev/null || die "missing packages ${missing[*]} and no apt-get to install them"
  say "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt_log=$(mktemp /tmp/slurm-up-apt.XXXXXX)
  if ! apt-get install -y -q --no-install-recommends "${missing[@]}" >"$apt_log" 2>&1; then
    say "install failed; apt-get update and once more"
    apt-get update -q >>"$apt_log" 2>&1 || true
    apt-get install -y -q --no-install-recommends "${missing[@]}" >>"$apt_log" 2>&1 \
      || { tail -20 "$apt_log" >&2; die "could not install ${missing[*]} (log: $apt_log)"; }
  fi
  rm -f "$apt_log"
fi

# --- 2. munge: a key, and munged running ---------------------------------------------------------
install -d -o munge -g munge -m 0700 /etc/munge /var/lib/munge /var/log/munge
install -d -o munge -g munge -m 0755 /run/munge
if [ ! -s /etc/munge/munge.key ]; then
  mungekey --create --keyfile=/etc/munge/munge.key >/dev/null 2>&1 \
    || head -c 1024 /dev/urandom >/etc/munge/munge.key
fi
chown munge:munge /etc/munge/munge.key
chmod 0400 /etc/munge/munge.key

running() { [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }
stop() { # pidfile: TERM, wait up to 10 s, then KILL
  local pid; pid=$(cat "$1")
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
  rm -f "$1"
}

if ! running "$MUNGE_PID"; then
  say "starting munged"
  runuser -u munge -- /usr/sbin/munged
fi
for _ in $(seq 50); do munge -n </dev/null 2>/dev/null | unmunge >/dev/null 2>&1 && break; sleep 0.1; done
munge -n </dev/null | unmunge >/dev/null 2>&1 || die "munged does not answer (see /var/log/munge/munged.log)"

# --- 3. slurm.conf ---------------------------------------------------------------------------------
install -d -m 0755 "$ETC" "$LOGS" "$CTLD_SPOOL" "$D_SPOOL" "$RUN"
if [ -n "${SLURM_MEM_MB:-}" ]; then
  MEM=$SLURM_MEM_MB
else
  MEM=$(( $(awk '/^MemTotal:/ {print $2}' /proc/meminfo) / 1024 - 1024 ))
  [ "$MEM" -ge 512 ] || MEM=512
fi
sched_line="#SchedulerParameters= (Slurm's defaults)"
[ -z "$SCHED" ] || sched_line="SchedulerParameters=$SCHED"

new=$(mktemp "$ETC/.slurm.conf.XXXXXX")
cat >"$new" <<EOF
# Written by OpenBatch's scripts/slurm-up.sh: a single-node test cluster. Edits are overwritten.
ClusterName=local
SlurmctldHost=localhost
SlurmctldPort=$PORT
SlurmdPort=$((PORT + 1))
# the daemons run as root: the simplest for a test machine
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
StateSaveLocation=$CTLD_SPOOL
SlurmdSpoolDir=$D_SPOOL
SlurmctldPidFile=$CTLD_PID
SlurmdPidFile=$D_PID
SlurmctldLogFile=$LOGS/slurmctld.log
SlurmdLogFile=$LOGS/slurmd.log
SlurmctldDebug=error
SlurmdDebug=error
# no cgroups needed: processes are tracked by process group (or /proc), tasks are not bound
ProctrackType=proctrack/$PROCTRACK
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
# no slurmdbd: finished jobs go to a text file that sacct -c reads
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=$LOGS/jobcomp.log
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
$sched_line
MpiDefault=none
# a node that was down comes back by itself when its slurmd registers again
ReturnToService=2
MaxArraySize=100001
MaxJobCount=300000
MinJobAge=$MIN_JOB_AGE
KillWait=5
Waittime=0
InactiveLimit=0
SlurmctldTimeout=30
SlurmdTimeout=60
# the node may declare more CPUs than the machine has
SlurmdParameters=config_overrides
NodeName=localhost NodeAddr=127.0.0.1 CPUs=$CPUS RealMemory=$MEM State=UNKNOWN
PartitionName=batch Nodes=localhost Default=YES MaxTime=INFINITE State=UP
EOF
[ -z "$EXTRA" ] || printf '%s\n' "$EXTRA" >>"$new"
chmod 0644 "$new"

settings() { [ -f "$1" ] && grep -v -E '^[[:space:]]*(#|$)' "$1" | sort; }
nodes_of() { settings "$1" | grep -E '^(NodeName|PartitionName)=' || true; }
change=none
if [ ! -f "$CONF" ]; then
  change=new
elif [ "$(settings "$CONF")" != "$(settings "$new")" ]; then
  change=settings
  [ "$(nodes_of "$CONF")" = "$(nodes_of "$new")" ] || change=nodes
fi
mv "$new" "$CONF"

# --- 4. daemons ----------------------------------------------------------------------------------
if [ "$change" = nodes ] && { running "$CTLD_PID" || running "$D_PID"; }; then
  say "node or partition definition changed: restarting slurmctld and slurmd (saved state is kept)"
  if running "$D_PID"; then stop "$D_PID"; fi
  if running "$CTLD_PID"; then stop "$CTLD_PID"; fi
elif [ "$change" = settings ] && running "$CTLD_PID"; then
  say "settings changed: scontrol reconfigure"
  scontrol reconfigure || say "scontrol reconfigure failed (see $LOGS/slurmctld.log)"
fi
if ! running "$CTLD_PID"; then
  say "starting slurmctld"
  /usr/sbin/slurmctld -f "$CONF"   # keeps the saved state (-c would clear it)
fi
if ! running "$D_PID"; then
  say "starting slurmd"
  /usr/sbin/slurmd -f "$CONF" -N localhost
fi

# --- 5. wait for the node ------------------------------------------------------------------------
state=
for i in $(seq 120); do
  state=$(sinfo -h -n localhost -p batch -o '%T' 2>/dev/null | head -1 || true)
  case "$state" in
    idle|mixed|allocated|completing|allocated+|mixed-|idle-) say "node localhost is $state ($(sinfo --version))"; exit 0 ;;
    # down after a restart with a changed node definition: slurmd registered, the node may come back
    down|down\*|drained|drained\*) [ "$i" -lt 10 ] || scontrol update nodename=localhost state=resume 2>/dev/null || true ;;
  esac
  sleep 0.5
done
say "node localhost is not usable after 60 s (state '${state:-no answer}'); the logs say:"
tail -n 20 "$LOGS/slurmctld.log" "$LOGS/slurmd.log" >&2 || true
exit 1
