import sys
from pathlib import Path

import jax
import numpy as np
import pytest

# The NumPy reference lives beside the tests.
sys.path.insert(0, str(Path(__file__).parent))

import gruvar

ALL_VARIANTS = sorted(gruvar.VARIANTS)


def in_width(variant, m, n):
    """m, or n for a variant that adds its input unweighted to n-vectors (MUT1, MUT2)."""
    return n if getattr(gruvar.core.variants.get(variant).family, "needs_square", False) else m


def _classic(name):
    """A variant tests/reference.py implements: gates of x, h, c, b terms, tanh throughout."""
    plan = gruvar.core.variants.get(name).plan
    return not (
        plan.own_step
        or plan.diag
        or plan.fixed
        or plan.coupled
        or plan.norm
        or plan.batch_norm
        or (plan.act, plan.out) != ("tanh", "tanh")
        or plan.family.name == "ligru"
    )


# The zoo's other variants are checked against tests/reference_zoo.py (tests/test_zoo.py).
CLASSIC_VARIANTS = [v for v in ALL_VARIANTS if _classic(v)]


def init_params(variant, in_features, features, seed=0, bias_scale=0.5):
    """Random paper-named parameters for one layer; biases and peepholes (which start at 0)
    made non-zero so their terms matter."""
    cell = gruvar.make(variant, features)
    x = np.zeros((1, in_features), np.float32)
    params = cell.init(jax.random.key(seed), cell.initialize_carry(None, x.shape), x)["params"]
    rng = np.random.default_rng(seed)
    return {
        k: (v + bias_scale * rng.standard_normal(v.shape).astype(np.float32))
        if k.startswith(("b", "V"))
        else v
        for k, v in params.items()
    }


@pytest.fixture
def rng():
    return np.random.default_rng(1234)
