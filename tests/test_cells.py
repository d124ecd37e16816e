"""Variants as data: the registry, parameter names and counts, custom variants, the cell API."""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import ALL_VARIANTS, in_width

import gruvar
from gruvar.linen import cells


def n_params(variant, m, n):
    cell = gruvar.make(variant, n)
    x = jnp.zeros((1, m))
    params = cell.init(jax.random.key(0), cell.initialize_carry(None, x.shape), x)["params"]
    return sum(p.size for p in jax.tree.leaves(params)), params


# Dey & Salem 2017 (GRU0-3), LSTM and tanh RNN; m inputs, n units, recurrent layer only.
FORMULAS = {
    "gru": lambda m, n: 3 * (n * n + n * m + n),
    "gru1": lambda m, n: 3 * n * n + n * m + 3 * n,
    "gru2": lambda m, n: 3 * n * n + n * m + n,
    "gru3": lambda m, n: n * n + n * m + 3 * n,
    "lstm": lambda m, n: 4 * (n * n + n * m + n),
    "lstm_peephole": lambda m, n: 4 * (n * n + n * m + n) + 3 * n,  # Chung et al.'s LSTM
    "tanh": lambda m, n: n * n + n * m + n,
    "mgu": lambda m, n: 2 * (n * n + n * m + n),
    "gru_reset_after": lambda m, n: 3 * (n * n + n * m + n) + n,
}


@pytest.mark.parametrize("variant", sorted(FORMULAS))
@pytest.mark.parametrize("m, n", [(28, 100), (1, 100), (128, 128), (3, 7)])
def test_parameter_counts_match_the_formulas(variant, m, n):
    assert n_params(variant, m, n)[0] == FORMULAS[variant](m, n)


def test_paper_numbers_for_dey_salem_mnist_rows():
    """PAPERS.md §3.1: 38,700 / 33,100 / 32,900 / 13,100 for m=28, n=100."""
    counts = [n_params(v, 28, 100)[0] for v in ("gru", "gru1", "gru2", "gru3")]
    assert counts == [38_700, 33_100, 32_900, 13_100]


def test_gru_parameters_are_named_after_the_paper_and_shaped_in_out():
    _, params = n_params("gru", 3, 5)
    assert {k: v.shape for k, v in params.items()} == {
        "W_z": (3, 5),
        "U_z": (5, 5),
        "b_z": (5,),
        "W_r": (3, 5),
        "U_r": (5, 5),
        "b_r": (5,),
        "W_h": (3, 5),
        "U_h": (5, 5),
        "b_h": (5,),
    }


@pytest.mark.parametrize(
    "variant, absent",
    [
        ("gru1", {"W_z", "W_r"}),
        ("gru2", {"W_z", "W_r", "b_z", "b_r"}),
        ("gru3", {"W_z", "W_r", "U_z", "U_r"}),
        ("lstm3", {"W_i", "U_i", "W_f", "U_f", "W_o", "U_o"}),
    ],
)
def test_a_gate_without_a_term_has_no_parameter_for_it(variant, absent):
    _, params = n_params(variant, 3, 5)
    assert not absent & set(params)


def test_lstm_and_tanh_names():
    assert set(n_params("lstm", 2, 3)[1]) == {f"{k}_{g}" for k in "WUb" for g in "ifoc"}
    assert set(n_params("tanh", 2, 3)[1]) == {"W", "U", "b"}


def test_lstm_forget_bias_starts_at_one_and_is_configurable():
    x = jnp.zeros((1, 2))
    for forget_bias in (1.0, 0.0, 2.5):
        cell = gruvar.make("lstm", 4, forget_bias=forget_bias)
        params = cell.init(jax.random.key(0), cell.initialize_carry(None, x.shape), x)["params"]
        np.testing.assert_array_equal(params["b_f"], forget_bias)
        np.testing.assert_array_equal(params["b_i"], 0.0)


def test_custom_variant_in_one_line_equals_the_registered_one():
    assert cells.variant("gru", "hb") == cells.VARIANTS["gru1"]
    assert cells.get("gru:hb") == cells.VARIANTS["gru1"]
    assert cells.get("gru:z=b,r=b") == cells.VARIANTS["gru3"]
    mixed = cells.get("gru:z=hb,r=xhb")
    assert mixed == cells.variant("gru", z="hb", r="xhb")
    assert str(mixed.spec("z")) == "hb" and str(mixed.spec("r")) == "xhb"
    assert cells.get(mixed.name) == mixed


