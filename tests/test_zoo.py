"""The variant zoo (issue 15): every name against the float64 NumPy reference of its paper's
equations (tests/reference_zoo.py, from VARIANTS.md), with lengths and reverse; parameter counts
against formulas written from the same equations; and self-checks of the reference where the
papers say two forms coincide."""

import re
from functools import partial

import jax
import numpy as np
import pytest
import reference
from reference_zoo import CELLS, LSTM, Cell, Params, greff_lstm, run

import gruvar

B, T, M, N = 3, 5, 3, 4
LENGTHS = np.array([5, 2, 0])  # full, partial, empty
SQUARE = {"mut1", "mut2"}  # an unweighted x or tanh(x) is added to an n-vector: m = n
TOL = {"atol": 5e-6, "rtol": 2e-5}  # float32 against float64


def lstm(m, n):  # W, U, b for each of i, f, o and the candidate
    return 4 * (n * m + n * n + n)


def gate(m, n):  # one gate (or candidate) reading x, h and a bias
    return n * m + n * n + n


# Parameters of each recurrent layer, m inputs and n units, from the equations in reference_zoo.
FORMULAS = {
    # Akandeh & Salem: 3 or 1 diagonal gates u_g (+ b_g), candidate W_c, U_c (or u_c), b_c.
    "lstm4": lambda m, n: gate(m, n) + 3 * n,
    "lstm5": lambda m, n: gate(m, n) + 6 * n,
    "lstm4a": lambda m, n: gate(m, n) + n,
    "lstm5a": lambda m, n: gate(m, n) + 2 * n,
    "lstm6": lambda m, n: gate(m, n),
    "lstm10": lambda m, n: n * m + 2 * n + 3 * n,
    "lstm11": lambda m, n: n * m + 2 * n + 6 * n,
    # Heck & Salem: f's U_f and/or b_f, candidate W_h, U_h, b_h.
    "mgu1": lambda m, n: n * n + n + gate(m, n),
    "mgu2": lambda m, n: n * n + gate(m, n),
    "mgu3": lambda m, n: n + gate(m, n),
    # Greff: vanilla is lstm + 3 peepholes; a constant or coupled gate drops its W, U, V, b.
    "lstm_nig": lambda m, n: 3 * gate(m, n) + 2 * n,
    "lstm_nfg": lambda m, n: 3 * gate(m, n) + 2 * n,
    "lstm_nog": lambda m, n: 3 * gate(m, n) + 2 * n,
    "lstm_cifg": lambda m, n: 3 * gate(m, n) + 2 * n,
    "lstm_niaf": lambda m, n: lstm(m, n) + 3 * n,
    "lstm_noaf": lambda m, n: lstm(m, n) + 3 * n,
    "lstm_np": lstm,
    "lstm_fgr": lambda m, n: lstm(m, n) + 3 * n + 9 * n * n,
    # Jozefowicz: MUT1 z: W_z, b_z; r: W_r, U_r, b_r; candidate U_h, b_h. MUT2 r: U_r, b_r.
    "mut1": lambda m, n: (n * m + n) + gate(m, n) + (n * n + n),
    "mut2": lambda m, n: gate(m, n) + (n * n + n) + gate(m, n),
    "mut3": lambda m, n: 3 * gate(m, n),
    "indrnn": lambda m, n: n * m + 2 * n,
    "ligru": lambda m, n: 2 * (n * m + n * n),  # + 2n if the optional b_z, b_h are there
    "mingru": lambda m, n: 2 * (n * m + n),
    "minlstm": lambda m, n: 3 * (n * m + n),
}
ZOO = sorted(FORMULAS)


def shape(name, m, n):
    """Kernels [in, out]: W [m, n], U and FGR's R [n, n]; u, V, b are vectors [n]."""
    return {"W": (m, n), "U": (n, n), "R": (n, n)}.get(name.split("_")[0], (n,))


def draw(rng, m, n, *names):
    return {k: 0.5 * rng.standard_normal(shape(k, m, n)) for k in names}


def in_width(variant):
    return N if variant in SQUARE else M


def test_every_issue_name_has_a_reference_and_a_formula():
    assert set(CELLS) == set(FORMULAS)


@pytest.mark.parametrize("variant", ZOO)
@pytest.mark.parametrize("m, n", [(3, 4), (7, 5), (28, 100)])
def test_parameter_counts_and_shapes_match_the_equations(variant, m, n):
    m = n if variant in SQUARE else m
    model = gruvar.RNN(variant, n)
    x = jax.ShapeDtypeStruct((1, 2, m), np.float32)
    params = jax.eval_shape(model.init, jax.random.key(0), x)["params"]["layer_0"]
    want = FORMULAS[variant](m, n)
    if variant == "ligru" and {"b_z", "b_h"} <= set(params):
        want += 2 * n
    assert sum(v.size for v in params.values()) == want
    assert {k: v.shape for k, v in params.items()} == {k: shape(k, m, n) for k in params}


