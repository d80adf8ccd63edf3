#!/usr/bin/env bash
# Spread a sweep over a Slurm job array. Every array task runs one shard (-shard i/N) of the grid
# into the same results store on a shared file system; the store's content-hash keys and atomic
# writes make the union safe, and a finished run is never redone. A last job, started when the
# array has finished, writes the grid's table from all records.
#
# Usage (from the repository root, on the login node):
#   scripts/slurm-sweep.sh submit [CONFIG] [SHARDS]     # default experiments/paper.yaml, 8 shards
# Then, once it is done:
#   go run ./experiments/report -table results/table.csv -out results
# A task that failed or hit its time limit is resubmitted alone (finished runs are skipped):
#   sbatch --array=K scripts/slurm-sweep.sh run CONFIG SHARDS
#
# The same script is the batch script of the array tasks (it sees SLURM_ARRAY_TASK_ID) and of
# the table job (mode "table"). Adjust the #SBATCH lines (partition, time, account) to your site;
# command-line options of sbatch override them.
#SBATCH --job-name=sgdstab-sweep
#SBATCH --cpus-per-task=2
#SBATCH --mem=4G
#SBATCH --time=02:00:00
#SBATCH --output=slurm-%x-%A_%a.out
set -euo pipefail

mode=${1:-run}
config=${2:-experiments/paper.yaml}
shards=${3:-8}
bin=${SWEEP_BIN:-bin/sweep}

case "$mode" in
submit)
	# Build once here, not in every task (concurrent builds into one directory race).
	tags=()
	if pkg-config --exists openblas lapacke 2>/dev/null; then
		tags=(-tags openblas)
		export CGO_LDFLAGS="$(pkg-config --libs openblas lapacke)"
	fi
	mkdir -p "$(dirname "$bin")"
	go build "${tags[@]}" -o "$bin" ./experiments/sweep
	"$bin" -config "$config" -dry-run | tail -n 1
	array=$(sbatch --parsable --array="0-$((shards - 1))" "$0" run "$config" "$shards")
	table=$(sbatch --parsable --dependency="afterany:${array}" --job-name=sgdstab-table \
		--output="slurm-%x-%j.out" "$0" table "$config")
	echo "submitted array job $array ($shards shards) and table job $table"
	;;
run)
	: "${SLURM_ARRAY_TASK_ID:?run mode is for Slurm array tasks; use: $0 submit [CONFIG] [SHARDS]}"
	# The task ID is the shard, also for a task resubmitted alone (sbatch --array=K ... run CONFIG N).
	shard=$SLURM_ARRAY_TASK_ID
	if [ "$shard" -ge "$shards" ]; then
		echo "$0: array task $shard is not a shard of $shards (want 0..$((shards - 1)))" >&2
		exit 2
	fi
	exec "$bin" -config "$config" -shard "${shard}/${shards}" -workers "${SLURM_CPUS_PER_TASK:-2}" -progress plain
	;;
table)
	# Lists which runs are still missing (e.g. a task hit its time limit), then writes the table.
	"$bin" -config "$config" -dry-run | tail -n 1
	exec "$bin" -config "$config" -table-only -progress plain
	;;
*)
	echo "usage: $0 submit [CONFIG] [SHARDS]" >&2
	exit 2
	;;
esac
