#!/usr/bin/env python3
"""Tests of export_curvature.py and curvature_oracle.py (plain unittest).

    python3 scripts/test_export_curvature.py [-v]

Needs Debian's python3-torch and python3-numpy; if the python3 on PATH cannot import them the file
re-executes itself with /usr/bin/python3, and if that cannot either every test is skipped with a
message saying what to install.
"""

import io
import json
import os
import subprocess
import sys
import tempfile
import unittest
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import _torchenv  # noqa: E402

if __name__ == "__main__" and not _torchenv.torch_importable():
    _torchenv.reexec_with_debian_python()

if _torchenv.torch_importable():
    import numpy as np
    import torch
    import curvature_oracle as co
    import export_curvature as ec
    torch.set_num_threads(1)
    SKIP = None
else:
    SKIP = "PyTorch/NumPy not importable by %s: %s" % (sys.executable, _torchenv.INSTALL_HINT)


def tiny_net(inp=3, hidden=4, out=2, seed=0, act=None):
    torch.manual_seed(seed)
    act = act or torch.nn.Tanh()
    return torch.nn.Sequential(torch.nn.Linear(inp, hidden), act, torch.nn.Linear(hidden, out)).double()


def flat_params(model):
    return torch.cat([p.detach().reshape(-1) for p in model.parameters()])


def per_sample_loss_fn(model, x, y, loss, c):
    fm = co.FlatModel(model)

    def f(w):
        out = fm(w, x.unsqueeze(0)).reshape(-1)
        if loss == "cross_entropy":
            return -(y * torch.log_softmax(out, 0)).sum()
        return c * ((out - y) ** 2).sum()
    return f


