"""gruvar.nnx against the linen modules: the same outputs, carries and gradients for every
registered variant with the same weights; the heads; flax.nnx.RNN, nnx.Optimizer, nnx.vmap;
linen variables in and out; the same errors for bad input."""

import re
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from conftest import ALL_VARIANTS, in_width
from flax import nnx

import gruvar
import gruvar.nnx as gnnx

B, T, M, N = 3, 5, 4, 3
LENGTHS = jnp.array([5, 2, 0])  # full, partial, empty
TOL = {"atol": 1e-6, "rtol": 1e-6}  # one recurrence underneath: equal up to op order
FAST_COMPILE = {"xla_backend_optimization_level": 0, "xla_llvm_disable_expensive_passes": True}


def shapes(tree):
    return jax.tree.map(jnp.shape, tree)


def perturbed(params, seed=0):
    """``params`` with noise on every vector (biases, peepholes, diagonals, gammas), so terms
    that start at 0 or 1 still show a wrong wiring."""
    rng = np.random.default_rng(seed)
    return jax.tree.map(
        lambda p: p + 0.5 * rng.standard_normal(p.shape).astype(p.dtype) if p.ndim == 1 else p,
        params,
    )


def inputs(m, seed=0, batch=B):
    return jnp.asarray(np.random.default_rng(seed).standard_normal((batch, T, m)), jnp.float32)


def loss_of(outputs, carries):
    """A scalar that reads every output and every final carry, each with its own weight."""
    w = jnp.cos(jnp.arange(outputs.size, dtype=outputs.dtype)).reshape(outputs.shape)
    return (w * outputs).sum() + sum((c**2).sum() for c in jax.tree.leaves(carries))


def linen_and_nnx(linen_model, nnx_model, *args):
    """(linen, nnx) each as (loss, model output, grads as a linen params tree), in one jit."""
    graphdef, state = nnx.split(nnx_model)
    params = gnnx.to_linen(nnx_model)["params"]

    def run(apply, p):
        out = apply(p)
        scalar = loss_of(*out) if isinstance(out, tuple) else loss_of(out, ())
        return scalar, out

    def both(params, state):
        lin = jax.value_and_grad(
            lambda p: run(lambda q: linen_model.apply({"params": q}, *args), p), has_aux=True
        )(params)
        new = jax.value_and_grad(
            lambda s: run(lambda q: nnx.merge(graphdef, q)(*args), s), has_aux=True
        )(state)
        return lin, new

    # One program for both (XLA merges what they share); it runs once, on tiny shapes, so
    # compiling is the cost and LLVM's optimisations are not worth their time.
    compiled = jax.jit(both).lower(params, state).compile(FAST_COMPILE)
    ((l_loss, l_out), l_grads), ((n_loss, n_out), n_grads) = compiled(params, state)
    return (l_loss, l_out, l_grads), (n_loss, n_out, nnx.to_pure_dict(n_grads))


def assert_trees_close(got, want, **tol):
    assert jax.tree.structure(got) == jax.tree.structure(want)
    for g, w in zip(jax.tree.leaves(got), jax.tree.leaves(want), strict=True):
        np.testing.assert_allclose(g, w, **(tol or TOL))


def rnn_config(variant):
    """(in width, RNN keywords): two bidirectional layers, or for MUT1/MUT2 (input width must
    equal units, and a second layer would read 2n) one bidirectional layer of width n."""
    m = in_width(variant, M, N)
    return m, {"num_layers": 1 if m != M else 2, "bidirectional": True}


