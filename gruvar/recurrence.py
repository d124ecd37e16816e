"""The scan driver: one fast recurrence for every cell variant.

For a sequence x [B, T, m] and a variant with n units the work is split by what it depends on:

1. Terms that read only x_t: W_g x_t + b_g for every gate g that uses x, and the
   candidate's, for all T steps at once in one matmul [T·B, m] @ [m, k·n], before the loop.
2. Terms that read h_{t-1}: inside ``jax.lax.scan``, the recurrent kernels U_g of all gates
   that use h (and the candidate's, where it reads h directly) fused into one matmul
   h_{t-1} @ [n, j·n]; a reset-before candidate needs a second, U_h (r_t ⊙ h_{t-1}).
3. Gates that use only a bias are constants, σ(b_g), computed once outside the loop.

Variable lengths: step t of sequence b is valid when t < lengths[b]. Past its end a sequence
keeps its carry (so the final carry is the last valid state) and outputs zeros. The reverse
direction scans from t = T-1 down to 0; the padded steps come first and keep the initial
carry, so each sequence is reversed within its own length.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import jax
import jax.numpy as jnp

from gruvar.gates import param_name

if TYPE_CHECKING:
    from gruvar.cells import Variant

Array = jax.Array
GateFn = Callable[[Array], Array]


@functools.lru_cache(maxsize=None)
def plan(variant: Variant) -> dict[str, tuple[str, ...]]:
    """Which terms go where, in the fused layouts used by ``fuse`` and ``step``.

    x_terms: gates (then the candidate) whose W x_t + b is precomputed for all steps;
    h_terms: gates (then the candidate, when it reads h directly) fused into U_1;
    h_bias: gates with h and a bias but no x term (the bias is added inside the loop);
    constant: bias-only gates.
    """
    fam = variant.family
    specs = dict(variant.specs)
    direct = fam.candidate_mode in ("direct", "after")
    return {
        "x_terms": (*(g for g in fam.gates if specs[g].x), fam.candidate),
        "h_terms": (*(g for g in fam.gates if specs[g].h), *((fam.candidate,) if direct else ())),
        "h_bias": tuple(g for g in fam.gates if specs[g].b and specs[g].h and not specs[g].x),
        "constant": tuple(g for g in fam.gates if specs[g].constant),
    }


def fuse(variant: Variant, gate_fn: GateFn, params: dict[str, Array]) -> dict[str, Array]:
    """Concatenates the paper-named parameters into the layouts the loop uses.

    Returns ``W_x`` [m, k·n] and ``b_x`` [k·n] for the x terms, ``U_1`` [n, j·n] for the fused
    recurrent terms, ``U_2`` [n, n] for a reset-before candidate, the in-loop biases ``b_<g>``,
    ``b_U`` for a reset-after candidate, and the constant gates' values ``g_<g>`` = σ(b_g).
    """
    p = plan(variant)
    fam = variant.family
    c = fam.candidate
    bias_x = [
        params.get(param_name("b", t), jnp.zeros_like(params[param_name("b", c)])) for t in p["x_terms"]
    ]
    fused = {
        "W_x": jnp.concatenate([params[param_name("W", t)] for t in p["x_terms"]], axis=1),
        "b_x": jnp.concatenate(bias_x),
    }
    if p["h_terms"]:
        fused["U_1"] = jnp.concatenate([params[param_name("U", t)] for t in p["h_terms"]], axis=1)
    if fam.candidate_mode == "before":
        fused["U_2"] = params[param_name("U", c)]
    if fam.candidate_mode == "after":
        fused["b_U"] = params[param_name("b", "U" + c)]
    for g in p["h_bias"]:
        fused[f"b_{g}"] = params[f"b_{g}"]
    for g in p["constant"]:
        fused[f"g_{g}"] = gate_fn(params[f"b_{g}"])
    return fused


def project(fused: dict[str, Array], x: Array) -> Array:
    """W_x x + b_x for every step at once: x [..., m] -> [..., k·n]."""
    return x @ fused["W_x"] + fused["b_x"]


def recurrent_step(
    variant: Variant, gate_fn: GateFn, fused: dict[str, Array], carry: Any, xp_t: Array
) -> Any:
    """The h-dependent part of one step: carry_{t-1} and W x_t + b (``project``) to carry_t."""
    p = plan(variant)
    fam = variant.family
    h = fam.hidden(carry)
    xs = dict(zip(p["x_terms"], jnp.split(xp_t, len(p["x_terms"]), axis=-1), strict=True))
    hs = {}
    if p["h_terms"]:
        hU = h @ fused["U_1"]
        hs = dict(zip(p["h_terms"], jnp.split(hU, len(p["h_terms"]), axis=-1), strict=True))
    gates = {}
    for g in fam.gates:
        if g in p["constant"]:
            gates[g] = fused[f"g_{g}"]
            continue
        terms = [t for t in (xs.get(g), hs.get(g), fused.get(f"b_{g}")) if t is not None]
        gates[g] = gate_fn(sum(terms[1:], terms[0]))
    a_cand = xs[fam.candidate]
    if fam.candidate_mode == "direct":
        a_cand = a_cand + hs[fam.candidate]
    elif fam.candidate_mode == "before":
        a_cand = a_cand + (gates[fam.candidate_gate] * h) @ fused["U_2"]
    else:
        a_cand = a_cand + gates[fam.candidate_gate] * (hs[fam.candidate] + fused["b_U"])
    return fam.update(gates, a_cand, carry)


def step(
    variant: Variant, gate_fn: GateFn, params: dict[str, Array], carry: Any, x_t: Array
) -> tuple[Any, Array]:
    """One whole step from the paper-named parameters: (carry_{t-1}, x_t) -> (carry_t, h_t)."""
    fused = fuse(variant, gate_fn, params)
    carry = recurrent_step(variant, gate_fn, fused, carry, project(fused, x_t))
    return carry, variant.family.hidden(carry)


def scan(
    variant: Variant,
    gate_fn: GateFn,
    params: dict[str, Array],
    x: Array,
    lengths: Array | None = None,
    *,
    reverse: bool = False,
    unroll: int = 1,
    initial_carry: Any = None,
) -> tuple[Array, Any]:
    """Runs x [B, T, m] through the recurrence; returns (outputs [B, T, n], final carry).

    ``lengths`` [B] (optional) marks steps t >= lengths[b] as padding: they output zeros and
    leave the carry alone. ``reverse`` processes each sequence from its last valid step to its
    first; outputs stay in input order. ``unroll`` is passed to ``jax.lax.scan``.
    """
    fam = variant.family
    batch, time = x.shape[:2]
    fused = fuse(variant, gate_fn, params)
    xp = project(fused, jnp.swapaxes(x, 0, 1))  # [T, B, k·n]
    n = params[param_name("U", fam.candidate)].shape[0]
    if initial_carry is None:
        initial_carry = fam.zeros_carry((batch, n), xp.dtype)

    if lengths is None:
        def body(carry, xp_t):
            carry = recurrent_step(variant, gate_fn, fused, carry, xp_t)
            return carry, fam.hidden(carry)

        carry, ys = jax.lax.scan(body, initial_carry, xp, reverse=reverse, unroll=unroll)
        return jnp.swapaxes(ys, 0, 1), carry

    lengths = _check_lengths(lengths, batch)
    valid = (jnp.arange(time)[:, None] < lengths[None, :])[..., None]  # [T, B, 1]

    def masked_body(carry, inputs):
        xp_t, valid_t = inputs
        new = recurrent_step(variant, gate_fn, fused, carry, xp_t)
        carry = jax.tree.map(lambda a, b: jnp.where(valid_t, a, b), new, carry)
        return carry, jnp.where(valid_t, fam.hidden(carry), 0)

    carry, ys = jax.lax.scan(
        masked_body, initial_carry, (xp, valid), reverse=reverse, unroll=unroll
    )
    return jnp.swapaxes(ys, 0, 1), carry


def _check_lengths(lengths: Array, batch: int) -> Array:
    lengths = jnp.asarray(lengths)
    if lengths.shape != (batch,):
        raise ValueError(
            f"lengths must have shape [batch] = ({batch},), got {tuple(lengths.shape)}."
        )
    if not jnp.issubdtype(lengths.dtype, jnp.integer):
        raise ValueError(f"lengths must be integers, got dtype {lengths.dtype}.")
    return lengths
