"""Recurrences linear in their state, run sequentially or in parallel over time.

When no part of a variant reads the previous state (no ``h``, ``d`` or ``c`` in any spec:
minGRU, minLSTM, or any such user spec), every gate and the candidate are functions of x_t
alone, computed for all steps before any loop, and the family's update is affine in its state:

    s_t = a_t ⊙ s_{t-1} + b_t        GRU: s = h, a = 1 - z, b = z ⊙ h~;  LSTM: s = c, a = f,
                                     b = i ⊙ c~, h_t = o_t ⊙ ψ(c_t) read out afterwards

Sequentially this is a ``jax.lax.scan`` of one multiply-add per step; in parallel,
``jax.lax.associative_scan`` of (a, b) pairs under (a₁, b₁)∘(a₂, b₂) = (a₁a₂, a₂b₁ + b₂),
O(log T) deep. On XLA:CPU the sequential scan wins at every length measured (DESIGN.md, "Linear
recurrences"); on a GPU the parallel one should.

Padding: a padded step has a = 1, b = 0, so it keeps the state; its output is 0. Reverse: the
scan runs from t = T-1 down to 0, so the padded steps come first and keep the initial state.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from gruvar.core.plan import ACTIVATIONS, Plan

Array = jax.Array


def run(
    plan: Plan,
    gates: dict[str, Any],
    cand: Array,
    valid: Array | None,
    lengths: Array | None,
    carry0: Any,
    reverse: bool,
    unroll: int,
    parallel: bool,
) -> tuple[Array, Any]:
    """(outputs [T, B, n], final carry) from all steps' gate values and activated candidate."""
    fam = plan.family
    if cand.shape[0] == 0:  # no steps: the initial carry, unchanged
        return jnp.zeros_like(cand), carry0
    a, b = fam.affine(gates, cand)
    a = jnp.broadcast_to(jnp.asarray(a, cand.dtype), cand.shape)
    if valid is not None:
        a, b = jnp.where(valid, a, 1), jnp.where(valid, b, 0)
    s0 = fam.state(carry0)
    states = (_parallel if parallel else _sequential)(a, b, s0, reverse, unroll)
    hs = fam.readout(gates, states, ACTIVATIONS[plan.out])
    s_last = states[0] if reverse else states[-1]
    if valid is not None:
        hs = jnp.where(valid, hs, 0)
    if not fam.has_cell:
        return hs, fam.pack(s_last, s_last)
    # h is a readout of s, not carried through padding: take it at each sequence's last valid
    # step (h_0 when the sequence is empty).
    time = cand.shape[0]
    if lengths is None:
        return hs, fam.pack(s_last, hs[0] if reverse else hs[-1])
    last = jnp.zeros_like(lengths) if reverse else jnp.maximum(lengths - 1, 0)
    h_last = jnp.take_along_axis(hs, last[None, :, None].clip(0, time - 1), axis=0)[0]
    h_last = jnp.where((lengths > 0)[:, None], h_last, fam.hidden(carry0))
    return hs, fam.pack(s_last, h_last)


def _sequential(a: Array, b: Array, s0: Array, reverse: bool, unroll: int) -> Array:
    """s_t for every t by one multiply-add per step."""

    def body(s, ab):
        s = ab[0] * s + ab[1]
        return s, s

    _, states = jax.lax.scan(body, s0, (a, b), reverse=reverse, unroll=unroll)
    return states


def _parallel(a: Array, b: Array, s0: Array, reverse: bool, unroll: int) -> Array:
    """s_t for every t by ``jax.lax.associative_scan``; s0 is folded into the first step."""
    del unroll
    first = -1 if reverse else 0
    b = b.at[first].add(a[first] * s0)

    def combine(earlier, later):
        (a1, b1), (a2, b2) = earlier, later
        return a1 * a2, a2 * b1 + b2

    _, states = jax.lax.associative_scan(combine, (a, b), reverse=reverse)
    return states
