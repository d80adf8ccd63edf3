#!/bin/sh
# Entry point of one pod of a Kubernetes Indexed Job (scripts/k8s/sweep-indexed-job.yaml): runs
# shard JOB_COMPLETION_INDEX of SHARDS of the grid into the store named by the grid file, which
# must be on a volume shared by all pods (ReadWriteMany), exactly as the Slurm array does
# (scripts/slurm-sweep.sh): the store's content-hash keys and atomic writes make the union safe,
# a finished run is skipped, and a pod that is restarted simply resumes its shard.
#
#   JOB_COMPLETION_INDEX  set by Kubernetes for completionMode: Indexed (0 .. completions-1)
#   SHARDS                number of shards; must equal the Job's completions
#   CONFIG                grid file (default experiments/paper.yaml)
#   SWEEP_BIN             sweep binary (default sweep, on PATH)
#   WORKERS               runs trained at once (default: the grid's workers)
#   SWEEP_ARGS            more flags for the sweep, e.g. "-mnist /data/mnist"
#
# The sweep's exit status is the pod's: 0 when every run of the shard has a record.
set -eu

bin=${SWEEP_BIN:-sweep}
config=${CONFIG:-experiments/paper.yaml}
die() {
	echo "k8s-shard: $*" >&2
	exit 2
}
is_count() { case $1 in '' | *[!0-9]*) return 1 ;; esac }

index=${JOB_COMPLETION_INDEX-}
[ -n "$index" ] || die "JOB_COMPLETION_INDEX is not set (run this as a pod of an Indexed Job: completionMode: Indexed)"
is_count "$index" || die "JOB_COMPLETION_INDEX=$index: want an integer >= 0"
shards=${SHARDS-}
[ -n "$shards" ] || die "SHARDS is not set (set it to the Job's completions)"
is_count "$shards" || die "SHARDS=$shards: want an integer >= 1"
# Leading zeros would make $((...)) read octal; strip them.
index=$(echo "$index" | sed 's/^0*\(.\)/\1/')
shards=$(echo "$shards" | sed 's/^0*\(.\)/\1/')
[ "$shards" -ge 1 ] || die "SHARDS=$shards: want an integer >= 1"
[ "$index" -lt "$shards" ] || die "JOB_COMPLETION_INDEX=$index is out of range for SHARDS=$shards (want 0 <= index < $shards; completions and SHARDS must agree)"

set -- -config "$config" -shard "$index/$shards" -progress plain
if [ -n "${WORKERS-}" ]; then
	is_count "$WORKERS" || die "WORKERS=$WORKERS: want an integer >= 1"
	set -- "$@" -workers "$WORKERS"
fi
echo "k8s-shard: pod index $index -> shard $index/$shards of $config" >&2
# SWEEP_ARGS is split on spaces on purpose (flags and their values).
# shellcheck disable=SC2086
exec "$bin" "$@" ${SWEEP_ARGS-}
