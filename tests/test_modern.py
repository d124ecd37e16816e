"""Issue 28's linear cells (the ``linrec`` family, candidates ``silu`` and ``g``, the decay's floor
and (−1, 1) range) against tests/reference_modern.py: float64 NumPy written from
MODERN_VARIANTS.md by someone who had not read gruvar, with the cells the older families already
say (QRNN fo/ifo, UGRNN, RAN; MV §0). Each registered name against its paper's
equations with ragged lengths in both directions, outputs and final carries; parameter counts
against the reference's formulas; the parallel scan against the sequential one. One train step
per name from a config is test_variants.py's ``test_each_new_variant_trains_a_step_from_a_config``
(every registered name past the base models)."""

import dataclasses
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import reference_modern as ref
import test_variants
from reference_zoo import Params

import gruvar
from gruvar.core import variants

B, T, M, N = 3, 5, 3, 4
LENGTHS = np.array([5, 2, 0])  # full, partial, empty
TOL = {"atol": 5e-6, "rtol": 2e-5}  # float32 against float64

# name: (reference cell, its count formula, gruvar's parameter name -> the reference's). The
# reference's names are the papers' (T-RNN's V, HGRN's W_lambda, QRNN's F as W_f); gruvar's
# linrec names its decay f, its input scale i and its candidate v.
CELLS = {
    "mingru_g": (
        partial(ref.mingru, candidate="g"),
        ref.mingru_count,
        {"W_i": "W_z", "b_i": "b_z", "W_v": "W_h", "b_v": "b_h"},
    ),
    "minlstm_g": (
        partial(ref.minlstm, candidate="g"),
        ref.minlstm_count,
        {"W_f": "W_f", "b_f": "b_f", "W_i": "W_i", "b_i": "b_i", "W_v": "W_h", "b_v": "b_h"},
    ),
    "trnn": (ref.trnn, ref.trnn_count, {"W_f": "V", "b_f": "b", "W_v": "W"}),
    "qrnn": (
        partial(ref.qrnn, pooling="f", window=1),
        partial(ref.qrnn_count, pooling="f", window=1),
        {"W_i": "W_f", "b_i": "b_f", "W_v": "W_z", "b_v": "b_z"},
    ),
    "qrnn_fo": (
        partial(ref.qrnn, pooling="fo", window=1),
        partial(ref.qrnn_count, pooling="fo", window=1),
        {"W_i": "W_f", "b_i": "b_f", "W_o": "W_o", "b_o": "b_o", "W_c": "W_z", "b_c": "b_z"},
    ),
    "qrnn_ifo": (
        partial(ref.qrnn, pooling="ifo", window=1),
        partial(ref.qrnn_count, pooling="ifo", window=1),
        {k: k for k in ("W_i", "b_i", "W_f", "b_f", "W_o", "b_o")} | {"W_c": "W_z", "b_c": "b_z"},
    ),
    "hgrn": (
        ref.hgrn,
        ref.hgrn_count,
        {"W_f": "W_lambda", "b_f": "b_lambda", "W_v": "W_c", "b_v": "b_c"},
    ),
    # Cells that read h, which the gru / ligru / lstm families already say (MV §0).
    "ugrnn": (
        ref.ugrnn,
        ref.ugrnn_count,
        {"W_z": "W_g", "U_z": "U_g", "b_z": "b_g", "W_h": "W_c", "U_h": "U_c", "b_h": "b_c"},
    ),
    "ran": (
        ref.ran,
        ref.ran_count,
        {k: k for k in ("W_i", "U_i", "b_i", "W_f", "U_f", "b_f", "W_c")},
    ),
    # The identity forms kept under the old names (Feng et al.'s §3), on the gru / lstm families.
    "mingru": (
        partial(ref.mingru, candidate="identity"),
        ref.mingru_count,
        {"W_z": "W_z", "b_z": "b_z", "W_h": "W_h", "b_h": "b_h"},
    ),
    "minlstm": (
        partial(ref.minlstm, candidate="identity"),
        ref.minlstm_count,
        {"W_f": "W_f", "b_f": "b_f", "W_i": "W_i", "b_i": "b_i", "W_c": "W_h", "b_c": "b_h"},
    ),
}
LINREC = ["mingru_g", "minlstm_g", "trnn", "qrnn", "hgrn"]
PARALLEL = [*LINREC, "qrnn_fo"]  # qrnn_ifo's lstm path is qrnn_fo's; mingru's is test_variants


def knobbed(name, **knobs):
    """A registered variant with the decay's knobs changed (``floor``, ``decay_range``)."""
    v = dataclasses.replace(variants.get(name), **knobs)
    variants.compile_plan(v)  # its checks
    return v


