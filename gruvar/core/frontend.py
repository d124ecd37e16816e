"""What the two Flax front ends share: a layer's parameters with their initialisers, and the
stacking of layers. ``flax.linen`` (``gruvar.linen``) and ``flax.nnx`` (``gruvar.nnx``)
differ only in where the parameters live; this module imports neither.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp

from gruvar.core.gates import param_name
from gruvar.core.variants import Variant

Array = jax.Array
Initializer = Callable[..., Array]
inits = jax.nn.initializers  # flax.linen.initializers and flax.nnx.initializers are these


def param_inits(
    v: Variant,
    in_features: int,
    features: int,
    *,
    kernel_init: Initializer,
    recurrent_kernel_init: Initializer,
    candidate_recurrent_init: Initializer | None,
    bias_init: Initializer,
    peephole_init: Initializer,
    diagonal_init: Initializer,
    forget_bias: float,
) -> dict[str, tuple[tuple[int, ...], Initializer]]:
    """Each paper-named parameter of one layer: its shape and initialiser.

    W by ``kernel_init``; U and FGR's R by ``recurrent_kernel_init`` (the candidate's U by
    ``candidate_recurrent_init`` when given); u by ``diagonal_init``; V by ``peephole_init``;
    b by ``bias_init``, except an LSTM's forget-gate bias, ``forget_bias``; batch-norm gamma 1.
    ValueError for a non-positive ``features`` or an input width the family cannot take.
    """
    if features <= 0:
        raise ValueError(f"features must be positive, got {features}.")
    if v.family.fixed_form:
        v.family.check_input(in_features, features)
    forget_b = v.family.forget_gate and param_name("b", v.family.forget_gate)
    candidate_u = param_name("U", v.family.candidate)
    by_kind = {
        "W": kernel_init,
        "U": recurrent_kernel_init,
        "R": recurrent_kernel_init,
        "u": diagonal_init,
        "V": peephole_init,
        "b": bias_init,
        "gamma": inits.ones,
    }
    out = {}
    for name, shape in v.param_shapes(in_features, features).items():
        init = by_kind[name.split("_")[0]]
        if name == forget_b:
            init = inits.constant(forget_bias)
        if name == candidate_u and candidate_recurrent_init is not None:
            init = candidate_recurrent_init
        out[name] = (shape, init)
    return out


def stack(
    layers: Sequence[Sequence[Any]], x: Array, lengths: Array | None, **scan_kwargs: Any
) -> tuple[Array, tuple[Any, ...]]:
    """Runs x [batch, time, in] through ``layers``, each a list of one cell (forward) or two
    (forward, backward), anything with ``scan(x, lengths, reverse=..., **scan_kwargs)``.

    Returns (outputs [batch, time, features · directions], one final carry per layer, a
    (forward, backward) pair when bidirectional); layer l > 0 reads layer l - 1's outputs.
    """
    carries = []
    for cells in layers:
        runs = [
            cell.scan(x, lengths, reverse=d == 1, **scan_kwargs) for d, cell in enumerate(cells)
        ]
        ys, finals = zip(*runs, strict=True)
        x = ys[0] if len(ys) == 1 else jnp.concatenate(ys, axis=-1)
        carries.append(finals[0] if len(finals) == 1 else finals)
    return x, tuple(carries)


def final_hidden(v: Variant, carries: tuple[Any, ...], bidirectional: bool) -> Array:
    """The last layer's final hidden state [batch, features] (both directions concatenated)."""
    last = carries[-1]
    if bidirectional:
        return jnp.concatenate([v.family.hidden(last[0]), v.family.hidden(last[1])], axis=-1)
    return v.family.hidden(last)
