#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# A one-node Slurm cluster on loopback for the tests, all state in one folder:
#   slurm_cluster.sh start DIR   munged, slurmctld -i, slurmd; waits (bounded) until the node is idle
#   slurm_cluster.sh stop DIR    scontrol shutdown, then kills whatever of it is left
# DIR/slurm.conf is the config (SLURM_CONF); DIR/env has the variables to source. Exit 77 when
# Slurm or munge is not installed.
set -euo pipefail
cmd=$1
dir=$(realpath -m "$2")

stop() {
  export SLURM_CONF="$dir/slurm.conf"
  if [[ -f "$dir/slurm.conf" ]]; then
    timeout 10 scontrol shutdown >/dev/null 2>&1 || true
  fi
  for f in slurmd slurmctld munged; do
    if [[ -f "$dir/$f.pid" ]]; then
      local pid
      pid=$(cat "$dir/$f.pid" 2>/dev/null || true)
      if [[ -n "$pid" ]]; then
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; kill "$pid" 2>/dev/null || true; sleep 0.1; done
        kill -9 "$pid" 2>/dev/null || true
      fi
    fi
  done
  # slurmstepd processes of jobs still running
  pkill -9 -f "slurmstepd.*$dir" 2>/dev/null || true
}

if [[ "$cmd" == stop ]]; then
  stop
  exit 0
fi

for p in munged slurmctld slurmd sbatch; do
  command -v "$p" >/dev/null || [[ -x "/usr/sbin/$p" ]] || { echo "slurm_cluster: $p not installed" >&2; exit 77; }
done
export PATH="$PATH:/usr/sbin"
mkdir -p "$dir"/{state,spool,log,munge}
host=$(hostname -s)
cpus=$(nproc)
mem=$(awk '/MemTotal/ {print int($2/1024/2)}' /proc/meminfo)
port=$((20000 + RANDOM % 20000))
user=$(id -un)

# munge: its own key, socket and state in DIR.
chmod 700 "$dir/munge"
dd if=/dev/urandom of="$dir/munge/munge.key" bs=1024 count=1 status=none
chmod 400 "$dir/munge/munge.key"
munge_args=(--key-file="$dir/munge/munge.key" --socket="$dir/munge/munge.socket"
            --pid-file="$dir/munged.pid" --log-file="$dir/log/munged.log"
            --seed-file="$dir/munge/munge.seed")
if [[ $(id -u) == 0 ]]; then
  munged --force "${munge_args[@]}"
else
  munged "${munge_args[@]}"
fi

cat > "$dir/slurm.conf" <<CONF
ClusterName=ctmltest
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$port
SlurmdPort=$((port + 1))
SlurmUser=$user
SlurmdUser=$user
AuthType=auth/munge
AuthInfo=socket=$dir/munge/munge.socket
CredType=cred/munge
CommunicationParameters=NoCtldInAddrAny,NoInAddrAny
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool/%n
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=none
ReturnToService=2
JobCompType=jobcomp/filetxt
JobCompLoc=$dir/log/jobcomp.txt
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
MinJobAge=5
KillWait=2
MessageTimeout=5
SlurmctldTimeout=10
SlurmdTimeout=10
InactiveLimit=0
SchedulerType=sched/backfill
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
export SLURM_CONF="$dir/slurm.conf"
echo "export SLURM_CONF=$dir/slurm.conf" > "$dir/env"

slurmctld -i
slurmd
for _ in $(seq 150); do
  state=$(timeout 5 sinfo -h -N -o %T 2>/dev/null | head -1 || true)
  if [[ "$state" == idle ]]; then
    echo "slurm_cluster: up ($host, port $port, $cpus CPUs)"
    exit 0
  fi
  sleep 0.2
done
echo "slurm_cluster: the node did not become idle (state '${state:-}'); logs:" >&2
tail -n 20 "$dir"/log/*.log >&2 || true
stop
exit 1