@pytest.mark.parametrize("variant", ALL_VARIANTS)
def test_every_variant_matches_linen_outputs_carries_and_gradients(variant):
    """Ragged lengths (one empty), both directions (reverse), stacking: same weights in, the
    same outputs, final carries and gradients out; the parameter trees match linen's init."""
    m, kwargs = rnn_config(variant)
    x = inputs(m)
    model = gnnx.RNN(variant, m, N, rngs=nnx.Rngs(0), **kwargs)
    linen = gruvar.RNN(variant, N, **kwargs)
    assert shapes(gnnx.to_linen(model)) == shapes(
        jax.eval_shape(linen.init, jax.random.key(0), x, LENGTHS)
    )
    gnnx.from_linen(model, perturbed(gnnx.to_linen(model)))
    (l_loss, l_out, l_grads), (n_loss, n_out, n_grads) = linen_and_nnx(linen, model, x, LENGTHS)
    assert n_out[0].shape == (B, T, 2 * N)
    np.testing.assert_allclose(n_loss, l_loss, **TOL)
    assert_trees_close(n_out, l_out)
    assert_trees_close(n_grads, l_grads)
    # Every kind of weight reaches the loss in some layer (a ReLU layer this small may be dead).
    used = {name for cell in n_grads.values() for name, g in cell.items() if np.abs(g).max() > 0}
    assert used == {name for cell in n_grads.values() for name in cell}


@pytest.mark.parametrize("variant, scan", [("gru2", "sequential"), ("minlstm", "parallel")])
def test_one_direction_three_layers_and_scan_modes_match_linen(variant, scan):
    x = inputs(M, seed=1)
    model = gnnx.RNN(variant, M, N, num_layers=3, scan=scan, rngs=nnx.Rngs(1))
    linen = gruvar.RNN(variant, N, num_layers=3, scan=scan)
    (_, l_out, l_grads), (_, n_out, n_grads) = linen_and_nnx(linen, model, x, LENGTHS)
    assert set(gnnx.to_linen(model)["params"]) == {"layer_0", "layer_1", "layer_2"}
    assert_trees_close(n_out, l_out)
    assert_trees_close(n_grads, l_grads)


def test_heads_match_linen():
    """A bidirectional classifier over token ids, and a frame predictor, from the same weights."""
    tokens = jnp.array([[3, 4, 5, 0, 0], [7, 8, 9, 1, 2], [6, 0, 0, 0, 0]])
    lengths = jnp.array([3, 5, 1])
    rngs = nnx.Rngs(2)
    classifier = gnnx.SequenceClassifier(
        gnnx.RNN("lstm", 6, N, bidirectional=True, rngs=rngs),
        4,
        vocab_size=10,
        embed_dim=6,
        rngs=rngs,
    )
    linen = gruvar.SequenceClassifier(
        gruvar.RNN("lstm", N, bidirectional=True), 4, vocab_size=10, embed_dim=6
    )
    assert shapes(gnnx.to_linen(classifier)) == shapes(
        jax.eval_shape(linen.init, jax.random.key(0), tokens, lengths)
    )
    (_, l_out, l_grads), (_, n_out, n_grads) = linen_and_nnx(linen, classifier, tokens, lengths)
    assert n_out.shape == (3, 4)
    assert_trees_close(n_out, l_out)
    assert_trees_close(n_grads, l_grads)

    frames = gnnx.FramePredictor(gnnx.RNN("tanh", M, N, rngs=rngs), 7, rngs=rngs)
    x = inputs(M, seed=2)
    linen = gruvar.FramePredictor(gruvar.RNN("tanh", N), 7)
    logits = frames(x, LENGTHS)
    assert logits.shape == (B, T, 7)
    np.testing.assert_allclose(logits, linen.apply(gnnx.to_linen(frames), x, LENGTHS), **TOL)


@pytest.mark.parametrize("variant", ["lstm_peephole", "lstm_fgr"])
def test_cell_drops_into_flax_nnx_rnn(variant):
    """flax.nnx.RNN over the cell's one-step call gives the fast scan's outputs and carry."""
    cell = gnnx.Cell(variant, M, N, rngs=nnx.Rngs(3))
    gnnx.from_linen(cell, perturbed(gnnx.to_linen(cell)))
    x = inputs(M, seed=3)
    lengths = jnp.array([5, 2, 1])
    carry, ys = nnx.RNN(cell, return_carry=True)(x, seq_lengths=lengths)
    want_ys, want_carry = cell.scan(x, lengths)
    assert_trees_close(carry, want_carry, atol=2e-6)
    valid = (jnp.arange(T)[None, :] < lengths[:, None])[..., None]
    np.testing.assert_allclose(jnp.where(valid, ys, 0), want_ys, atol=2e-6)


