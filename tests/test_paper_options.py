"""The papers' training options: weight noise, initialiser sets, hard-sigmoid gates."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import reference
from conftest import init_params
from test_train import params_of, smoke

import gruvar
from gruvar import data
from gruvar.training import options, steps, train


def _state_and_batch(**overrides):
    cfg = smoke("gru,shift", **overrides)
    dataset = data.load(cfg.data.name, None, **cfg.data.options)
    state = steps.create_state(cfg, dataset, steps.build_model(cfg, dataset), 100)
    batch = dataset.train_batch(0, cfg.data.batch_size, cfg.seed)
    batch["weights"] = np.ones(cfg.data.batch_size, np.float32)
    return state, batch


def _step(state, batch, **options):
    """(new state, metrics window) of one update from a copy of ``state`` (a step donates it)."""
    copy = jax.tree.map(jnp.array, state)
    return steps.train_step(
        "frames", copy, steps.zero_window("frames"), batch, jax.random.key(7), **options
    )


def _loss_at(state, batch, step, noise):
    """The training loss a step reports, with the state's step set to ``step``."""
    _, window = _step(state.replace(step=step), batch, weight_noise=noise)
    return float(window["nll"] / window["frames"])


def test_weight_noise_is_on_weight_matrices_only_and_has_the_asked_std():
    params = {"W": jnp.zeros((300, 200)), "U": jnp.zeros((200, 200)), "b": jnp.zeros(200)}
    noisy = steps.with_weight_noise(params, jax.random.key(0), 0.075)
    assert np.all(np.asarray(noisy["b"]) == 0), "biases stay clean"
    for name in ("W", "U"):
        assert np.std(noisy[name]) == pytest.approx(0.075, rel=0.02)
    assert not np.allclose(noisy["W"][:200], noisy["U"]), "each matrix draws its own noise"


def test_weight_noise_on_recurrent_leaves_the_head_clean():
    params = {
        "rnn": {"layer_0": {"W": jnp.zeros((30, 20)), "U": jnp.zeros((20, 20))}},
        "head": {"kernel": jnp.zeros((20, 88)), "bias": jnp.zeros(88)},
    }
    noisy = steps.with_weight_noise(params, jax.random.key(0), 0.075, on="recurrent")
    np.testing.assert_array_equal(noisy["head"]["kernel"], 0.0)
    for name in ("W", "U"):
        assert np.std(noisy["rnn"]["layer_0"][name]) == pytest.approx(0.075, rel=0.1)
    everywhere = steps.with_weight_noise(params, jax.random.key(0), 0.075)
    assert np.std(everywhere["head"]["kernel"]) == pytest.approx(0.075, rel=0.1)


def test_two_updates_see_different_noise():
    state, batch = _state_and_batch()
    noisy = [_loss_at(state, batch, step, 0.075) for step in (0, 1, 1)]
    clean = [_loss_at(state, batch, step, 0.0) for step in (0, 1)]
    assert clean[0] == clean[1], "without noise, the step number does not change the loss"
    assert noisy[0] != noisy[1], "steps 0 and 1 drew the same noise"
    assert noisy[1] == noisy[2], "the noise of a step is a function of (seed, step): resumable"
    assert abs(noisy[0] - clean[0]) > 1e-4, "noise std 0.075 did not change the loss"


def test_a_step_with_noise_on_the_recurrent_layers_only_differs_from_noise_everywhere():
    state, batch = _state_and_batch()
    losses = []
    for on in ("all", "recurrent"):
        _, window = _step(state, batch, weight_noise=0.075, noise_on=on)
        losses.append(float(window["nll"] / window["frames"]))
    assert losses[0] != losses[1]