@unittest.skipIf(SKIP, SKIP)
class TestExporter(unittest.TestCase):
    def setUp(self):
        g = torch.Generator().manual_seed(5)
        self.X = torch.randn(7, 3, generator=g, dtype=torch.float64)
        self.model = tiny_net()
        with torch.no_grad():
            self.Yfit = self.model(self.X).clone()  # interpolating targets: residual zero
        self.Y = torch.randn(7, 2, generator=g, dtype=torch.float64)

    def test_jacobians_vs_finite_differences_and_autograd(self):
        arr = ec.compute_curvature(self.model, self.X, self.Y, loss="sum")
        J = arr["jacobians"]
        n, k, d = J.shape
        self.assertEqual((n, k, d), (7, 2, sum(p.numel() for p in self.model.parameters())))
        fm = co.FlatModel(self.model)
        w0 = fm.w0
        eps = 1e-6
        fd = np.empty((n, k, d))
        for a in range(d):
            e = torch.zeros(d, dtype=torch.float64)
            e[a] = eps
            with torch.no_grad():
                fd[:, :, a] = ((fm(w0 + e, self.X) - fm(w0 - e, self.X)) / (2 * eps)).numpy()
        self.assertLess(np.abs(J - fd).max(), 1e-8 * max(1.0, np.abs(J).max()))
        full = torch.autograd.functional.jacobian(lambda w: fm(w, self.X), w0).numpy()  # (n, k, d)
        self.assertLess(np.abs(J - full).max(), 1e-14)
        loop = ec.compute_curvature(self.model, self.X, self.Y, loss="sum", method="loop")
        self.assertLess(np.abs(loop["jacobians"] - J).max(), 1e-14)

    def test_parameter_order_is_module_parameters(self):
        arr = ec.compute_curvature(self.model, self.X, self.Y, loss="sum")
        # output j of sample i depends on the last layer's bias b2[j] with derivative 1
        d = arr["jacobians"].shape[2]
        np.testing.assert_array_equal(arr["jacobians"][:, :, d - 2:], np.broadcast_to(np.eye(2), (7, 2, 2)))
        # the first d_W1 = 12 coordinates are W1 row-major: d f_j / d W1[a, b] = W2[j, a] tanh'(z_a) x_b
        W1, b1, W2, _ = [p.detach() for p in self.model.parameters()]
        z = self.X @ W1.T + b1
        want = torch.einsum("ja,ia,ib->ijab", W2, 1 - torch.tanh(z) ** 2, self.X).reshape(7, 2, 12)
        self.assertLess(np.abs(arr["jacobians"][:, :, :12] - want.numpy()).max(), 1e-15)

    def test_squared_hessians_at_interpolation(self):
        for loss, cwant in (("sum", 1.0), ("mean", 0.5), ("mse", 0.5), ("half_sum", 0.5), ("half_mean", 0.25)):
            arr = ec.compute_curvature(self.model, self.X, self.Yfit, loss=loss)
            M = arr["output_hessian"]
            np.testing.assert_array_equal(M, 2 * cwant * np.eye(2))
            self.assertLess(np.abs(arr["gradients"]).max(), 1e-14)
            w0 = flat_params(self.model)
            for i in range(7):
                Hi = torch.autograd.functional.hessian(
                    per_sample_loss_fn(self.model, self.X[i], self.Yfit[i], loss, cwant), w0).numpy()
                Gi = arr["jacobians"][i].T @ M @ arr["jacobians"][i]
                self.assertLess(np.abs(Hi - Gi).max(), 1e-13 * np.abs(Hi).max(), (loss, i))
        arr = ec.compute_curvature(self.model, self.X, self.Yfit, loss="sum", squared_scale_c=0.3)
        np.testing.assert_array_equal(arr["output_hessian"], 0.6 * np.eye(2))

    def test_gradients_vs_autograd(self):
        w0 = flat_params(self.model)
        g = torch.Generator().manual_seed(9)
        hard = torch.randint(0, 2, (7,), generator=g)
        soft = torch.softmax(torch.randn(7, 2, generator=g, dtype=torch.float64), 1)
        for loss, Y, Yd in (("sum", self.Y, self.Y), ("half_mean", self.Y, self.Y),
                            ("cross_entropy", hard, torch.nn.functional.one_hot(hard, 2).double()),
                            ("cross_entropy", soft, soft), ("cross_entropy", 1.5 * soft, 1.5 * soft)):
            arr = ec.compute_curvature(self.model, self.X, Y, loss=loss)
            c = ec.squared_scale(loss, 2) if loss != "cross_entropy" else None
            for i in range(7):
                want = torch.autograd.functional.jacobian(per_sample_loss_fn(self.model, self.X[i], Yd[i], loss, c), w0)
                self.assertLess(np.abs(arr["gradients"][i] - want.numpy()).max(), 1e-14, (loss, i))
                # output gradient q_i = dl_i/df by autograd in the outputs, and g_i = J_i^T q_i
                with torch.no_grad():
                    out = self.model(self.X[i:i + 1]).reshape(-1)
                if loss == "cross_entropy":
                    lf = lambda f, y=Yd[i]: -(y * torch.log_softmax(f, 0)).sum()  # noqa: E731
                else:
                    lf = lambda f, y=Yd[i]: c * ((f - y) ** 2).sum()  # noqa: E731
                q = torch.autograd.functional.jacobian(lf, out).numpy()
                self.assertLess(np.abs(arr["output_gradients"][i] - q).max(), 1e-14, (loss, i))
                self.assertLess(np.abs(arr["jacobians"][i].T @ arr["output_gradients"][i] - arr["gradients"][i]).max(), 1e-14, (loss, i))

    def test_cross_entropy_output_hessians(self):
        g = torch.Generator().manual_seed(11)
        hard = torch.randint(0, 2, (7,), generator=g)
        soft = torch.softmax(torch.randn(7, 2, generator=g, dtype=torch.float64), 1) * 1.5
        for Y, Yd in ((hard, torch.nn.functional.one_hot(hard, 2).double()), (soft, soft)):
            arr = ec.compute_curvature(self.model, self.X, Y, loss="cross_entropy")
            M = arr["output_hessian"]
            self.assertEqual(M.shape, (7, 2, 2))
            with torch.no_grad():
                out = self.model(self.X)
            for i in range(7):
                Hz = torch.autograd.functional.hessian(lambda z: -(Yd[i] * torch.log_softmax(z, 0)).sum(), out[i])
                self.assertLess(np.abs(M[i] - Hz.numpy()).max(), 1e-15)
                s = torch.softmax(out[i], 0).numpy()
                np.testing.assert_allclose(M[i], Yd[i].sum().item() * (np.diag(s) - np.outer(s, s)), atol=1e-16)
                self.assertGreaterEqual(np.linalg.eigvalsh(M[i]).min(), -1e-15)

    def test_cross_entropy_gn_at_soft_minimum_is_exact_hessian(self):
        with torch.no_grad():
            Ysoft = torch.softmax(self.model(self.X), 1)
        arr = ec.compute_curvature(self.model, self.X, Ysoft, loss="cross_entropy")
        self.assertLess(np.abs(arr["gradients"]).max(), 1e-14)
        w0 = flat_params(self.model)
        for i in range(7):
            Hi = torch.autograd.functional.hessian(
                per_sample_loss_fn(self.model, self.X[i], Ysoft[i], "cross_entropy", None), w0).numpy()
            Gi = arr["jacobians"][i].T @ arr["output_hessian"][i] @ arr["jacobians"][i]
            self.assertLess(np.abs(Hi - Gi).max(), 1e-13 * np.abs(Hi).max())

    def _export(self, path, **kw):
        kw.setdefault("loss", "sum")
        return ec.export_curvature(self.model, self.X, kw.pop("Y", self.Y), path, **kw)

    def test_npz_contract(self):
        with tempfile.TemporaryDirectory() as tmp:
            p = os.path.join(tmp, "a.npz")
            s = self._export(p)
            with zipfile.ZipFile(p) as zf:
                self.assertEqual(zf.namelist(), ["jacobians.npy", "output_hessian.npy", "gradients.npy",
                                                 "output_gradients.npy"])
                self.assertTrue(all(i.compress_type == zipfile.ZIP_STORED for i in zf.infolist()))
                self.assertIsNone(zf.testzip())
                for name in zf.namelist():
                    with zf.open(name) as f:
                        self.assertEqual(np.lib.format.read_magic(f), (1, 0))
                        shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
                        self.assertFalse(fortran)
                        self.assertEqual(dtype, np.dtype("<f8"))
            with np.load(p) as z:
                self.assertEqual(z["jacobians"].shape, (7, 2, s["d"]))
                self.assertEqual(z["output_hessian"].shape, (2, 2))
                self.assertEqual(z["gradients"].shape, (7, s["d"]))
                self.assertEqual(z["output_gradients"].shape, (7, 2))
                # the chain rule that the analysis' projection relies on: g_i = J_i^T q_i
                g = np.einsum("ikd,ik->id", z["jacobians"], z["output_gradients"])
                self.assertLess(np.abs(g - z["gradients"]).max(), 1e-15 * (1 + np.abs(g).max()))
                self.assertTrue(z["jacobians"].flags.c_contiguous)
            self.assertEqual((s["n"], s["k"], s["loss"], s["squared_scale"]), (7, 2, "sum", 1.0))
            self._export(p, batch_size=3, eta=0.25)
            with np.load(p) as z:
                self.assertEqual(sorted(z.files), ["batch_size", "eta", "gradients", "jacobians", "output_gradients",
                                                   "output_hessian"])
                self.assertEqual((z["batch_size"].shape, z["batch_size"].dtype, int(z["batch_size"])), ((), np.int64, 3))
                self.assertEqual((z["eta"].shape, z["eta"].dtype, float(z["eta"])), ((), np.float64, 0.25))
            self._export(p, loss="cross_entropy", Y=torch.tensor([0, 1, 1, 0, 1, 0, 0]))
            with np.load(p) as z:
                self.assertEqual(z["output_hessian"].shape, (7, 2, 2))
                self.assertEqual(z["output_hessian"].dtype, np.float64)
            for bad in (dict(loss="l1"), dict(batch_size=8), dict(batch_size=0), dict(eta=-1.0), dict(eta=float("nan")),
                        dict(Y=self.Y[:3])):
                with self.assertRaises(ValueError, msg=str(bad)):
                    self._export(os.path.join(tmp, "bad.npz"), **bad)
            self.assertFalse(os.path.exists(os.path.join(tmp, "bad.npz")))
            self.assertFalse(os.path.exists(os.path.join(tmp, "bad.npz.tmp")))

    def test_float32_model(self):
        m32 = tiny_net().float()
        arr = ec.compute_curvature(m32, self.X, self.Y.float(), loss="sum")  # float64 inputs are cast
        ref = ec.compute_curvature(self.model, self.X, self.Y, loss="sum")
        self.assertEqual(arr["jacobians"].dtype, np.float64)
        self.assertLess(np.abs(arr["jacobians"] - ref["jacobians"]).max(), 1e-5)

    def test_chunked_equals_unchunked_bit_for_bit(self):
        model = tiny_net(inp=5, hidden=6, out=3, seed=2, act=torch.nn.ReLU())
        g = torch.Generator().manual_seed(3)
        X = torch.randn(11, 5, generator=g, dtype=torch.float64)
        hard = torch.randint(0, 3, (11,), generator=g)
        Y = torch.randn(11, 3, generator=g, dtype=torch.float64)
        with tempfile.TemporaryDirectory() as tmp:
            for loss, T in (("sum", Y), ("cross_entropy", hard)):
                for vb in (1, 4):
                    mem = ec.compute_curvature(model, X, T, loss=loss, vmap_batch=vb)
                    blobs = []
                    for chunk in (1, 3, 4, 5, 11, 100):
                        p = os.path.join(tmp, "c%d.npz" % chunk)
                        ec.export_curvature(model, X, T, p, loss=loss, chunk=chunk, vmap_batch=vb)
                        with zipfile.ZipFile(p) as zf:
                            blobs.append({nm: zf.read(nm) for nm in zf.namelist()})
                        with np.load(p) as z:
                            for key in ("jacobians", "output_hessian", "gradients", "output_gradients"):
                                self.assertTrue(np.array_equal(z[key], mem[key]), (loss, vb, chunk, key))
                    for b in blobs[1:]:
                        self.assertEqual(b, blobs[0], (loss, vb))
                    if vb == 1:
                        one = mem
                    else:  # grouping changes the last bits only
                        self.assertLess(np.abs(mem["jacobians"] - one["jacobians"]).max(), 1e-13)

    def test_sgd_step_matches_autograd(self):
        model = ec.mlp(6, 5, 4, seed=4)
        g = torch.Generator().manual_seed(4)
        X = torch.rand(8, 6, generator=g, dtype=torch.float64)
        Y = torch.eye(4, dtype=torch.float64)[torch.arange(8) % 4]
        ref = [p.detach().clone() for p in model.parameters()]
        L = 0.7 * ((model(X) - Y) ** 2).sum() / 8
        grads = torch.autograd.grad(L, list(model.parameters()))
        with torch.no_grad():
            ec.sgd_step([p.data for p in model.parameters()], X, Y, 0.1, c=0.7)
        for p, r, gr in zip(model.parameters(), ref, grads):
            self.assertLess((p.detach() - (r - 0.1 * gr)).abs().max().item(), 1e-15)

    def test_cli_from(self):
        with tempfile.TemporaryDirectory() as tmp:
            src = os.path.join(tmp, "mine.py")
            with open(src, "w") as f:
                f.write("import torch\n"
                        "def build():\n"
                        "    torch.manual_seed(0)\n"
                        "    m = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 3)).double()\n"
                        "    x = torch.randn(6, 3, dtype=torch.float64)\n"
                        "    return m, x, torch.tensor([0, 1, 2, 0, 1, 2])\n")
            out = os.path.join(tmp, "mine.npz")
            r = subprocess.run([sys.executable, os.path.join(HERE, "export_curvature.py"), "--from", src + ":build",
                                "--loss", "cross_entropy", "--batch-size", "2", "-o", out],
                               capture_output=True, text=True, timeout=300)
            self.assertEqual(r.returncode, 0, r.stderr)
            summ = json.loads(r.stdout)
            self.assertEqual((summ["n"], summ["k"], summ["d"]), (6, 3, 31))
            with np.load(out) as z:
                self.assertEqual(z["output_hessian"].shape, (6, 3, 3))
                self.assertEqual(int(z["batch_size"]), 2)
            r = subprocess.run([sys.executable, os.path.join(HERE, "export_curvature.py"), "--from", src + ":build",
                                "--loss", "sum", "-o", out], capture_output=True, text=True, timeout=300)
            self.assertEqual(r.returncode, 1)
            self.assertEqual(len(r.stderr.strip().splitlines()), 1, r.stderr)