def test_nnx_optimizer_step_under_nnx_jit_is_sgd_on_linen_gradients():
    x, y = inputs(M, seed=4), jnp.array([0, 2, 1])
    model = gnnx.SequenceClassifier(gnnx.RNN("gru", M, N, rngs=nnx.Rngs(4)), 3, rngs=nnx.Rngs(5))
    before = jax.tree.map(jnp.array, gnnx.to_linen(model))  # copies: the step updates in place
    optimizer = nnx.Optimizer(model, optax.sgd(0.5), wrt=nnx.Param)

    def cross_entropy(logits):
        return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()

    @nnx.jit
    def train_step(model, optimizer):
        loss, grads = nnx.value_and_grad(lambda m: cross_entropy(m(x, LENGTHS)))(model)
        optimizer.update(model, grads)
        return loss

    loss = train_step(model, optimizer)
    linen = gruvar.SequenceClassifier(gruvar.RNN("gru", N), 3)
    want_loss, grads = jax.jit(
        jax.value_and_grad(lambda p: cross_entropy(linen.apply({"params": p}, x, LENGTHS)))
    )(before["params"])
    np.testing.assert_allclose(loss, want_loss, **TOL)
    want = jax.tree.map(lambda p, g: p - 0.5 * g, before["params"], grads)
    assert_trees_close(gnnx.to_linen(model)["params"], want)
    assert int(optimizer.step[...]) == 1


def test_nnx_vmap_builds_and_runs_one_model_per_seed():
    keys = jax.random.split(jax.random.key(6), 2)

    def build(key):
        return gnnx.RNN("lstm", M, N, rngs=nnx.Rngs(key))

    models = nnx.vmap(build)(keys)
    x = inputs(M, seed=6)
    outputs, carries = nnx.vmap(lambda m: m(x, LENGTHS))(models)
    assert outputs.shape == (2, B, T, N)
    assert not np.allclose(outputs[0], outputs[1])
    forward = nnx.jit(lambda m: m(x, LENGTHS))
    for k in range(2):
        alone = build(keys[k])
        assert_trees_close(
            jax.tree.map(lambda a, k=k: a[k], gnnx.to_linen(models)), gnnx.to_linen(alone)
        )
        assert_trees_close(jax.tree.map(lambda a, k=k: a[k], (outputs, carries)), forward(alone))


def test_linen_variables_round_trip_through_an_nnx_model():
    """A linen classifier's variables (a run's checkpoint) load into the NNX model, which then
    computes the linen logits, and come back out unchanged."""
    x = inputs(M, seed=7)
    linen = gruvar.SequenceClassifier(
        gruvar.RNN("lstm", N, num_layers=2, cell_kwargs={"forget_bias": 2.0}), 10
    )
    variables = linen.init(jax.random.key(7), x, LENGTHS)
    model = gnnx.SequenceClassifier(
        gnnx.RNN("lstm", M, N, num_layers=2, rngs=nnx.Rngs(8)), 10, rngs=nnx.Rngs(9)
    )
    gnnx.from_linen(model, jax.tree.map(np.asarray, variables))
    np.testing.assert_allclose(model(x, LENGTHS), linen.apply(variables, x, LENGTHS), **TOL)
    for back in (gnnx.to_linen(model), gnnx.to_linen(nnx.split(model)[1])):
        assert jax.tree.structure(back) == jax.tree.structure(dict(variables))
        for got, want in zip(jax.tree.leaves(back), jax.tree.leaves(variables), strict=True):
            np.testing.assert_array_equal(got, want)


def test_linen_variables_of_another_model_are_refused_with_the_paths():
    gru = gruvar.RNN("gru", N).init(jax.random.key(0), inputs(M))
    lstm = gnnx.RNN("lstm", M, N, rngs=nnx.Rngs(0))
    with pytest.raises(ValueError, match=r"missing \['layer_0/U_c'.*unexpected \['layer_0/U_h'"):
        gnnx.from_linen(lstm, gru)
    wider = gnnx.RNN("gru", M, N + 1, rngs=nnx.Rngs(0))
    with pytest.raises(ValueError, match=r"shape differs at \[\('layer_0/U_h', \(3, 3\), \(4, 4\)"):
        gnnx.from_linen(wider, gru)


