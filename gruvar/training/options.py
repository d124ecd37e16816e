"""Model choices a config names by string: initialiser sets and gate nonlinearities.

Papers of different eras initialise and gate differently, and a fair comparison names what it
used (PAPERS.md §1.5, §3.3):

    init "flax"     W ~ lecun_normal, U orthogonal, b = 0              (flax's defaults)
    init "keras"    W ~ glorot_uniform, U orthogonal, b = 0            (Keras GRU/LSTM defaults,
                                                                        what Dey & Salem ran)
    init "uniform"  W, U ~ U(-0.1, 0.1), b = 0                         (librnn's ``irange: 0.1``)
    init "pylearn2" W, gate U ~ U(-0.1, 0.1), candidate U orthogonal,  (what ``irange: 0.1`` meant
                    b = 0                                               in Pylearn2's RNN layers,
                                                                        Chung et al.'s code)

    gate "sigmoid"       σ(a) = 1 / (1 + e^{-a})
    gate "hard_sigmoid"  clip(0.2 a + 0.5, 0, 1)                       (Keras ≤ 2.2's default)

Pylearn2's ``Recurrent`` layer (and the ``LSTM`` built on it) drew its hidden-to-hidden matrix
as the orthogonal factor of an SVD (``svd=True``, the default, which librnn's configs keep) and
used ``irange`` for every other weight (``pylearn2/sandbox/rnn/models/rnn.py`` in
lisa-lab/pylearn2; the GRU class of the branch librnn used was not seen).

Each set also gives the output head's kernel initialiser. Peepholes start at 0 in every set.
The objects are built once here, so models built twice from one config compare equal (and
jitted steps are not traced again).
"""

from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

Array = jax.Array


def symmetric_uniform(scale: float) -> nn.initializers.Initializer:
    """U(-scale, scale), the ``irange`` initialiser of Pylearn2 / librnn."""

    def init(key: Array, shape: tuple[int, ...], dtype: Any = jnp.float32) -> Array:
        return jax.random.uniform(key, shape, dtype, -scale, scale)

    return init


def hard_sigmoid(a: Array) -> Array:
    """clip(0.2 a + 0.5, 0, 1): Keras 1.x-2.2's default gate (not ``jax.nn.hard_sigmoid``,
    whose slope is 1/6)."""
    return jnp.clip(0.2 * a + 0.5, 0.0, 1.0)


_UNIFORM = symmetric_uniform(0.1)

# name -> (cell initialisers, the output head's kernel initialiser)
INITIALIZERS: dict[str, tuple[dict[str, Any], Any]] = {
    "flax": ({}, nn.initializers.lecun_normal()),
    "keras": (
        {
            "kernel_init": nn.initializers.glorot_uniform(),
            "recurrent_kernel_init": nn.initializers.orthogonal(),
            "bias_init": nn.initializers.zeros_init(),
        },
        nn.initializers.glorot_uniform(),
    ),
    "uniform": (
        {
            "kernel_init": _UNIFORM,
            "recurrent_kernel_init": _UNIFORM,
            "bias_init": nn.initializers.zeros_init(),
        },
        _UNIFORM,
    ),
    "pylearn2": (
        {
            "kernel_init": _UNIFORM,
            "recurrent_kernel_init": _UNIFORM,
            "candidate_recurrent_init": nn.initializers.orthogonal(),
            "bias_init": nn.initializers.zeros_init(),
        },
        _UNIFORM,
    ),
}

GATES = {"sigmoid": nn.sigmoid, "hard_sigmoid": hard_sigmoid}
