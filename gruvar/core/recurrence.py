"""The scan driver: one fast recurrence for every cell variant.

For a sequence x [B, T, m] and a variant with n units the work is split by what it depends on:

1. Terms that read only x_t: W_g x_t + b_g for every gate g that uses x, and the
   candidate's, for all T steps at once before the loop ([T·B, m] @ [m, n] per term).
2. Terms that read h_{t-1}: inside ``jax.lax.scan``, the recurrent kernels U_g of all gates
   that use h (and the candidate's, where it reads h directly) fused into one matmul
   h_{t-1} @ [n, j·n]; a reset-before candidate needs a second, U_h (r_t ⊙ h_{t-1}).
3. Gates that use only a bias are constants, σ(b_g), computed once outside the loop.
4. Peepholes V_g ⊙ c, diagonal terms u_p ⊙ h_{t-1}, couplings 1 - g and a normalised pair are
   pointwise work inside the loop; constant gates are numbers in the plan.
5. A variant in which no part reads the state is linear in it and runs without this loop
   (``gruvar.core.linear``); a fixed-form family (MUT1-3, FGR) scans its own step.

The driver reads only the compiled ``gruvar.core.plan.Plan`` of a variant.

Variable lengths: step t of sequence b is valid when t < lengths[b]. Past its end a sequence
keeps its carry (so the final carry is the last valid state) and outputs zeros. The reverse
direction scans from t = T-1 down to 0; the padded steps come first and keep the initial
carry, so each sequence is reversed within its own length.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

from gruvar.core import linear
from gruvar.core.gates import param_name
from gruvar.core.plan import ACTIVATIONS, Plan

Array = jax.Array
GateFn = Callable[[Array], Array]
Weights = dict[str, Array]
MODES = ("auto", "sequential", "parallel")


def fuse(plan: Plan, gate_fn: GateFn, params: Weights) -> Weights:
    """The in-loop weights, from the paper-named parameters.

    ``U_1`` [n, j·n]: the recurrent kernels of the h terms, concatenated so the loop does one
    matmul for them; ``U_2`` [n, n]: a reset-before candidate's kernel; the in-loop biases
    ``b_<g>``, peepholes ``V_<g>`` and diagonal weights ``u_<p>``; ``b_U`` for a reset-after
    candidate; the bias-only gates' values ``g_<g>`` = σ(b_g).
    """
    c = plan.candidate
    fused = {}
    if plan.h_terms:
        fused["U_1"] = jnp.concatenate([params[param_name("U", t)] for t in plan.h_terms], axis=1)
    if plan.candidate_mode == "before" and param_name("U", c) in params:
        fused["U_2"] = params[param_name("U", c)]
    if plan.candidate_mode == "after":
        fused["b_U"] = params[param_name("b", "U" + c)]
    for g in plan.loop_bias:
        fused[f"b_{g}"] = params[f"b_{g}"]
    for g in plan.peep:
        fused[f"V_{g}"] = params[f"V_{g}"]
    for p in plan.diag:
        fused[param_name("u", p)] = params[param_name("u", p)]
    for g in plan.learned_constant:
        fused[f"g_{g}"] = gate_fn(params[f"b_{g}"])
    return fused


def project(plan: Plan, params: Weights, x: Array, valid: Array | None = None) -> tuple[Array, ...]:
    """W_p x + b_p for every x term p, for all steps at once: x [..., m] -> k arrays [..., n].

    The loop wants one array per term: on XLA:CPU, slicing a step out of a [T, B, k·n] slab
    and splitting it inside the loop doubled the forward time. One matmul per term, rather
    than one into a slab split afterwards, because the split cost more than the matmul
    (9x at m = 1, 1.7x at m = 28; T = 784, B = 32, n = 100). With ``plan.batch_norm`` each W_p x
    is normalised over the batch and the ``valid`` steps (the batch's own statistics, in
    training and evaluation alike), scaled by gamma_p, before b_p (BN's β) is added.
    """
    if plan.own_step:
        return plan.family.project(params, x)
    x_flat = x.reshape(-1, x.shape[-1])
    terms = []
    for t in plan.x_terms:
        a = x_flat @ params[param_name("W", t)]
        if plan.batch_norm:
            a = _batch_norm(a, params[param_name("gamma", t)], valid, x.shape[:-1])
        if param_name("b", t) in params:
            a = a + params[param_name("b", t)]
        terms.append(a.reshape(*x.shape[:-1], a.shape[-1]))
    return tuple(terms)


def _batch_norm(a: Array, gamma: Array, valid: Array | None, lead: tuple[int, ...]) -> Array:
    """gamma ⊙ (a - mean) / sqrt(var + 1e-5), the statistics over the valid rows of a [rows, n]."""
    w = jnp.ones((a.shape[0], 1), a.dtype)
    if valid is not None:
        w = jnp.broadcast_to(valid, (*lead, 1)).reshape(-1, 1).astype(a.dtype)
    count = jnp.maximum(w.sum(), 1)
    mean = (w * a).sum(0) / count
    var = (w * (a - mean) ** 2).sum(0) / count
    return gamma * (a - mean) * jax.lax.rsqrt(var + 1e-5)


def _gates(plan, gate_fn, small, carry, xp_t, p1):
    """The gate values, and ``xs`` / ``hs``: the per-term parts of W x_t + b and h_{t-1} @ U_1.

    A gate that peeks at the new cell state c_t comes back as a function of c_t. Works on one
    step or, for a plan that reads no state (``carry`` None), on all steps at once."""
    fam = plan.family
    xs = dict(zip(plan.x_terms, xp_t, strict=True))
    hs = dict(zip(plan.h_terms, p1 or (), strict=True))
    fixed, coupled = dict(plan.fixed), dict(plan.coupled)
    gates = {}
    for g in plan.gates:
        if g in fixed:
            gates[g] = fixed[g]
            continue
        if g in coupled:
            continue
        if g in plan.learned_constant:
            gates[g] = small[f"g_{g}"]
            continue
        terms = [t for t in (xs.get(g), hs.get(g), small.get(f"b_{g}")) if t is not None]
        if g in plan.diag:
            terms.append(small[f"u_{g}"] * fam.hidden(carry))
        if g in plan.peep and g not in fam.peeks_new_cell:
            terms.append(small[f"V_{g}"] * fam.cell(carry))
        a = sum(terms[1:], terms[0])
        if g in plan.peep and g in fam.peeks_new_cell:
            gates[g] = functools.partial(_peek, gate_fn, a, small[f"V_{g}"])
        else:
            gates[g] = gate_fn(a)
    if plan.floor is not None:  # HGRN's lower bound, seen by a gate coupled to this one
        g, gamma = plan.floor
        gates[g] = gamma + (1 - gamma) * gates[g]
    for g, source in plan.coupled:  # plan.gates puts coupled gates last: sources are done
        gates[g] = 1 - gates[source]
    if plan.norm:
        g1, g2 = plan.norm
        total = gates[g1] + gates[g2]
        gates[g1], gates[g2] = gates[g1] / total, gates[g2] / total
    if plan.signed is not None:  # decay in (-1, 1); the input scales above read it in (0, 1)
        gates[plan.signed] = 2 * gates[plan.signed] - 1
    return xs, hs, gates


def _peek(gate_fn: GateFn, a: Array, v: Array, c_t: Array) -> Array:
    """σ(a + V ⊙ c_t): a gate that reads the cell state of its own step."""
    return gate_fn(a + v * c_t)


def _reset_input(plan, gate_fn, small, carry, xp_t, p1) -> Array:
    """r_t ⊙ h_{t-1}, what a reset-before candidate multiplies by U_2."""
    _, _, gates = _gates(plan, gate_fn, small, carry, xp_t, p1)
    return gates[plan.candidate_gate] * plan.family.hidden(carry)


def _candidate(plan, small, carry, xs, hs, gates, p2) -> Array:
    """The candidate's pre-activation: W x_t + b plus its recurrent term, if any."""
    c = plan.candidate
    a = xs[c]
    mode = plan.candidate_mode
    if mode == "direct" and c in hs:
        a = a + hs[c]
    elif mode == "before" and p2 is not None:
        a = a + p2
    elif mode == "after":
        a = a + gates[plan.candidate_gate] * (hs[c] + small["b_U"])
    if c in plan.diag:
        h = plan.family.hidden(carry)
        if mode == "before":
            h = gates[plan.candidate_gate] * h
        a = a + small[param_name("u", c)] * h
    return a


def _update(plan, gate_fn, small, carry, xp_t, p1, p2) -> Any:
    """carry_t from carry_{t-1} once the step's matmuls are done: p1 = h_{t-1} @ U_1 (split per
    term) and, for a reset-before candidate, p2 = (r_t ⊙ h_{t-1}) @ U_2. Pointwise work only."""
    xs, hs, gates = _gates(plan, gate_fn, small, carry, xp_t, p1)
    cand = ACTIVATIONS[plan.act](_candidate(plan, small, carry, xs, hs, gates, p2))
    return plan.family.update(gates, cand, carry, ACTIVATIONS[plan.out])


def _matmuls(plan, gate_fn, weights, carry, xp_t):
    """The step's matmuls: p1 = h_{t-1} @ U_1 (one fused matmul, split per term) and, for a
    reset-before candidate, p2 = (r_t ⊙ h_{t-1}) @ U_2. Either is None when absent."""
    p1 = None
    if "U_1" in weights:
        hU = plan.family.hidden(carry) @ weights["U_1"]
        p1 = tuple(jnp.split(hU, len(plan.h_terms), axis=-1))
    p2 = None
    if "U_2" in weights:
        p2 = _reset_input(plan, gate_fn, _small(weights), carry, xp_t, p1) @ weights["U_2"]
    return p1, p2


def _small(weights: Weights) -> Weights:
    """The in-loop weights other than the recurrent kernels: biases and constant gates."""
    return {k: v for k, v in weights.items() if k not in ("U_1", "U_2")}


def _masked(plan: Plan, new: Any, old: Any, valid_t: Array | None) -> tuple[Any, Array]:
    """(carry, output) of a step: a padded step (valid_t false) keeps the carry and outputs 0."""
    hidden = plan.family.hidden
    if valid_t is None:
        return new, hidden(new)
    carry = jax.tree.map(lambda a, b: jnp.where(valid_t, a, b), new, old)
    return carry, jnp.where(valid_t, hidden(carry), 0)


def step(plan: Plan, gate_fn: GateFn, params: Weights, carry: Any, x_t: Array) -> tuple[Any, Array]:
    """One whole step from the paper-named parameters: (carry_{t-1}, x_t) -> (carry_t, h_t)."""
    xp_t = project(plan, params, x_t)
    if plan.own_step:
        carry = plan.family.step(gate_fn, params, carry, xp_t)
        return carry, plan.family.hidden(carry)
    weights = fuse(plan, gate_fn, params)
    p1, p2 = _matmuls(plan, gate_fn, weights, carry, xp_t)
    carry = _update(plan, gate_fn, _small(weights), carry, xp_t, p1, p2)
    return carry, plan.family.hidden(carry)


def resolve_mode(plan: Plan, mode: str) -> str:
    """``sequential`` or ``parallel`` for ``mode`` (auto: parallel for a plan linear in the state
    on a GPU or TPU, else sequential); ValueError for parallel on a plan that reads the state."""
    if mode not in MODES:
        raise ValueError(f"Unknown scan mode {mode!r}; choose from {list(MODES)}.")
    if mode == "parallel" and not plan.linear:
        raise ValueError(
            f"scan='parallel' needs a variant linear in its state (no 'h', 'd' or 'c' in any "
            f"part); {plan.family.name!r} here reads h_{{t-1}}. Use 'sequential' or 'auto'."
        )
    if mode == "auto":
        return "parallel" if plan.linear and jax.default_backend() != "cpu" else "sequential"
    return mode


def scan(
    plan: Plan,
    gate_fn: GateFn,
    params: Weights,
    x: Array,
    lengths: Array | None = None,
    *,
    reverse: bool = False,
    unroll: int = 1,
    initial_carry: Any = None,
    mode: str = "auto",
) -> tuple[Array, Any]:
    """Runs x [B, T, m] through the recurrence; returns (outputs [B, T, n], final carry).

    ``lengths`` [B] (optional) marks steps t >= lengths[b] as padding: they output zeros and
    leave the carry alone. ``reverse`` processes each sequence from its last valid step to its
    first; outputs stay in input order. ``unroll`` is passed to ``jax.lax.scan``. A plan linear
    in its state runs as s_t = a_t ⊙ s_{t-1} + b_t (``gruvar.core.linear``): elementwise step by
    step (``mode`` sequential) or by ``jax.lax.associative_scan`` (parallel); ``auto`` picks
    by backend (``resolve_mode``).
    """
    if x.ndim != 3:
        raise ValueError(
            f"Expected x of shape [batch, time, features], got shape {tuple(x.shape)}."
        )
    mode = resolve_mode(plan, mode)
    batch, time = x.shape[:2]
    valid = None
    if lengths is not None:
        lengths = _check_lengths(lengths, batch)
        valid = (jnp.arange(time)[:, None] < lengths[None, :])[..., None]  # [T, B, 1]
    xp = project(plan, params, jnp.swapaxes(x, 0, 1), valid)  # k arrays [T, B, n]
    if initial_carry is None:
        initial_carry = plan.family.zeros_carry((batch, xp[0].shape[-1]), xp[0].dtype)
    if plan.own_step:
        ys, carry = _own_loop(plan, gate_fn, params, xp, valid, initial_carry, reverse, unroll)
    elif plan.linear:
        small = _small(fuse(plan, gate_fn, params))
        _, _, gates = _gates(plan, gate_fn, small, None, xp, None)
        xs = dict(zip(plan.x_terms, xp, strict=True))
        cand = ACTIVATIONS[plan.act](_candidate(plan, small, None, xs, {}, gates, None))
        ys, carry = linear.run(
            plan, gates, cand, valid, lengths, initial_carry, reverse, unroll, mode == "parallel"
        )
    else:
        weights = fuse(plan, gate_fn, params)
        ys, carry = _loop(plan, gate_fn, reverse, unroll, weights, xp, valid, initial_carry)
    return jnp.swapaxes(ys, 0, 1), carry


def _own_loop(plan, gate_fn, params, xp, valid, carry0, reverse, unroll):
    """A fixed-form family's own step under ``jax.lax.scan`` (gradients by autodiff)."""

    def body(carry, inputs):
        xp_t, valid_t = inputs
        new = plan.family.step(gate_fn, params, carry, xp_t)
        return _masked(plan, new, carry, valid_t)

    carry, ys = jax.lax.scan(body, carry0, (xp, valid), reverse=reverse, unroll=unroll)
    return ys, carry


@functools.partial(jax.custom_vjp, nondiff_argnums=(0, 1, 2, 3))
def _loop(plan, gate_fn, reverse, unroll, weights, xp, valid, carry0):
    """The scan over time: (outputs [T, B, n], final carry). Its gradient is ``_loop_bwd``."""
    return _loop_fwd(plan, gate_fn, reverse, unroll, weights, xp, valid, carry0)[0]


def _loop_fwd(plan, gate_fn, reverse, unroll, weights, xp, valid, carry0):
    small = _small(weights)

    def body(carry, inputs):
        xp_t, valid_t = inputs
        p1, p2 = _matmuls(plan, gate_fn, weights, carry, xp_t)
        new = _update(plan, gate_fn, small, carry, xp_t, p1, p2)
        new, y_t = _masked(plan, new, carry, valid_t)
        return new, (y_t, (carry, p1, p2))

    carry, (ys, saved) = jax.lax.scan(body, carry0, (xp, valid), reverse=reverse, unroll=unroll)
    return (ys, carry), (weights, xp, valid, saved)


def _loop_bwd(plan, gate_fn, reverse, unroll, residuals, cotangents):
    """Backward through time carrying only d carry. The recurrent kernels' gradients are one
    matmul each after the loop, dU_1 = Σ_t h_{t-1}ᵀ dp1_t and dU_2 = Σ_t (r_t ⊙ h_{t-1})ᵀ dp2_t,
    not an accumulation inside it (cuDNN's approach); the step's pointwise work is recomputed
    by ``jax.vjp`` from the saved matmul results. The loop emits as few [T, B, n] arrays as it
    can: on XLA:CPU each costs a buffer initialisation plus a write per step."""
    weights, xp, valid, saved = residuals
    dys, dcarry = cotangents
    small = _small(weights)
    hidden = plan.family.hidden
    h_terms = plan.h_terms
    cand = plan.candidate
    # Terms whose h part is added to their x part (every gate; a direct candidate) get the same
    # cotangent for both: the loop emits it once, as the x part's.
    shared = tuple(t for t in h_terms if t in plan.x_terms and t != cand)
    if plan.candidate_mode == "direct" and cand in h_terms:
        shared += (cand,)

    def body(acc, inputs):
        dcarry, dsmall = acc
        (carry, p1, p2), xp_t, valid_t, dy_t = inputs

        def pointwise(small, carry, xp_t, p1, p2):
            new = _update(plan, gate_fn, small, carry, xp_t, p1, p2)
            return _masked(plan, new, carry, valid_t)

        _, vjp = jax.vjp(pointwise, small, carry, xp_t, p1, p2)
        ds, dprev, dxp_t, dp1, dp2 = vjp((dcarry, dy_t))
        if p2 is not None:
            reset_input = functools.partial(_reset_input, plan, gate_fn)
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
    dxp_of = dict(zip(plan.x_terms, dxp, strict=True))
    if "U_1" in weights:
        own = iter(dp1_own)
        dp1 = [dxp_of[t] if t in shared else next(own) for t in h_terms]
        h_prev = hidden(saved[0])
        dweights["U_1"] = jnp.concatenate([_outer_sum(h_prev, d) for d in dp1], axis=1)
    if "U_2" in weights:  # a_cand = W x + b + p2: d p2 is the candidate's d(W x + b)
        carry, p1, _ = saved  # r_t ⊙ h_{t-1} for all t at once (pointwise code broadcasts)
        q = _reset_input(plan, gate_fn, small, carry, xp, p1)
        dweights["U_2"] = _outer_sum(q, dxp_of[cand])
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
