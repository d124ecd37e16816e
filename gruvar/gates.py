"""The gate-input spec: which signals feed a gate's pre-activation.

A gate g of a recurrent cell has the pre-activation

    a_g = [W_g x_t] + [U_g h_{t-1}] + [V_g ⊙ c] + [b_g]

and a spec names which bracketed terms are present: ``"x"`` the input x_t, ``"h"`` the
previous hidden state h_{t-1}, ``"c"`` the cell state through a diagonal (peephole) weight
V_g, ``"b"`` a bias. Dey & Salem (2017) write their GRU variants this way: GRU0 (the
original) is ``"xhb"``, GRU1 ``"hb"``, GRU2 ``"h"``, GRU3 ``"b"``. Chung et al. (2014)'s
LSTM is ``"xhcb"`` (Graves 2013's peepholes); only a family with a cell state takes ``"c"``.
"""

from __future__ import annotations

import dataclasses

TERMS = "xhcb"
_TERM_NAMES = {
    "x": "input x_t",
    "h": "hidden h_{t-1}",
    "c": "cell state c, a diagonal peephole",
    "b": "bias",
}


@dataclasses.dataclass(frozen=True)
class GateSpec:
    """Which of input x_t, hidden h_{t-1}, cell state c and bias b feed one gate."""

    x: bool
    h: bool
    b: bool
    c: bool = False

    def __post_init__(self):
        if not (self.x or self.h or self.c or self.b):
            raise ValueError(
                f"A gate needs at least one input term; allowed terms are {_allowed()}."
            )

    @classmethod
    def parse(cls, spec: str | GateSpec) -> GateSpec:
        """Reads a spec such as ``"xhb"``, ``"hb"``, ``"h"``, ``"b"`` or ``"xhcb"`` (order does
        not matter)."""
        if isinstance(spec, GateSpec):
            return spec
        if not isinstance(spec, str):
            raise TypeError(f"A gate spec is a string like 'xhb' or a GateSpec, got {spec!r}.")
        if not spec:
            raise ValueError(f"Empty gate spec ''; name at least one of {_allowed()}.")
        unknown = sorted(set(spec) - set(TERMS))
        if unknown:
            raise ValueError(
                f"Gate spec {spec!r} has unknown term(s) {', '.join(map(repr, unknown))}; "
                f"allowed terms are {_allowed()}."
            )
        repeated = sorted({t for t in spec if spec.count(t) > 1})
        if repeated:
            raise ValueError(
                f"Gate spec {spec!r} repeats term(s) {', '.join(map(repr, repeated))}; "
                f"name each of {_allowed()} at most once."
            )
        return cls(x="x" in spec, h="h" in spec, b="b" in spec, c="c" in spec)

    def __str__(self) -> str:
        return "".join(t for t in TERMS if getattr(self, t))

    @property
    def constant(self) -> bool:
        """True for a bias-only gate: its value is the same at every time step."""
        return not (self.x or self.h or self.c)


def param_name(kind: str, term: str) -> str:
    """The paper's symbol for a parameter: ``kind`` W, U, V or b of a gate or candidate ``term``.

    ``W_z``, ``U_h``, ``V_i``, ``b_c``, ...; the tanh RNN's unnamed candidate gives ``W``,
    ``U``, ``b``.
    """
    return f"{kind}_{term}" if term else kind


def _allowed() -> str:
    return ", ".join(f"'{t}' ({_TERM_NAMES[t]})" for t in TERMS)
