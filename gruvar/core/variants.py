"""Variants as data: a family plus one spec per part, compiled to a plan; the named registry.

A *variant* is a family (``gruvar.core.families``) plus a spec per gate and one for the candidate
(``gruvar.core.gates``), the candidate's activation (``act``: tanh, identity, relu), an LSTM's
output activation (``out``: tanh, identity), optionally a normalised gate pair (``norm``,
minLSTM's f' = f / (f + i), i' = i / (f + i)) and batch norm on the input projections
(``bn``, Li-GRU). Define one in a line, without a new class::

    variant("gru", z="hb", r="xhb")            # or the string "gru:z=hb,r=xhb"
    variant("lstm", "xhcb", f="1-i")           # "lstm:xhcb,f=1-i": Greff's CIFG
    variant("tanh", h="xdb", act="relu")       # "tanh:h=xdb,act=relu": IndRNN
    VARIANTS["gru_hz"] = variant("gru", "h", r="xhb")   # register it by name

In a string, a first item without ``=`` is the spec of every gate; the candidate is named by
its key (``h``; ``c`` for an LSTM). Every check runs here, before anything is built.

Issue 28 adds the activations ``silu`` and ``g`` (Feng et al.'s positive candidate) and, for the
linear-recurrence family ``linrec``, two knobs on its decay gate: ``floor=γ`` (HGRN's lower
bound) and ``range=signed`` (the decay in (-1, 1))::

    variant("linrec", i="xb", f="1-i", act="g")          # "linrec:i=xb,f=1-i,act=g": mingru_g
    variant("linrec", act="silu", floor=0.5)             # HGRN with a fixed lower bound 0.5
    variant("linrec", i="xb", f="1-i", decay_range="signed")   # "...,range=signed"
"""

from __future__ import annotations

import dataclasses
import functools
import math
import warnings

from gruvar.core.families import FAMILIES, Family
from gruvar.core.fixed_families import FIXED_FAMILIES
from gruvar.core.gates import GateSpec, param_name
from gruvar.core.plan import ACTIVATIONS, Plan

OUTPUTS = ("tanh", "identity")
RANGES = ("unit", "signed")  # the decay in (0, 1), or mapped to (-1, 1) by a -> 2a - 1
_KNOBS = ("act", "out", "norm", "bn", "floor", "range")


@dataclasses.dataclass(frozen=True)
class Variant:
    """A family plus one spec per gate and the candidate's. Hashable, so it can key a jit cache."""

    family: Family
    specs: tuple[tuple[str, GateSpec], ...] = ()
    candidate: GateSpec | None = None
    act: str = "tanh"
    out: str = "tanh"
    norm: tuple[str, str] | None = None
    bn: bool = False
    floor: float | None = None
    decay_range: str = "unit"

    @property
    def name(self) -> str:
        """The registered name, else the canonical string accepted back by ``get``."""
        for match in (lambda v: v is self, lambda v: v == self):
            for name, registered in VARIANTS.items():
                if match(registered):
                    return name
        fam = self.family
        items = [f"{g}={s}" for g, s in self.specs]
        if str(self.candidate) != fam.default_candidate:
            items.append(f"{fam.candidate_key}={self.candidate}")
        if self.act != fam.default_act:
            items.append(f"act={self.act}")
        if self.out != "tanh":
            items.append(f"out={self.out}")
        if self.norm:
            items.append(f"norm={''.join(self.norm)}")
        if self.bn:
            items.append("bn=on")
        if self.floor is not None:
            items.append(f"floor={self.floor!r}")
        if self.decay_range != "unit":
            items.append(f"range={self.decay_range}")
        return f"{fam.name}:" + ",".join(items)

    @property
    def canonical(self) -> str:
        """What the variant is, whatever it is registered as: its family, every part's spec and
        every knob, as a string ``get`` accepts back. Two variants are the same model exactly
        when their canonical forms are equal (a run's config.json keeps it)."""
        fam = self.family
        if fam.fixed_form:
            return f"{fam.name}:"
        items = [f"{g}={s}" for g, s in self.specs]
        items += [f"{fam.candidate_key}={self.candidate}", f"act={self.act}", f"out={self.out}"]
        if self.norm:
            items.append(f"norm={''.join(self.norm)}")
        items.append(f"bn={'on' if self.bn else 'off'}")
        if self.floor is not None:
            items.append(f"floor={self.floor!r}")
        if self.decay_range != "unit":
            items.append(f"range={self.decay_range}")
        return f"{fam.name}:" + ",".join(items)

    def spec(self, gate: str) -> GateSpec:
        return dict(self.specs)[gate]

    @property
    def plan(self) -> Plan:
        return compile_plan(self)

    def param_shapes(self, in_features: int, features: int) -> dict[str, tuple[int, ...]]:
        """Every parameter's name and shape, for m = in_features inputs and n = features units."""
        m, n = in_features, features
        if self.family.fixed_form:
            return self.family.shapes(m, n)
        parts = [(g, s) for g, s in self.specs if not s.fixed]
        parts.append((self.family.candidate, self.candidate))
        shapes = {}
        for p, s in parts:
            for letter, kind, shape in (
                ("x", "W", (m, n)),
                ("h", "U", (n, n)),
                ("d", "u", (n,)),
                ("c", "V", (n,)),
                ("b", "b", (n,)),
            ):
                if getattr(s, letter):
                    shapes[param_name(kind, p)] = shape
            if self.bn and s.x:
                shapes[param_name("gamma", p)] = (n,)
        if self.family.candidate_mode == "after":
            shapes[param_name("b", "U" + self.family.candidate)] = (n,)
        return shapes

    def __str__(self) -> str:
        return self.name