def test_evaluation_sees_the_clean_parameters():
    """A noisy update with a vanishing learning rate leaves the parameters (and so every
    evaluation) where they were: the noise is drawn for the gradient, never stored."""
    state, batch = _state_and_batch(**{"optimizer.name": "sgd", "optimizer.learning_rate": 1e-30})
    before = jax.tree.map(np.array, state.params)
    eval_before = steps.eval_step("frames", state, batch)
    new, _ = steps.train_step(
        "frames", state, steps.zero_window("frames"), batch, jax.random.key(0), weight_noise=0.5
    )
    for a, b in zip(jax.tree.leaves(new.params), jax.tree.leaves(before), strict=True):
        np.testing.assert_allclose(a, b, atol=1e-20)
    eval_after = steps.eval_step("frames", new, batch)
    assert float(eval_after["nll"]) == pytest.approx(float(eval_before["nll"]), rel=1e-6)


def test_noise_std_zero_is_the_noiseless_step_exactly():
    state, batch = _state_and_batch()
    key = jax.random.key(3)
    copy = jax.tree.map(jnp.array, state)
    plain, w1 = steps.train_step("frames", state, steps.zero_window("frames"), batch, key)
    zero, w2 = steps.train_step(
        "frames", copy, steps.zero_window("frames"), batch, key, weight_noise=0.0
    )
    for a, b in zip(jax.tree.leaves(plain.params), jax.tree.leaves(zero.params), strict=True):
        np.testing.assert_array_equal(a, b)
    assert float(w1["nll"]) == float(w2["nll"])


def test_a_summed_frame_loss_scales_each_update_by_its_frames():
    """librnn summed each song's NLL, so a long song's update outweighs a short one's: with
    plain SGD the summed loss's step is the mean loss's step times frames / loss_frames."""
    state, batch = _state_and_batch(**{"optimizer.name": "sgd", "optimizer.learning_rate": 0.1})
    frames = float(batch["lengths"].sum())
    steps_taken = {}
    for name, loss_frames in (("mean", 0.0), ("summed", frames / 3)):
        new, window = _step(state, batch, loss_frames=loss_frames)
        steps_taken[name] = jax.tree.map(
            lambda a, b: np.asarray(a) - np.asarray(b), new.params, state.params
        )
        assert float(window["frames"]) == frames, "the logged metric stays a mean per frame"
    for mean, summed in zip(*map(jax.tree.leaves, steps_taken.values()), strict=True):
        np.testing.assert_allclose(summed, 3 * mean, rtol=1e-4, atol=1e-6)


def test_loss_frames_is_the_mean_frames_of_a_training_batch():
    cfg = smoke("gru,shift", **{"train.frame_loss": "summed"})
    dataset = data.load(cfg.data.name, None, **cfg.data.options)
    lengths = dataset.splits["train"].lengths
    assert steps.loss_frames(cfg, dataset) == pytest.approx(lengths.mean() * cfg.data.batch_size)
    cfg.train.frame_loss = "batch_mean"
    assert steps.loss_frames(cfg, dataset) == 0.0


def test_training_with_a_summed_frame_loss_takes_other_steps(tmp_path):
    """The config field reaches the update: shift's songs differ in length, so weighing each
    by its frames changes training."""
    ends = {}
    for loss in ("batch_mean", "summed"):
        cfg = smoke("gru,shift", **{"train.num_epochs": 1, "train.frame_loss": loss})
        train.train_and_evaluate(cfg, str(tmp_path / loss))
        ends[loss] = params_of(tmp_path / loss)
    assert ends["batch_mean"][0] == ends["summed"][0], "the same number of steps"
    leaves = zip(*(jax.tree.leaves(p) for _, p in ends.values()), strict=True)
    assert any(not np.allclose(a, b) for a, b in leaves)


def test_a_summed_frame_loss_on_a_classification_task_is_an_error():
    from gruvar.training import config as config_lib

    cfg = smoke("gru,parity", **{"train.frame_loss": "summed"})
    with pytest.raises(ValueError, match="weighs frames; 'parity' is a 'classify' task"):
        config_lib.check_task(cfg, data.load(cfg.data.name, None, **cfg.data.options))