def perturbed(layer, rng):
    """Initial values moved by N(0, 0.5²), so a zero bias or a unit diagonal hides no term."""
    return {
        k: np.asarray(v) + 0.5 * rng.standard_normal(v.shape).astype(np.float32)
        for k, v in layer.items()
    }


def assert_final_state(got, want):
    """The layer's final carry against the reference's state. LSTM-like carries are (c, h);
    FGR's previous gate activations, if carried too, are compared whatever their order; a
    state that is h alone (GRU-like; minLSTM, whose c_t = h_t) must equal h in every leaf."""
    leaves = [np.asarray(leaf) for leaf in jax.tree.leaves(got)]
    if tuple(want) == ("h",):
        for leaf in leaves:
            np.testing.assert_allclose(leaf, want["h"], **TOL)
        return
    assert len(leaves) >= 2, f"expected (c, h, ...), got {len(leaves)} leaves"
    np.testing.assert_allclose(leaves[0], want["c"], **TOL, err_msg="c")
    np.testing.assert_allclose(leaves[1], want["h"], **TOL, err_msg="h")
    extra = [want[k] for k in want if k not in LSTM]
    for leaf in leaves[2:]:
        assert any(np.allclose(leaf, w, **TOL) for w in extra), "a carried state matches none"


def check_against_reference(variant, lengths, rng, **rnn_kwargs):
    x = rng.standard_normal((B, T, in_width(variant))).astype(np.float32)
    model = gruvar.RNN(variant, N, bidirectional=True, **rnn_kwargs)
    variables = model.init(jax.random.key(0), x, lengths)
    params = {k: perturbed(v, rng) for k, v in variables["params"].items()}
    outputs, carries = model.apply({**variables, "params": params}, x, lengths)
    directions = zip(
        ("fwd", "bwd"), np.split(np.asarray(outputs), 2, axis=-1), carries[0], strict=True
    )
    for direction, got_ys, got_carry in directions:
        p = Params(params[f"layer_0_{direction}"])
        want_ys, want_state = run(variant, p, x, lengths, reverse=direction == "bwd")
        assert p.read == set(p), f"parameters the equations lack: {sorted(set(p) - p.read)}"
        np.testing.assert_allclose(got_ys, want_ys, **TOL, err_msg=direction)
        assert_final_state(got_carry, want_state)


@pytest.mark.parametrize("variant", ZOO)
@pytest.mark.parametrize("lengths", [None, LENGTHS], ids=["full", "ragged"])
def test_matches_the_papers_equations_both_directions(variant, lengths, rng):
    check_against_reference(variant, lengths, rng)


@pytest.mark.parametrize("variant", ["mingru", "minlstm"])
@pytest.mark.parametrize("scan", ["sequential", "parallel"])
def test_linear_variants_match_the_equations_on_either_scan(variant, scan, rng):
    check_against_reference(variant, LENGTHS, rng, scan=scan)


@pytest.mark.parametrize("variant", sorted(SQUARE))
def test_unweighted_input_needs_as_many_inputs_as_units(variant):
    model, key = gruvar.RNN(variant, 4), jax.random.key(0)
    jax.eval_shape(model.init, key, jax.ShapeDtypeStruct((B, T, 4), np.float32))  # m = n builds
    with pytest.raises(ValueError) as err:
        jax.eval_shape(model.init, key, jax.ShapeDtypeStruct((B, T, 3), np.float32))
    message = str(err.value)  # names the bad width (3) and the one allowed (4)
    assert re.search(r"\b3\b", message) and re.search(r"\b4\b", message), message


def test_an_unknown_name_is_a_clear_error():
    x = jax.ShapeDtypeStruct((B, T, M), np.float32)
    with pytest.raises(ValueError, match="lstm99"):
        jax.eval_shape(gruvar.RNN("lstm99", N).init, jax.random.key(0), x)


# ---- The reference against itself and the existing reference, where the papers coincide ----

# VARIANTS.md §B's table: i, f, o gates ("u": σ(u ⊙ h), "ub": σ(u ⊙ h + b), or a constant), and
# the candidate's recurrent term ("U": U_c h, "u": u_c ⊙ h).
SLIM = {
    "lstm4": ("u", "u", "u", "U"),
    "lstm5": ("ub", "ub", "ub", "U"),
    "lstm4a": ("u", 0.96, 1.0, "U"),
    "lstm5a": ("ub", 0.96, 1.0, "U"),
    "lstm6": (1.0, 0.4, 1.0, "U"),
    "lstm10": ("u", "u", "u", "u"),
    "lstm11": ("ub", "ub", "ub", "u"),
}


def logit(q):
    return 40.0 if q == 1 else np.log(q / (1 - q))  # σ(40) is 1 in float64