def variant(
    family: str,
    spec: str | GateSpec | None = None,
    *,
    act: str | None = None,
    out: str = "tanh",
    norm: str | tuple[str, str] | None = None,
    bn: bool = False,
    floor: float | None = None,
    decay_range: str = "unit",
    **parts: str | GateSpec,
) -> Variant:
    """A variant of ``family`` whose gates all use ``spec`` (else the family's own), except
    those named in ``parts``; the candidate is ``parts[family.candidate_key]``.

    >>> variant("gru", "hb")               # Dey & Salem's GRU1
    >>> variant("lstm", f="xhb", i="b")    # only the input gate reduced to a bias

    ``floor`` (γ in [0, 1)) and ``decay_range`` ("unit", or "signed" for (-1, 1)) act on the
    decay gate of a family linear by construction (``linrec``); strings spell them
    ``floor=0.5`` and ``range=signed``.
    """
    if family in FIXED_FAMILIES:
        knobs = act or out != "tanh" or norm or bn or floor is not None or decay_range != "unit"
        if spec is not None or parts or knobs:
            raise ValueError(
                f"Family {family!r} has one fixed form ({FIXED_FAMILIES[family].paper}); it takes "
                "no part specs or knobs. Use its registered name."
            )
        return Variant(FIXED_FAMILIES[family])
    if family not in FAMILIES:
        raise ValueError(
            f"Unknown cell family {family!r}; families are {sorted(FAMILIES)} "
            f"(fixed forms: {sorted(FIXED_FAMILIES)})."
        )
    fam = FAMILIES[family]
    key = fam.candidate_key
    unknown = sorted(set(parts) - set(fam.gates) - {key})
    if unknown:
        gates = f"its gates are {list(fam.gates)}" if fam.gates else "it has no gates"
        raise ValueError(
            f"Family {family!r} has no gate(s) {unknown}; {gates} and its candidate is {key!r}."
        )
    if spec is not None and not fam.gates:
        raise ValueError(
            f"Family {family!r} has no gates, so gate spec {str(spec)!r} has nothing to apply "
            f"to; set its candidate instead, e.g. '{family}:{key}=xhb'."
        )

    def default(g):
        return spec if spec is not None else fam.gate_defaults.get(g, fam.default_spec)

    specs = tuple((g, GateSpec.parse(parts.get(g, default(g)))) for g in fam.gates)
    candidate = GateSpec.parse(parts.get(key, fam.default_candidate))
    if isinstance(norm, str):
        norm = tuple(norm)
    act = fam.default_act if act is None else act
    v = Variant(fam, specs, candidate, act, out, norm, bn, floor, decay_range)
    compile_plan(v)  # every check, now
    return v


