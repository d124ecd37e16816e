"""Numerics that could differ on an accelerator, at float32 tolerances (for accelerator.py).

- ``reference_error``: a variant's fused scan against tests/reference.py (float64 NumPy from
  the papers' equations, one step at a time), ragged lengths.
- ``step_path_error``: the fused scan against flax.linen.RNN over the same cell's one-step
  ``__call__``, values and gradients.
- ``sweep_vs_solo``: a K = 2 vmapped sweep against its two runs trained alone.

Each returns (max |difference|, whether every entry is within ``ATOL + RTOL * |expected|``).
Under JAX's default matmul precision (TF32 on NVIDIA GPUs since Ampere: inputs rounded to a
10-bit mantissa, ~1e-3 relative error per product) the first two are expected to fail, which
is one reason gruvar asks for float32 (benchmarks/README.md).
"""

import os
import sys
import tempfile
from pathlib import Path

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

import gruvar
from gruvar.training import sweep, train

ROOT = Path(__file__).resolve().parents[1]
ATOL, RTOL = 1e-5, 1e-4


def _compare(actual, expected) -> tuple[float, bool]:
    pairs = list(zip(jax.tree.leaves(actual), jax.tree.leaves(expected), strict=True))
    a = np.concatenate([np.ravel(np.asarray(x, np.float64)) for x, _ in pairs])
    b = np.concatenate([np.ravel(np.asarray(y, np.float64)) for _, y in pairs])
    return float(np.max(np.abs(a - b), initial=0.0)), bool(np.allclose(a, b, RTOL, ATOL))


def _inputs(variant: str, shape: tuple[int, int, int, int], seed: int = 0):
    """A cell, random paper-named parameters (biases and peepholes non-zero so their terms
    count), inputs x [B, T, M] and ragged lengths from T down to 1."""
    batch, time, inputs, features = shape
    cell = gruvar.make(variant, features)
    x0 = jnp.zeros((1, inputs))
    params = cell.init(jax.random.key(seed), cell.initialize_carry(None, x0.shape), x0)["params"]
    rng = np.random.default_rng(seed)
    params = {
        k: v + 0.5 * rng.standard_normal(v.shape).astype(np.float32) if k[0] in "bV" else v
        for k, v in params.items()
    }
    x = rng.standard_normal((batch, time, inputs)).astype(np.float32)
    lengths = np.linspace(time, 1, batch).astype(np.int32)
    return cell, params, x, lengths


def reference_error(variant: str, shape: tuple[int, int, int, int]) -> tuple[float, bool]:
    """Outputs and final carry of the fused scan against the NumPy reference."""
    if str(ROOT / "tests") not in sys.path:
        sys.path.insert(0, str(ROOT / "tests"))
    import reference

    cell, params, x, lengths = _inputs(variant, shape)
    scan = jax.jit(lambda p, x, n: cell.apply({"params": p}, x, n, method="scan"))
    ys, carry = scan(params, x, lengths)
    family = gruvar.VARIANTS[variant].family.name
    return _compare((ys, carry), reference.run(family, params, x, lengths))


def step_path_error(variant: str, shape: tuple[int, int, int, int]) -> tuple[float, bool]:
    """Loss, outputs, final carry and gradients of the fused scan against flax.linen.RNN over
    the cell's step; padded outputs are zeroed for both (flax leaves them as they fall)."""
    cell, params, x, lengths = _inputs(variant, shape)
    valid = (np.arange(x.shape[1])[None, :] < lengths[:, None])[..., None]
    slow = nn.RNN(cell, return_carry=True)

    def fast_out(p):
        return cell.apply({"params": p}, x, lengths, method="scan")

    def slow_out(p):
        carry, ys = slow.apply({"params": {"cell": p}}, x, seq_lengths=lengths)
        return ys, carry

    def loss(out_fn):
        def f(p):
            ys, carry = out_fn(p)
            ys = jnp.where(valid, ys, 0)
            value = jnp.sum(jnp.sin(ys)) + sum(jnp.sum(c**2) for c in jax.tree.leaves(carry))
            return value, (ys, carry)

        return jax.jit(jax.value_and_grad(f, has_aux=True))

    return _compare(loss(fast_out)(params), loss(slow_out)(params))


def sweep_vs_solo(config) -> tuple[float, bool]:
    """``config`` (one run) trained as a K = 2 sweep over seeds 0 and 1, and as each seed
    alone: the final and best metrics of each pair (summary.json) must agree."""
    swept = config.copy_and_resolve_references()
    swept.sweep.seeds = (0, 1)
    worst, ok = 0.0, True
    with tempfile.TemporaryDirectory() as workdir:
        summaries = sweep.train_and_evaluate(swept, os.path.join(workdir, "sweep"))
        for seed, swept_summary in zip((0, 1), summaries, strict=True):
            alone = config.copy_and_resolve_references()
            alone.seed = seed
            summary = train.train_and_evaluate(alone, os.path.join(workdir, f"seed{seed}"))
            err, close = _compare(_metrics(swept_summary), _metrics(summary))
            worst, ok = max(worst, err), ok and close
    return worst, ok


def _metrics(summary: dict) -> list[float]:
    """The numbers of a summary's final and best metrics, in a fixed order."""
    tree = {"final": summary["final"], "best": summary["best"]}
    return [v for _, v in sorted(_leaves(tree)) if isinstance(v, float | int)]


def _leaves(tree, prefix=""):
    if isinstance(tree, dict):
        for key, value in tree.items():
            yield from _leaves(value, f"{prefix}/{key}")
    else:
        yield prefix, tree
