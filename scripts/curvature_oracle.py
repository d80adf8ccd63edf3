#!/usr/bin/env python3
"""Reference numbers for the Go analysis, computed independently in PyTorch and dense NumPy.

    python3 scripts/curvature_oracle.py [--out DIR]      # default scripts/testdata/torch-oracle
    python3 scripts/curvature_oracle.py --check          # only the brute-force self-checks

For each small case (a 784 -> 4 -> 4 ReLU MLP on 12 MNIST images, d = 3160, at a trained minimum
made exact by re-targeting, see make_case; one cross-entropy case at a trained point that is not
a minimum) it writes DIR/NAME.npz with export_curvature and
DIR/reference.json with:
  - the sharpness lambda_max(H) by Lanczos in PyTorch on exact Hessian-vector products (double
    backprop of the full-batch loss) and on Gauss-Newton-vector products (J^T M J v by autograd),
    and by a dense eigendecomposition of the exported factors;
  - for every batch size B: lambda_gen = lambda_max(pinv(C) D) from a dense eigenproblem on the
    r(r+1)/2-dimensional space of symmetric matrices over range(H) (and on all r x r matrices),
    eta* = 2 / lambda_gen, bounds (15), (16), and the non-uniformity (THEORY.md).
The dense computation is itself checked against the Kronecker matrices of Thm 2/3 on a d = 12
network (brute_force_checks), including p = 0 -> lambda_max(H) (App. I) and Q's spectral radius
crossing 1 at eta*.
"""

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _torchenv  # noqa: E402

if __name__ == "__main__":
    _torchenv.require_torch("curvature_oracle.py")

import numpy as np  # noqa: E402
import torch  # noqa: E402

import export_curvature as ec  # noqa: E402

RANK_TOL = 1e-10  # as analysis.Options.RankTol: eigenvalues <= RANK_TOL * lambda_max(H) are null
FORMAT = "sgdstab-torch-oracle/1"


def p_of(n, b):
    """p = (n - B) / (B (n - 1)); p = 0 for n = 1."""
    return 0.0 if n == 1 else (n - b) / (b * (n - 1))


# ---- dense linear algebra on the exported factors --------------------------------------------

def psd_sqrt(M):
    w, U = np.linalg.eigh((M + M.T) / 2)
    return (U * np.sqrt(np.clip(w, 0, None))) @ U.T


def range_basis(J, M, rank_tol=RANK_TOL):
    """Eigenvalues l (r,) of H in range(H) and the per-sample Hessians in that eigenbasis (n, r, r).

    J (n, k, d); M (k, k) shared or (n, k, k). With G_i = M_i^{1/2} J_i and A = [G_1; ...; G_n] / sqrt(n),
    H = A^T A; the Gram matrix A A^T = U diag(l) U^T gives the orthonormal basis V = A^T U l^{-1/2},
    in which H = diag(l) and G_i V = sqrt(n) (U l^{1/2}) restricted to sample i's rows."""
    n, k, d = J.shape
    Ms = np.broadcast_to(M, (n, k, k)) if M.ndim == 2 else M
    G = np.stack([psd_sqrt(Ms[i]) @ J[i] for i in range(n)])          # (n, k, d)
    A = G.reshape(n * k, d) / np.sqrt(n)
    w, U = np.linalg.eigh(A @ A.T)
    top = w[-1]
    keep = w > rank_tol * top
    l, Ur = w[keep][::-1], U[:, keep][:, ::-1]                         # descending
    B = (np.sqrt(n) * Ur * np.sqrt(l)).reshape(n, k, -1)               # G_i V, (n, k, r)
    Hs = np.einsum("ika,ikb->iab", B, B)
    info = {"rank": int(keep.sum()), "null_eigenvalue_max": float(max(0.0, w[~keep].max())) if (~keep).any() else 0.0,
            "lambda_min_range": float(l[-1]), "trace_h": float(l.sum())}
    return l, Hs, info


def sym_basis(r):
    """Orthonormal basis (r*r, r(r+1)/2) of vec_row(symmetric r x r matrices) and the (a, b) of each column."""
    pairs = [(a, b) for a in range(r) for b in range(a, r)]
    U = np.zeros((r * r, len(pairs)))
    for j, (a, b) in enumerate(pairs):
        if a == b:
            U[a * r + a, j] = 1.0
        else:
            U[a * r + b, j] = U[b * r + a, j] = np.sqrt(0.5)
    return U, pairs