@functools.cache
def compile_plan(v: Variant) -> Plan:
    """The plan the recurrence runs; raises ValueError naming the bad part of ``v``."""
    fam = v.family
    if fam.fixed_form:
        return Plan(fam, fam.gates, fam.candidate, own_step=True)
    specs, cand, key = dict(v.specs), v.candidate, fam.candidate_key
    peeking = [g for g, s in specs.items() if s.c]
    if peeking and not fam.has_cell:
        raise ValueError(
            f"Gate(s) {peeking} of family {fam.name!r} read the cell state ('c'), but only a "
            f"family with a cell state has one: {[f for f, x in FAMILIES.items() if x.has_cell]}."
        )
    if cand.fixed or cand.c or not cand.x:
        raise ValueError(
            f"The candidate {key!r} of {fam.name!r} has spec {str(cand)!r}; it must read the input "
            "('x') and may add 'h' (U h), 'd' (u ⊙ h) and 'b'; no constant, coupling or 'c'."
        )
    if fam.candidate_mode == "after" and not cand.h:
        raise ValueError(
            f"{fam.name!r} applies its reset gate to U_h h_{{t-1}}, so its candidate needs 'h' "
            f"(and no 'd'); got {str(cand)!r}. Use 'gru' for other candidates."
        )
    if v.act not in ACTIVATIONS:
        raise ValueError(
            f"Unknown candidate activation act={v.act!r}; choose from {list(ACTIVATIONS)}."
        )
    if v.out not in OUTPUTS or (v.out != "tanh" and not fam.has_cell):
        raise ValueError(
            f"Output activation out={v.out!r}: only a family with a cell state has one, and it "
            f"is one of {list(OUTPUTS)}."
        )
    for g, s in specs.items():
        if s.coupled is None:
            continue
        src = specs.get(s.coupled)
        if s.coupled == g or src is None:
            what = "itself" if s.coupled == g else f"unknown gate {s.coupled!r}"
            raise ValueError(
                f"Gate {g!r} of {fam.name!r} is coupled to {what}; couple it to another of "
                f"{[x for x in fam.gates if x != g]}."
            )
        if src.fixed or (src.c and s.coupled in fam.peeks_new_cell):
            raise ValueError(
                f"Gate {g!r} is coupled to {s.coupled!r}, which is itself {src}; couple it to a "
                "gate with terms of its own, computed before the cell state."
            )
    if v.norm is not None:
        pair = v.norm
        if len(pair) != 2 or pair[0] == pair[1] or not set(pair) <= set(fam.gates):
            raise ValueError(
                f"norm={''.join(pair)!r} must name two different gates of {fam.name!r}: "
                f"{list(fam.gates)}."
            )
        for g in pair:
            if specs[g].fixed or (specs[g].c and g in fam.peeks_new_cell):
                raise ValueError(
                    f"norm: gate {g!r} is {specs[g]}; a normalised gate needs terms of its own, "
                    "computed before the cell state."
                )
        forget = fam.forget_gate or fam.decay_gate  # linrec's decay f is its forget gate
        if forget not in pair:
            has = f"its forget gate {forget!r}" if forget else "a forget gate"
            raise ValueError(
                f"norm={''.join(pair)!r}: norm makes a forget gate and the gate of the candidate "
                f"sum to 1 (minLSTM's f' = f / (f + i), i' = i / (f + i)), so its pair includes "
                f"{has}" + ("" if forget else f", and {fam.name!r} has none") + "."
            )
    if fam.name == "ligru" and specs["z"].value == 1:
        raise ValueError(
            "ligru:z=1 keeps the old state at every step (h_t = z h_{t-1} + (1 - z) h~_t): "
            "the model's output and gradients are zero. Give z terms, or a constant below 1."
        )
    _check_decay(v)
    gate = fam.candidate_gate
    if gate and gate not in fam.update_gates and not cand.reads_state:
        if not specs[gate].fixed:
            raise ValueError(
                f"Gate {gate!r} of {fam.name!r} only gates the candidate's h_{{t-1}}, and the "
                f"candidate {str(cand)!r} reads none: set {gate}=1."
            )
    mode = fam.candidate_mode
    if mode == "before" and specs[gate].value == 1 and cand.h:
        mode = "direct"  # U (1 ⊙ h) = U h: fused with the gates' matmul
    c = fam.candidate
    fused_c = (c,) if cand.h and mode != "before" else ()
    gates = tuple(g for g in fam.gates if specs[g].coupled is None)
    gates += tuple(g for g in fam.gates if specs[g].coupled is not None)
    return Plan(
        family=fam,
        gates=gates,
        candidate=c,
        x_terms=(*(g for g in fam.gates if specs[g].x), c),
        h_terms=(*(g for g in fam.gates if specs[g].h), *fused_c),
        diag=(*(g for g in fam.gates if specs[g].d), *((c,) if cand.d else ())),
        peep=tuple(g for g in fam.gates if specs[g].c),
        loop_bias=tuple(g for g, s in specs.items() if s.b and not s.x and not s.constant),
        learned_constant=tuple(g for g, s in specs.items() if s.constant),
        fixed=tuple((g, s.value) for g, s in specs.items() if s.value is not None),
        coupled=tuple((g, s.coupled) for g, s in specs.items() if s.coupled is not None),
        norm=v.norm,
        candidate_mode=mode,
        candidate_gate=gate,
        act=v.act,
        out=v.out,
        batch_norm=v.bn,
        linear=not cand.reads_state and not any(s.reads_state for s in specs.values()),
        floor=None if not v.floor else (fam.decay_gate, v.floor),
        signed=fam.decay_gate if v.decay_range == "signed" else None,
    )


