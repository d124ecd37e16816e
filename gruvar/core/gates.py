"""The part spec: which signals feed a gate's (or the candidate's) pre-activation.

A part p of a recurrent cell (a gate, or the candidate) has the pre-activation

    a_p = [W_p x_t] + [U_p h_{t-1}] + [u_p ⊙ h_{t-1}] + [V_p ⊙ c] + [b_p]

and a spec names which bracketed terms are present, one letter each:

    x  W_p x_t, the input through a kernel W_p [m, n]
    h  U_p h_{t-1}, the previous hidden state through a full kernel U_p [n, n]
    d  u_p ⊙ h_{t-1}, the previous hidden state through a diagonal u_p [n] (Akandeh & Salem's
       pointwise gates; IndRNN's recurrence)
    c  V_p ⊙ c, the cell state through a diagonal (peephole) weight V_p [n]; a family with a
       cell state only (Graves 2013)
    b  b_p, a bias [n]

Dey & Salem (2017) write their GRU variants this way: GRU0 (the original) is ``"xhb"``, GRU1
``"hb"``, GRU2 ``"h"``, GRU3 ``"b"``. A gate may instead be

    a constant   ``"1"``, ``"0.96"``: a fixed value in (0, 1], no parameter (Greff's NIG has
                 i = 1, Akandeh & Salem's LSTM4a f = 0.96);
    coupled      ``"1-i"``: one minus another gate of the same step (Greff's CIFG, f = 1 - i).

A part reads h_{t-1} through U or through u, not both (U + diag(u) is just another U).
"""

from __future__ import annotations

import dataclasses

import numpy as np

TERMS = "xhdcb"
_FLOAT32_TINY = float(np.finfo(np.float32).tiny)
_TERM_NAMES = {
    "x": "input x_t",
    "h": "hidden h_{t-1} through U",
    "d": "hidden h_{t-1} through a diagonal u",
    "c": "cell state c, a diagonal peephole",
    "b": "bias",
}


@dataclasses.dataclass(frozen=True)
class GateSpec:
    """One part's spec: its terms (x, h, d, c, b), or a fixed ``value``, or ``1 - coupled``."""

    x: bool = False
    h: bool = False
    b: bool = False
    c: bool = False
    d: bool = False
    value: float | None = None
    coupled: str | None = None

    def __post_init__(self):
        terms = self.x or self.h or self.c or self.b or self.d
        if self.value is not None or self.coupled is not None:
            if terms or (self.value is not None and self.coupled is not None):
                raise ValueError("A gate is a constant, a coupling or a sum of terms, not several.")
            if self.value is not None and not 0 < self.value <= 1:
                raise ValueError(
                    f"A constant gate must lie in (0, 1], got {self.value!r}: a gate scales a "
                    "state or candidate, and 0 would cut it off."
                )
            if self.value is not None and self.value < _FLOAT32_TINY:
                raise ValueError(
                    f"A constant gate must be at least {_FLOAT32_TINY:.3g} (float32's smallest "
                    f"normal number), got {self.value!r}: the model computes in float32, where "
                    "it is 0 (a gate cut off) or a denormal."
                )
            return
        if not terms:
            raise ValueError(
                f"A gate needs at least one input term; allowed terms are {_allowed()}."
            )
        if self.h and self.d:
            raise ValueError(
                "A part reads h_{t-1} through a full U ('h') or a diagonal u ('d'), not both."
            )

    @classmethod
    def parse(cls, spec: str | GateSpec) -> GateSpec:
        """Reads ``"xhb"``, ``"db"``, ``"xhcb"`` (order does not matter), ``"1"``, ``"0.96"``
        or ``"1-i"``."""
        if isinstance(spec, GateSpec):
            return spec
        if not isinstance(spec, str):
            raise TypeError(f"A gate spec is a string like 'xhb' or a GateSpec, got {spec!r}.")
        if not spec:
            raise ValueError(f"Empty gate spec ''; name at least one of {_allowed()}.")
        if spec.startswith("1-"):
            gate = spec[2:]
            if not (gate.isalpha() and len(gate) == 1):
                raise ValueError(f"Coupled gate spec {spec!r} must be '1-<gate>', e.g. '1-i'.")
            return cls(coupled=gate)
        if spec[0].isdigit() or spec[0] in ".-+":
            try:
                value = float(spec)
            except ValueError:
                raise ValueError(
                    f"Gate spec {spec!r} is neither a constant in (0, 1] nor '1-<gate>'."
                ) from None
            return cls(value=value)
        unknown = sorted(set(spec) - set(TERMS))
        if unknown:
            raise ValueError(
                f"Gate spec {spec!r} has unknown term(s) {', '.join(map(repr, unknown))}; "
                f"allowed terms are {_allowed()}, or a constant like '1' or '0.96', or '1-<gate>'."
            )
        repeated = sorted({t for t in spec if spec.count(t) > 1})
        if repeated:
            raise ValueError(
                f"Gate spec {spec!r} repeats term(s) {', '.join(map(repr, repeated))}; "
                f"name each of {_allowed()} at most once."
            )
        return cls(**{t: t in spec for t in TERMS})

    def __str__(self) -> str:
        if self.value is not None:  # short, unless that would lose digits
            return f"{self.value:g}" if float(f"{self.value:g}") == self.value else repr(self.value)
        if self.coupled is not None:
            return f"1-{self.coupled}"
        return "".join(t for t in TERMS if getattr(self, t))

    @property
    def fixed(self) -> bool:
        """A constant or a coupling: the gate has no parameters of its own."""
        return self.value is not None or self.coupled is not None

    @property
    def constant(self) -> bool:
        """True for a bias-only gate: σ(b_g), the same at every time step."""
        return self.b and not (self.x or self.h or self.c or self.d)

    @property
    def reads_state(self) -> bool:
        """True when the part reads h_{t-1} (through U or u) or the cell state."""
        return self.h or self.d or self.c


def param_name(kind: str, term: str) -> str:
    """The paper's symbol for a parameter: ``kind`` W, U, u, V or b of part ``term``.

    ``W_z``, ``U_h``, ``u_i``, ``V_i``, ``b_c``, ...; the tanh RNN's unnamed candidate gives
    ``W``, ``U``, ``u``, ``b``.
    """
    return f"{kind}_{term}" if term else kind


def _allowed() -> str:
    return ", ".join(f"'{t}' ({_TERM_NAMES[t]})" for t in TERMS)
