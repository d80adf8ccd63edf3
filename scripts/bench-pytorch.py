#!/usr/bin/env python3
"""Throughput of PyTorch's SGD step on the project's network, for comparison with `go test -bench Train ./train`.

    /usr/bin/python3 scripts/bench-pytorch.py [--hidden 20,100] [--batch 1,8,64,512] [--repeats 5] [--block 0.25] [--dtype float32]

The network and data are the Go trainer's: 784 -> h -> 4, ReLU, biases, per-sample loss
l_i = ||f(x_i) - y_i||^2, plain SGD on (1/B) sum_b l_b, the 512-image MNIST subset (digits 0-3,
the first 128 of each in the training file, pixels / 255; loaded by export_curvature.load_subset).
Two forms of the step, both in float32 (--dtype float64: the Go trainer's precision), one thread
(torch.set_num_threads(1)):

  autograd      model(x) -> loss -> loss.backward() -> torch.optim.SGD.step()
  handwritten   export_curvature.sgd_step: the gradient written out with torch ops, no autograd

Like the Go benchmark, every epoch (n // B steps, each on a batch of B distinct samples gathered
from the data) ends with the full-batch loss (one forward pass over all n samples); a pool of 64
random batches, drawn before timing from a seeded generator, is cycled through. Each (impl, h, B)
is timed in blocks of whole epochs of about --block seconds; the blocks of all configurations are
interleaved, --repeats rounds, and the median is reported: one JSON line per (impl, h, B) with
steps_per_s and samples_per_s (= steps_per_s * B), the same per second of the process's CPU
time (steps_per_cpu_s, samples_per_cpu_s: what one core gives when it is not shared), plus nnz_mean, the mean number of non-zero
pixels per image (the driver's FLOP estimate uses it). Wall-clock rates: on a shared machine they
depend on the load (see uptime).
"""

import argparse
import json
import os
import statistics
import sys
import time

# one thread, also for the BLAS under Debian's torch: torch.set_num_threads(1) does not limit
# OpenBLAS's own threads, which must be capped before the library loads
for _v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _torchenv  # noqa: E402

if __name__ == "__main__":
    _torchenv.require_torch("bench-pytorch.py")

import torch  # noqa: E402

import export_curvature as ec  # noqa: E402

IMPLS = ("autograd", "handwritten")
DTYPES = {"float32": torch.float32, "float64": torch.float64}
POOL = 64