def _check_decay(v: Variant) -> None:
    """A family linear by construction (``decay_gate`` set) reads no state; ``floor`` and
    ``range`` need one, and a decay gate of its own for the floor."""
    fam, specs = v.family, dict(v.specs)
    if fam.decay_gate is not None:
        for p, s in (*specs.items(), (fam.candidate_key, v.candidate)):
            if s.reads_state:
                raise ValueError(
                    f"Part {p!r} of {fam.name!r} has spec {str(s)!r}, which reads the state "
                    f"('h', 'd' or 'c'); {fam.name!r} is linear in h_{{t-1}} by construction, so "
                    "its parts read only 'x' and 'b'. Use 'gru' or 'lstm' for gates that read h."
                )
    set_knobs = {"floor": v.floor is not None, "range": v.decay_range != "unit"}
    knobs = [k for k, on in set_knobs.items() if on]
    if knobs and fam.decay_gate is None:
        linear_families = [f for f, x in FAMILIES.items() if x.decay_gate]
        raise ValueError(
            f"{' and '.join(knobs)} {'act' if len(knobs) > 1 else 'acts'} on the decay gate of "
            f"a linear-recurrence family ({linear_families}); {fam.name!r} has none."
        )
    if v.decay_range not in RANGES:
        raise ValueError(
            f"range={v.decay_range!r}: the decay's range is one of {list(RANGES)} "
            "(unit: (0, 1); signed: (-1, 1), a -> 2a - 1)."
        )
    if v.floor is not None:
        if not isinstance(v.floor, (int, float)) or not 0 <= v.floor < 1:
            raise ValueError(
                f"floor={v.floor!r}: the decay's lower bound γ must lie in [0, 1) "
                "(HGRN: a = γ + (1 - γ) σ(·))."
            )
        g = fam.decay_gate
        if specs[g].fixed:
            raise ValueError(
                f"floor: the decay gate {g!r} is {specs[g]}; a floor lower-bounds a gate with "
                f"terms of its own, e.g. {g}=xb."
            )