@unittest.skipIf(SKIP, SKIP)
class TestOracle(unittest.TestCase):
    def test_brute_force(self):
        worst = co.brute_force_checks()
        self.assertLess(worst["lambda_gen_vs_bruteforce_rel"], 1e-9)
        self.assertLess(worst["p0_equals_sharpness_rel"], 1e-12)

    def test_lanczos_known_spectrum(self):
        g = torch.Generator().manual_seed(0)
        Q, _ = torch.linalg.qr(torch.randn(50, 50, generator=g, dtype=torch.float64))
        ev = torch.zeros(50, dtype=torch.float64)
        ev[:8] = torch.tensor([9.0, 7, 5, 3, 2, 1, 0.5, 0.1], dtype=torch.float64)
        A = Q @ torch.diag(ev) @ Q.T
        top, it = co.lanczos_top(lambda v: A @ v, 50)
        self.assertLess(abs(top - 9.0), 1e-12)
        self.assertLessEqual(it, 10)

    def test_torch_sharpness_equals_factors(self):
        for loss in ("sum", "cross_entropy"):
            model, X, Y = co.make_case(loss, n=6, hidden=3, inputs=10, k=3, seed=1, synthetic=True, train_steps=500)
            arr = ec.compute_curvature(model, X, Y, loss=loss)
            l, Hs, info = co.range_basis(arr["jacobians"], arr["output_hessian"])
            lh, lg, _, _ = co.torch_sharpness(model, X, Y, loss, 1.0)
            self.assertLess(abs(lh - l[0]) / l[0], 1e-10, loss)
            self.assertLess(abs(lg - l[0]) / l[0], 1e-10, loss)
            g1 = co.generalized_sharpness(l, Hs, co.p_of(6, 6))["generalized_sharpness"]
            self.assertLess(abs(g1 - l[0]) / l[0], 1e-12)
            prev = np.inf
            for b in range(1, 7):  # Prop. 1: non-increasing in B
                gb = co.generalized_sharpness(l, Hs, co.p_of(6, b))["generalized_sharpness"]
                self.assertLessEqual(gb, prev * (1 + 1e-12))
                prev = gb

    def test_reference_file(self):
        path = os.path.join(HERE, "testdata", "torch-oracle", "reference.json")
        if not os.path.exists(path):
            self.skipTest("no %s (run scripts/curvature_oracle.py)" % path)
        with open(path) as f:
            ref = json.load(f)
        self.assertEqual(ref["format"], co.FORMAT)
        for case in ref["cases"]:
            with np.load(os.path.join(os.path.dirname(path), case["npz"])) as z:
                l, Hs, info = co.range_basis(z["jacobians"], z["output_hessian"])
            self.assertEqual(info["rank"], case["rank"])
            self.assertLess(abs(l[0] - case["sharpness"]) / l[0], 1e-12)
            keys = ("sharpness_hessian_lanczos", "sharpness_gn_lanczos") if case["minimum"] else ("sharpness_gn_lanczos",)
            for key in keys:
                self.assertLess(abs(case[key] - case["sharpness"]) / case["sharpness"], 1e-10, (case["name"], key))
            last = case["batches"][-1]
            self.assertEqual(last["batch_size"], case["n"])
            self.assertLess(abs(last["generalized_sharpness"] - case["sharpness"]) / case["sharpness"], 1e-12)
            b1 = case["batches"][0]
            g = co.generalized_sharpness(l, Hs, b1["p"], full_space=False)["generalized_sharpness"]
            self.assertLess(abs(g - b1["generalized_sharpness"]) / g, 1e-12)


if __name__ == "__main__":
    if SKIP:
        print("test_export_curvature.py: skipping every test: " + SKIP, file=sys.stderr)
    unittest.main()