def test_initialisers_are_the_linen_cells():
    """lecun-normal W, orthogonal U, U(0, 1) diagonal weights, zero biases, the forget bias."""
    model = gnnx.RNN(
        "lstm", 24, 16, num_layers=2, cell_kwargs={"forget_bias": 3.0}, rngs=nnx.Rngs(0)
    )
    for layer in (model.layer_0, model.layer_1):
        np.testing.assert_array_equal(layer.b_f[...], 3.0)
        np.testing.assert_array_equal(layer.b_i[...], 0.0)
        u = layer.U_c[...]
        np.testing.assert_allclose(u.T @ u, np.eye(16), atol=1e-5)
    assert 0.85 < model.layer_0.W_i[...].std() * np.sqrt(24) < 1.15  # lecun: 1/sqrt(fan_in)
    u = gnnx.Cell("indrnn", M, 64, rngs=nnx.Rngs(0)).u[...]
    assert 0 <= u.min() and u.max() < 1 and 0.3 < u.mean() < 0.7  # mean 1/2, std 0.036
    assert set(gnnx.Cell("gru3", M, N, rngs=nnx.Rngs(0)).params()) == {
        "b_z",
        "b_r",
        "W_h",
        "U_h",
        "b_h",
    }


@pytest.mark.parametrize(
    "variant, features, kwargs, shape, lengths, message",
    [
        ("gru", N, {}, (B, M), None, r"\[batch, time, features\]"),
        ("gru", N, {"num_layers": 0}, (B, T, M), None, "num_layers must be at least 1"),
        ("gruu", N, {}, (B, T, M), None, r"Unknown variant 'gruu'.*Registered variants"),
        ("gru", 0, {}, (B, T, M), None, "features must be positive, got 0"),
        ("gru", N, {"scan": "parallel"}, (B, T, M), None, "scan='parallel' needs a variant"),
        ("gru", N, {"scan": "fast"}, (B, T, M), None, "Unknown scan mode 'fast'"),
        ("mut1", N, {}, (B, T, M), None, "input width must equal its units: got 4 inputs"),
        ("gru", N, {}, (B, T, M), jnp.array([1, 2]), r"lengths must have shape \[batch\]"),
        ("gru", N, {}, (B, T, M), jnp.array([1.0, 2, 3]), "lengths must be integers"),
    ],
)
def test_bad_input_is_the_linen_error(variant, features, kwargs, shape, lengths, message):
    x = jnp.ones(shape)
    with pytest.raises(ValueError, match=message):
        gruvar.RNN(variant, features, **kwargs).init(jax.random.key(0), x, lengths)
    with pytest.raises(ValueError, match=message):
        gnnx.RNN(variant, shape[-1], features, rngs=nnx.Rngs(0), **kwargs)(x, lengths)


def test_nnx_only_errors_name_the_width():
    with pytest.raises(
        ValueError, match=r"built for in_features=4; got inputs of shape \(3, 5, 6\)"
    ):
        gnnx.RNN("gru", M, N, rngs=nnx.Rngs(0))(jnp.ones((B, T, 6)))
    with pytest.raises(ValueError, match="needs embed_dim"):
        gnnx.SequenceClassifier(
            gnnx.RNN("gru", M, N, rngs=nnx.Rngs(0)), 2, vocab_size=9, rngs=nnx.Rngs(0)
        )
    with pytest.raises(ValueError, match="embed_dim=5 must be the rnn's in_features=4"):
        gnnx.SequenceClassifier(
            gnnx.RNN("gru", M, N, rngs=nnx.Rngs(0)), 2, vocab_size=9, embed_dim=5, rngs=nnx.Rngs(0)
        )


def test_readme_nnx_example_runs():
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    block = next(b for b in re.findall(r"```python\n(.*?)```", readme, flags=re.S) if "nnx" in b)
    namespace = {}
    exec(block, namespace)
    assert namespace["outputs"].shape == (8, 28, 200)
    assert jnp.isfinite(namespace["loss"])
