import sys
from pathlib import Path

import jax
import numpy as np
import pytest

# The NumPy reference lives beside the tests.
sys.path.insert(0, str(Path(__file__).parent))

import gruvar

ALL_VARIANTS = sorted(gruvar.VARIANTS)


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
