"""The scan driver: one fast recurrence for every cell variant.

For a sequence x [B, T, m] and a variant with n units the work is split by what it depends on:

1. Terms that read only x_t: W_g x_t + b_g for every gate g that uses x, and the
   candidate's, for all T steps at once before the loop ([T·B, m] @ [m, n] per term).
2. Terms that read h_{t-1}: inside ``jax.lax.scan``, the recurrent kernels U_g of all gates
   that use h (and the candidate's, where it reads h directly) fused into one matmul
   h_{t-1} @ [n, j·n]; a reset-before candidate needs a second, U_h (r_t ⊙ h_{t-1}).
3. Gates that use only a bias are constants, σ(b_g), computed once outside the loop.
4. Peepholes V_g ⊙ c (an LSTM gate whose spec has ``c``) are pointwise work inside the loop.

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
Weights = dict[str, Array]


@functools.cache
def plan(variant: Variant) -> dict[str, tuple[str, ...]]:
    """Which terms go where, in the fused layouts used by ``fuse`` and ``step``.

    x_terms: gates (then the candidate) whose W x_t + b is precomputed for all steps;
    h_terms: gates (then the candidate, when it reads h directly) fused into U_1;
    loop_bias: gates with a bias, no x term and not constant (the bias is added in the loop);
    peep: gates that read the cell state through a diagonal V_g;
    constant: bias-only gates.
    """
    fam = variant.family
    specs = dict(variant.specs)
    direct = fam.candidate_mode in ("direct", "after")
    return {
        "x_terms": (*(g for g in fam.gates if specs[g].x), fam.candidate),
        "h_terms": (*(g for g in fam.gates if specs[g].h), *((fam.candidate,) if direct else ())),
        "loop_bias": tuple(
            g for g in fam.gates if specs[g].b and not specs[g].x and not specs[g].constant
        ),
        "peep": tuple(g for g in fam.gates if specs[g].c),
        "constant": tuple(g for g in fam.gates if specs[g].constant),
    }


def fuse(variant: Variant, gate_fn: GateFn, params: Weights) -> Weights:
    """The in-loop weights, from the paper-named parameters.

    ``U_1`` [n, j·n]: the recurrent kernels of the h terms, concatenated so the loop does one
    matmul for them; ``U_2`` [n, n]: a reset-before candidate's kernel; the in-loop biases
    ``b_<g>`` and peepholes ``V_<g>``; ``b_U`` for a reset-after candidate; the constant
    gates' values ``g_<g>`` = σ(b_g).
    """
    p = plan(variant)
    fam = variant.family
    c = fam.candidate
    fused = {}
    if p["h_terms"]:
        fused["U_1"] = jnp.concatenate([params[param_name("U", t)] for t in p["h_terms"]], axis=1)
    if fam.candidate_mode == "before":
        fused["U_2"] = params[param_name("U", c)]
    if fam.candidate_mode == "after":
        fused["b_U"] = params[param_name("b", "U" + c)]
    for g in p["loop_bias"]:
        fused[f"b_{g}"] = params[f"b_{g}"]
    for g in p["peep"]:
        fused[f"V_{g}"] = params[f"V_{g}"]
    for g in p["constant"]:
        fused[f"g_{g}"] = gate_fn(params[f"b_{g}"])
    return fused


def project(variant: Variant, params: Weights, x: Array) -> tuple[Array, ...]:
    """W_t x + b_t for every x term t, for all steps at once: x [..., m] -> k arrays [..., n].

    The loop wants one array per term: on XLA:CPU, slicing a step out of a [T, B, k·n] slab
    and splitting it inside the loop doubled the forward time. One matmul per term, rather
    than one into a slab split afterwards, because the split cost more than the matmul
    (9x at m = 1, 1.7x at m = 28; T = 784, B = 32, n = 100).
    """
    x_flat = x.reshape(-1, x.shape[-1])
    terms = []
    for t in plan(variant)["x_terms"]:
        a = x_flat @ params[param_name("W", t)]
        if param_name("b", t) in params:
            a = a + params[param_name("b", t)]
        terms.append(a.reshape(*x.shape[:-1], a.shape[-1]))
    return tuple(terms)


def _gates(variant, gate_fn, small, carry, xp_t, p1):
    """The gate values, and ``xs`` / ``hs``: the per-term parts of W x_t + b and h_{t-1} @ U_1.

    A gate that peeks at the new cell state c_t comes back as a function of c_t."""
    fam = variant.family
    p = plan(variant)
    xs = dict(zip(p["x_terms"], xp_t, strict=True))
    hs = dict(zip(p["h_terms"], p1 or (), strict=True))
    gates = {}
    for g in fam.gates:
        if g in p["constant"]:
            gates[g] = small[f"g_{g}"]
            continue
        terms = [t for t in (xs.get(g), hs.get(g), small.get(f"b_{g}")) if t is not None]
        if g in p["peep"] and g not in fam.peeks_new_cell:
            terms.append(small[f"V_{g}"] * fam.cell(carry))
        a = sum(terms[1:], terms[0]) if terms else 0.0
        if g in p["peep"] and g in fam.peeks_new_cell:
            gates[g] = functools.partial(_peek, gate_fn, a, small[f"V_{g}"])
        else:
            gates[g] = gate_fn(a)
    return xs, hs, gates


def _peek(gate_fn: GateFn, a: Array, v: Array, c_t: Array) -> Array:
    """σ(a + V ⊙ c_t): a gate that reads the cell state of its own step."""
    return gate_fn(a + v * c_t)


def _reset_input(variant, gate_fn, small, carry, xp_t, p1) -> Array:
    """r_t ⊙ h_{t-1}, what a reset-before candidate multiplies by U_2."""
    _, _, gates = _gates(variant, gate_fn, small, carry, xp_t, p1)
    return gates[variant.family.candidate_gate] * variant.family.hidden(carry)


def _update(variant, gate_fn, small, carry, xp_t, p1, p2) -> Any:
    """carry_t from carry_{t-1} once the step's matmuls are done: p1 = h_{t-1} @ U_1 (split per
    term) and, for a reset-before candidate, p2 = (r_t ⊙ h_{t-1}) @ U_2. Pointwise work only."""
    fam = variant.family
    xs, hs, gates = _gates(variant, gate_fn, small, carry, xp_t, p1)
    a_cand = xs[fam.candidate]
    if fam.candidate_mode == "direct":
        a_cand = a_cand + hs[fam.candidate]
    elif fam.candidate_mode == "before":
        a_cand = a_cand + p2
    else:
        a_cand = a_cand + gates[fam.candidate_gate] * (hs[fam.candidate] + small["b_U"])
    return fam.update(gates, a_cand, carry)


def _matmuls(variant, gate_fn, weights, carry, xp_t):
    """The step's matmuls: p1 = h_{t-1} @ U_1 (one fused matmul, split per term) and, for a
    reset-before candidate, p2 = (r_t ⊙ h_{t-1}) @ U_2. Either is None when absent."""
    p1 = None
    if "U_1" in weights:
        hU = variant.family.hidden(carry) @ weights["U_1"]
        p1 = tuple(jnp.split(hU, len(plan(variant)["h_terms"]), axis=-1))
    p2 = None
    if "U_2" in weights:
        p2 = _reset_input(variant, gate_fn, _small(weights), carry, xp_t, p1) @ weights["U_2"]
    return p1, p2


def _small(weights: Weights) -> Weights:
    """The in-loop weights other than the recurrent kernels: biases and constant gates."""
    return {k: v for k, v in weights.items() if k not in ("U_1", "U_2")}


def _masked(variant: Variant, new: Any, old: Any, valid_t: Array | None) -> tuple[Any, Array]:
    """(carry, output) of a step: a padded step (valid_t false) keeps the carry and outputs 0."""
    hidden = variant.family.hidden
    if valid_t is None:
        return new, hidden(new)
    carry = jax.tree.map(lambda a, b: jnp.where(valid_t, a, b), new, old)
    return carry, jnp.where(valid_t, hidden(carry), 0)


def step(
    variant: Variant, gate_fn: GateFn, params: Weights, carry: Any, x_t: Array
) -> tuple[Any, Array]:
    """One whole step from the paper-named parameters: (carry_{t-1}, x_t) -> (carry_t, h_t)."""
    weights = fuse(variant, gate_fn, params)
    xp_t = project(variant, params, x_t)
    p1, p2 = _matmuls(variant, gate_fn, weights, carry, xp_t)
    carry = _update(variant, gate_fn, _small(weights), carry, xp_t, p1, p2)
    return carry, variant.family.hidden(carry)


def scan(
    variant: Variant,
    gate_fn: GateFn,
    params: Weights,
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
    batch, time = x.shape[:2]
    xp = project(variant, params, jnp.swapaxes(x, 0, 1))  # k arrays [T, B, n]
    if initial_carry is None:
        n = params[param_name("U", variant.family.candidate)].shape[0]
        initial_carry = variant.family.zeros_carry((batch, n), xp[0].dtype)
    valid = None
    if lengths is not None:
        lengths = _check_lengths(lengths, batch)
        valid = (jnp.arange(time)[:, None] < lengths[None, :])[..., None]  # [T, B, 1]
    weights = fuse(variant, gate_fn, params)
    ys, carry = _loop(variant, gate_fn, reverse, unroll, weights, xp, valid, initial_carry)
    return jnp.swapaxes(ys, 0, 1), carry


@functools.partial(jax.custom_vjp, nondiff_argnums=(0, 1, 2, 3))
def _loop(variant, gate_fn, reverse, unroll, weights, xp, valid, carry0):
    """The scan over time: (outputs [T, B, n], final carry). Its gradient is ``_loop_bwd``."""
    return _loop_fwd(variant, gate_fn, reverse, unroll, weights, xp, valid, carry0)[0]


def _loop_fwd(variant, gate_fn, reverse, unroll, weights, xp, valid, carry0):
    small = _small(weights)

    def body(carry, inputs):
        xp_t, valid_t = inputs
        p1, p2 = _matmuls(variant, gate_fn, weights, carry, xp_t)
        new = _update(variant, gate_fn, small, carry, xp_t, p1, p2)
        new, y_t = _masked(variant, new, carry, valid_t)
        return new, (y_t, (carry, p1, p2))

    carry, (ys, saved) = jax.lax.scan(body, carry0, (xp, valid), reverse=reverse, unroll=unroll)
    return (ys, carry), (weights, xp, valid, saved)


def _loop_bwd(variant, gate_fn, reverse, unroll, residuals, cotangents):
    """Backward through time carrying only d carry. The recurrent kernels' gradients are one
    matmul each after the loop, dU_1 = Σ_t h_{t-1}ᵀ dp1_t and dU_2 = Σ_t (r_t ⊙ h_{t-1})ᵀ dp2_t,
    not an accumulation inside it (cuDNN's approach); the step's pointwise work is recomputed
    by ``jax.vjp`` from the saved matmul results. The loop emits as few [T, B, n] arrays as it
    can: on XLA:CPU each costs a buffer initialisation plus a write per step."""
    weights, xp, valid, saved = residuals
    dys, dcarry = cotangents
    small = _small(weights)
    hidden = variant.family.hidden
    p = plan(variant)
    h_terms = p["h_terms"]
    # Terms whose h part is added to their x part (every gate; a direct candidate) get the same
    # cotangent for both: the loop emits it once, as the x part's.
    shared = tuple(t for t in h_terms if t in p["x_terms"] and t != variant.family.candidate)
    if variant.family.candidate_mode == "direct":
        shared += (variant.family.candidate,)

    def body(acc, inputs):
        dcarry, dsmall = acc
        (carry, p1, p2), xp_t, valid_t, dy_t = inputs

        def pointwise(small, carry, xp_t, p1, p2):
            new = _update(variant, gate_fn, small, carry, xp_t, p1, p2)
            return _masked(variant, new, carry, valid_t)

        _, vjp = jax.vjp(pointwise, small, carry, xp_t, p1, p2)
        ds, dprev, dxp_t, dp1, dp2 = vjp((dcarry, dy_t))
        if p2 is not None:
            reset_input = functools.partial(_reset_input, variant, gate_fn)
            _, vjp = jax.vjp(reset_input, small, carry, xp_t, p1)
            more = vjp(dp2 @ weights["U_2"].T)
            ds, dprev, dxp_t, dp1 = (
                _add(a, b) for a, b in zip((ds, dprev, dxp_t, dp1), more, strict=True)
            )
        if p1 is not None:
            _, vjp = jax.vjp(lambda c: hidden(c) @ weights["U_1"], carry)
            dprev = _add(dprev, vjp(jnp.concatenate(dp1, axis=-1))[0])
            dp1 = tuple(d for t, d in zip(h_terms, dp1, strict=True) if t not in shared)
        return (dprev, _add(dsmall, ds)), (dxp_t, dp1)

    (dcarry0, dsmall), (dxp, dp1_own) = jax.lax.scan(
        body,
        (dcarry, jax.tree.map(jnp.zeros_like, small)),
        (saved, xp, valid, dys),
        reverse=not reverse,
        unroll=unroll,
    )
    dweights = dict(dsmall)
    dxp_of = dict(zip(p["x_terms"], dxp, strict=True))
    if "U_1" in weights:
        own = iter(dp1_own)
        dp1 = [dxp_of[t] if t in shared else next(own) for t in h_terms]
        h_prev = hidden(saved[0])
        dweights["U_1"] = jnp.concatenate([_outer_sum(h_prev, d) for d in dp1], axis=1)
    if "U_2" in weights:  # a_cand = W x + b + p2: d p2 is the candidate's d(W x + b)
        carry, p1, _ = saved  # r_t ⊙ h_{t-1} for all t at once (pointwise code broadcasts)
        q = _reset_input(variant, gate_fn, small, carry, xp, p1)
        dweights["U_2"] = _outer_sum(q, dxp_of[variant.family.candidate])
    return dweights, dxp, None, dcarry0


def _outer_sum(a: Array, b: Array) -> Array:
    """Σ_t a_tᵀ b_t for a [T, B, n], b [T, B, k], as one [n, T·B] @ [T·B, k] matmul."""
    return a.reshape(-1, a.shape[-1]).T @ b.reshape(-1, b.shape[-1])


_loop.defvjp(_loop_fwd, _loop_bwd)


def _add(a, b):
    return jax.tree.map(jnp.add, a, b)


def _check_lengths(lengths: Array, batch: int) -> Array:
    lengths = jnp.asarray(lengths)
    if lengths.shape != (batch,):
        raise ValueError(
            f"lengths must have shape [batch] = ({batch},), got {tuple(lengths.shape)}."
        )
    if not jnp.issubdtype(lengths.dtype, jnp.integer):
        raise ValueError(f"lengths must be integers, got dtype {lengths.dtype}.")
    return lengths
