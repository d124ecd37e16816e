"""The gate-input spec: parsing, canonical form, and clear errors."""

import pytest

from gruvar.core.gates import GateSpec


@pytest.mark.parametrize(
    "text, expected",
    [
        ("xhb", (True, True, False, True)),
        ("hb", (False, True, False, True)),
        ("h", (False, True, False, False)),
        ("b", (False, False, False, True)),
        ("bx", (True, False, False, True)),
        ("xhcb", (True, True, True, True)),
        ("c", (False, False, True, False)),
    ],
)
def test_parse(text, expected):
    spec = GateSpec.parse(text)
    assert (spec.x, spec.h, spec.c, spec.b) == expected
    assert GateSpec.parse(str(spec)) == spec
    assert GateSpec.parse(spec) is spec


def test_canonical_order():
    assert str(GateSpec.parse("bhx")) == "xhb"
    assert str(GateSpec.parse("bchx")) == "xhcb"


def test_only_bias_is_constant():
    assert GateSpec.parse("b").constant
    assert not GateSpec.parse("hb").constant
    assert not GateSpec.parse("cb").constant, "a peephole reads the state of each step"


@pytest.mark.parametrize(
    "text, message",
    [
        ("", "Empty gate spec"),
        ("xq", "unknown term.*'q'.*allowed terms are 'x'"),
        ("hh", "repeats term.*'h'"),
        ("XHB", "unknown term"),
    ],
)
def test_invalid_specs_name_the_bad_value_and_the_allowed_ones(text, message):
    with pytest.raises(ValueError, match=message) as err:
        GateSpec.parse(text)
    assert "'b' (bias)" in str(err.value)
    assert "'c' (cell state" in str(err.value)


def test_a_gate_needs_a_term():
    with pytest.raises(ValueError, match="at least one input term"):
        GateSpec(x=False, h=False, b=False)


def test_not_a_string():
    with pytest.raises(TypeError, match="string like 'xhb'"):
        GateSpec.parse(3)


@pytest.mark.parametrize("text", ["d", "db", "xdb", "1", "0.96", "0.4", "1-i"])
def test_diagonal_constant_and_coupled_specs_round_trip(text):
    spec = GateSpec.parse(text)
    assert str(spec) == text and GateSpec.parse(str(spec)) == spec


def test_constant_and_coupled_gates_have_no_terms_and_read_no_state():
    assert GateSpec.parse("0.96").value == 0.96 and GateSpec.parse("1-i").coupled == "i"
    assert GateSpec.parse("1").fixed and GateSpec.parse("1-f").fixed
    assert not GateSpec.parse("xb").fixed and not GateSpec.parse("b").fixed
    assert [GateSpec.parse(s).reads_state for s in ("d", "c", "h", "xb", "1")] == [
        True,
        True,
        True,
        False,
        False,
    ]


@pytest.mark.parametrize(
    "text, message",
    [
        ("hd", "not both"),
        ("1.2", r"\(0, 1\], got 1.2"),
        ("-0.5", r"\(0, 1\], got -0.5"),
        ("1-", "must be '1-<gate>'"),
        ("1-if", "must be '1-<gate>'"),
    ],
)
def test_invalid_new_forms(text, message):
    with pytest.raises(ValueError, match=message):
        GateSpec.parse(text)
