"""The zoo's library side: the part grammar's errors, the linear (parallel in time) path against
the sequential one, batch norm, and one training step per new variant. Each variant's equations
and parameter count are checked in test_zoo.py, against references written from the papers."""

import sys
from pathlib import Path

import chex
import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import gruvar
from gruvar import data
from gruvar.core import recurrence, variants
from gruvar.training import config as config_lib
from gruvar.training import steps

sys.path.insert(0, str(Path(__file__).parents[1]))
from configs import synthetic

NEW = sorted(set(gruvar.VARIANTS) - {"gru", "gru1", "gru2", "gru3", "gru_reset_after", "mgu"}
             - {"lstm", "lstm1", "lstm2", "lstm3", "lstm_peephole", "tanh"})  # fmt: skip


def count(variant, m, n):
    x = jax.ShapeDtypeStruct((1, 2, m), jnp.float32)
    params = jax.eval_shape(gruvar.RNN(variant, n).init, jax.random.key(0), x)["params"]
    return sum(p.size for p in jax.tree.leaves(params))


def test_ligru_batch_norm_adds_a_scale_per_projection():
    assert count("ligru:bn=on", 3, 7) == count("ligru", 3, 7) + 2 * 7  # gamma_z, gamma_h


@pytest.mark.parametrize(
    "spec, message",
    [
        ("gru:z=hb,z=b", r"'z' is given twice \('hb' and 'b'\)"),
        ("tanh:c", "'tanh' has no gates"),
        ("tanh:b", "'tanh' has no gates"),
        ("tanh:z=b", r"no gate\(s\) \['z'\]; it has no gates and its candidate is 'h'"),
        ("gru:z=hd", r"through a full U \('h'\) or a diagonal u \('d'\), not both"),
        ("gru:z=xhhb", r"repeats term\(s\) 'h'"),
        ("lstm:f=1-f", "Gate 'f' of 'lstm' is coupled to itself"),
        ("lstm:f=1-q", "coupled to unknown gate 'q'"),
        ("lstm:f=1-i,i=1-o", "coupled to 'i', which is itself 1-o"),
        ("lstm:xhcb,i=1-o", "coupled to 'o', which is itself xhcb"),
        ("lstm:f=1.5", r"constant gate must lie in \(0, 1\], got 1.5"),
        ("lstm:f=0", r"constant gate must lie in \(0, 1\], got 0"),
        ("lstm:f=0.9x", "neither a constant"),
        ("gru:h=hb", "candidate 'h' of 'gru' has spec 'hb'; it must read the input"),
        ("lstm:c=xhcb", "candidate 'c' of 'lstm' has spec 'xhcb'"),
        ("lstm:c=1", "candidate 'c' of 'lstm' has spec '1'"),
        ("gru_reset_after:h=xdb", "its candidate needs 'h'"),
        (
            "gru:act=sigmoid",
            r"act='sigmoid'; choose from \['tanh', 'identity', 'relu', 'silu', 'g'\]",
        ),
        ("gru:out=identity", "only a family with a cell state has one"),
        ("lstm:out=relu", r"one of \['tanh', 'identity'\]"),
        ("lstm:norm=ii", "must name two different gates"),
        ("lstm:norm=iq", "must name two different gates of 'lstm'"),
        ("lstm:f=1,norm=if", "norm: gate 'f' is 1"),
        ("lstm:xhcb,norm=io", "norm: gate 'o' is xhcb"),
        ("gru:z=xb,h=xb", "set r=1"),
        ("mut1:z=xb", "'mut1' has one fixed form"),
        ("fgr:act=identity", "'fgr' has one fixed form"),
        ("ligru:bn=yes", "use bn=on or bn=off"),
        ("gru:z=xhcb", r"\['z'\] of family 'gru' read the cell state"),
    ],
)
def test_invalid_combinations_raise_before_anything_is_built(spec, message):
    with pytest.raises(ValueError, match=message):
        variants.get(spec)


def test_spec_strings_round_trip_and_registered_forms_are_one_line():
    for spec in ("lstm:xhcb,f=1-i", "tanh:h=xdb,act=relu", "ligru:bn=on", "lstm:i=d,f=0.96,o=1"):
        v = variants.get(spec)
        assert variants.get(v.name) == v
    assert variants.get("lstm:xhcb,f=1-i") == gruvar.VARIANTS["lstm_cifg"]
    assert variants.get("tanh:h=xdb,act=relu") == gruvar.VARIANTS["indrnn"]
    assert gruvar.VARIANTS["lstm_np"].name == "lstm_np", "equal to lstm, but its own name"


LINEAR = [
    "mingru",
    "minlstm",
    "tanh:h=xb",
    "mgu:f=xb,h=xb",
    "ligru:z=xb,h=xb,act=tanh",
    "lstm:i=xb,f=xb,o=xb,c=xb",  # o and tanh(c): h is a readout of the linear state c
    "lstm:i=xb,f=1-i,o=0.5,c=xb,act=relu",
]


def test_linearity_is_read_from_the_plan():
    linear = {n for n, v in gruvar.VARIANTS.items() if v.plan.linear}
    modern = {"mingru_g", "minlstm_g", "trnn", "qrnn", "qrnn_fo", "qrnn_ifo", "hgrn"}
    assert linear == {"mingru", "minlstm"} | modern
    assert all(variants.get(spec).plan.linear for spec in LINEAR)
    assert recurrence.resolve_mode(variants.get("mingru").plan, "auto") == (
        "sequential" if jax.default_backend() == "cpu" else "parallel"
    )
    assert recurrence.resolve_mode(variants.get("gru").plan, "auto") == "sequential"


