"""The fused scan equals the papers' equations (NumPy reference) and the step-at-a-time path."""

import chex
import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import reference
from conftest import ALL_VARIANTS, CLASSIC_VARIANTS, in_width, init_params

import gruvar
from gruvar.core import recurrence
from gruvar.linen import cells

M, N, B, T = 3, 5, 4, 7
LENGTHS = np.array([7, 3, 1, 0])  # full, partial, one step, empty


def family(variant):
    return cells.get(variant).family.name


def as_np(tree):
    return jax.tree.map(np.asarray, tree)


def fast(variant, params, x, lengths=None, reverse=False, unroll=1):
    return recurrence.scan(
        cells.get(variant).plan,
        nn.sigmoid,
        params,
        jnp.asarray(x),
        lengths,
        reverse=reverse,
        unroll=unroll,
    )


@pytest.mark.parametrize("variant", CLASSIC_VARIANTS)
@pytest.mark.parametrize("lengths", [None, LENGTHS], ids=["full", "ragged"])
@pytest.mark.parametrize("reverse", [False, True], ids=["fwd", "rev"])
def test_matches_numpy_reference(variant, lengths, reverse, rng):
    params = init_params(variant, M, N)
    x = rng.standard_normal((B, T, M)).astype(np.float32)
    ys, carry = fast(variant, params, x, lengths, reverse)
    ref_ys, ref_carry = reference.run(family(variant), params, x, lengths, reverse)
    np.testing.assert_allclose(ys, ref_ys, atol=2e-6, rtol=1e-5)
    chex.assert_trees_all_close(as_np(carry), ref_carry, atol=2e-6, rtol=1e-5)


# Each way a layer runs: the fused loop (classic variants), a fixed-form family's own step
# (FGR, MUT), the linear path (minGRU, minLSTM); tests/test_zoo.py covers the rest's lengths.
PATHS = [*CLASSIC_VARIANTS, "lstm_fgr", "mut1", "mut3", "mingru", "minlstm", "lstm4a", "indrnn"]


@pytest.mark.parametrize("variant", PATHS)
def test_padded_outputs_are_zero_and_carry_is_last_valid_state(variant, rng):
    m = in_width(variant, M, N)
    params = init_params(variant, m, N)
    x = rng.standard_normal((B, T, m)).astype(np.float32)
    ys, carry = fast(variant, params, x, LENGTHS)
    for b, length in enumerate(LENGTHS):
        assert not np.any(ys[b, length:]), "outputs past a sequence's length must be zero"
        # Running the valid prefix alone gives the same final carry.
        _, alone = fast(variant, params, x[b : b + 1, :length])
        chex.assert_trees_all_close(
            jax.tree.map(lambda c, b=b: c[b], carry),
            jax.tree.map(lambda c: c[0], alone),
            atol=1e-6,
        )