@pytest.mark.parametrize("variant", sorted(SLIM))
def test_slim_lstms_are_lstms_with_diagonal_or_constant_gates(variant, rng):
    """u ⊙ h is h @ diag(u), and a constant gate q is a bias-only gate σ(logit q)."""
    *gates, candidate = SLIM[variant]
    names = ["W_c", "b_c", "U_c" if candidate == "U" else "u_c"]
    for g, kind in zip("ifo", gates, strict=True):
        names += [f"u_{g}", f"b_{g}"][: len(kind)] if isinstance(kind, str) else []
    p = draw(rng, M, N, *names)
    dense = {k: p[k] for k in ("W_c", "b_c")}
    dense["U_c"] = p["U_c"] if candidate == "U" else np.diag(p["u_c"])
    for g, kind in zip("ifo", gates, strict=True):
        if isinstance(kind, str):
            dense[f"U_{g}"] = np.diag(p[f"u_{g}"])
            if kind == "ub":
                dense[f"b_{g}"] = p[f"b_{g}"]
        else:
            dense[f"b_{g}"] = np.full(N, logit(kind))
    x = rng.standard_normal((B, T, M))
    tracked = Params(p)
    ys, state = run(variant, tracked, x, LENGTHS)
    want_ys, (want_c, want_h) = reference.run("lstm", dense, x, LENGTHS)
    assert tracked.read == set(p)
    np.testing.assert_allclose(ys, want_ys, atol=1e-12)
    np.testing.assert_allclose(state["c"], want_c, atol=1e-12)
    np.testing.assert_allclose(state["h"], want_h, atol=1e-12)


def test_lstm6_without_recurrence_is_a_decaying_sum(rng):
    """i = 1, f = 0.4, o = 1 and U_c = 0: c_t = Σ_{k≤t} 0.4^(t−k) tanh(W_c x_k + b_c)."""
    p = draw(rng, M, N, "W_c", "U_c", "b_c")
    p["U_c"][:] = 0
    x = rng.standard_normal((1, T, M))
    ys, _ = run("lstm6", p, x)
    drive = np.tanh(x[0] @ p["W_c"] + p["b_c"])
    decay = np.tril(0.4 ** np.subtract.outer(np.arange(T), np.arange(T)))
    np.testing.assert_allclose(ys[0], np.tanh(decay @ drive), atol=1e-12)


@pytest.mark.parametrize(
    "variant, f_names", [("mgu1", "U_f b_f"), ("mgu2", "U_f"), ("mgu3", "b_f")]
)
def test_mgu_variants_are_mgu_without_some_forget_gate_terms(variant, f_names, rng):
    p = draw(rng, M, N, *f_names.split(), "W_h", "U_h", "b_h")
    x = rng.standard_normal((B, T, M))
    ys, state = run(variant, p, x, LENGTHS, reverse=True)
    want_ys, want_h = reference.run("mgu", p, x, LENGTHS, reverse=True)
    np.testing.assert_allclose(ys, want_ys, atol=1e-12)
    np.testing.assert_allclose(state["h"], want_h, atol=1e-12)


VANILLA = [f"{k}_{g}" for k in "WUb" for g in "ifoc"] + ["V_i", "V_f", "V_o"]


def without(p, *names):
    return {k: v for k, v in p.items() if k not in names}


def greff_cases(p):
    """Greff's variant -> (its parameters, the same LSTM in the existing reference's terms)."""

    def drop(g):
        return without(p, f"W_{g}", f"U_{g}", f"V_{g}", f"b_{g}")

    cases = {"lstm_np": (without(p, "V_i", "V_f", "V_o"),) * 2}
    for g in "ifo":  # gate = 1: a gate whose only term is a saturating bias
        cases[f"lstm_n{g}g"] = (drop(g), {**drop(g), f"b_{g}": np.full(N, 40.0)})
    cifg = drop("f")  # f = 1 − σ(a_i) = σ(−a_i)
    cases["lstm_cifg"] = (cifg, {**cifg, **{f"{k}_f": -cifg[f"{k}_i"] for k in "WUVb"}})
    return cases


@pytest.mark.parametrize("variant", ["lstm_np", "lstm_cifg", "lstm_nig", "lstm_nfg", "lstm_nog"])
def test_greff_variants_are_the_peephole_lstm_with_one_change(variant, rng):
    """NP drops V; CIFG's f = 1 − i is σ(−a_i); NIG/NFG/NOG's gate = 1 is σ(40) in float64."""
    p = draw(rng, M, N, *VANILLA)
    own, as_lstm = greff_cases(p)[variant]
    x = rng.standard_normal((B, T, M))
    tracked = Params(own)
    ys, state = run(variant, tracked, x, LENGTHS)
    want_ys, (want_c, want_h) = reference.run("lstm", as_lstm, x, LENGTHS)
    assert tracked.read == set(own)
    np.testing.assert_allclose(ys, want_ys, atol=1e-12)
    np.testing.assert_allclose(state["c"], want_c, atol=1e-12)
    np.testing.assert_allclose(state["h"], want_h, atol=1e-12)


