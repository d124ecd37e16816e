"""Recurrent cell families and their gate-input variants, as data.

A *family* fixes a cell's gates, its candidate and its state update. A *variant* is a
family plus one gate-input spec per gate (``gruvar.gates``). Every gate g has

    a_g = [W_g x_t] + [U_g h_{t-1}] + [V_g ⊙ c] + [b_g],    g_t = σ(a_g)

with the bracketed terms named by its spec; a term the spec leaves out has no parameter.
The candidate always has W, U and b. Parameters are named after the papers' symbols
(``W_z``, ``U_z``, ``b_z``, ..., ``W_h``, ``U_h``, ``b_h``; peepholes ``V_i``), kernels
shaped [in, out], peepholes [n] (a diagonal matrix).

Define a variant in one line, without a new class::

    cells.variant("gru", z="hb", r="xhb")       # or the string form "gru:z=hb,r=xhb"
    cells.VARIANTS["gru_hz"] = cells.variant("gru", "h", r="xhb")   # register it by name
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Mapping
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from gruvar import recurrence
from gruvar.gates import GateSpec, param_name

Array = jax.Array


class Family:
    """A cell family: its gates, its candidate and how the state is updated.

    ``candidate_mode`` says how the candidate's recurrent term reads h_{t-1}:
    ``"direct"`` U h_{t-1}; ``"before"`` U (g ⊙ h_{t-1}) with g = ``candidate_gate``
    (a second matmul that must wait for the gate); ``"after"`` g ⊙ (U h_{t-1} + b_U).
    A family with a cell state (``has_cell``) lets gates peek at it (spec letter ``c``):
    the gates in ``peeks_new_cell`` read c_t, the others c_{t-1}.
    """

    name: str
    gates: tuple[str, ...] = ()
    candidate: str = "h"
    candidate_mode: str = "direct"
    candidate_gate: str | None = None
    forget_gate: str | None = None
    has_cell: bool = False
    peeks_new_cell: tuple[str, ...] = ()

    def update(self, gates: Mapping[str, Array], a_cand: Array, carry: Any) -> Any:
        """New carry from the gate values, the candidate's pre-activation and the old carry.

        A gate in ``peeks_new_cell`` that reads the cell state arrives as a function of c_t.
        """
        raise NotImplementedError

    def hidden(self, carry: Any) -> Array:
        """The hidden state h (the cell's output) held in a carry."""
        return carry

    def cell(self, carry: Any) -> Array:
        """The cell state c held in a carry (families with ``has_cell``)."""
        raise NotImplementedError

    def zeros_carry(self, shape: tuple[int, ...], dtype: Any) -> Any:
        return jnp.zeros(shape, dtype)

    def __repr__(self) -> str:
        return f"<family {self.name}>"


class GRU(Family):
    """Gated recurrent unit with the reset gate before U_h (Chung et al. 2014; Dey & Salem 2017).

        z_t  = σ(a_z)                                    update gate
        r_t  = σ(a_r)                                    reset gate
        h~_t = tanh(W_h x_t + U_h (r_t ⊙ h_{t-1}) + b_h)
        h_t  = (1 - z_t) ⊙ h_{t-1} + z_t ⊙ h~_t

    Cho et al. (2014) swap the roles of z and 1 - z; that is a reparametrisation.
    """

    name = "gru"
    gates = ("z", "r")
    candidate = "h"
    candidate_mode = "before"
    candidate_gate = "r"

    def update(self, gates, a_cand, carry):
        return carry + gates["z"] * (jnp.tanh(a_cand) - carry)


class GRUResetAfter(GRU):
    """GRU with the reset gate after U_h, the cuDNN / PyTorch / Keras ``reset_after`` form.

        z_t  = σ(a_z),  r_t = σ(a_r)
        h~_t = tanh(W_h x_t + b_h + r_t ⊙ (U_h h_{t-1} + b_Uh))
        h_t  = (1 - z_t) ⊙ h_{t-1} + z_t ⊙ h~_t

    A different model from ``GRU``, not a reparametrisation; its recurrent kernels fuse
    into one matmul per step, which is why the fast libraries chose it.
    """

    name = "gru_reset_after"
    candidate_mode = "after"


class MGU(Family):
    """Minimal gated unit (Zhou et al. 2016): one forget gate plays both GRU roles.

    f_t  = σ(a_f)
    h~_t = tanh(W_h x_t + U_h (f_t ⊙ h_{t-1}) + b_h)
    h_t  = (1 - f_t) ⊙ h_{t-1} + f_t ⊙ h~_t
    """

    name = "mgu"
    gates = ("f",)
    candidate = "h"
    candidate_mode = "before"
    candidate_gate = "f"

    def update(self, gates, a_cand, carry):
        return carry + gates["f"] * (jnp.tanh(a_cand) - carry)


class LSTM(Family):
    """Long short-term memory (Hochreiter & Schmidhuber 1997; forget gate of Gers et al. 2000).

        i_t  = σ(a_i),  f_t = σ(a_f),  o_t = σ(a_o)
        c~_t = tanh(W_c x_t + U_c h_{t-1} + b_c)
        c_t  = f_t ⊙ c_{t-1} + i_t ⊙ c~_t
        h_t  = o_t ⊙ tanh(c_t)

    With peepholes (spec letter ``c``; Graves 2013, the LSTM of Chung et al. 2014) a gate adds
    a diagonal term of the cell state: a_i and a_f get V_i ⊙ c_{t-1} and V_f ⊙ c_{t-1}, a_o
    gets V_o ⊙ c_t (the new state, so o_t is computed after c_t).

    The carry is (c, h), as in ``flax.linen.LSTMCell``. b_f starts at 1 (Jozefowicz et al. 2015).
    """

    name = "lstm"
    gates = ("i", "f", "o")
    candidate = "c"
    forget_gate = "f"
    has_cell = True
    peeks_new_cell = ("o",)

    def update(self, gates, a_cand, carry):
        c, _ = carry
        c = gates["f"] * c + gates["i"] * jnp.tanh(a_cand)
        o = gates["o"](c) if callable(gates["o"]) else gates["o"]
        return c, o * jnp.tanh(c)

    def hidden(self, carry):
        return carry[1]

    def cell(self, carry):
        return carry[0]

    def zeros_carry(self, shape, dtype):
        return jnp.zeros(shape, dtype), jnp.zeros(shape, dtype)


class TanhRNN(Family):
    """Elman RNN with tanh units (Chung et al. 2014's baseline).

    h_t = tanh(W x_t + U h_{t-1} + b)
    """

    name = "tanh"
    candidate = ""

    def update(self, gates, a_cand, carry):
        return jnp.tanh(a_cand)


FAMILIES: dict[str, Family] = {
    f.name: f for f in (GRU(), GRUResetAfter(), MGU(), LSTM(), TanhRNN())
}


@dataclasses.dataclass(frozen=True)
class Variant:
    """A family plus one gate-input spec per gate. Hashable, so it can key a jit cache."""

    family: Family
    specs: tuple[tuple[str, GateSpec], ...]

    @property
    def name(self) -> str:
        """Canonical string form, accepted back by ``get``: e.g. ``gru:z=hb,r=hb``."""
        for name, registered in VARIANTS.items():
            if registered == self:
                return name
        return f"{self.family.name}:" + ",".join(f"{g}={s}" for g, s in self.specs)

    def spec(self, gate: str) -> GateSpec:
        return dict(self.specs)[gate]

    def param_shapes(self, in_features: int, features: int) -> dict[str, tuple[int, ...]]:
        """Every parameter's name and shape, for m = in_features inputs and n = features units."""
        m, n = in_features, features
        shapes = {}
        for g, s in self.specs:
            if s.x:
                shapes[param_name("W", g)] = (m, n)
            if s.h:
                shapes[param_name("U", g)] = (n, n)
            if s.c:
                shapes[param_name("V", g)] = (n,)
            if s.b:
                shapes[param_name("b", g)] = (n,)
        c = self.family.candidate
        shapes |= {param_name("W", c): (m, n), param_name("U", c): (n, n), param_name("b", c): (n,)}
        if self.family.candidate_mode == "after":
            shapes[param_name("b", "U" + c)] = (n,)
        return shapes

    def __str__(self) -> str:
        return self.name


def variant(family: str, spec: str | GateSpec = "xhb", **gate_specs: str | GateSpec) -> Variant:
    """A variant of ``family`` whose gates all use ``spec``, except those named in ``gate_specs``.

    >>> variant("gru", "hb")               # Dey & Salem's GRU1
    >>> variant("lstm", f="xhb", i="b")    # only the input gate reduced to a bias
    """
    if family not in FAMILIES:
        raise ValueError(f"Unknown cell family {family!r}; families are {sorted(FAMILIES)}.")
    fam = FAMILIES[family]
    unknown = sorted(set(gate_specs) - set(fam.gates))
    if unknown:
        raise ValueError(
            f"Family {family!r} has no gate(s) {unknown}; its gates are {list(fam.gates)}."
        )
    default = GateSpec.parse(spec)
    specs = tuple((g, GateSpec.parse(gate_specs.get(g, default))) for g in fam.gates)
    peeking = [g for g, s in specs if s.c]
    if peeking and not fam.has_cell:
        raise ValueError(
            f"Gate(s) {peeking} of family {family!r} read the cell state ('c'), but only a "
            f"family with a cell state has one: {[f for f, v in FAMILIES.items() if v.has_cell]}."
        )
    return Variant(fam, specs)


VARIANTS: dict[str, Variant] = {
    "gru": variant("gru", "xhb"),
    "gru1": variant("gru", "hb"),
    "gru2": variant("gru", "h"),
    "gru3": variant("gru", "b"),
    "gru_reset_after": variant("gru_reset_after", "xhb"),
    "mgu": variant("mgu", "xhb"),
    "lstm": variant("lstm", "xhb"),
    "lstm1": variant("lstm", "hb"),
    "lstm2": variant("lstm", "h"),
    "lstm3": variant("lstm", "b"),
    "lstm_peephole": variant("lstm", "xhcb"),
    "tanh": variant("tanh"),
}


def get(name_or_spec: str | Variant) -> Variant:
    """A variant by registered name (``VARIANTS``), or from ``family:spec`` / ``family:g=spec,...``.

    An unknown name is a ValueError that lists the registered variants and the families.
    """
    if isinstance(name_or_spec, Variant):
        return name_or_spec
    if not isinstance(name_or_spec, str):
        raise TypeError(f"A variant is a name or a Variant, got {name_or_spec!r}.")
    if name_or_spec in VARIANTS:
        return VARIANTS[name_or_spec]
    if ":" in name_or_spec:
        return _parse(name_or_spec)
    raise ValueError(
        f"Unknown variant {name_or_spec!r}. Registered variants: {', '.join(VARIANTS)}. "
        f"Or define one as 'family:spec' or 'family:gate=spec,...' "
        f"(e.g. 'gru:z=hb,r=xhb'), with a family from {sorted(FAMILIES)}."
    )


@functools.cache
def _parse(text: str) -> Variant:
    family, _, body = text.partition(":")
    if "=" not in body:
        return variant(family.strip(), body.strip())
    gate_specs = {}
    for item in body.split(","):
        gate, sep, spec = item.partition("=")
        if not sep:
            raise ValueError(f"In variant {text!r}, {item!r} is not of the form gate=spec.")
        gate_specs[gate.strip()] = spec.strip()
    return variant(family.strip(), **gate_specs)


class Cell(nn.RNNCellBase):
    """One recurrent layer of any variant: a ``flax.linen.RNNCellBase`` with a fast ``scan``.

    ``cell(carry, x_t) -> (carry, h_t)`` runs one step, so the cell drops into
    ``flax.linen.RNN``; ``cell.scan(x)`` runs a whole sequence through ``gruvar.recurrence``
    with the same parameters. ``candidate_recurrent_init``, when given, initialises the
    candidate's U (``U``, ``U_h``, ``U_c``: the one inside the tanh) in place of
    ``recurrent_kernel_init``.
    """

    variant: str | Variant
    features: int
    gate_fn: Callable[[Array], Array] = nn.sigmoid
    kernel_init: nn.initializers.Initializer = nn.initializers.lecun_normal()
    recurrent_kernel_init: nn.initializers.Initializer = nn.initializers.orthogonal()
    candidate_recurrent_init: nn.initializers.Initializer | None = None
    bias_init: nn.initializers.Initializer = nn.initializers.zeros_init()
    peephole_init: nn.initializers.Initializer = nn.initializers.zeros_init()
    forget_bias: float = 1.0
    param_dtype: Any = jnp.float32

    @property
    def resolved(self) -> Variant:
        return get(self.variant)

    @nn.compact
    def params_for(self, in_features: int) -> dict[str, Array]:
        """The paper-named parameters of this layer, created on first use."""
        if self.features <= 0:
            raise ValueError(f"features must be positive, got {self.features}.")
        v = self.resolved
        forget_b = v.family.forget_gate and param_name("b", v.family.forget_gate)
        candidate_u = param_name("U", v.family.candidate)
        inits = {
            "W": self.kernel_init,
            "U": self.recurrent_kernel_init,
            "V": self.peephole_init,
            "b": self.bias_init,
        }
        params = {}
        for name, shape in v.param_shapes(in_features, self.features).items():
            init = inits[name[0]]
            if name == forget_b:
                init = nn.initializers.constant(self.forget_bias)
            if name == candidate_u and self.candidate_recurrent_init is not None:
                init = self.candidate_recurrent_init
            params[name] = self.param(name, init, shape, self.param_dtype)
        return params

    def __call__(self, carry: Any, x_t: Array) -> tuple[Any, Array]:
        """One step: x_t [..., in] and the carry [..., features] to (new carry, h_t)."""
        params = self.params_for(x_t.shape[-1])
        return recurrence.step(self.resolved, self.gate_fn, params, carry, x_t)

    def scan(
        self,
        x: Array,
        lengths: Array | None = None,
        *,
        reverse: bool = False,
        unroll: int = 1,
        initial_carry: Any = None,
    ) -> tuple[Array, Any]:
        """The whole sequence x [batch, time, in] at once; see ``recurrence.scan``."""
        if x.ndim != 3:
            raise ValueError(
                f"Expected x of shape [batch, time, features], got shape {tuple(x.shape)}."
            )
        params = self.params_for(x.shape[-1])
        return recurrence.scan(
            self.resolved,
            self.gate_fn,
            params,
            x,
            lengths,
            reverse=reverse,
            unroll=unroll,
            initial_carry=initial_carry,
        )

    @nn.nowrap
    def initialize_carry(self, rng: Array, input_shape: tuple[int, ...]) -> Any:
        """Zero state for inputs of shape [*batch, in] (h_0 = 0, and c_0 = 0 for an LSTM)."""
        del rng
        shape = (*input_shape[:-1], self.features)
        return self.resolved.family.zeros_carry(shape, self.param_dtype)

    @property
    def num_feature_axes(self) -> int:
        return 1


def make(name_or_spec: str | Variant, features: int, **kwargs: Any) -> Cell:
    """A ``Cell`` of the named (or spec-defined) variant with ``features`` units."""
    return Cell(variant=get(name_or_spec), features=features, **kwargs)