@pytest.mark.parametrize(
    "variant, reverse",
    [(v, r) for v in ALL_VARIANTS for r in (False, True) if v in PATHS or not r],
)
def test_fast_path_equals_flax_rnn_of_the_step_cell(variant, reverse, rng):
    """The hoisted, fused scan and flax.linen.RNN over cell(carry, x_t) agree, values and grads.

    (Lengths are >= 1 here: flax.linen.RNN's carry for an empty sequence is not h_0.) Every
    variant forwards; the reverse direction once per way of running.
    """
    cell = gruvar.make(variant, N)
    m = in_width(variant, M, N)
    x = jnp.asarray(rng.standard_normal((B, T, m)), jnp.float32)
    lengths = np.array([7, 3, 1, 5])
    params = {"params": init_params(variant, m, N)}
    slow = nn.RNN(cell, return_carry=True, reverse=reverse, keep_order=True)
    valid = (np.arange(T)[None, :] < lengths[:, None])[..., None]

    def loss_fast(p):
        ys, carry = cell.apply(p, x, lengths, reverse=reverse, method="scan")
        return jnp.sum(jnp.sin(ys)) + jnp.sum(cell.resolved.family.hidden(carry) ** 2), (ys, carry)

    def loss_slow(p):
        carry, ys = slow.apply({"params": {"cell": p["params"]}}, x, seq_lengths=lengths)
        ys = jnp.where(valid, ys, 0)  # flax leaves padded outputs as they fall; gruvar zeroes them
        return jnp.sum(jnp.sin(ys)) + jnp.sum(cell.resolved.family.hidden(carry) ** 2), (ys, carry)

    (l_f, out_f), g_f = jax.value_and_grad(loss_fast, has_aux=True)(params)
    (l_s, out_s), g_s = jax.value_and_grad(loss_slow, has_aux=True)(params)
    np.testing.assert_allclose(l_f, l_s, atol=1e-5)
    chex.assert_trees_all_close(out_f, out_s, atol=1e-5)
    chex.assert_trees_all_close(g_f, g_s, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("variant", ["gru", "gru3", "gru_reset_after", "mgu", "lstm", "tanh"])
def test_gradients_match_finite_differences(variant, rng):
    """JAX's gradient (float32) against central differences of the float64 NumPy reference."""
    m, n, b, t = 2, 3, 2, 4
    lengths = np.array([4, 2])
    params = init_params(variant, m, n, seed=3)
    x = rng.standard_normal((b, t, m)).astype(np.float32)
    w = rng.standard_normal((b, t, n))

    def ref_loss(p):
        ys, carry = reference.run(family(variant), p, x, lengths)
        return np.sum(w * ys) + np.sum(reference.hidden(family(variant), carry) ** 2)

    def jax_loss(p):
        ys, carry = fast(variant, p, x, lengths)
        return jnp.sum(w * ys) + jnp.sum(cells.get(variant).family.hidden(carry) ** 2)

    grads = jax.grad(jax_loss)(params)
    p64 = {k: np.asarray(v, np.float64) for k, v in params.items()}
    eps = 1e-6
    for name, value in p64.items():
        fd = np.zeros_like(value)
        for idx in np.ndindex(value.shape):
            plus, minus = dict(p64), dict(p64)
            plus[name] = value.copy()
            plus[name][idx] += eps
            minus[name] = value.copy()
            minus[name][idx] -= eps
            fd[idx] = (ref_loss(plus) - ref_loss(minus)) / (2 * eps)
        np.testing.assert_allclose(grads[name], fd, atol=2e-5, rtol=1e-4, err_msg=name)


@pytest.mark.parametrize("variant", ["gru", "lstm"])
def test_initial_carry_continues_a_sequence(variant, rng):
    """Scanning a prefix, then the rest from the prefix's final carry, equals one full scan."""
    params = init_params(variant, M, N)
    x = rng.standard_normal((B, T, M)).astype(np.float32)
    v = cells.get(variant)
    ys, carry = fast(variant, params, x)
    ys_a, carry_a = fast(variant, params, x[:, :3])
    ys_b, carry_b = recurrence.scan(v.plan, nn.sigmoid, params, x[:, 3:], initial_carry=carry_a)
    np.testing.assert_allclose(np.concatenate([ys_a, ys_b], axis=1), ys, atol=1e-6)
    chex.assert_trees_all_close(carry_b, carry, atol=1e-6)


@pytest.mark.parametrize("unroll", [2, 7])
def test_unroll_changes_nothing(unroll, rng):
    params = init_params("lstm", M, N)
    x = rng.standard_normal((B, T, M)).astype(np.float32)
    chex.assert_trees_all_close(
        fast("lstm", params, x, LENGTHS, unroll=unroll),
        fast("lstm", params, x, LENGTHS),
        atol=1e-6,
    )


def test_bias_only_gates_cost_no_recurrent_matmul():
    """GRU3's gates are constants: its only in-loop matmul is U_h (r ⊙ h), [n, n]."""
    params = init_params("gru3", M, N)
    fused = recurrence.fuse(cells.get("gru3").plan, nn.sigmoid, params)
    assert "U_1" not in fused
    assert fused["U_2"].shape == (N, N)
    np.testing.assert_allclose(fused["g_z"], nn.sigmoid(params["b_z"]))
    x = jnp.zeros((B, T, M))
    hlo = jax.jit(lambda p, x: fast("gru3", p, x)).lower(params, x).as_text()
    gru_hlo = jax.jit(lambda p, x: fast("gru", p, x)).lower(init_params("gru", M, N), x).as_text()
    assert hlo.count("dot_general") < gru_hlo.count("dot_general")


def test_no_recompilation_for_same_shapes(rng):
    model = gruvar.RNN("gru", N, num_layers=2, bidirectional=True)
    x = jnp.asarray(rng.standard_normal((B, T, M)), jnp.float32)
    variables = model.init(jax.random.key(0), x, LENGTHS)

    @jax.jit
    @chex.assert_max_traces(n=1)
    def apply(v, x, lengths):
        return model.apply(v, x, lengths)

    for i in range(3):
        apply(variables, x + i, jnp.asarray(np.roll(LENGTHS, i)))


def test_lengths_must_match_the_batch(rng):
    params = init_params("gru", M, N)
    x = rng.standard_normal((B, T, M)).astype(np.float32)
    with pytest.raises(ValueError, match=r"lengths must have shape \[batch\]"):
        fast("gru", params, x, np.array([1, 2]))
    with pytest.raises(ValueError, match="lengths must be integers"):
        fast("gru", params, x, np.ones(B, np.float32))