def get(name_or_spec: str | Variant) -> Variant:
    """A variant by registered name (``VARIANTS``), or from ``family:spec`` / ``family:p=spec,...``.

    An unknown name is a ValueError that lists the registered variants and the families.
    """
    if isinstance(name_or_spec, Variant):
        return name_or_spec
    if not isinstance(name_or_spec, str):
        raise TypeError(f"A variant is a name or a Variant, got {name_or_spec!r}.")
    if name_or_spec in VARIANTS:
        found = VARIANTS[name_or_spec]
        builtin = _BUILTIN.get(name_or_spec)
        if builtin is not None and found != builtin and name_or_spec not in _WARNED:
            _WARNED.add(name_or_spec)
            warnings.warn(
                f"VARIANTS[{name_or_spec!r}] is redefined as {found.canonical}, not gruvar's "
                f"{builtin.canonical}: results under this name are not the built-in variant's. "
                f"Register your variant under a name of its own.",
                stacklevel=2,
            )
        return found
    if ":" in name_or_spec:
        return _parse(name_or_spec)
    raise ValueError(
        f"Unknown variant {name_or_spec!r}. Registered variants: {', '.join(VARIANTS)}. "
        f"Or define one as 'family:spec' or 'family:part=spec,...' "
        f"(e.g. 'gru:z=hb,r=xhb'), with a family from {sorted(FAMILIES)}."
    )


def param_count(name_or_spec: str | Variant, in_features: int, features: int) -> int:
    """Parameters in one layer of a variant, with m = in_features inputs and n = features units."""
    shapes = get(name_or_spec).param_shapes(in_features, features)
    return sum(math.prod(shape) for shape in shapes.values())


@functools.cache
def _parse(text: str) -> Variant:
    family, _, body = text.partition(":")
    items = [item.strip() for item in body.split(",")] if body.strip() else []
    spec, given = None, {}
    for k, item in enumerate(items):
        key, sep, value = item.partition("=")
        if not sep:
            if k == 0:
                spec = item
                continue
            raise ValueError(f"In variant {text!r}, {item!r} is not of the form gate=spec.")
        key = key.strip()
        if key in given:
            raise ValueError(
                f"In variant {text!r}, {key!r} is given twice ({given[key]!r} and "
                f"{value.strip()!r}); name each part once."
            )
        given[key] = value.strip()
    knobs = {k: given.pop(k) for k in _KNOBS if k in given}
    empty = [k for k, value in knobs.items() if not value]
    if empty:
        raise ValueError(
            f"In variant {text!r}, {empty[0]}= has no value; give one, or leave {empty[0]} out "
            f"for the family's own."
        )
    if "range" in knobs:
        knobs["decay_range"] = knobs.pop("range")
    if "floor" in knobs:
        try:
            knobs["floor"] = float(knobs["floor"])
        except ValueError:
            raise ValueError(
                f"In variant {text!r}, floor={knobs['floor']!r} is not a number in [0, 1)."
            ) from None
    if "bn" in knobs:
        if knobs["bn"] not in ("on", "off"):
            raise ValueError(f"In variant {text!r}, bn={knobs['bn']!r}; use bn=on or bn=off.")
        knobs["bn"] = knobs["bn"] == "on"
    return variant(family.strip(), spec, **knobs, **given)


