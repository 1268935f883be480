#!/usr/bin/env bash
# A one-node SLURM cluster on this machine (Debian's slurmctld, slurmd and munge), for running
# sweeps with `engine: submitit` here and for the tests that drive a real scheduler.
#   bash scripts/slurm-local.sh start    # idempotent: starts what is not running, waits for the node
#   bash scripts/slurm-local.sh status   # exit 0 when the node takes jobs, 3 when not
#   bash scripts/slurm-local.sh stop
# The node has this machine's CPUs and memory (`slurmd -C`). No cgroups (containers rarely
# delegate them): processes are tracked through their parent ids (proctrack/linuxproc). No
# accounting database: the controller keeps finished jobs for an hour (`scontrol show job`,
# `squeue --states=all`) and writes each job's final state to $STATE/jobcomp.txt.
# It writes /etc/slurm/slurm.conf (so sbatch, squeue and scontrol find the cluster) and refuses
# to replace one it did not write. Needs root and scripts/setup.sh's packages.
set -euo pipefail
STATE=${XLING_SLURM_STATE:-/var/lib/xling-slurm}
CONF=/etc/slurm/slurm.conf
MARK="# written by xling-workbench scripts/slurm-local.sh"
MUNGE_SOCKET_DIR=/run/munge

die() { echo "slurm-local: $*" >&2; exit 1; }

node_state() { sinfo -h -N -o %T 2>/dev/null | head -1 || true; }  # empty while slurmctld is down

write_conf() {
  local node cpus memory
  node=$(slurmd -C | head -1)  # NodeName=<host> CPUs=.. Boards=.. ... RealMemory=..
  cpus=$(sed -n 's/.* CPUs=\([0-9]*\).*/\1/p' <<<"$node")
  memory=$(sed -n 's/.* RealMemory=\([0-9]*\).*/\1/p' <<<"$node")
  [ -f "$CONF" ] && ! grep -qF "$MARK" "$CONF" && die "$CONF exists and was not written by this script; not replacing it"
  mkdir -p "$STATE/ctld" "$STATE/spool" "$(dirname "$CONF")"
  cat >"$CONF.new" <<EOF
$MARK
ClusterName=xling
SlurmctldHost=$(hostname -s)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=$STATE/ctld
SlurmdSpoolDir=$STATE/spool
SlurmctldPidFile=$STATE/slurmctld.pid
SlurmdPidFile=$STATE/slurmd.pid
SlurmctldLogFile=$STATE/slurmctld.log
SlurmdLogFile=$STATE/slurmd.log
# no cgroups in a container: track a job's processes by parent id, bind no CPUs
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=$STATE/jobcomp.txt
# finished jobs stay visible to scontrol/squeue for an hour (there is no sacct database)
MinJobAge=3600
MpiDefault=none
ReturnToService=2
# quick turns for short test jobs: schedule every second, kill 5 s after SIGTERM
SchedulerType=sched/backfill
SchedulerParameters=sched_interval=1,bf_interval=1
DependencyParameters=kill_invalid_depend
KillWait=5
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=$((memory / cpus))
$node State=UNKNOWN
PartitionName=local Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
  if cmp -s "$CONF.new" "$CONF"; then rm "$CONF.new"; return 1; fi
  mv "$CONF.new" "$CONF"
}

start_munge() {
  if munge -n </dev/null 2>/dev/null | unmunge >/dev/null 2>&1; then return; fi
  mkdir -p "$MUNGE_SOCKET_DIR" && chown munge:munge "$MUNGE_SOCKET_DIR"
  [ -s /etc/munge/munge.key ] || runuser -u munge -- mungekey --create >/dev/null
  runuser -u munge -- munged
}

daemon_running() {  # name: its pid file names a live process of that name
  local pid
  pid=$(cat "$STATE/$1.pid" 2>/dev/null) || return 1
  [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$1" ]
}

start() {
  [ "$(id -u)" = 0 ] || die "needs root (it starts system daemons)"
  command -v slurmctld >/dev/null && command -v munged >/dev/null || die "slurm is not installed: run bash scripts/setup.sh"
  local changed=0
  write_conf && changed=1
  start_munge
  if [ "$changed" = 1 ]; then stop_daemons; fi  # a new slurm.conf: start both from it
  daemon_running slurmctld || slurmctld
  daemon_running slurmd || slurmd
  local deadline=$((SECONDS + 60)) state=""
  while [ $SECONDS -lt $deadline ]; do
    state=$(node_state)
    case "$state" in
      idle* | mixed* | allocated* | completing*) echo "slurm-local: node $(hostname -s) $state ($CONF)"; return 0 ;;
      down* | drain*) scontrol update NodeName="$(hostname -s)" State=RESUME 2>/dev/null || true ;;
    esac
    sleep 0.5
  done
  die "the node did not come up (state '$state'); see $STATE/slurmctld.log and $STATE/slurmd.log"
}

stop_daemons() {
  local name pid
  for name in slurmd slurmctld; do
    if daemon_running "$name"; then
      pid=$(cat "$STATE/$name.pid")
      kill "$pid"
      while kill -0 "$pid" 2>/dev/null; do sleep 0.2; done
    fi
  done
}

stop() {
  stop_daemons
  local pid
  pid=$(cat "$MUNGE_SOCKET_DIR/munged.pid" 2>/dev/null) || return 0
  kill "$pid" 2>/dev/null || true
}

status() {
  local state
  state=$(node_state)
  case "$state" in
    idle* | mixed* | allocated* | completing*) echo "up: node $(hostname -s) $state"; return 0 ;;
    *) echo "down${state:+: node $state}"; return 3 ;;
  esac
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  *) die "usage: $0 start|stop|status" ;;
esac