def kron_D(l, Hs, p):
    """D = (1 - p) H kron H + p (1/n) sum_i H_i kron H_i in the eigenbasis (r^2 x r^2, row-major vec)."""
    n = Hs.shape[0]
    D = (1 - p) * np.kron(np.diag(l), np.diag(l))
    if p:
        acc = np.zeros_like(D)
        for Hi in Hs:
            acc += np.kron(Hi, Hi)
        D += (p / n) * acc
    return D


def generalized_sharpness(l, Hs, p, full_space=True):
    """lambda_gen = top eigenvalue of C^{-1/2} D C^{-1/2} on symmetric r x r matrices (and, if
    full_space, on all r x r matrices, which must agree: Thm 6). Also S* = C^{-1/2} X, the
    top eigenmatrix of pinv(C) D, as its effective rank (tr S)^2 / ||S||_F^2 and top share."""
    r = len(l)
    c = 0.5 * (l[:, None] + l[None, :]).ravel()
    D = kron_D(l, Hs, p)
    T = D / np.sqrt(np.outer(c, c))
    U, _ = sym_basis(r)
    w, X = np.linalg.eigh(U.T @ T @ U)
    lam = float(w[-1])
    S = ((U @ X[:, -1]) / np.sqrt(c)).reshape(r, r)
    S = (S + S.T) / 2
    mu = np.linalg.eigvalsh(S)
    if mu.sum() < 0:
        mu = -mu[::-1]
    out = {"generalized_sharpness": lam, "top_eigenmatrix_effective_rank": float(mu.sum() ** 2 / (mu ** 2).sum()),
           "top_eigenmatrix_top_share": float(mu.max() / mu.sum()), "top_eigenmatrix_min_eig_rel": float(mu.min() / mu.max())}
    if full_space:
        out["generalized_sharpness_full_space"] = float(np.linalg.eigvalsh(T)[-1])
    return out


def bounds(l, Hs, p):
    """Bounds (15) and (16) of THEORY.md in the eigenbasis (v_max = e_1: l is descending)."""
    n = Hs.shape[0]
    lmax = l[0]
    b15 = lmax + p * np.mean((Hs[:, 0, 0] - lmax) ** 2) / lmax
    b16 = ((1 - p) * np.sum(l ** 2) + p * np.mean(np.sum(Hs ** 2, axis=(1, 2)))) / l.sum()
    return float(b15), float(b16)


def nonuniformity(l, Hs):
    """sqrt(lambda_max((1/n) sum_i H_i^2 - H^2))."""
    S = np.mean(Hs @ Hs, axis=0) - np.diag(l ** 2)
    return float(np.sqrt(max(0.0, np.linalg.eigvalsh((S + S.T) / 2)[-1])))


# ---- brute force on a tiny case: the d^2 x d^2 Kronecker matrices of Thm 2/3 ------------------

def dense_hessians(J, M):
    n, k, d = J.shape
    Ms = np.broadcast_to(M, (n, k, k)) if M.ndim == 2 else M
    return np.einsum("ikd,ikl,ile->ide", J, Ms, J)


def brute_force_lambda_gen(Hfull, p, rcond=1e-10):
    """lambda_max(pinv(C) D) with C = (1/2)(H kron I + I kron H), D = (1-p) H kron H + p/n sum H_i kron H_i."""
    n, d, _ = Hfull.shape
    H = Hfull.mean(0)
    I = np.eye(d)
    C = 0.5 * (np.kron(H, I) + np.kron(I, H))
    D = (1 - p) * np.kron(H, H) + (p / n) * sum(np.kron(Hi, Hi) for Hi in Hfull)
    T = np.linalg.pinv(C, rcond=rcond, hermitian=True) @ D
    ev = np.linalg.eigvals(T)
    return float(ev.real.max()), float(np.abs(ev).max()), H, C, D