# The named variants. Names are the papers' own; [P] the paper or its authors' code, [S] a
# third-party reading, [U] unverified (the form is inferred); see ../shared/VARIANTS.md.
VARIANTS: dict[str, Variant] = {
    # Chung et al. 2014 (GRU, tanh; their LSTM has peepholes: lstm_peephole) [P]; Dey & Salem
    # 2017, GRU1-3: gates h+b, h, b [P abstract, S code].
    "gru": variant("gru", "xhb"),
    "gru1": variant("gru", "hb"),
    "gru2": variant("gru", "h"),
    "gru3": variant("gru", "b"),
    "gru_reset_after": variant("gru_reset_after", "xhb"),
    "tanh": variant("tanh"),
    "lstm": variant("lstm", "xhb"),
    "lstm_peephole": variant("lstm", "xhcb"),
    # Zhou et al. 2016, MGU [S]; Heck & Salem 2017, MGU1-3 by analogy with GRU1-3 [U: inferred].
    "mgu": variant("mgu", "xhb"),
    "mgu1": variant("mgu", "hb"),
    "mgu2": variant("mgu", "h"),
    "mgu3": variant("mgu", "b"),
    # Akandeh & Salem 2017, slim LSTMs [P: authors' Keras code, slim22.py]. LSTM1-3 (gates
    # h+b, h, b) are their code's; Lu & Salem 2017 use the names LSTM1-3 for other models.
    "lstm1": variant("lstm", "hb"),
    "lstm2": variant("lstm", "h"),
    "lstm3": variant("lstm", "b"),
    "lstm4": variant("lstm", "d"),
    "lstm5": variant("lstm", "db"),
    "lstm4a": variant("lstm", i="d", f="0.96", o="1"),
    "lstm5a": variant("lstm", i="db", f="0.96", o="1"),
    "lstm6": variant("lstm", i="1", f="0.4", o="1"),
    "lstm10": variant("lstm", "d", c="xdb"),
    "lstm11": variant("lstm", "db", c="xdb"),
    # Greff et al. 2017, the search-space odyssey [S: fomorians/lstm-odyssey, faithful to the
    # paper]; their vanilla LSTM is lstm_peephole, and each variant changes one thing in it.
    "lstm_nig": variant("lstm", "xhcb", i="1"),
    "lstm_nfg": variant("lstm", "xhcb", f="1"),
    "lstm_nog": variant("lstm", "xhcb", o="1"),
    "lstm_niaf": variant("lstm", "xhcb", act="identity"),
    "lstm_noaf": variant("lstm", "xhcb", out="identity"),
    "lstm_np": variant("lstm", "xhb"),
    "lstm_cifg": variant("lstm", "xhcb", f="1-i"),
    "lstm_fgr": variant("fgr"),
    # Jozefowicz et al. 2015, MUT1-3 [S, three agreeing sources].
    "mut1": variant("mut1"),
    "mut2": variant("mut2"),
    "mut3": variant("mut3"),
    # Li et al. 2018, IndRNN: h = relu(W x + u ⊙ h + b) [S].
    "indrnn": variant("tanh", h="xdb", act="relu"),
    # Ravanelli et al. 2018, Li-GRU [P: authors' pytorch-kaldi]; 'ligru:bn=on' for batch norm.
    "ligru": variant("ligru"),
    # Feng et al. 2024, minGRU and minLSTM as the paper's §3 equations, identity candidate [P:
    # paper]; linear in h (parallel in time). Their released code runs mingru_g / minlstm_g.
    "mingru": variant("gru", z="xb", r="1", h="xb", act="identity"),
    "minlstm": variant(
        "lstm", i="xb", f="xb", o="1", c="xb", act="identity", out="identity", norm="if"
    ),
    # Issue 28's linear cells, one family (linrec: h = f ⊙ h + i ⊙ φ(W_v x + b_v)); the status
    # tags are ../shared/MODERN_VARIANTS.md's. mingru / minlstm above stay the identity form of
    # Feng et al.'s §3 equations (the zoo's recorded runs used it); the _g names are what their
    # released code runs, the positive candidate g (MV §2.5, §0), without its optional
    # learnable h0 or log-space scan (the same function, other numerics).
    "mingru_g": variant("linrec", i="xb", f="1-i", v="xb", act="g"),
    "minlstm_g": variant("linrec", f="xb", i="xb", v="xb", act="g", norm="fi"),
    # Balduzzi & Ghifary 2016, T-RNN [S: TF re-implementation, torchrecurrent]: f = σ(V x + b)
    # keeps the old state, v = W x with no bias. minGRU-identity with the gate's sign flipped
    # (σ(-a) = 1 - σ(a)) and no candidate bias: one function class (MV §0).
    "trnn": variant("linrec", f="xb", i="1-f", v="x"),
    # Bradbury et al. 2017, QRNN f-pooling, window 1 [P: salesforce/pytorch-qrnn]: F weights the
    # new value, c = F ⊙ tanh(W_z x + b_z) + (1 - F) ⊙ c, h = c. fo / ifo pooling and window 2
    # (letter p) are not here yet.
    "qrnn": variant("linrec", i="xb", f="1-i", v="xb", act="tanh"),
    # fo- and ifo-pooling (window 1) need an output gate: LSTMs with h = o ⊙ c (out identity),
    # fo with F as i and f = 1 - F [P: pytorch-qrnn], ifo with its own f [P: the paper's
    # equations; pytorch-qrnn has no ifo]. MV §0. b_f starts at the LSTM's forget bias.
    "qrnn_fo": variant("lstm", i="xb", f="1-i", o="xb", c="xb", out="identity"),
    "qrnn_ifo": variant("lstm", i="xb", f="xb", o="xb", c="xb", out="identity"),
    # Qin et al. 2023, HGRN, real form (HgruRealV6) [P: hgru-pytorch]: λ = σ(W_λ x + b_λ) keeps
    # the old state, candidate SiLU(W_c x + b_c), input scale 1 - λ. The lower bound γ is 0, as
    # in a stack's first layer; 'linrec:f=xb,i=1-f,act=silu,floor=0.5' is a deeper layer's
    # fixed bound (the learnable stack-level softmax-cumsum Γ is not here). The output gate and
    # norm belong to HGRN's block, not the cell.
    "hgrn": variant("linrec", f="xb", i="1-f", v="xb", act="silu"),
    # Cells of issue 28 that read h and that the families already say (MV §0). Collins et al.
    # 2017, UGRNN [S: TF contrib UGRNNCell]: Li-GRU's update with a tanh candidate; TF's
    # forget_bias = 1 is b_z = 1 at initialisation, which gruvar's init does not do yet (b_z = 0).
    "ugrnn": variant("ligru", act="tanh"),
    # Lee et al. 2017, RAN [P: kentonl/ran]: c = i ⊙ W_c x + f ⊙ c, h = tanh(c); its authors
    # start b_f at 0, gruvar's LSTM family at the forget bias (1).
    "ran": variant("lstm", "xhb", o="1", c="x", act="identity"),
}

