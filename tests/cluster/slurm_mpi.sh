#!/usr/bin/env bash
# The cluster paths against the real programs: a single-node Slurm (munged,
# slurmctld, slurmd of Debian's slurm-wlm, a generated slurm.conf, everything
# under a temporary folder, stopped by PID at the end) runs a small sweep as a
# stepped job array through scripts/slurm-sweep.sh, a task cancelled and
# resubmitted, and `mpirun -np 2` (Open MPI); each result must equal a
# single-process run. Exits 77 (ctest: skipped) with a message when the
# programs are missing or it is not run as root (slurmd needs root).
# usage: slurm_mpi.sh SPARSEXBAR SOURCE_DIR WORK_DIR
set -euo pipefail
BIN=$1 SRC=$2 WORK=$3

for p in munged slurmctld slurmd sbatch squeue scancel sinfo mpirun python3; do
  if ! command -v "$p" >/dev/null; then
    echo "SKIPPED: '$p' is not installed (Debian: munge slurmctld slurmd slurm-client openmpi-bin; scripts/setup.sh)"
    exit 77
  fi
done
if [[ $(id -u) != 0 ]]; then
  echo "SKIPPED: slurmd must run as root"
  exit 77
fi

rm -rf "$WORK"
mkdir -p "$WORK"/{state,spool,log}
T=$(cd "$WORK" && pwd)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  if [[ -f $T/munged.pid ]]; then kill "$(cat "$T/munged.pid")" 2>/dev/null || true; fi
}
trap cleanup EXIT
fail() {
  echo "FAILED: $*"
  for f in "$T"/log/*.log "$T"/*.out; do [[ -f $f ]] && { echo "--- $f"; tail -20 "$f"; }; done
  exit 1
}
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# munge: its own key, socket and files.
dd if=/dev/urandom of="$T/munge.key" bs=1024 count=1 status=none
chmod 400 "$T/munge.key"
munged --force --key-file="$T/munge.key" --socket="$T/munge.socket" --pid-file="$T/munged.pid" \
  --log-file="$T/log/munged.log" --seed-file="$T/munged.seed" || fail "munged did not start"

HOST=$(hostname -s)
CPUS=$(nproc)
cat >"$T/slurm.conf" <<EOF
ClusterName=sxbtest
SlurmctldHost=$HOST
SlurmctldPort=$(free_port)
SlurmdPort=$(free_port)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$T/munge.socket
CredType=cred/munge
StateSaveLocation=$T/state
SlurmdSpoolDir=$T/spool
SlurmctldPidFile=$T/slurmctld.pid
SlurmdPidFile=$T/slurmd.pid
SlurmctldLogFile=$T/log/slurmctld.log
SlurmdLogFile=$T/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SlurmctldTimeout=30
SlurmdTimeout=30
NodeName=$HOST CPUs=$CPUS RealMemory=1000 State=UNKNOWN
PartitionName=test Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
export SLURM_CONF=$T/slurm.conf
slurmctld -D -i >"$T/log/slurmctld.out" 2>&1 &
pids+=($!)
slurmd -D >"$T/log/slurmd.out" 2>&1 &
pids+=($!)
for _ in $(seq 60); do
  state=$(sinfo -h -o %T 2>/dev/null || true)
  [[ $state == idle* ]] && break
  sleep 1
done
[[ ${state:-} == idle* ]] || fail "the node never became idle (state '${state:-}')"
echo "slurm: node $HOST idle, $CPUS CPUs"

# A small sweep: one tiny trained model (a few seconds of training, long enough to be
# cancelled during it), six circuit points.
cat >"$T/sweep.json" <<'EOF'
{"name": "cluster-test",
 "base": {"width": 0.0625, "data": "synthetic:2000", "train": {"epochs": 4, "batch": 64}, "tile": 16},
 "grid": {"crossbar.r_wire": [0, 2, 5, 10, 20, 40]}}
EOF
POINTS=6
# The accuracy columns of a merged table, one line per point in index order.
table() {
  "$BIN" sweep merge "$1" --csv "$T/$2.csv" >/dev/null
  python3 - "$T/$2.csv" <<'EOF'
import csv, sys
rows = sorted(csv.DictReader(open(sys.argv[1])), key=lambda r: int(r["index"]))
for r in rows:
    print(r["index"], r["id"], r["software"], r["ideal"], r["nonideal"], r["crossbars"], r["nf_mean"])
EOF
}
records() { cat "$1"/results.*.jsonl | wc -l; }

"$BIN" sweep run "$T/sweep.json" --out "$T/single" --cache-dir "$T/cache-single" --threads 1 --quiet \
  >"$T/single.out" 2>&1 || fail "single-process run"
table "$T/single" single >"$T/single.txt"
[[ $(wc -l <"$T/single.txt") == "$POINTS" ]] || fail "the single run has $(wc -l <"$T/single.txt") points"

# 1. A stepped job array (tasks 0, 2, 4, 6) through the job script, 1 CPU each.
cd "$T"
BIN=$BIN OUT=$T/array CACHE=$T/cache sbatch --wait --array=0-6:2 --cpus-per-task=1 -o "$T/array-%a.out" \
  "$SRC/scripts/slurm-sweep.sh" "$T/sweep.json" >/dev/null || fail "the job array failed"
table "$T/array" array >"$T/array.txt"
diff "$T/single.txt" "$T/array.txt" || fail "the job array's results differ from the single run"
[[ $(records "$T/array") == "$POINTS" ]] || fail "the array wrote $(records "$T/array") records for $POINTS points"
echo "slurm: a stepped job array (0-6:2) gave the single run's results, each point once"

# 2. A task cancelled while it runs, then resubmitted as a subset (--array=0).
BIN=$BIN OUT=$T/cancel CACHE=$T/cache-cancel sbatch --array=0 --cpus-per-task=1 -o "$T/cancel-%a.out" \
  "$SRC/scripts/slurm-sweep.sh" "$T/sweep.json" >"$T/job.txt" || fail "submit"
job=$(grep -o '[0-9]*' "$T/job.txt" | head -1)
for _ in $(seq 240); do  # cancelled while it trains the model of the first point
  grep -q "training vgg11" "$T/cancel-0.out" 2>/dev/null && break
  sleep 0.25
done
scancel "$job"
for _ in $(seq 60); do
  [[ -z $(squeue -h -j "$job" 2>/dev/null) ]] && break
  sleep 1
done
before=$(cat "$T"/cancel/results.*.jsonl 2>/dev/null | wc -l)
[[ $before -lt $POINTS ]] || fail "the cancelled task had already finished every point"
BIN=$BIN OUT=$T/cancel CACHE=$T/cache-cancel sbatch --wait --array=0 --cpus-per-task=1 -o "$T/resubmit-%a.out" \
  "$SRC/scripts/slurm-sweep.sh" "$T/sweep.json" >/dev/null || fail "the resubmitted task failed"
table "$T/cancel" cancel >"$T/cancel.txt"
diff "$T/single.txt" "$T/cancel.txt" || fail "cancel and resubmit changed the results"
[[ $(records "$T/cancel") == "$POINTS" ]] || fail "cancel and resubmit ran a point twice ($(records "$T/cancel") records)"
echo "slurm: cancelled after $before of $POINTS points, resubmitted: the single run's results, each point once"

# 3. mpirun -np 2: ranks are shards 0/2 and 1/2.
mpirun --allow-run-as-root --oversubscribe -np 2 "$BIN" sweep run "$T/sweep.json" --shard auto --out "$T/mpi" \
  --cache-dir "$T/cache-mpi" --threads 1 --quiet >"$T/mpi.out" 2>&1 || fail "mpirun"
ls "$T/mpi/results.0-of-2.jsonl" "$T/mpi/results.1-of-2.jsonl" >/dev/null || fail "mpirun: not two shards"
table "$T/mpi" mpi >"$T/mpi.txt"
diff "$T/single.txt" "$T/mpi.txt" || fail "mpirun -np 2 changed the results"
echo "mpi: two ranks gave the single run's results"