def brute_force_checks(verbose=False):
    """Checks of the dense method on a d = 12 network (2 -> 2 -> 2 + biases, n = 5) for squared
    loss and cross-entropy; raises AssertionError on a failure, returns the largest deviations."""
    worst = {}

    def note(key, v):
        worst[key] = max(worst.get(key, 0.0), float(v))

    for loss in ("sum", "cross_entropy"):
        model, X, Y = make_case(loss, n=5, hidden=2, inputs=2, k=2, seed=3, synthetic=True, train_steps=300)
        arr = ec.compute_curvature(model, X, Y, loss=loss)
        J, M = arr["jacobians"], arr["output_hessian"]
        assert J.shape[2] == 12
        n = J.shape[0]
        Hfull = dense_hessians(J, M)
        l, Hs, info = range_basis(J, M)
        H = Hfull.mean(0)
        lmax_dense = np.linalg.eigvalsh(H)[-1]
        note("sharpness_rel", abs(l[0] - lmax_dense) / lmax_dense)
        for b in range(1, n + 1):
            p = p_of(n, b)
            g = generalized_sharpness(l, Hs, p)
            bf, bf_abs, H, C, D = brute_force_lambda_gen(Hfull, p)
            note("lambda_gen_vs_bruteforce_rel", abs(g["generalized_sharpness"] - bf) / bf)
            note("full_space_rel", abs(g["generalized_sharpness_full_space"] - g["generalized_sharpness"]) / bf)
            note("top_is_largest_abs_rel", abs(bf_abs - bf) / bf)  # Thm 6
            # Q of Thm 2 two ways, and its spectral radius on range(H) x range(H) crossing 1 at eta*
            eta = 2 / bf
            d = H.shape[0]
            I = np.eye(d)
            Q1 = np.eye(d * d) - 2 * eta * C + eta ** 2 * D
            Q2 = (1 - p) * np.kron(I - eta * H, I - eta * H) + (p / n) * sum(
                np.kron(I - eta * Hi, I - eta * Hi) for Hi in Hfull)
            note("Q_forms", np.abs(Q1 - Q2).max() / np.abs(Q1).max())
            w, V = np.linalg.eigh(H)
            P = V[:, w > RANK_TOL * w[-1]] @ V[:, w > RANK_TOL * w[-1]].T
            PP = np.kron(P, P)
            for f, want in ((0.99, -1), (1.0, 0), (1.01, 1)):
                Q = np.eye(d * d) - 2 * f * eta * C + (f * eta) ** 2 * D
                rho = np.abs(np.linalg.eigvals(PP @ Q @ PP)).max()
                if want < 0:
                    assert rho < 1, (loss, b, f, rho)
                elif want > 0:
                    assert rho > 1, (loss, b, f, rho)
                else:
                    note("rho_at_eta_star_minus_1", abs(rho - 1))
            if b == n:
                note("p0_equals_sharpness_rel", abs(g["generalized_sharpness"] - l[0]) / l[0])
            b15, b16 = bounds(l, Hs, p)
            assert b15 <= g["generalized_sharpness"] * (1 + 1e-10) and b16 <= g["generalized_sharpness"] * (1 + 1e-10)
        if verbose:
            print("brute force %s: n=%d d=%d rank=%d" % (loss, n, J.shape[2], info["rank"]), file=sys.stderr)
    limits = {"sharpness_rel": 1e-12, "lambda_gen_vs_bruteforce_rel": 1e-9, "full_space_rel": 1e-12,
              "top_is_largest_abs_rel": 1e-9, "Q_forms": 1e-12, "rho_at_eta_star_minus_1": 1e-8,
              "p0_equals_sharpness_rel": 1e-12}
    for key, lim in limits.items():
        assert worst[key] <= lim, "brute-force check %s: %g > %g" % (key, worst[key], lim)
    return worst


# ---- PyTorch's own curvature: Lanczos on Hessian- and Gauss-Newton-vector products -----------

def lanczos_top(matvec, d, seed=0, max_iter=None, tol=1e-13):
    """Top eigenvalue of a symmetric PSD operator by Lanczos with full reorthogonalization (float64)."""
    g = torch.Generator().manual_seed(seed)
    q = torch.randn(d, generator=g, dtype=torch.float64)
    q /= q.norm()
    Q = [q]
    alphas, betas = [], []
    max_iter = max_iter or min(d, 300)
    for it in range(max_iter):
        w = matvec(Q[-1])
        a = float(w @ Q[-1])
        alphas.append(a)
        Qm = torch.stack(Q)
        for _ in range(2):
            w = w - Qm.t() @ (Qm @ w)
        b = float(w.norm())
        T = np.diag(alphas) + np.diag(betas, 1) + np.diag(betas, -1)
        if b <= tol * max(abs(x) for x in alphas) or it == max_iter - 1:
            break
        betas.append(b)
        Q.append(w / b)
    return float(np.linalg.eigvalsh(T)[-1]), len(alphas)


