#!/usr/bin/env bash
# A real Slurm run of scripts/slurm-sweep.sh on a single-node cluster on localhost.
#
#   scripts/slurm-local-test.sh          (as root, from anywhere; make test-slurm)
#
# 1. Installs Debian's slurm-wlm and munge when they are missing (apt-get).
# 2. Starts a private cluster in a temporary directory: munged with a generated key and its own
#    socket, slurmctld and slurmd on free ports of 127.0.0.1, a generated slurm.conf with the
#    node's real CPUs and memory (slurmd -C) and no cgroup plugin (proctrack/linuxproc,
#    task/none). Nothing under /etc is used or changed.
# 3. Sweeps the quick grid (experiments/quick.yaml, with store: and output: moved into the
#    temporary directory, never results/) once in a single process: the reference table.
# 4. Submits the same grid with `scripts/slurm-sweep.sh submit CONFIG 4`: a 4-task job array
#    (one shard each, 1 CPU per task) into ONE fresh store and the dependent table job.
# 5. Cancels array task 0 (scancel) once its log shows that it has finished one run and started
#    the next, checks that the run in progress got no record, resubmits task 0 the way the
#    script's header says (sbatch --array=0 scripts/slurm-sweep.sh run CONFIG 4), and writes the
#    final table with the script's table mode after it.
# 6. Checks: every run of the grid has exactly one record file (no duplicate, no corrupt, no
#    temporary file left), every run was trained to its record exactly once across all array
#    logs, no record written before the resubmission was rewritten, every task ran the shard of
#    its index, and the final table equals the reference table (same keys in the same order,
#    every cell identical) except the columns named in EXCLUDED_COLUMNS below (timings,
#    host, creation time).
#
# Stops the daemons and removes the temporary directory at exit (SLURM_TEST_KEEP=1 keeps it).
# Exit status: 0 passed; 1 a check failed; 3 Slurm or munge cannot be installed or the daemons
# cannot start on this machine; 124 the overall time limit (SLURM_TEST_TIMEOUT seconds, default
# 900) was reached. The warnings about scripts/slurm-sweep.sh (a resubmitted task that runs the
# wrong shard) are failures unless SLURM_TEST_STRICT=0.
set -euo pipefail

# Columns of the table that legitimately differ between two sweeps of the same grid.
EXCLUDED_COLUMNS="train_seconds analysis_seconds created host"
SHARDS=4
CANCEL_TASK=1 # the task that is cancelled mid-run and resubmitted
LIMIT=${SLURM_TEST_TIMEOUT:-900}
STRICT=${SLURM_TEST_STRICT:-1}

T0=$(date +%s)
DEADLINE=$((T0 + LIMIT))
cd "$(dirname "$0")/.."
REPO=$(pwd)
export PATH="$PATH:/usr/local/go/bin:/usr/sbin:/sbin"

say() { printf 'slurm-local-test [%4ds]: %s\n' "$(($(date +%s) - T0))" "$*"; }
warn() {
	say "WARNING: $*"
	WARNINGS+=("$*")
}
fail() {
	say "FAILED: $*" >&2
	if [ "$(date +%s)" -ge "$DEADLINE" ]; then
		say "TIME LIMIT: the test did not finish within ${LIMIT}s (SLURM_TEST_TIMEOUT)" >&2
		exit 124
	fi
	exit 1
}
cannot() {
	say "CANNOT RUN: $*" >&2
	say "the Slurm daemons cannot start on this machine; the Slurm test did not run" >&2
	exit 3
}
budget() { # sets R to the seconds left; stops the test when none are
	R=$((DEADLINE - $(date +%s)))
	if [ "$R" -le 0 ]; then
		say "TIME LIMIT: the test did not finish within ${LIMIT}s (SLURM_TEST_TIMEOUT)" >&2
		exit 124
	fi
}
WARNINGS=()
FAILURES=()
PASSED=0
check() { # check DESCRIPTION COMMAND...: records a failure instead of stopping at the first
	if "${@:2}"; then
		PASSED=$((PASSED + 1))
		say "ok: $1"
	else
		say "NOT OK: $1" >&2
		FAILURES+=("$1")
	fi
}