def perturbed(layer, rng):
    """Initial values moved by N(0, 0.5²), so a zero bias hides no term."""
    return {
        k: np.asarray(v) + 0.5 * rng.standard_normal(v.shape).astype(np.float32)
        for k, v in layer.items()
    }


def check(name, variant, rng, lengths=LENGTHS, **ref_kwargs):
    """Both directions of a bidirectional layer against the reference, outputs and carries."""
    cell, _, names = CELLS[name]
    x = rng.standard_normal((B, T, M)).astype(np.float32)
    model = gruvar.RNN(variant, N, bidirectional=True)
    params = model.init(jax.random.key(0), x, lengths)["params"]
    params = {k: perturbed(v, rng) for k, v in params.items()}
    outputs, carries = model.apply({"params": params}, x, lengths)
    directions = zip(
        ("fwd", "bwd"), np.split(np.asarray(outputs), 2, axis=-1), carries[0], strict=True
    )
    for direction, got_ys, got_carry in directions:
        layer = params[f"layer_0_{direction}"]
        assert set(layer) == set(names), f"gruvar's parameters: {sorted(layer)}"
        p = Params({names[k]: v for k, v in layer.items()})
        want_ys, want_carry = cell(x, lengths, p, reverse=direction == "bwd", **ref_kwargs)
        assert p.read == set(p), f"parameters the equations lack: {sorted(set(p) - p.read)}"
        np.testing.assert_allclose(got_ys, want_ys, **TOL, err_msg=direction)
        leaves = jax.tree.leaves(got_carry)
        if set(want_carry) == {"c", "h"}:  # RAN's (c, h)
            np.testing.assert_allclose(leaves[0], want_carry["c"], **TOL, err_msg="c")
            np.testing.assert_allclose(leaves[1], want_carry["h"], **TOL, err_msg="h")
            continue
        (want_state,) = want_carry.values()  # h, or QRNN's c
        if name.startswith("qrnn_"):  # (c, h = o ⊙ c at the last valid step)
            leaves = leaves[:1]
            last = np.zeros(B, int) if direction == "bwd" else np.maximum(lengths - 1, 0)
            want_h = np.where((lengths > 0)[:, None], want_ys[np.arange(B), last], 0)
            np.testing.assert_allclose(jax.tree.leaves(got_carry)[1], want_h, **TOL)
        for leaf in leaves:  # minLSTM's (c, h) are both h
            np.testing.assert_allclose(leaf, want_state, **TOL, err_msg=f"{direction} carry")


@pytest.mark.parametrize("name", sorted(CELLS))
def test_matches_the_papers_equations_both_directions_ragged(name, rng):
    check(name, name, rng)


@pytest.mark.parametrize("name", LINREC)
def test_the_signed_range_flips_the_decay_as_the_reference_does(name, rng):
    """range=signed: decay a ↦ 2a − 1, every input scale keeps its (0, 1) value."""
    check(name, knobbed(name, decay_range="signed"), rng, decay_range=(-1, 1))


def test_hgrn_floor_is_the_papers_lower_bound(rng):
    check("hgrn", knobbed("hgrn", floor=0.3), rng, gamma=0.3)


def test_a_signed_decay_can_alternate_the_states_sign():
    """T-RNN with f ≈ 0 in (−1, 1) has decay ≈ −1: one input pulse rings with alternating sign."""
    model = gruvar.RNN(knobbed("trnn", decay_range="signed"), 1)
    x = jnp.zeros((1, 6, 1)).at[0, 0, 0].set(1.0)
    params = {"W_f": jnp.zeros((1, 1)), "b_f": jnp.full((1,), -30.0), "W_v": jnp.ones((1, 1))}
    ys, _ = model.apply({"params": {"layer_0": params}}, x)
    np.testing.assert_allclose(np.asarray(ys)[0, :, 0], [1, -1, 1, -1, 1, -1], atol=1e-6)


@pytest.mark.parametrize("name", sorted(CELLS))
def test_parameter_counts_match_the_references_formula(name):
    _, count, names = CELLS[name]
    for m, n in [(3, 4), (7, 5)]:
        x = jax.ShapeDtypeStruct((1, 2, m), np.float32)
        params = jax.eval_shape(gruvar.RNN(name, n).init, jax.random.key(0), x)["params"]
        layer = params["layer_0"]
        assert set(layer) == set(names)
        want = count(m, n)
        assert sum(v.size for v in layer.values()) == want == variants.param_count(name, m, n)