def test_hard_sigmoid_is_keras_not_jax():
    a = jnp.array([-3.0, -2.5, -1.0, 0.0, 1.0, 2.5, 3.0])
    np.testing.assert_allclose(options.hard_sigmoid(a), [0, 0, 0.3, 0.5, 0.7, 1, 1], atol=1e-7)


@pytest.mark.parametrize("variant", ["gru", "lstm_peephole"])
def test_hard_sigmoid_gates_match_the_reference(variant, rng):
    params = init_params(variant, 3, 5)
    x = rng.standard_normal((2, 6, 3)).astype(np.float32)
    cell = gruvar.make(variant, 5, gate_fn=options.hard_sigmoid)
    ys, _ = cell.apply({"params": params}, x, method="scan")
    family = gruvar.linen.cells.get(variant).family.name
    ref, _ = reference.run(family, params, x, gate=reference.hard_sigmoid)
    np.testing.assert_allclose(ys, ref, atol=2e-5)
    plain, _ = reference.run(family, params, x)
    assert not np.allclose(ref, plain, atol=1e-3), "the test needs gates away from σ's shape"


def _params(init, variant="lstm"):
    cfg = smoke(f"{variant},shift", **{"model.init": init, "model.features": 40})
    dataset = data.load(cfg.data.name, None, **cfg.data.options)
    return steps.create_state(cfg, dataset, steps.build_model(cfg, dataset), 10).params


def test_keras_initialisers_glorot_w_orthogonal_u_zero_b():
    params = _params("keras")
    layer = params["rnn"]["layer_0"]
    m, n = layer["W_i"].shape
    for name, value in layer.items():
        if name.startswith("W"):
            assert np.max(np.abs(value)) <= np.sqrt(6 / (m + n)), name
        if name.startswith("U"):
            np.testing.assert_allclose(value.T @ value, np.eye(n), atol=1e-5, err_msg=name)
        if name.startswith("b"):
            np.testing.assert_array_equal(value, 1.0 if name == "b_f" else 0.0, err_msg=name)
    head = params["head"]["kernel"]
    assert np.max(np.abs(head)) <= np.sqrt(6 / sum(head.shape))


def test_uniform_initialisers_are_librnn_irange():
    params = _params("uniform", "lstm_peephole")
    for path, value in jax.tree_util.tree_leaves_with_path(params):
        name = jax.tree_util.keystr(path)
        if value.ndim == 2:
            assert 0.09 < np.max(np.abs(value)) <= 0.1, name
        elif "'V_" in name:
            np.testing.assert_array_equal(value, 0.0, err_msg=f"{name}: peepholes start at 0")


@pytest.mark.parametrize(
    "variant, candidate_u", [("tanh", "U"), ("gru", "U_h"), ("lstm_peephole", "U_c")]
)
def test_pylearn2_initialisers_make_only_the_candidate_u_orthogonal(variant, candidate_u):
    layer = _params("pylearn2", variant)["rnn"]["layer_0"]
    n = layer[candidate_u].shape[0]
    np.testing.assert_allclose(layer[candidate_u].T @ layer[candidate_u], np.eye(n), atol=1e-5)
    for name, value in layer.items():
        if name != candidate_u and value.ndim == 2:
            assert 0.09 < np.max(np.abs(value)) <= 0.1, name
        if name.startswith("b") and name != "b_f":
            np.testing.assert_array_equal(value, 0.0, err_msg=name)


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("model.init", "he", r"config.model.init = 'he' is unknown; choose from \['flax'"),
        ("model.gate", "relu", r"config.model.gate = 'relu' is unknown"),
        ("train.weight_noise_on", "head", r"config.train.weight_noise_on = 'head' is unknown"),
        ("train.weight_noise", -0.1, "config.train.weight_noise is a standard deviation"),
        ("train.frame_loss", "sum", r"config.train.frame_loss = 'sum' is unknown"),
    ],
)
def test_bad_option_values_name_the_field(field, value, message):
    from gruvar.training import config as config_lib

    with pytest.raises(ValueError, match=message):
        config_lib.validate(smoke(**{field: value}))