[ "$(id -u)" = 0 ] || cannot "must run as root (it installs packages and runs slurmd as root)"
[ "$(uname -s)" = Linux ] || cannot "needs Linux"

# --- 1. packages ---------------------------------------------------------------------------
missing=()
for cmd in slurmctld slurmd sbatch munged mungekey; do
	command -v "$cmd" >/dev/null || missing+=("$cmd")
done
if [ ${#missing[@]} -gt 0 ]; then
	say "installing slurm-wlm and munge (missing: ${missing[*]})"
	export DEBIAN_FRONTEND=noninteractive
	# Another apt-get may hold the dpkg lock: wait for it (bounded) instead of failing.
	budget && timeout "$R" apt-get -o DPkg::Lock::Timeout=300 update -qq ||
		cannot "apt-get update failed"
	budget && timeout "$R" apt-get install -y -qq -o DPkg::Lock::Timeout=300 \
		--no-install-recommends slurm-wlm munge >/dev/null ||
		cannot "apt-get install slurm-wlm munge failed"
	for cmd in slurmctld slurmd sbatch munged mungekey; do
		command -v "$cmd" >/dev/null || cannot "$cmd is still missing after installing slurm-wlm and munge"
	done
fi

# --- 2. the private cluster ----------------------------------------------------------------
TMP=$(mktemp -d /tmp/sgdstab-slurm-test.XXXXXX)
chmod 711 "$TMP" # munged wants every directory above its socket traversable
mkdir -p "$TMP"/{munge,state,spool,log,jobs,shim,bin,ref,slurm}
chmod 711 "$TMP/munge"
BIN=$TMP/bin/sweep
export SLURM_CONF=$TMP/slurm.conf
DAEMONS=0

stop_daemons() {
	# Jobs first (slurmd does not kill running jobs when it stops), then the daemons, each by the
	# pid it wrote into the temporary directory.
	if [ "$DAEMONS" = 1 ] && [ -s "$TMP/slurmctld.pid" ] && kill -0 "$(cat "$TMP/slurmctld.pid")" 2>/dev/null; then
		local ids
		ids=$(squeue -h -o %A 2>/dev/null || true)
		if [ -n "$ids" ]; then
			# shellcheck disable=SC2086
			scancel $ids 2>/dev/null || true
			for _ in $(seq 20); do
				[ -z "$(squeue -h -o %A 2>/dev/null)" ] && break
				sleep 0.5
			done
		fi
	fi
	local pidfile pid
	for pidfile in "$TMP/slurmd.pid" "$TMP/slurmctld.pid" "$TMP/munge/munged.pid"; do
		[ -s "$pidfile" ] || continue
		pid=$(cat "$pidfile")
		kill "$pid" 2>/dev/null || continue
		for _ in $(seq 40); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.25
		done
		kill -9 "$pid" 2>/dev/null || true
	done
	# Any sweep process of this test still alive (the binaries live in $TMP, so this matches
	# nothing but this test's own processes).
	local left
	left=$(pgrep -f "^$TMP/" || true)
	if [ -n "$left" ]; then
		# shellcheck disable=SC2086
		kill -9 $left 2>/dev/null || true
	fi
}
cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	if [ "$rc" != 0 ] && [ "$rc" != 3 ] && [ -d "$TMP/jobs" ]; then
		for f in "$TMP"/jobs/*.out "$TMP"/log/*.log; do
			[ -f "$f" ] || continue
			echo "----- last lines of $f"
			tail -n 8 "$f"
		done >&2
	fi
	stop_daemons
	local what="temporary directory removed"
	if [ "${SLURM_TEST_KEEP:-0}" = 1 ]; then
		what="kept $TMP (SLURM_TEST_KEEP=1)"
	else
		rm -rf "$TMP"
	fi
	say "daemons stopped, $what; total $(($(date +%s) - T0))s, exit status $rc"
	# The closing line CI reads (only when the checks ran).
	if [ "$PASSED" -gt 0 ] || [ ${#FAILURES[@]} -gt 0 ]; then
		echo "slurm-local-test: $PASSED passed, ${#FAILURES[@]} failed"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'say "interrupted"; exit 130' INT TERM

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
port=16817
until port_free "$port" && port_free $((port + 1)); do
	port=$((port + 2))
	[ "$port" -lt 17817 ] || cannot "no two free TCP ports on 127.0.0.1 between 16817 and 17817"
done

mungekey --create --keyfile="$TMP/munge/munge.key" 2>/dev/null ||
	{ dd if=/dev/urandom of="$TMP/munge/munge.key" bs=1024 count=1 2>/dev/null && chmod 600 "$TMP/munge/munge.key"; }
MUNGE_SOCKET=$TMP/munge/munge.socket.2
munged --force --key-file="$TMP/munge/munge.key" --socket="$MUNGE_SOCKET" \
	--pid-file="$TMP/munge/munged.pid" --log-file="$TMP/munge/munged.log" \
	--seed-file="$TMP/munge/munged.seed" ||
	cannot "munged did not start: $(tail -n 3 "$TMP/munge/munged.log" 2>/dev/null)"
munge -S "$MUNGE_SOCKET" -n | unmunge -S "$MUNGE_SOCKET" >/dev/null ||
	cannot "munge credentials do not round-trip through munged"

# The node as slurmd sees it: CPUs, boards, sockets, cores, threads, memory.
hw=$(slurmd -C | head -n 1) || cannot "slurmd -C failed"
node=$(echo "$hw" | tr ' ' '\n' | grep -E '^(CPUs|Boards|SocketsPerBoard|CoresPerSocket|ThreadsPerCore|RealMemory)=' | tr '\n' ' ')
cpus=$(echo "$hw" | sed -n 's/.*CPUs=\([0-9]*\).*/\1/p')
mem=$(echo "$hw" | sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p')
[ "${mem:-0}" -ge 4096 ] || cannot "the node has ${mem:-?} MB; slurm-sweep.sh asks 4 GB per task"
cat >"$SLURM_CONF" <<EOF
# generated by scripts/slurm-local-test.sh
ClusterName=sgdstab-test
SlurmctldHost=localhost(127.0.0.1)
SlurmctldPort=$port
SlurmdPort=$((port + 1))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$MUNGE_SOCKET
StateSaveLocation=$TMP/state
SlurmdSpoolDir=$TMP/spool
SlurmctldPidFile=$TMP/slurmctld.pid
SlurmdPidFile=$TMP/slurmd.pid
SlurmctldLogFile=$TMP/log/slurmctld.log
SlurmdLogFile=$TMP/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU_Memory
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MpiDefault=none
ReturnToService=2
SchedulerType=sched/backfill
MinJobAge=3600
KillWait=30
NodeName=localhost NodeAddr=127.0.0.1 $node State=UNKNOWN
PartitionName=test Nodes=localhost Default=YES MaxTime=INFINITE State=UP
EOF
say "$(sbatch --version), $(munged --version 2>&1 | head -n 1); cluster in $TMP"
say "node localhost: $node; ports $port, $((port + 1))"

DAEMONS=1
slurmctld -f "$SLURM_CONF" || cannot "slurmctld did not start: $(tail -n 3 "$TMP/log/slurmctld.log" 2>/dev/null)"
for _ in $(seq 60); do
	scontrol ping 2>/dev/null | grep -q UP && break
	sleep 0.5
done
scontrol ping 2>/dev/null | grep -q UP ||
	cannot "slurmctld does not answer: $(tail -n 3 "$TMP/log/slurmctld.log" 2>/dev/null)"
slurmd -f "$SLURM_CONF" -N localhost || cannot "slurmd did not start: $(tail -n 3 "$TMP/log/slurmd.log" 2>/dev/null)"
state=""
for _ in $(seq 60); do
	state=$(sinfo -h -n localhost -o %T 2>/dev/null || true)
	[ "$state" = idle ] && break
	sleep 0.5
done
[ "$state" = idle ] || cannot "the node is '$state', not idle: $(tail -n 3 "$TMP/log/slurmd.log" 2>/dev/null)"
# A job must actually run (this is where a container without the needed privileges fails).
probe=$(timeout 60 srun -N1 -n1 -c1 -t 1 --mem=100 echo slurm-job-ran 2>&1) ||
	cannot "a one-line job did not run: $probe"
[ "$probe" = slurm-job-ran ] || cannot "a one-line job printed '$probe'"
say "slurmctld and slurmd are up, a test job ran"

# Options for every sbatch that slurm-sweep.sh calls, put before its own (sbatch takes the
# command line over the #SBATCH lines): 1 CPU per task, so that the 4 shards share the node
# 2 at a time, and the job logs (relative --output) in $TMP/jobs instead of the repository.
REAL_SBATCH=$(command -v sbatch)
cat >"$TMP/shim/sbatch" <<EOF
#!/bin/sh
exec "$REAL_SBATCH" --cpus-per-task=1 --chdir="$TMP/jobs" "\$@"
EOF
chmod +x "$TMP/shim/sbatch"
SB=$TMP/shim/sbatch

# --- 3. grid copies and the reference sweep --------------------------------------------------
mkgrid() { # mkgrid DIR: quick.yaml with store: and output: in DIR
	sed -e "s|^output:.*|output: $1/out|" -e "s|^store:.*|store: $1/store|" experiments/quick.yaml >"$1/quick.yaml"
	[ "$(grep -c "^output: $1/out\$" "$1/quick.yaml")" = 1 ] && [ "$(grep -c "^store: $1/store\$" "$1/quick.yaml")" = 1 ] ||
		fail "could not point store: and output: of the grid copy into $1"
}
mkgrid "$TMP/ref"
mkgrid "$TMP/slurm"

tags=()
if pkg-config --exists openblas lapacke 2>/dev/null; then
	tags=(-tags openblas)
	CGO_LDFLAGS="$(pkg-config --libs openblas lapacke)"
	export CGO_LDFLAGS
	say "building the sweep with the OpenBLAS backend"
else
	say "building the sweep with the pure-Go backend (no OpenBLAS found by pkg-config)"
fi
budget && timeout "$R" go build "${tags[@]}" -o "$BIN" ./experiments/sweep || fail "go build ./experiments/sweep"
nruns=$("$BIN" -config "$TMP/ref/quick.yaml" -dry-run | tail -n 1 | sed -n 's/^[^:]*: \([0-9]*\) runs.*/\1/p')
[ -n "$nruns" ] && [ "$nruns" -gt 0 ] || fail "could not read the number of runs from the dry run"
say "grid: $nruns runs (experiments/quick.yaml with store and output in $TMP)"

# The shard mapping, cheaply, with a fake sweep binary: a task resubmitted on its own
# (--array=3) must still run shard 3.
cat >"$TMP/bin/fake-sweep" <<'EOF'
#!/bin/sh
echo "fake-sweep $*"
EOF
chmod +x "$TMP/bin/fake-sweep"
fake=$(SWEEP_BIN=$TMP/bin/fake-sweep "$SB" --parsable --array=3 --output=fake-%A_%a.out \
	scripts/slurm-sweep.sh run "$TMP/slurm/quick.yaml" "$SHARDS") || fail "sbatch of the fake task"

say "reference: one process, $(nproc) workers... (load: $(uptime | sed 's/.*load average: //'))"
t=$(date +%s)
budget && timeout "$R" "$BIN" -config "$TMP/ref/quick.yaml" -progress plain >"$TMP/ref/sweep.log" 2>&1 ||
	fail "the reference sweep failed (exit $?): $(tail -n 3 "$TMP/ref/sweep.log")"
REF_SECONDS=$(($(date +%s) - t))
say "reference sweep: ${REF_SECONDS}s; $(tail -n 1 "$TMP/ref/sweep.log")"

fakelog=$TMP/jobs/fake-${fake}_3.out
if grep -q -- "-shard 3/$SHARDS " "$fakelog" 2>/dev/null; then
	say "ok: a task resubmitted alone as --array=3 runs shard 3/$SHARDS"
else
	warn "scripts/slurm-sweep.sh ran '$(cat "$fakelog" 2>/dev/null)' for a task resubmitted alone as --array=3, not shard 3/$SHARDS (it subtracts SLURM_ARRAY_TASK_MIN); only the resubmission of task 0 is correct. This test resubmits task 0."
fi

# --- 4. the job array --------------------------------------------------------------------------
say "submitting: scripts/slurm-sweep.sh submit <grid copy> $SHARDS (load: $(uptime | sed 's/.*load average: //'))"
t=$(date +%s)
budget
out=$(PATH="$TMP/shim:$PATH" SWEEP_BIN=$BIN timeout "$R" scripts/slurm-sweep.sh submit "$TMP/slurm/quick.yaml" "$SHARDS" 2>&1) ||
	fail "scripts/slurm-sweep.sh submit failed: $out"
echo "$out" | sed 's/^/    /'
ARRAY=$(echo "$out" | sed -n 's/^submitted array job \([0-9]*\) .*/\1/p')
TABLE1=$(echo "$out" | sed -n 's/.* and table job \([0-9]*\)$/\1/p')
[ -n "$ARRAY" ] && [ -n "$TABLE1" ] || fail "no job ids in the output of slurm-sweep.sh submit"
log() { echo "$TMP/jobs/slurm-sgdstab-sweep-$1.out"; }
queued() { # queued [JOB]: squeue's job ids (of JOB, or all); "?" while slurmctld does not answer
	local out
	for _ in $(seq 5); do
		if out=$(squeue -h -o %i ${1:+-j "$1"} 2>/dev/null); then
			echo "$out"
			return 0
		fi
		sleep 1
	done
	echo "?"
}
clog=$(log "${ARRAY}_$CANCEL_TASK")

# --- 5. cancel one task mid-run ------------------------------------------------------------------
say "waiting until task $CANCEL_TASK has finished one run and started the next"
count() { # count PATTERN FILE: matching lines, 0 for a file not there yet
	local n
	n=$(grep -c "$1" "$2" 2>/dev/null) || true
	echo "${n:-0}"
}
until [ "$(count '^start ' "$clog")" -ge 2 ]; do
	budget
	if [ -z "$(queued "${ARRAY}_$CANCEL_TASK")" ]; then
		fail "task ${ARRAY}_$CANCEL_TASK ended before it started its second run: $(tail -n 3 "$clog" 2>/dev/null)"
	fi
	sleep 0.5
done
current=$(grep '^start ' "$clog" | tail -n 1 | sed 's/^start *//')
say "scancel ${ARRAY}_$CANCEL_TASK while it trains '$current'"
scancel "${ARRAY}_$CANCEL_TASK"
while [ -n "$(queued "${ARRAY}_$CANCEL_TASK")" ]; do
	budget
	sleep 0.5
done
sleep 1 # the log's last lines
stopped=$(sed -n 's/^stopped \(lr=[^ ]* B=[^ ]* seed=[^ ]*\).*/\1/p' "$clog")
check "the cancelled task stopped a run in progress ($stopped)" test -n "$stopped"
if [ -n "$stopped" ]; then
	shardlist=$("$BIN" -config "$TMP/slurm/quick.yaml" -dry-run -shard "$CANCEL_TASK/$SHARDS")
	lr=${stopped#lr=}
	lr=${lr%% *}
	b=$(echo "$stopped" | sed 's/.*B=\([0-9]*\).*/\1/')
	check "the stopped run (lr=$lr B=$b) has no record" \
		sh -c "echo \"\$1\" | awk -v lr=$lr -v b=$b '\$3==lr && \$4==b' | grep -q 'to do\$'" _ "$shardlist"
fi
donebefore=$("$BIN" -config "$TMP/slurm/quick.yaml" -dry-run -shard "$CANCEL_TASK/$SHARDS" | grep -c 'done: ' || true)
say "task $CANCEL_TASK had stored $donebefore of its runs before the cancel"
# Every record that exists now must come out of the rest of the test unchanged.
find "$TMP/slurm/store" -type f -name '*.json' -exec sha256sum {} + | sort >"$TMP/before-resubmit.sha256"

RESUB=$(SWEEP_BIN=$BIN "$SB" --parsable --array="$CANCEL_TASK" scripts/slurm-sweep.sh run "$TMP/slurm/quick.yaml" "$SHARDS") ||
	fail "resubmitting task $CANCEL_TASK"
TABLE2=$(SWEEP_BIN=$BIN "$SB" --parsable --dependency="afterok:${RESUB},afterany:${ARRAY}" --job-name=sgdstab-table \
	--output="slurm-%x-%j.out" scripts/slurm-sweep.sh table "$TMP/slurm/quick.yaml") || fail "submitting the final table job"
say "resubmitted task $CANCEL_TASK as job ${RESUB}_$CANCEL_TASK; final table job $TABLE2"

say "waiting for the array, the resubmitted task and the table jobs"
last=0
while [ -n "$(queued)" ]; do
	budget
	now=$(date +%s)
	if [ $((now - last)) -ge 30 ]; then
		last=$now
		say "  $(squeue -h -o '%i:%T' | tr '\n' ' ')(load: $(uptime | sed 's/.*load average: //'))"
	fi
	sleep 1
done
SLURM_SECONDS=$(($(date +%s) - t))
say "Slurm array done: ${SLURM_SECONDS}s from submission to the final table (reference: ${REF_SECONDS}s in one process)"

# --- 6. checks -----------------------------------------------------------------------------------
jobstate() { scontrol -o show job "$1" 2>/dev/null | sed -n 's/.*JobState=\([A-Z_]*\).*ExitCode=\([0-9:]*\).*/\1 \2/p'; }
jobtimes() { scontrol -o show job "$1" 2>/dev/null | sed -n 's/.*RunTime=\([^ ]*\).*StartTime=[^ ]*T\([^ ]*\) EndTime=[^ ]*T\([^ ]*\).*/\2-\3 (run time \1)/p'; }
for j in "${ARRAY}_0" "${ARRAY}_1" "${ARRAY}_2" "${ARRAY}_3" "${RESUB}_$CANCEL_TASK" "$TABLE1" "$TABLE2"; do
	say "  job $j: $(jobtimes "$j")"
done
for i in $(seq 0 $((SHARDS - 1))); do
	want="COMPLETED 0:0"
	st=$(jobstate "${ARRAY}_$i")
	if [ "$i" = "$CANCEL_TASK" ]; then
		want=CANCELLED
		st=${st%% *}
	fi
	check "array task $i: $st" test "$st" = "$want"
	check "array task $i ran shard $i/$SHARDS" grep -q "shard $i/$SHARDS:" "$(log "${ARRAY}_$i")"
done
for j in "${RESUB}_$CANCEL_TASK" "$TABLE1" "$TABLE2"; do
	st=$(jobstate "$j")
	check "job $j: $st" test "$st" = "COMPLETED 0:0"
done
check "the resubmitted task ran shard $CANCEL_TASK/$SHARDS and skipped the $donebefore runs done before" \
	grep -q "shard $CANCEL_TASK/$SHARDS: .* $donebefore done already" "$(log "${RESUB}_$CANCEL_TASK")"

store=$TMP/slurm/store
nrec=$(find "$store" -type f -name '*.json' ! -name '.*' | wc -l)
nuniq=$(find "$store" -type f -name '*.json' ! -name '.*' -printf '%f\n' | sort -u | wc -l)
# Besides the records: the parameters of each converged run (<key>.npy beside <key>.json) and
# the store's FORMAT file; anything else (a temporary file, a corrupt-record copy, a parameters
# file without its record) is an error.
others=$(cd "$store" && find . -type f ! \( -name '*.json' ! -name '.*' \) ! -path ./FORMAT | sed 's|^\./||' |
	while read -r f; do case $f in .* | */.*) echo "$f" ;; *.npy) [ -f "${f%.npy}.json" ] || echo "$f" ;; *) echo "$f" ;; esac; done)
check "the store holds $nrec record files for $nruns runs" test "$nrec" = "$nruns"
check "no duplicate record ($nuniq distinct names)" test "$nuniq" = "$nrec"
check "no corrupt, temporary or other file in the store${others:+: $others}" test -z "$others"
dry=$("$BIN" -config "$TMP/slurm/quick.yaml" -dry-run | tail -n 1)
check "the sweep's dry run reads every record as valid: $dry" \
	sh -c "echo \"\$1\" | grep -q ': $nruns runs, $nruns done, 0 to do (0 of them with a corrupt record)'" _ "$dry"

# Trained exactly once: each run has one "[k/n] lr=.. B=.. seed=..:" line in all the task logs.
cat "$(log "${ARRAY}_0")" "$(log "${ARRAY}_1")" "$(log "${ARRAY}_2")" "$(log "${ARRAY}_3")" "$(log "${RESUB}_$CANCEL_TASK")" |
	sed -n 's/^\[ *[0-9]*\/[0-9]*\] \(lr=[^:]*\):.*/\1/p' | sort | uniq -c >"$TMP/trained.txt"
ntrained=$(wc -l <"$TMP/trained.txt")
twice=$(awk '$1 != 1' "$TMP/trained.txt")
check "every run trained to a record exactly once in the array logs ($ntrained runs)" test "$ntrained" = "$nruns" -a -z "$twice"
check "no FAILED run in the array logs" sh -c "! grep -h '^FAILED' $TMP/jobs/slurm-sgdstab-sweep-*.out"
changed=$(sha256sum -c --quiet "$TMP/before-resubmit.sha256" 2>&1 || true)
check "the $(wc -l <"$TMP/before-resubmit.sha256") records stored before the resubmission are unchanged" test -z "$changed"

# The table: the Slurm table job's against the single process's, cell by cell.
cat >"$TMP/tablecmp.go" <<'EOF'
// tablecmp A B EXCLUDED...: the two CSV tables have the same header, the same keys in the same
// order and identical cells outside the excluded columns.
package main

import (
	"encoding/csv"
	"fmt"
	"os"
	"strings"
)

func read(path string) [][]string {
	f, err := os.Open(path)
	if err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil || len(rows) == 0 {
		fmt.Printf("%s: %v (%d lines)\n", path, err, len(rows))
		os.Exit(1)
	}
	return rows
}

func main() {
	a, b := read(os.Args[1]), read(os.Args[2])
	skip := map[string]bool{}
	for _, c := range os.Args[3:] {
		skip[c] = true
	}
	if strings.Join(a[0], ",") != strings.Join(b[0], ",") {
		fmt.Printf("headers differ:\n  %s\n  %s\n", strings.Join(a[0], ","), strings.Join(b[0], ","))
		os.Exit(1)
	}
	if len(a) != len(b) {
		fmt.Printf("%d rows against %d\n", len(a)-1, len(b)-1)
		os.Exit(1)
	}
	key := -1
	var used, excluded []string
	for j, c := range a[0] {
		if c == "key" {
			key = j
		}
		if skip[c] {
			excluded = append(excluded, c)
		} else {
			used = append(used, c)
		}
	}
	if key < 0 {
		fmt.Println("no key column")
		os.Exit(1)
	}
	diffs := 0
	for i := 1; i < len(a); i++ {
		for j, c := range a[0] {
			if !skip[c] && a[i][j] != b[i][j] {
				if diffs < 10 {
					fmt.Printf("row %d (key %.12s) column %s: %q against %q\n", i, a[i][key], c, a[i][j], b[i][j])
				}
				diffs++
			}
		}
	}
	if diffs > 0 {
		fmt.Printf("%d cells differ\n", diffs)
		os.Exit(1)
	}
	fmt.Printf("%d rows x %d columns identical (excluded: %s)\n", len(a)-1, len(used), strings.Join(excluded, ", "))
}
EOF
say "comparing the tables; columns excluded by name: $EXCLUDED_COLUMNS"
# shellcheck disable=SC2086
budget
cmpout=$(cd "$TMP" && timeout "$R" go run ./tablecmp.go "$TMP/slurm/out/table.csv" "$TMP/ref/out/table.csv" $EXCLUDED_COLUMNS 2>&1) || true
check "the Slurm table equals the single-process table: $cmpout" sh -c "echo \"\$1\" | grep -q ' identical '" _ "$cmpout"

for w in "${WARNINGS[@]}"; do
	say "warning: $w"
done
if [ ${#FAILURES[@]} -gt 0 ]; then
	fail "${#FAILURES[@]} checks failed: $(printf '%s; ' "${FAILURES[@]}")"
fi
if [ "$STRICT" = 1 ] && [ ${#WARNINGS[@]} -gt 0 ]; then
	fail "${#WARNINGS[@]} warnings with SLURM_TEST_STRICT=1"
fi
say "PASSED: $nruns runs in a $SHARDS-task Slurm array (one cancelled and resubmitted) in ${SLURM_SECONDS}s; one process: ${REF_SECONDS}s"