def test_activations_silu_and_feng_g():
    a = jnp.array([-2.0, -0.5, 0.0, 0.5, 3.0])
    g = gruvar.core.plan.ACTIVATIONS["g"]
    np.testing.assert_allclose(g(a), ref.g(np.asarray(a, np.float64)), rtol=1e-6)
    assert float(g(jnp.array(0.0))) == 0.5 and bool(jnp.all(g(a) > 0)), "g is positive"
    silu = gruvar.core.plan.ACTIVATIONS["silu"]
    np.testing.assert_allclose(silu(a), ref.silu(np.asarray(a, np.float64)), rtol=1e-6)


@pytest.mark.parametrize(
    "spec",
    [*PARALLEL, knobbed("hgrn", floor=0.5, decay_range="signed")],
    ids=str,
)
def test_parallel_equals_sequential_with_lengths_reverse_bidirectional_two_layers(spec, rng):
    """Outputs, carries and gradients (the zoo's check, test_variants.py, on the new cells)."""
    test_variants.test_parallel_equals_sequential_with_lengths_reverse_bidirectional_two_layers(
        spec, rng
    )


@pytest.mark.parametrize(
    "spec, message",
    [
        ("linrec:f=xhb", r"Part 'f' of 'linrec' has spec 'xhb', which reads the state"),
        ("linrec:i=xb,f=db", r"Part 'f' of 'linrec' has spec 'db'"),
        ("linrec:v=xhb", r"Part 'v' of 'linrec' has spec 'xhb'"),
        ("linrec:v=b", r"candidate 'v' of 'linrec' has spec 'b'"),
        ("linrec:i=1-i", r"Gate 'i' of 'linrec' is coupled to itself"),
        ("linrec:act=gelu", r"act='gelu'.*'silu', 'g'"),
        ("linrec:range=negative", r"range='negative'.*\['unit', 'signed'\]"),
        ("linrec:floor=1", r"floor=1.0: the decay's lower bound γ must lie in \[0, 1\)"),
        ("linrec:floor=-0.1", r"floor=-0.1"),
        ("linrec:floor=low", r"floor='low' is not a number"),
        ("linrec:i=xb,f=1-i,floor=0.5", r"floor: the decay gate 'f' is 1-i"),
        ("gru:range=signed", r"range acts on the decay gate.*'gru' has none"),
        ("lstm:floor=0.5", r"floor acts on the decay gate.*'lstm' has none"),
        ("linrec:q=xb", r"no gate\(s\) \['q'\]"),
    ],
)
def test_bad_specs_raise_naming_the_part(spec, message):
    with pytest.raises(ValueError, match=message):
        variants.get(spec)


def test_spec_strings_round_trip_and_registered_forms_are_their_specs():
    for spec in ("linrec:f=xb,i=xb,act=g,norm=fi,range=signed", "linrec:act=silu,floor=0.25"):
        v = variants.get(spec)
        assert variants.get(v.name) == v
    assert variants.get("linrec:i=xb,f=1-i,act=g") == gruvar.VARIANTS["mingru_g"]
    assert variants.get("linrec:f=xb,v=x") == gruvar.VARIANTS["trnn"], "i = 1 - f by default"
    assert all(gruvar.VARIANTS[name].plan.linear for name in [*LINREC, "qrnn_fo", "qrnn_ifo"])
    knobbed_hgrn = knobbed("hgrn", floor=0.25, decay_range="signed")
    assert variants.get(knobbed_hgrn.canonical) == knobbed_hgrn, "a run's form keeps the knobs"
    assert knobbed_hgrn.canonical != gruvar.VARIANTS["hgrn"].canonical


def test_trnn_is_mingru_with_the_gates_sign_flipped(rng):
    """MODERN_VARIANTS.md §0: σ(−a) = 1 − σ(a), so T-RNN's f = σ(V x + b) keeping the old state is
    minGRU's 1 − z with W_z = −V, b_z = −b, and its v = W x is minGRU's W_h x with b_h = 0."""
    x = jnp.asarray(rng.standard_normal((B, T, M)), jnp.float32)
    p = {
        k: jnp.asarray(v, jnp.float32)
        for k, v in ref.random_params(ref.trnn_shapes(M, N), rng).items()
    }
    trnn = {"W_f": p["V"], "b_f": p["b"], "W_v": p["W"]}
    mingru = {"W_z": -p["V"], "b_z": -p["b"], "W_h": p["W"], "b_h": jnp.zeros(N)}
    ys_t, _ = gruvar.RNN("trnn", N).apply({"params": {"layer_0": trnn}}, x, LENGTHS)
    ys_m, _ = gruvar.RNN("mingru", N).apply({"params": {"layer_0": mingru}}, x, LENGTHS)
    np.testing.assert_allclose(ys_t, ys_m, atol=1e-6)
