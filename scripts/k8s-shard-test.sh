#!/usr/bin/env bash
# Tests scripts/k8s-shard.sh, the entry point of the Kubernetes Indexed Job, without a cluster:
# it runs the script with JOB_COMPLETION_INDEX set as Kubernetes sets it and a fake sweep binary
# that prints its arguments, and checks the index -> -shard i/N mapping, the errors for a missing
# or out-of-range index, and that the manifest agrees with the script (completions = SHARDS).
#
#   scripts/k8s-shard-test.sh            (make test-k8s)
set -uo pipefail
cd "$(dirname "$0")/.."
entry=scripts/k8s-shard.sh
manifest=scripts/k8s/sweep-indexed-job.yaml
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cat >"$tmp/fake-sweep" <<'FAKE'
#!/bin/sh
echo "ARGS $*"
exit "${FAKE_EXIT:-0}"
FAKE
chmod +x "$tmp/fake-sweep"

passed=0
failed=0
ok() {
	passed=$((passed + 1))
	echo "ok   $1"
}
bad() {
	failed=$((failed + 1))
	echo "FAIL $1"
	shift
	printf '     %s\n' "$@"
}
# expect NAME STATUS STDOUT_PATTERN STDERR_PATTERN [VAR=VALUE...]: runs the entry script with a
# clean environment plus the given variables; STDOUT_PATTERN EMPTY: nothing on stdout (the
# sweep did not start).
expect() {
	local name=$1 want=$2 out_pat=$3 err_pat=$4
	shift 4
	env -i PATH="$PATH" SWEEP_BIN="$tmp/fake-sweep" "$@" sh "$entry" >"$tmp/out" 2>"$tmp/err"
	local got=$?
	local out_ok=0
	if [ "$out_pat" = EMPTY ]; then
		[ -s "$tmp/out" ] || out_ok=1
	else
		grep -Eq -- "$out_pat" "$tmp/out" && out_ok=1
	fi
	if [ "$got" = "$want" ] && [ "$out_ok" = 1 ] && grep -Eq -- "$err_pat" "$tmp/err"; then
		ok "$name"
	else
		bad "$name" "exit $got (want $want)" "stdout: $(cat "$tmp/out")" "stderr: $(cat "$tmp/err")" \
			"want stdout ~ /$out_pat/, stderr ~ /$err_pat/"
	fi
}

# The mapping: index i of N -> -shard i/N, every index once.
for n in 1 4 8; do
	for i in $(seq 0 $((n - 1))); do
		expect "index $i of $n -> -shard $i/$n" 0 \
			"^ARGS -config experiments/paper.yaml -shard $i/$n -progress plain\$" "pod index $i -> shard $i/$n" \
			JOB_COMPLETION_INDEX=$i SHARDS=$n
	done
done
expect "CONFIG, WORKERS and SWEEP_ARGS are passed on" 0 \
	"^ARGS -config experiments/quick.yaml -shard 2/3 -progress plain -workers 2 -mnist /data/mnist\$" . \
	JOB_COMPLETION_INDEX=2 SHARDS=3 CONFIG=experiments/quick.yaml WORKERS=2 SWEEP_ARGS="-mnist /data/mnist"
expect "leading zeros are decimal, not octal (08 of 10 -> 8/10)" 0 "-shard 8/10 " . JOB_COMPLETION_INDEX=08 SHARDS=10
expect "the sweep's exit status is the pod's (130)" 130 "-shard 1/2 " . JOB_COMPLETION_INDEX=1 SHARDS=2 FAKE_EXIT=130
expect "the sweep's exit status is the pod's (1)" 1 "-shard 0/2 " . JOB_COMPLETION_INDEX=0 SHARDS=2 FAKE_EXIT=1

# Errors: exit 2, a message naming the variable, and the sweep never started.
expect "missing JOB_COMPLETION_INDEX" 2 EMPTY "JOB_COMPLETION_INDEX is not set" SHARDS=4
expect "empty JOB_COMPLETION_INDEX" 2 EMPTY "JOB_COMPLETION_INDEX is not set" JOB_COMPLETION_INDEX= SHARDS=4
expect "index = SHARDS is out of range" 2 EMPTY "JOB_COMPLETION_INDEX=4 is out of range for SHARDS=4" JOB_COMPLETION_INDEX=4 SHARDS=4
expect "index > SHARDS is out of range" 2 EMPTY "JOB_COMPLETION_INDEX=9 is out of range for SHARDS=4" JOB_COMPLETION_INDEX=9 SHARDS=4
expect "negative index" 2 EMPTY "JOB_COMPLETION_INDEX=-1: want an integer >= 0" JOB_COMPLETION_INDEX=-1 SHARDS=4
expect "non-numeric index" 2 EMPTY "JOB_COMPLETION_INDEX=a: want an integer >= 0" JOB_COMPLETION_INDEX=a SHARDS=4
expect "index with a space" 2 EMPTY "want an integer >= 0" "JOB_COMPLETION_INDEX=1 2" SHARDS=4
expect "missing SHARDS" 2 EMPTY "SHARDS is not set" JOB_COMPLETION_INDEX=0
expect "SHARDS=0" 2 EMPTY "SHARDS=0: want an integer >= 1" JOB_COMPLETION_INDEX=0 SHARDS=0
expect "SHARDS=x" 2 EMPTY "SHARDS=x: want an integer >= 1" JOB_COMPLETION_INDEX=0 SHARDS=x
expect "bad WORKERS" 2 EMPTY "WORKERS=two: want an integer >= 1" JOB_COMPLETION_INDEX=0 SHARDS=1 WORKERS=two

# The manifest: an Indexed Job whose completions equal SHARDS, running the entry script with the
# store on a shared volume.
completions=$(sed -n 's/^  completions: *\([0-9]*\).*/\1/p' "$manifest")
shards=$(grep -A1 -- '- name: SHARDS' "$manifest" | sed -n 's/.*value: *"\([0-9]*\)".*/\1/p')
if [ -n "$completions" ] && [ "$completions" = "$shards" ]; then
	ok "manifest: completions ($completions) = SHARDS ($shards)"
else
	bad "manifest: completions ($completions) = SHARDS ($shards)"
fi
for pat in '^  completionMode: Indexed$' 'command: \["scripts/k8s-shard.sh"\]' 'mountPath: /src/results$' 'workingDir: /src$' 'claimName: sgdstab-results$'; do
	if grep -Eq -- "$pat" "$manifest"; then ok "manifest has /$pat/"; else bad "manifest has /$pat/"; fi
done
# Each index of the manifest's Job maps to its own shard, all of them together to 0..N-1.
got=$(for i in $(seq 0 $((completions - 1))); do
	env -i PATH="$PATH" SWEEP_BIN="$tmp/fake-sweep" JOB_COMPLETION_INDEX=$i SHARDS="$shards" sh "$entry" 2>/dev/null
done | sed -n 's/.*-shard \([0-9]*\/[0-9]*\) .*/\1/p' | sort -t/ -n | tr '\n' ' ')
want=$(for i in $(seq 0 $((completions - 1))); do printf '%s/%s ' "$i" "$shards"; done)
if [ "$got" = "$want" ]; then ok "the manifest's $completions indexes cover shards 0..$((completions - 1)) once each"; else bad "manifest indexes -> shards" "got $got" "want $want"; fi

echo "k8s-shard: $passed passed, $failed failed"
[ "$failed" = 0 ]
