"""Stacked and bidirectional layers against the NumPy reference; the task heads."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import reference
from conftest import CLASSIC_VARIANTS

import gruvar
from gruvar.linen import cells

B, T, M, N = 3, 6, 4, 5
LENGTHS = np.array([6, 2, 4])


def family(variant):
    return cells.get(variant).family.name


@pytest.mark.parametrize("variant", CLASSIC_VARIANTS)
def test_stacked_bidirectional_matches_reference(variant, rng):
    model = gruvar.RNN(variant, N, num_layers=2, bidirectional=True)
    x = rng.standard_normal((B, T, M)).astype(np.float32)
    variables = model.init(jax.random.key(0), x, LENGTHS)
    outputs, carries = model.apply(variables, x, LENGTHS)
    params = variables["params"]
    layer_in = x
    for layer in range(2):
        fwd, c_fwd = reference.run(family(variant), params[f"layer_{layer}_fwd"], layer_in, LENGTHS)
        bwd, c_bwd = reference.run(
            family(variant), params[f"layer_{layer}_bwd"], layer_in, LENGTHS, reverse=True
        )
        layer_in = np.concatenate([fwd, bwd], axis=-1)
        for got, want in zip(
            jax.tree.leaves(carries[layer]), jax.tree.leaves((c_fwd, c_bwd)), strict=True
        ):
            np.testing.assert_allclose(got, want, atol=3e-6)
    np.testing.assert_allclose(outputs, layer_in, atol=3e-6)
    assert outputs.shape == (B, T, 2 * N)


def test_stacked_unidirectional_matches_reference(rng):
    model = gruvar.RNN("gru2", N, num_layers=3)
    x = rng.standard_normal((B, T, M)).astype(np.float32)
    variables = model.init(jax.random.key(0), x)
    outputs, carries = model.apply(variables, x)
    layer_in = x
    for layer in range(3):
        layer_in, final = reference.run("gru", variables["params"][f"layer_{layer}"], layer_in)
        np.testing.assert_allclose(carries[layer], final, atol=3e-6)
    np.testing.assert_allclose(outputs, layer_in, atol=3e-6)


def test_rnn_parameters_keep_the_cell_names():
    model = gruvar.RNN("gru3", N)
    params = model.init(jax.random.key(0), jnp.ones((1, 2, M)))["params"]
    assert set(params) == {"layer_0"}
    assert set(params["layer_0"]) == {"b_z", "b_r", "W_h", "U_h", "b_h"}


def test_cell_kwargs_reach_every_layer():
    model = gruvar.RNN("lstm", N, num_layers=2, cell_kwargs={"forget_bias": 3.0})
    params = model.init(jax.random.key(0), jnp.ones((1, 2, M)))["params"]
    for layer in ("layer_0", "layer_1"):
        np.testing.assert_array_equal(params[layer]["b_f"], 3.0)


def test_classifier_reads_the_last_valid_state(rng):
    """Padding after a sequence's end must not change its logits."""
    model = gruvar.SequenceClassifier(gruvar.RNN("lstm", N, bidirectional=True), num_classes=10)
    x = rng.standard_normal((B, T, M)).astype(np.float32)
    variables = model.init(jax.random.key(0), x, LENGTHS)
    logits = model.apply(variables, x, LENGTHS)
    assert logits.shape == (B, 10)
    noisy = x.copy()
    for b, length in enumerate(LENGTHS):
        noisy[b, length:] = 100.0
    np.testing.assert_allclose(model.apply(variables, noisy, LENGTHS), logits, atol=1e-6)
    head = variables["params"]["head"]
    assert head["kernel"].shape == (2 * N, 10)


def test_classifier_with_embedding_takes_token_ids():
    model = gruvar.SequenceClassifier(
        gruvar.RNN("gru", N), num_classes=1, vocab_size=50, embed_dim=8
    )
    tokens = jnp.array([[3, 4, 5, 0], [7, 8, 0, 0]])
    variables = model.init(jax.random.key(0), tokens, jnp.array([3, 2]))
    assert variables["params"]["embed"]["embedding"].shape == (50, 8)
    assert model.apply(variables, tokens, jnp.array([3, 2])).shape == (2, 1)


def test_frame_predictor_gives_per_step_logits(rng):
    model = gruvar.FramePredictor(gruvar.RNN("tanh", N), out_features=88)
    x = (rng.random((B, T, 88)) < 0.1).astype(np.float32)
    variables = model.init(jax.random.key(0), x, LENGTHS)
    logits = model.apply(variables, x, LENGTHS)
    assert logits.shape == (B, T, 88)
    hidden, _ = reference.run("tanh", variables["params"]["rnn"]["layer_0"], x, LENGTHS)
    head = variables["params"]["head"]
    np.testing.assert_allclose(logits, hidden @ head["kernel"] + head["bias"], atol=1e-5)


@pytest.mark.parametrize(
    "kwargs, shape, message",
    [
        ({}, (B, M), r"\[batch, time, features\]"),
        ({"num_layers": 0}, (B, T, M), "num_layers must be at least 1"),
    ],
)
def test_bad_input_is_a_clear_error(kwargs, shape, message):
    with pytest.raises(ValueError, match=message):
        gruvar.RNN("gru", N, **kwargs).init(jax.random.key(0), jnp.ones(shape))


def test_unknown_variant_fails_at_init_with_the_registry_listed():
    with pytest.raises(ValueError, match=r"Unknown variant 'gruu'.*Registered variants"):
        gruvar.RNN("gruu", N).init(jax.random.key(0), jnp.ones((1, 2, M)))