def test_greff_vanilla_and_fgr_without_gate_recurrence_are_lstm_peephole(rng):
    p = draw(rng, M, N, *VANILLA)
    x = rng.standard_normal((B, T, M))
    want_ys, _ = reference.run("lstm", p, x, LENGTHS)
    vanilla, _ = run(Cell(partial(greff_lstm), LSTM), p, x, LENGTHS)
    np.testing.assert_allclose(vanilla, want_ys, atol=1e-12)
    recurrent = draw(rng, M, N, *(f"R_{s}{d}" for s in "ifo" for d in "ifo"))
    zero = {k: 0 * v for k, v in recurrent.items()}
    np.testing.assert_allclose(run("lstm_fgr", {**p, **zero}, x, LENGTHS)[0], want_ys, atol=1e-12)
    fgr, _ = run("lstm_fgr", {**p, **recurrent}, x, LENGTHS)
    np.testing.assert_allclose(fgr[:, 0], want_ys[:, 0], atol=1e-12)  # gates start at zero
    assert not np.allclose(fgr[0, 1:], want_ys[0, 1:])


def test_mut2_is_a_gru_whose_reset_reads_x_through_the_identity(rng):
    p = draw(rng, N, N, "W_z", "U_z", "b_z", "U_r", "b_r", "W_h", "U_h", "b_h")
    x = rng.standard_normal((B, T, N))
    want_ys, want_h = reference.run("gru", {**p, "W_r": np.eye(N)}, x, LENGTHS)
    ys, state = run("mut2", p, x, LENGTHS)
    np.testing.assert_allclose(ys, want_ys, atol=1e-12)
    np.testing.assert_allclose(state["h"], want_h, atol=1e-12)


@pytest.mark.parametrize("variant", ["mingru", "minlstm"])
def test_min_rnns_are_linear_recurrences_in_closed_form(variant, rng):
    """h_t = a_t ⊙ h_{t-1} + b_t with a, b from x alone, so h_t = Σ_{k≤t} (Π_{k<j≤t} a_j) b_k:
    minGRU a = 1 − z, b = z ⊙ h̃; minLSTM a = f/(f + i), b = i/(f + i) ⊙ h̃."""
    names = ("W_z", "b_z", "W_h", "b_h") if variant == "mingru" else ("W_f", "b_f", "W_i", "b_i")
    p = draw(rng, M, N, *names, *(("W_c", "b_c") if variant == "minlstm" else ()))
    x = rng.standard_normal((T, M))
    if variant == "mingru":
        z = reference.sigmoid(x @ p["W_z"] + p["b_z"])
        a, b = 1 - z, z * (x @ p["W_h"] + p["b_h"])
    else:
        f, i = (reference.sigmoid(x @ p[f"W_{g}"] + p[f"b_{g}"]) for g in "fi")
        a, b = f / (f + i), i / (f + i) * (x @ p["W_c"] + p["b_c"])
    prod = np.cumprod(a, axis=0)  # Π_{j≤t} a_j
    np.testing.assert_allclose(run(variant, p, x[None])[0][0], prod * np.cumsum(b / prod, axis=0))


def test_indrnn_units_are_independent(rng):
    """u is diagonal: unit 0's weights (W[:, 0], u[0], b[0]) move unit 0 and no other."""
    p = draw(rng, M, N, "W", "u", "b")
    x = rng.standard_normal((B, T, M))
    q = {k: v.copy() for k, v in p.items()}
    q["W"][:, 0] += 1.0
    q["u"][0] += 1.0
    q["b"][0] += 1.0
    ys, ys_moved = run("indrnn", p, x)[0], run("indrnn", q, x)[0]
    np.testing.assert_array_equal(ys[..., 1:], ys_moved[..., 1:])
    assert not np.allclose(ys[..., 0], ys_moved[..., 0])


def test_ligru_gate_keeps_the_old_state(rng):
    """z = 0 (b_z → −∞) leaves a ReLU Elman RNN, h_t = relu(W_h x_t + U_h h_{t-1})."""
    p = draw(rng, M, N, "W_z", "U_z", "W_h", "U_h")
    x = rng.standard_normal((T, M))
    ys, _ = run("ligru", {**p, "b_z": np.full(N, -40.0)}, x[None])
    h, want = np.zeros(N), []
    for t in range(T):
        h = np.maximum(x[t] @ p["W_h"] + h @ p["U_h"], 0.0)
        want.append(h)
    np.testing.assert_allclose(ys[0], want, atol=1e-12)
