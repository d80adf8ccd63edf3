#!/usr/bin/env python3
"""Tests of bench-pytorch.py (plain unittest): the two timed step forms compute the same SGD step.

    python3 scripts/test_bench_pytorch.py [-v]

Skipped, with a message, when torch is missing (re-executes with /usr/bin/python3 first).
"""

import importlib.util
import os
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import _torchenv  # noqa: E402

if __name__ == "__main__" and not _torchenv.torch_importable():
    _torchenv.reexec_with_debian_python()

HAVE_TORCH = _torchenv.torch_importable()
if HAVE_TORCH:
    import torch
    spec = importlib.util.spec_from_file_location("bench_pytorch", os.path.join(HERE, "bench-pytorch.py"))
    bp = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bp)


def synthetic(n=16, d=30, k=4, seed=3):
    """Sparse non-negative inputs (half the pixels zero, like MNIST) and one-hot targets."""
    g = torch.Generator().manual_seed(seed)
    X = torch.rand(n, d, generator=g)
    X[X < 0.5] = 0
    Y = torch.eye(k)[torch.randint(k, (n,), generator=g)]
    return X, Y


@unittest.skipUnless(HAVE_TORCH, "PyTorch/NumPy missing: " + _torchenv.INSTALL_HINT)
class TestSteps(unittest.TestCase):
    def test_autograd_equals_handwritten(self):
        X, Y = synthetic()
        for b in (1, 5, 16):
            self.assertLess(bp.steps_agree(X, Y, hidden=7, batch=b, steps=4), 1e-12)

    def test_step_matches_finite_differences(self):
        # The autograd step moves the parameters by -lr * grad of (1/B) sum ||f - y||^2; the
        # gradient along one coordinate against a central difference of that loss (float64).
        X, Y = synthetic()
        bench = bp.Bench("handwritten", X.double(), Y.double(), 5, 4, 0.1, 2)
        bench.model.double()
        bench.params = [p.data for p in bench.model.parameters()]
        idx = bench.pool[0]
        xb, yb = X.double()[idx], Y.double()[idx]
        W1 = bench.params[0]
        i, j = 2, int(torch.nonzero(xb[0])[0])

        def loss():
            with torch.no_grad():
                return float(((bench.model(xb) - yb) ** 2).sum()) / xb.shape[0]
        eps, w0 = 1e-6, float(W1[i, j])
        W1[i, j] = w0 + eps
        lp = loss()
        W1[i, j] = w0 - eps
        lm = loss()
        W1[i, j] = w0
        fd = (lp - lm) / (2 * eps)
        bench.step(xb, yb)
        self.assertAlmostEqual((w0 - float(W1[i, j])) / 0.1, fd, delta=1e-6 * max(1.0, abs(fd)))
        self.assertNotEqual(fd, 0.0)

    def test_epochs_counts_steps(self):
        X, Y = synthetic()
        for impl in bp.IMPLS:
            bench = bp.Bench(impl, X, Y, 6, 3, 0.01, 0)
            self.assertEqual(bench.epochs(2), 2 * (16 // 3))

    def test_dtype(self):
        # --dtype float64 times steps in the Go trainer's precision: parameters and steps in float64
        X, Y = synthetic()
        for name, dt in bp.DTYPES.items():
            bench = bp.Bench("handwritten", X.to(dt), Y.to(dt), 6, 3, 0.01, 0, dt)
            self.assertTrue(all(p.dtype == dt for p in bench.model.parameters()), name)
            self.assertEqual(bench.epochs(1), 16 // 3)
            self.assertTrue(all(p.dtype == dt for p in bench.model.parameters()), name)
        with self.assertRaises(SystemExit):
            bp.main(["--dtype", "float16"])

    def test_bad_input(self):
        X, Y = synthetic()
        with self.assertRaises(ValueError):
            bp.Bench("adam", X, Y, 6, 3, 0.01, 0)
        with self.assertRaises(ValueError):
            bp.Bench("autograd", X, Y, 6, 17, 0.01, 0)
        with self.assertRaises(SystemExit):
            bp.parse_list("1,x", "batch")
        with self.assertRaises(SystemExit):
            bp.parse_list("0", "batch")


if __name__ == "__main__":
    unittest.main()