class Bench:
    """One (impl, h, B) configuration: parameters, batch pool and a step function."""

    def __init__(self, impl, X, Y, hidden, batch, lr, seed, dtype=torch.float32):
        if impl not in IMPLS:
            raise ValueError("impl must be one of %s, not %r" % (", ".join(IMPLS), impl))
        n = X.shape[0]
        if not 1 <= batch <= n:
            raise ValueError("batch %d outside [1, n = %d]" % (batch, n))
        self.impl, self.h, self.B, self.X, self.Y, self.lr = impl, hidden, batch, X, Y, lr
        self.model = ec.mlp(X.shape[1], hidden, Y.shape[1], seed, dtype=dtype)
        gen = torch.Generator().manual_seed(seed)
        self.pool = [torch.randperm(n, generator=gen)[:batch] for _ in range(POOL)]
        self.steps_per_epoch = max(1, n // batch)
        self.next = 0
        if impl == "autograd":
            self.opt = torch.optim.SGD(self.model.parameters(), lr=lr)
        else:
            self.params = [p.data for p in self.model.parameters()]

    def step(self, xb, yb):
        if self.impl == "autograd":
            self.opt.zero_grad(set_to_none=True)
            loss = ((self.model(xb) - yb) ** 2).sum() / xb.shape[0]
            loss.backward()
            self.opt.step()
        else:
            with torch.no_grad():
                ec.sgd_step(self.params, xb, yb, self.lr)

    def epochs(self, m):
        """Run m epochs (steps on pooled batches, then the full-batch loss); returns the steps taken."""
        for _ in range(m):
            for _ in range(self.steps_per_epoch):
                idx = self.pool[self.next]
                self.next = (self.next + 1) % POOL
                self.step(self.X[idx], self.Y[idx])
            with torch.no_grad():
                loss = float(((self.model(self.X) - self.Y) ** 2).sum()) / self.X.shape[0]
            if loss != loss or loss == float("inf"):
                raise RuntimeError("%s h=%d B=%d: the loss is %r (lr %g too large?)" % (self.impl, self.h, self.B, loss, self.lr))
        return m * self.steps_per_epoch


def steps_agree(X, Y, hidden, batch, lr=0.01, seed=1, steps=3):
    """Largest |difference| between the parameters after `steps` autograd and hand-written steps
    from the same initialization on the same batches (float64): the two forms compute one step."""
    a = Bench("autograd", X, Y, hidden, batch, lr, seed)
    b = Bench("handwritten", X, Y, hidden, batch, lr, seed)
    for m in (a.model, b.model):
        m.double()
    a.opt = torch.optim.SGD(a.model.parameters(), lr=lr)
    b.params = [p.data for p in b.model.parameters()]
    Xd, Yd = X.double(), Y.double()
    for s in range(steps):
        idx = a.pool[s]
        a.step(Xd[idx], Yd[idx])
        b.step(Xd[idx], Yd[idx])
    return max(float((p - q).abs().max()) for p, q in zip(a.model.parameters(), b.model.parameters()))


def calibrate(bench, target):
    """Whole epochs per block so that one block takes about target seconds."""
    bench.epochs(1)  # warm-up
    t0 = time.perf_counter()
    bench.epochs(1)
    dt = max(time.perf_counter() - t0, 1e-6)
    return max(1, int(round(target / dt)))


def parse_list(s, name):
    try:
        vals = [int(v) for v in s.split(",") if v.strip()]
    except ValueError:
        raise SystemExit("--%s %r: want comma-separated integers" % (name, s))
    if not vals or any(v < 1 for v in vals):
        raise SystemExit("--%s %r: want positive integers" % (name, s))
    return vals


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--hidden", default="20,100", help="hidden widths h (default 20,100)")
    ap.add_argument("--batch", default="1,8,64,512", help="batch sizes B (default 1,8,64,512)")
    ap.add_argument("--impl", default=",".join(IMPLS), help="autograd,handwritten")
    ap.add_argument("--repeats", type=int, default=5, help="interleaved rounds; the median is reported")
    ap.add_argument("--block", type=float, default=0.25, help="seconds per timed block")
    ap.add_argument("--lr", type=float, default=0.01, help="step size (the Go benchmark's 0.01)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--mnist", default=None, help="directory of the MNIST IDX files (default: the Go module cache)")
    ap.add_argument("--dtype", default="float32", choices=DTYPES, help="precision of the timed steps (default float32)")
    args = ap.parse_args(argv)
    dtype = DTYPES[args.dtype]
    hs, bs = parse_list(args.hidden, "hidden"), parse_list(args.batch, "batch")
    impls = [s for s in args.impl.split(",") if s]
    if any(i not in IMPLS for i in impls):
        raise SystemExit("--impl %r: want a subset of %s" % (args.impl, ",".join(IMPLS)))
    if args.repeats < 1 or not args.block > 0:
        raise SystemExit("--repeats must be >= 1 and --block > 0")

    torch.set_num_threads(1)
    Xn, Yn, _, _ = ec.load_subset(mnist_dir=args.mnist)
    if any(b > Xn.shape[0] for b in bs):
        raise SystemExit("--batch %s: B must be at most n = %d" % (args.batch, Xn.shape[0]))
    nnz_mean = float((Xn != 0).sum()) / Xn.shape[0]
    X, Y = torch.from_numpy(Xn).to(dtype).contiguous(), torch.from_numpy(Yn).to(dtype).contiguous()
    diff = steps_agree(X, Y, hs[0], min(bs))
    if not diff < 1e-12:
        raise SystemExit("autograd and hand-written steps differ by %g (float64)" % diff)

    benches = [Bench(i, X, Y, h, b, args.lr, args.seed, dtype) for h in hs for b in bs for i in impls]
    blocks = [calibrate(bn, args.block) for bn in benches]
    rates, cpu_rates = [[] for _ in benches], [[] for _ in benches]
    for _ in range(args.repeats):
        for j, bn in enumerate(benches):
            t0, c0 = time.perf_counter(), time.process_time()
            steps = bn.epochs(blocks[j])
            rates[j].append(steps / (time.perf_counter() - t0))
            cpu_rates[j].append(steps / max(time.process_time() - c0, 1e-9))
    for bn, r, rc in zip(benches, rates, cpu_rates):
        med, medc = statistics.median(r), statistics.median(rc)
        print(json.dumps({"impl": bn.impl, "h": bn.h, "B": bn.B, "steps_per_s": round(med, 1),
                          "samples_per_s": round(med * bn.B, 1),
                          "steps_per_cpu_s": round(medc, 1), "samples_per_cpu_s": round(medc * bn.B, 1),
                          "repeats": args.repeats,
                          "min_steps_per_s": round(min(r), 1), "max_steps_per_s": round(max(r), 1),
                          "threads": torch.get_num_threads(), "dtype": args.dtype, "epoch_loss": True,
                          "n": int(X.shape[0]), "nnz_mean": round(nnz_mean, 2), "torch": torch.__version__}),
              flush=True)


if __name__ == "__main__":
    main()