# The registry as gruvar defines it: ``get`` warns when one of these names is redefined.
_BUILTIN: dict[str, Variant] = dict(VARIANTS)
_WARNED: set[str] = set()

# Each registered variant's paper, as a short citation for tables (README's "Cells as data").
SOURCES: dict[str, str] = {
    "gru": "Cho et al. 2014",
    "gru1": "Dey & Salem 2017",
    "gru2": "Dey & Salem 2017",
    "gru3": "Dey & Salem 2017",
    "gru_reset_after": "cuDNN / Keras form",
    "tanh": "Elman 1990",
    "lstm": "Hochreiter & Schmidhuber 1997",
    "lstm_peephole": "Chung et al. 2014; Greff et al. 2017",
    "mgu": "Zhou et al. 2016",
    "mgu1": "Heck & Salem 2017",
    "mgu2": "Heck & Salem 2017",
    "mgu3": "Heck & Salem 2017",
    "lstm1": "Akandeh & Salem 2017",
    "lstm2": "Akandeh & Salem 2017",
    "lstm3": "Akandeh & Salem 2017",
    "lstm4": "Akandeh & Salem 2017",
    "lstm5": "Akandeh & Salem 2017",
    "lstm4a": "Akandeh & Salem 2017",
    "lstm5a": "Akandeh & Salem 2017",
    "lstm6": "Akandeh & Salem 2017",
    "lstm10": "Akandeh & Salem 2017",
    "lstm11": "Akandeh & Salem 2017",
    "lstm_nig": "Greff et al. 2017",
    "lstm_nfg": "Greff et al. 2017",
    "lstm_nog": "Greff et al. 2017",
    "lstm_niaf": "Greff et al. 2017",
    "lstm_noaf": "Greff et al. 2017",
    "lstm_np": "Greff et al. 2017",
    "lstm_cifg": "Greff et al. 2017",
    "lstm_fgr": "Greff et al. 2017",
    "mut1": "Jozefowicz et al. 2015",
    "mut2": "Jozefowicz et al. 2015",
    "mut3": "Jozefowicz et al. 2015",
    "indrnn": "Li et al. 2018",
    "ligru": "Ravanelli et al. 2018",
    "mingru": "Feng et al. 2024",
    "minlstm": "Feng et al. 2024",
    "mingru_g": "Feng et al. 2024",
    "minlstm_g": "Feng et al. 2024",
    "trnn": "Balduzzi & Ghifary 2016",
    "qrnn": "Bradbury et al. 2017",
    "qrnn_fo": "Bradbury et al. 2017",
    "qrnn_ifo": "Bradbury et al. 2017",
    "hgrn": "Qin et al. 2023",
    "ugrnn": "Collins et al. 2017",
    "ran": "Lee et al. 2017",
}
