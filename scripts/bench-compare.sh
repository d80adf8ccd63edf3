#!/bin/sh
# Our training kernel beside PyTorch's SGD step, same network, data, h and B, in one run:
#
#   scripts/bench-compare.sh            (from the repository root; make bench-pytorch)
#
# Runs the Go benchmark BenchmarkTrain (train/bench_test.go: the fused engine, 1 worker,
# h in {20, 100}, B in {1, 8, 64, 512}, fixed epochs each ending with the full-batch loss) and
# scripts/bench-pytorch.py (autograd and hand-written float32 steps, 1 thread, the same loop; BENCH_DTYPE=float64
# times them in the Go trainer's precision) and
# prints one table row per (h, B) with samples/s (= steps/s * B) of each, the ratio ours /
# hand-written (wall clock and CPU time), the FLOP estimate of one step and the GFLOP/s it
# implies for each measured rate. When torch cannot be imported the PyTorch side is skipped with
# a message and only the Go numbers are printed.
#
# The Go side runs with OPENBLAS_NUM_THREADS=1 (one worker, one BLAS thread), PyTorch with one thread.
# Environment: GO (default go), PYTHON (default python3; bench-pytorch.py re-executes itself with
# FALLBACK_PYTHON (default /usr/bin/python3) when this one cannot import torch), BENCH_ROUNDS (rounds
# of Go benchmark then PyTorch script, default 3), BENCH_REPEATS (PyTorch's interleaved repeats per
# round, default 2). The medians are over all rounds (and repeats).
set -eu

GO=${GO:-go}
PYTHON=${PYTHON:-python3}
ROUNDS=${BENCH_ROUNDS:-3}
REPEATS=${BENCH_REPEATS:-2}
FALLBACK_PYTHON=${FALLBACK_PYTHON:-/usr/bin/python3}
DTYPE=${BENCH_DTYPE:-float32}
cd "$(dirname "$0")/.."

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM

echo "load before: $(uptime)"
if pkg-config --exists openblas lapacke 2>/dev/null; then
	tags="-tags openblas"
	CGO_LDFLAGS="$(pkg-config --libs openblas lapacke)"
	export CGO_LDFLAGS
	echo "Go: OpenBLAS build"
else
	tags=""
	echo "Go: pure-Go build (OpenBLAS not found by pkg-config)"
fi

# One core for the Go side too: OpenBLAS (used by the fused engine's large batches) would otherwise
# start a thread per core.
OPENBLAS_NUM_THREADS=1
export OPENBLAS_NUM_THREADS

torch=yes
if "$PYTHON" -c 'import torch, numpy' 2>/dev/null; then
	py=$PYTHON
elif "$FALLBACK_PYTHON" -c 'import torch, numpy' 2>/dev/null; then
	py=$FALLBACK_PYTHON
else
	torch=no
	echo "SKIPPED scripts/bench-pytorch.py: PyTorch/NumPy missing (apt-get install -y python3-torch python3-numpy); Go numbers only"
	py=$PYTHON
	command -v "$py" >/dev/null 2>&1 || py=$FALLBACK_PYTHON
fi

# Rounds alternate the Go benchmark and the PyTorch script, so that a change of the machine's load
# hits both sides alike; the table reports medians over all rounds.
: >"$tmp/go.txt"
: >"$tmp/torch.jsonl"
r=0
while [ "$r" -lt "$ROUNDS" ]; do
	r=$((r + 1))
	# shellcheck disable=SC2086
	if ! $GO test $tags -run '^$' -bench 'BenchmarkTrain$/engine=fused/h=/B=/workers=1$' \
		-benchtime 2x -count 1 ./train >"$tmp/go1.txt" 2>&1; then
		cat "$tmp/go1.txt" >&2
		echo "bench-compare: go test -bench failed" >&2
		exit 1
	fi
	cat "$tmp/go1.txt" >>"$tmp/go.txt"
	if [ "$torch" = yes ]; then
		"$py" scripts/bench-pytorch.py --repeats "$REPEATS" --dtype "$DTYPE" >>"$tmp/torch.jsonl"
	fi
	echo "round $r/$ROUNDS done: $(uptime)"
done
echo "load after:  $(uptime)"

# The table (standard library only).
"$py" - "$tmp/go.txt" "$tmp/torch.jsonl" <<'EOF'
import json, re, statistics, sys

go_path, torch_path = sys.argv[1], sys.argv[2]
K, N = 4, 512
HS, BS = (20, 100), (1, 8, 64, 512)