class FlatModel:
    """The module as a function of one flat float64 parameter vector (module.parameters() order)."""

    def __init__(self, model):
        try:
            from torch.func import functional_call
        except ImportError:
            from torch.nn.utils.stateless import functional_call
        self.call = functional_call
        self.model = model
        named = list(model.named_parameters())
        self.names = [nm for nm, _ in named]
        self.shapes = [p.shape for _, p in named]
        self.sizes = [p.numel() for _, p in named]
        self.w0 = torch.cat([p.detach().reshape(-1) for _, p in named]).to(torch.float64)

    def __call__(self, w, X):
        parts = torch.split(w, self.sizes)
        ps = {nm: t.reshape(sh) for nm, t, sh in zip(self.names, parts, self.shapes)}
        return self.call(self.model, ps, (X,))


def full_loss(out, Y, loss, c):
    if loss == "cross_entropy":
        return -(Y * torch.log_softmax(out, dim=1)).sum(1).mean()
    return c * ((out - Y) ** 2).sum(1).mean()


def torch_sharpness(model, X, Y, loss, c):
    """(Hessian Lanczos, GN Lanczos, iterations) on L(w) = (1/n) sum_i l_i(w)."""
    fm = FlatModel(model)
    n = X.shape[0]
    w = fm.w0.clone().requires_grad_(True)
    out = fm(w, X)
    grad = torch.autograd.grad(full_loss(out, Y, loss, c), w, create_graph=True)[0]

    def hvp(v):
        return torch.autograd.grad(grad, w, grad_outputs=v, retain_graph=True)[0].detach()

    out_d = out.detach()
    if loss == "cross_entropy":
        s = torch.softmax(out_d, dim=1)
        mass = Y.sum(1, keepdim=True)

        def apply_m(u):
            return mass * (s * u - s * (s * u).sum(1, keepdim=True))
    else:
        def apply_m(u):
            return 2 * c * u
    z = torch.zeros_like(out_d, requires_grad=True)
    jtz = torch.autograd.grad(out, w, grad_outputs=z, create_graph=True)[0]     # J^T z, linear in z

    def gnvp(v):
        jv = torch.autograd.grad(jtz, z, grad_outputs=v, retain_graph=True)[0]  # J v (n, k)
        return torch.autograd.grad(out, w, grad_outputs=apply_m(jv) / n, retain_graph=True)[0].detach()

    d = w.numel()
    lh, ih = lanczos_top(hvp, d, seed=1)
    lg, ig = lanczos_top(gnvp, d, seed=2)
    return lh, lg, ih, ig


# ---- the cases --------------------------------------------------------------------------------