def test_registered_names_round_trip():
    for name, variant in cells.VARIANTS.items():
        assert variant.name == name
        assert cells.get(name) is variant


def test_a_custom_variant_trains_through_the_same_machinery():
    model = gruvar.RNN("lstm:f=xhb,i=b,o=hb", 4)
    x = jnp.ones((2, 3, 2))
    params = model.init(jax.random.key(0), x)["params"]["layer_0"]
    assert {"W_f", "U_f", "b_f", "b_i", "U_o", "b_o"} <= set(params)
    assert not {"W_i", "U_i", "W_o"} & set(params)


@pytest.mark.parametrize(
    "name, message",
    [
        ("gru4", "Unknown variant 'gru4'. Registered variants: gru, gru1"),
        ("blah:xhb", "Unknown cell family 'blah'"),
        ("gru:q=xhb", r"no gate\(s\) \['q'\]; its gates are \['z', 'r'\]"),
        ("gru:z=xyz", "unknown term"),
        ("gru:z", "Empty gate spec|unknown term"),
        ("gru:z=hb,r", "'r' is not of the form gate=spec"),
        ("gru:z=xhcb", r"\['z'\] of family 'gru' read the cell state.*\['lstm'\]"),
    ],
)
def test_unknown_variants_and_bad_specs_are_clear_errors(name, message):
    with pytest.raises(ValueError, match=message):
        cells.get(name)


def test_variants_listing_has_every_paper_variant():
    assert {
        "gru",
        "gru1",
        "gru2",
        "gru3",
        "lstm",
        "lstm_peephole",
        "tanh",
        "mgu",
        "gru_reset_after",
    } <= set(cells.VARIANTS)


def test_lstm_peephole_has_chungs_diagonal_weights():
    """PAPERS.md §1.1: V_i, V_f, V_o diagonal, i.e. one vector [n] each; plain lstm has none."""
    _, params = n_params("lstm_peephole", 3, 5)
    assert {k: v.shape for k, v in params.items() if k.startswith("V")} == {
        "V_i": (5,),
        "V_f": (5,),
        "V_o": (5,),
    }
    assert not any(k.startswith("V") for k in n_params("lstm", 3, 5)[1])


def test_chungs_music_sizes_match_table_1():
    """Table 1's speech row is exact for the recurrent layer (PAPERS.md §1.3, input 20)."""
    assert n_params("lstm_peephole", 20, 195)[0] == 169_065
    assert n_params("gru", 20, 227)[0] == 168_888
    assert n_params("tanh", 20, 400)[0] == 168_400


@pytest.mark.parametrize("variant", ALL_VARIANTS)
def test_cell_follows_the_flax_rnn_cell_contract(variant):
    cell = gruvar.make(variant, 6)
    assert isinstance(cell, nn.RNNCellBase)
    m = in_width(variant, 3, 6)
    x = jnp.ones((4, m))
    carry = cell.initialize_carry(jax.random.key(0), x.shape)
    assert jax.tree.map(jnp.shape, carry) == jax.tree.map(lambda _: (4, 6), carry), (
        "carry is [batch, features] per state"
    )
    variables = cell.init(jax.random.key(1), carry, x)
    new_carry, y = cell.apply(variables, carry, x)
    assert y.shape == (4, 6)
    assert jax.tree.structure(new_carry) == jax.tree.structure(carry)
    outputs = nn.RNN(cell).apply({"params": {"cell": variables["params"]}}, jnp.ones((4, 5, m)))
    assert outputs.shape == (4, 5, 6)


def test_non_positive_features_is_an_error():
    cell = gruvar.make("gru", 0)
    x = jnp.ones((1, 3))
    with pytest.raises(ValueError, match="features must be positive"):
        cell.init(jax.random.key(0), jnp.zeros((1, 0)), x)


def test_scan_needs_batch_time_features():
    cell = gruvar.make("gru", 4)
    with pytest.raises(ValueError, match=r"\[batch, time, features\], got shape \(5, 3\)"):
        cell.init(jax.random.key(0), jnp.ones((5, 3)), method="scan")