# Go: BenchmarkTrain/engine=fused/h=<h>/B=<B>/workers=1-<P>  <iters>  <ns/op>  <v> run-steps/s  <v> samples/s ...
go = {}
for line in open(go_path):
    m = re.match(r"BenchmarkTrain/engine=fused/h=(\d+)/B=(\d+)/workers=1(-\d+)?\s+\d+\s+(.*)", line)
    if not m:
        continue
    f = m.group(4).split()
    metrics = {f[i + 1]: float(f[i]) for i in range(0, len(f) - 1, 2)}
    go.setdefault((int(m.group(1)), int(m.group(2))), []).append((metrics["run-steps/s"], metrics.get("run-steps/cpu-s", float("nan"))))
go_cpu = {b: statistics.median(c for _, c in v) for b, v in go.items()}
go = {b: statistics.median(w for w, _ in v) for b, v in go.items()}

torch, nnz, dtype = {}, None, "float32"
for line in open(torch_path):
    if line.strip():
        r = json.loads(line)
        torch.setdefault((r["impl"], r["h"], r["B"]), []).append((r["steps_per_s"], r["steps_per_cpu_s"]))
        nnz, dtype = r["nnz_mean"], r.get("dtype", dtype)
torch_cpu = {key: statistics.median(c for _, c in v) for key, v in torch.items()}
torch = {key: statistics.median(w for w, _ in v) for key, v in torch.items()}

# FLOP estimate of one SGD step on B samples with the zero pixels skipped (a multiply-add is 2 FLOP;
# nnz = mean number of non-zero pixels per image, k = 4 outputs):
#   forward   2 nnz h (layer 1) + 2 h k (layer 2)
#   backward  2 h k (dW2) + 2 h k (back to the hidden layer) + 2 nnz h (dW1, fused with the update)
#   F_step = B (4 nnz h + 6 h k)                  (bias, ReLU and O(h + k) terms left out)
# Both benchmarks also compute the full-batch loss once per epoch of n // B steps, a forward pass
# over n samples: F_loss = n (2 nnz h + 2 h k) / (n // B) per step. The GFLOP/s columns are
# steps/s * (F_step + F_loss), the same work on both sides (at B = n our kernel takes the loss
# from the next step's forward pass, so it does less; the column counts the task, not the kernel).
def flops(h, b):
    step = b * (4 * nnz * h + 6 * h * K)
    return step, step + N * (2 * nnz * h + 2 * h * K) / max(1, N // b)

def fmt(x):
    if x is None:
        return "-"
    if x >= 1e5:
        return "%.0fk" % (x / 1e3)
    if x >= 1e3:
        return "%.1fk" % (x / 1e3)
    return "%.0f" % x

hdr = ["h", "B", "ours samples/s", "PyTorch autograd", "PyTorch hand-written", "ours / hand-written",
       "ours / hand-written, CPU time", "kFLOP/step", "GFLOP/s ours", "GFLOP/s autograd", "GFLOP/s hand-written"]
rows = []
for h in HS:
    for b in BS:
        ours = go.get((h, b))
        ag, hw = torch.get(("autograd", h, b)), torch.get(("handwritten", h, b))
        oc, hc = go_cpu.get((h, b)), torch_cpu.get(("handwritten", h, b))
        if nnz is not None:
            step, total = flops(h, b)
            kf = "%.1f" % (step / 1e3)
            gf = lambda s: "-" if s is None else "%.2f" % (s * total / 1e9)
        else:
            kf, gf = "-", lambda s: "-"
        rows.append([str(h), str(b),
                     fmt(ours * b) if ours is not None else "missing",
                     fmt(ag * b) if ag is not None else "-",
                     fmt(hw * b) if hw is not None else "-",
                     "%.2fx" % (ours / hw) if ours is not None and hw else "-",
                     "%.2fx" % (oc / hc) if oc is not None and hc and oc == oc else "-",
                     kf, gf(ours), gf(ag), gf(hw)])
print("| " + " | ".join(hdr) + " |")
print("|" + "---|" * len(hdr))
for r in rows:
    print("| " + " | ".join(r) + " |")
print()
print("samples/s = steps/s * B, wall clock, medians over the rounds (Go: BenchmarkTrain,"
      " fused engine, 1 worker, 1 BLAS thread, float64; PyTorch: 1 thread, %s); both include the per-epoch full-batch loss." % dtype)
if nnz is not None:
    print("kFLOP/step = B (4 nnz h + 6 h k), nnz = %.1f non-zero pixels per image (mean of the %d), k = %d;"
          " GFLOP/s adds the amortized per-epoch loss." % (nnz, N, K))
else:
    print("no FLOP estimate: the non-zero pixel count comes from bench-pytorch.py, which did not run.")
print("CPU time: steps per second of the process's CPU time on each side (Go run-steps/cpu-s,"
      " Python time.process_time), less sensitive to a shared machine's load than the wall clock.")
print("The machine may be shared: compare with the load average printed above.")
EOF