def make_case(loss, n=12, hidden=4, inputs=784, k=4, seed=7, synthetic=False, train_steps=3000, lr=None,
              retarget=True):
    """A float64 MLP inputs -> hidden -> k trained by full-batch GD from PyTorch's default
    initialization (seed), then re-targeted so that the point is an exact minimum of the
    returned data: squared loss y_i := f(x_i) (residual zero), cross-entropy y_i :=
    softmax(f(x_i)) (soft targets; every per-sample gradient zero, the exact Hessian equals its
    Gauss-Newton part). Data: the first n/4 MNIST images of digits 0-3 (synthetic: seeded
    normal inputs). Returns (model, X, Y); model.train_info has the loss before re-targeting.
    retarget=False (cross-entropy only): one-hot training targets, returned as class indices (n,);
    the point is then not a minimum and the exact Hessian differs from the Gauss-Newton matrix."""
    if synthetic:
        g = torch.Generator().manual_seed(seed)
        X = torch.randn(n, inputs, generator=g, dtype=torch.float64)
        cls = torch.arange(n) % k
    else:
        Xn, _, cls_np, _ = ec.load_subset(per_class=n // 4)
        X, cls = torch.from_numpy(Xn), torch.from_numpy(cls_np)
    model = ec.mlp(inputs, hidden, k, seed)
    if loss == "cross_entropy" and not retarget:
        Y0 = torch.nn.functional.one_hot(cls, k).to(torch.float64)
        lr = lr or 0.1
    elif loss == "cross_entropy":
        Y0 = torch.full((n, k), 0.1 / (k - 1), dtype=torch.float64)
        Y0[torch.arange(n), cls] = 0.9
        lr = lr or 0.1
    else:
        Y0 = torch.nn.functional.one_hot(cls, k).to(torch.float64)
        lr = lr or 0.02
    ps = list(model.parameters())
    for _ in range(train_steps):
        L = full_loss(model(X), Y0, loss, 1.0)
        gs = torch.autograd.grad(L, ps)
        with torch.no_grad():
            for p_, g_ in zip(ps, gs):
                p_.sub_(lr * g_)
    with torch.no_grad():
        out = model(X)
        before = float(full_loss(out, Y0, loss, 1.0))
        if not retarget:
            model.train_info = {"train_steps": train_steps, "lr": lr, "loss": before, "retargeted": False}
            return model, X, cls.clone()
        if loss == "cross_entropy":
            before -= float(-(Y0 * torch.log(Y0)).sum(1).mean())  # excess over the entropy floor
            Y = torch.exp(torch.log_softmax(out, dim=1))
        else:
            Y = out.clone()
    model.train_info = {"train_steps": train_steps, "lr": lr, "loss_before_retarget": before, "retargeted": True}
    return model, X, Y


CASES = (  # name, loss (squared scale name or cross_entropy), re-targeted to an exact minimum
    ("mse_sum", "sum", True),
    ("mse_half_mean", "half_mean", True),
    ("cross_entropy", "cross_entropy", True),
    ("cross_entropy_onehot", "cross_entropy", False),
)


def run_case(name, loss, outdir, retarget=True, batches=(1, 2, 3, 4, 6, 8, 12), verbose=True):
    t0 = time.time()
    base = "cross_entropy" if loss == "cross_entropy" else "sum"
    model, X, Y = make_case(base, retarget=retarget)
    npz = os.path.join(outdir, name + ".npz")
    summ = ec.export_curvature(model, X, Y, npz, loss=loss)
    with np.load(npz) as z:
        J, M, G = z["jacobians"], z["output_hessian"], z["gradients"]
    n, k, d = J.shape
    c = summ["squared_scale"]
    l, Hs, info = range_basis(J, M)
    Yd = Y if Y.dim() == 2 else torch.nn.functional.one_hot(Y, k).to(torch.float64)
    lh, lg, ih, ig = torch_sharpness(model, X, Yd, base, c)
    case = {"name": name, "npz": name + ".npz", "loss": "cross_entropy" if loss == "cross_entropy" else "squared",
            "loss_name": loss, "squared_scale": c, "n": n, "k": k, "d": d,
            "output_hessian_shape": list(M.shape), **info,
            "sharpness": float(l[0]), "gd_threshold": float(2 / l[0]),
            "sharpness_hessian_lanczos": lh, "sharpness_gn_lanczos": lg,
            "lanczos_iterations_hessian": ih, "lanczos_iterations_gn": ig,
            "nonuniformity": nonuniformity(l, Hs),
            "minimum": bool(retarget), "gradient_max_norm": float(np.linalg.norm(G, axis=1).max()),
            "grad_mean_rel": summ["grad_mean_rel"], "mean_loss": summ["mean_loss"],
            "train": model.train_info, "batches": []}
    for b in batches:
        if b > n:
            continue
        p = p_of(n, b)
        g = generalized_sharpness(l, Hs, p)
        b15, b16 = bounds(l, Hs, p)
        case["batches"].append({"batch_size": b, "p": p, **g, "eta_star": 2 / g["generalized_sharpness"],
                                "bound15": b15, "bound16": b16})
    case["seconds"] = round(time.time() - t0, 2)
    if verbose:
        print("%s: n=%d k=%d d=%d rank=%d sharpness %.15g (Hessian Lanczos %.15g, GN Lanczos %.15g) "
              "lambda_gen(B=1) %.15g, %.1f s" % (name, n, k, d, info["rank"], l[0], lh, lg,
                                                 case["batches"][0]["generalized_sharpness"], case["seconds"]),
              file=sys.stderr)
    return case


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "testdata", "torch-oracle"))
    ap.add_argument("--check", action="store_true", help="run only the brute-force checks")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    worst = brute_force_checks(verbose=True)
    print("brute-force checks passed: %s" % json.dumps(worst), file=sys.stderr)
    if args.check:
        return
    os.makedirs(args.out, exist_ok=True)
    cases = [run_case(name, loss, args.out, retarget) for name, loss, retarget in CASES]
    ref = {"format": FORMAT, "generated_by": "scripts/curvature_oracle.py", "torch": torch.__version__,
           "numpy": np.__version__, "rank_tol": RANK_TOL, "bruteforce_worst": worst, "cases": cases}
    path = os.path.join(args.out, "reference.json")
    with open(path + ".tmp", "w") as f:
        json.dump(ref, f, indent=1)
        f.write("\n")
    os.replace(path + ".tmp", path)
    print("wrote %s" % path, file=sys.stderr)


if __name__ == "__main__":
    main()