def test_parallel_on_a_variant_that_reads_h_is_an_error():
    x = jnp.ones((2, 3, 4))
    with pytest.raises(ValueError, match="scan='parallel' needs a variant linear"):
        gruvar.RNN("gru", 5, scan="parallel").init(jax.random.key(0), x)
    with pytest.raises(ValueError, match="Unknown scan mode 'fast'"):
        gruvar.RNN("mingru", 5, scan="fast").init(jax.random.key(0), x)


def test_config_validates_the_scan():
    cfg = config_lib.default_config()
    cfg.model.variant, cfg.model.scan = "mingru", "parallel"
    config_lib.validate(cfg)
    cfg.model.variant = "lstm4"
    with pytest.raises(ValueError, match=r"config\.model\.scan: scan=.parallel. needs"):
        config_lib.validate(cfg)
    cfg.model.scan = "tree"
    with pytest.raises(ValueError, match=r"config\.model\.scan: Unknown scan mode .tree."):
        config_lib.validate(cfg)


@pytest.mark.parametrize("spec", LINEAR)
def test_parallel_equals_sequential_with_lengths_reverse_bidirectional_two_layers(spec, rng):
    x = jnp.asarray(rng.standard_normal((3, 6, 2)), jnp.float32)
    lengths = jnp.array([6, 2, 0])
    w = jnp.asarray(rng.standard_normal((3, 6, 8)), jnp.float32)

    def run(scan):
        model = gruvar.RNN(spec, 4, num_layers=2, bidirectional=True, scan=scan)
        params = model.init(jax.random.key(1), x, lengths)
        params = jax.tree.map(
            lambda p: p + 0.3 * jnp.sin(jnp.arange(p.size).reshape(p.shape)), params
        )

        def loss(p):
            ys, carries = model.apply(p, x, lengths)
            return jnp.sum(w * ys) + sum(jnp.sum(c**2) for c in jax.tree.leaves(carries)), (
                ys,
                carries,
            )

        return jax.value_and_grad(loss, has_aux=True)(params)

    (l_s, out_s), g_s = run("sequential")
    (l_p, out_p), g_p = run("parallel")
    np.testing.assert_allclose(l_p, l_s, rtol=1e-5)
    chex.assert_trees_all_close(out_p, out_s, atol=1e-5, rtol=1e-5)
    chex.assert_trees_all_close(g_p, g_s, atol=1e-5, rtol=1e-4)
    assert not np.any(np.asarray(out_s[0])[2]), "an empty sequence outputs zeros"


@pytest.mark.parametrize("spec", LINEAR)
def test_linear_path_equals_the_step_cell(spec, rng):
    """The linear path shares no loop code with cell(carry, x_t), run here by flax.linen.RNN."""
    cell = gruvar.make(spec, 4)
    x = jnp.asarray(rng.standard_normal((3, 5, 2)), jnp.float32)
    lengths = np.array([5, 2, 4])
    variables = cell.init(jax.random.key(0), x, lengths, method="scan")
    for reverse in (False, True):
        ys, carry = cell.apply(variables, x, lengths, reverse=reverse, method="scan")
        slow = nn.RNN(cell, return_carry=True, reverse=reverse, keep_order=True)
        carry_s, ys_s = slow.apply(
            {"params": {"cell": variables["params"]}}, x, seq_lengths=lengths
        )
        valid = (np.arange(5)[None, :] < lengths[:, None])[..., None]
        np.testing.assert_allclose(ys, np.where(valid, ys_s, 0), atol=1e-6)
        chex.assert_trees_all_close(carry, carry_s, atol=1e-6)


def test_batch_norm_uses_the_valid_steps_and_undoes_the_input_scale(rng):
    """BN(W x) is the same for x and 3x, and padding does not enter its statistics."""
    model = gruvar.RNN("ligru:bn=on", 4)
    x = jnp.asarray(rng.standard_normal((3, 5, 2)), jnp.float32)
    lengths = jnp.array([5, 2, 3])
    params = model.init(jax.random.key(0), x, lengths)
    assert {"gamma_z", "gamma_h"} <= set(params["params"]["layer_0"])
    ys, _ = model.apply(params, x, lengths)
    np.testing.assert_allclose(model.apply(params, 3 * x, lengths)[0], ys, atol=1e-4)
    padded = jnp.where((jnp.arange(5)[None, :] < lengths[:, None])[..., None], x, 100.0)
    np.testing.assert_allclose(model.apply(params, padded, lengths)[0], ys, atol=1e-5)
    plain, _ = gruvar.RNN("ligru", 4).apply(params, x, lengths)
    assert not np.allclose(plain, ys), "batch norm changes the layer"


@pytest.mark.parametrize("variant", NEW)
def test_each_new_variant_trains_a_step_from_a_config(variant):
    """Through config validation, steps.build_model and train_step; shift: 8 inputs, 8 units."""
    cfg = synthetic.get_config(f"{variant},shift,smoke")
    config_lib.validate(cfg)
    dataset = data.load(cfg.data.name, None, **cfg.data.options)
    state = steps.create_state(cfg, dataset, steps.build_model(cfg, dataset), 10)
    batch = dataset.train_batch(0, cfg.data.batch_size, cfg.seed)
    batch["weights"] = np.ones(cfg.data.batch_size, np.float32)
    before = jax.tree.map(np.array, state.params)
    state, window = steps.train_step(
        "frames", state, steps.zero_window("frames"), batch, jax.random.key(0)
    )
    assert np.isfinite(window["nll"])
    moved = jax.tree.map(lambda a, b: bool(np.any(np.asarray(a) != b)), state.params, before)
    assert all(jax.tree.leaves(moved)), f"parameters that did not move: {moved}"
