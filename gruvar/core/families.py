"""Recurrent cell families: their gates, candidate and state update, as equations.

A *family* fixes a cell's gates, its candidate and how the state is updated; its variants
(``gruvar.core.variants``) say which terms feed each part (``gruvar.core.gates``). Every gate g has

    a_g = [W_g x_t] + [U_g h_{t-1}] + [u_g ⊙ h_{t-1}] + [V_g ⊙ c] + [b_g],    g_t = σ(a_g)

(or a constant, or 1 - another gate), and the candidate, with its own spec and activation φ
(tanh, identity, relu, silu or Feng's g), reads x_t, h_{t-1} (possibly through a gate) and a
bias. Below, h~_t is the *activated* candidate φ(a_h). Families whose form no spec can say
(MUT1-3, FGR) live in ``gruvar.core.fixed_families``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

import jax
import jax.numpy as jnp

Array = jax.Array


class Family:
    """A cell family: its gates, its candidate and how the state is updated.

    ``candidate`` is the candidate's parameter suffix (W_h, W_c; "" for the tanh RNN's W) and
    ``candidate_key`` its name in a spec string. ``candidate_mode`` says how the candidate's
    recurrent term reads h_{t-1}: ``"direct"`` U h_{t-1}; ``"before"`` U (g ⊙ h_{t-1}) with
    g = ``candidate_gate`` (a second matmul that must wait for the gate); ``"after"``
    g ⊙ (U h_{t-1} + b_U). A family with a cell state (``has_cell``) lets gates peek at it
    (spec letter ``c``): the gates in ``peeks_new_cell`` read c_t, the others c_{t-1}.
    ``default_spec`` / ``default_candidate`` / ``default_act`` are the family's own form;
    ``update_gates`` the gates the state update reads (a GRU's r only gates the candidate);
    ``gate_defaults`` a gate's own default spec where it differs from ``default_spec``.
    ``decay_gate``: the gate that is the decay a_t of a family linear by construction (``linrec``),
    the one the ``floor`` and ``range`` knobs act on.
    """

    name: str
    gates: tuple[str, ...] = ()
    candidate: str = "h"
    candidate_key: str = "h"
    candidate_mode: str = "direct"
    candidate_gate: str | None = None
    forget_gate: str | None = None
    has_cell: bool = False
    peeks_new_cell: tuple[str, ...] = ()
    default_spec: str = "xhb"
    default_candidate: str = "xhb"
    default_act: str = "tanh"
    update_gates: tuple[str, ...] = ()
    fixed_form: bool = False
    gate_defaults: Mapping[str, str] = MappingProxyType({})
    decay_gate: str | None = None
    paper: str = ""

    def update(self, gates: Mapping[str, Any], cand: Array, carry: Any, out: Callable) -> Any:
        """New carry from the gate values, the activated candidate and the old carry.

        A gate in ``peeks_new_cell`` that reads the cell state arrives as a function of c_t;
        ``out`` is the output activation (LSTM).
        """
        raise NotImplementedError

    def affine(self, gates: Mapping[str, Any], cand: Array) -> tuple[Any, Array]:
        """(a_t, b_t) of the state update s_t = a_t ⊙ s_{t-1} + b_t when no part reads the
        state (s is h, or an LSTM's c)."""
        raise NotImplementedError

    def readout(self, gates: Mapping[str, Any], s: Array, out: Callable) -> Array:
        """The hidden state h_t from the linear state s_t (the identity but for an LSTM)."""
        return s

    def hidden(self, carry: Any) -> Array:
        """The hidden state h (the cell's output) held in a carry."""
        return carry

    def cell(self, carry: Any) -> Array:
        """The cell state c held in a carry (families with ``has_cell``)."""
        raise NotImplementedError

    def state(self, carry: Any) -> Array:
        """The linear state s held in a carry (h, or an LSTM's c)."""
        return carry

    def pack(self, s: Array, h: Array) -> Any:
        """A carry from the linear state and the hidden state."""
        return s

    def zeros_carry(self, shape: tuple[int, ...], dtype: Any) -> Any:
        return jnp.zeros(shape, dtype)

    def __repr__(self) -> str:
        return f"<family {self.name}>"


class _TowardCandidate(Family):
    """A state moved toward the candidate by its one update gate g (``update_gates``):
    h_t = (1 - g_t) ⊙ h_{t-1} + g_t ⊙ h~_t, affine in h with a = 1 - g, b = g ⊙ h~."""

    def update(self, gates, cand, carry, out):
        return carry + gates[self.update_gates[0]] * (cand - carry)

    def affine(self, gates, cand):
        g = gates[self.update_gates[0]]
        return 1 - g, g * cand


class GRU(_TowardCandidate):
    """Gated recurrent unit with the reset gate before U_h (Chung et al. 2014; Dey & Salem 2017).

        z_t  = σ(a_z)                                    update gate
        r_t  = σ(a_r)                                    reset gate
        h~_t = φ(W_h x_t + U_h (r_t ⊙ h_{t-1}) + b_h)    φ = tanh
        h_t  = (1 - z_t) ⊙ h_{t-1} + z_t ⊙ h~_t

    Cho et al. (2014) swap the roles of z and 1 - z; that is a reparametrisation. z weights
    the *new* candidate, as in minGRU (Feng et al. 2024): minGRU is this family with r = 1
    and the candidate ``xb``, φ = identity.
    """

    name = "gru"
    gates = ("z", "r")
    update_gates = ("z",)
    candidate_mode = "before"
    candidate_gate = "r"
    paper = "Cho et al. 2014; Chung et al. 2014"


class GRUResetAfter(GRU):
    """GRU with the reset gate after U_h, the cuDNN / PyTorch / Keras ``reset_after`` form.

        z_t  = σ(a_z),  r_t = σ(a_r)
        h~_t = tanh(W_h x_t + b_h + r_t ⊙ (U_h h_{t-1} + b_Uh))
        h_t  = (1 - z_t) ⊙ h_{t-1} + z_t ⊙ h~_t

    A different model from ``GRU``, not a reparametrisation; its recurrent kernels fuse
    into one matmul per step, which is why the fast libraries chose it. Its candidate must
    read h through U (``h``): that is where the reset gate acts.
    """

    name = "gru_reset_after"
    candidate_mode = "after"
    paper = "cuDNN; Keras reset_after"


class MGU(_TowardCandidate):
    """Minimal gated unit (Zhou et al. 2016): one forget gate plays both GRU roles.

    f_t  = σ(a_f)
    h~_t = tanh(W_h x_t + U_h (f_t ⊙ h_{t-1}) + b_h)
    h_t  = (1 - f_t) ⊙ h_{t-1} + f_t ⊙ h~_t

    Heck & Salem (2017)'s MGU1-3 reduce a_f to U_f h + b_f, U_f h, b_f: inferred by analogy
    with Dey & Salem's GRU1-3, not read from their paper ([U], VARIANTS.md §C).
    """

    name = "mgu"
    gates = ("f",)
    update_gates = ("f",)
    candidate_mode = "before"
    candidate_gate = "f"
    paper = "Zhou et al. 2016"


class LiGRU(Family):
    """Light GRU (Ravanelli et al. 2018): no reset gate, a ReLU candidate, z keeps the *old* state.

        z_t  = σ(W_z x_t + U_z h_{t-1} + b_z)
        h~_t = relu(W_h x_t + U_h h_{t-1} + b_h)
        h_t  = z_t ⊙ h_{t-1} + (1 - z_t) ⊙ h~_t

    The direction of z is the paper's (and the authors' pytorch-kaldi code's): z weights h_{t-1}.
    The paper batch-normalises W x (``bn=on`` in a spec: W_p x_t becomes
    gamma_p ⊙ (W_p x_t - mean) / sqrt(var + 1e-5), and b_p plays BN's β). With batch norm off
    the authors' code gives both projections a bias (``add_bias``), as here. The statistics are
    the batch's own over its valid steps (a whole-sequence scan) or over the batch (one step of
    ``cell(carry, x_t)``), in training and evaluation alike: no running averages are kept.
    """

    name = "ligru"
    gates = ("z",)
    update_gates = ("z",)
    default_act = "relu"
    paper = "Ravanelli et al. 2018"

    def update(self, gates, cand, carry, out):
        return cand + gates["z"] * (carry - cand)

    def affine(self, gates, cand):
        return gates["z"], (1 - gates["z"]) * cand


class LSTM(Family):
    """Long short-term memory (Hochreiter & Schmidhuber 1997; forget gate of Gers et al. 2000).

        i_t  = σ(a_i),  f_t = σ(a_f),  o_t = σ(a_o)
        c~_t = φ(W_c x_t + U_c h_{t-1} + b_c)          φ = tanh (Greff's g)
        c_t  = f_t ⊙ c_{t-1} + i_t ⊙ c~_t
        h_t  = o_t ⊙ ψ(c_t)                            ψ = tanh (Greff's h; ``out``)

    With peepholes (spec letter ``c``; Graves 2013, the LSTM of Chung et al. 2014 and Greff's
    vanilla LSTM) a gate adds a diagonal term of the cell state: a_i and a_f get V_i ⊙ c_{t-1}
    and V_f ⊙ c_{t-1}, a_o gets V_o ⊙ c_t (the new state, so o_t is computed after c_t).

    The carry is (c, h), as in ``flax.linen.LSTMCell``. b_f starts at 1 (Jozefowicz et al. 2015).
    Akandeh & Salem's slim LSTMs are this family with diagonal (u_g ⊙ h) or constant gates;
    Greff et al.'s variants set one gate to 1, couple f = 1 - i, or make φ or ψ the identity;
    minLSTM (Feng et al. 2024) is o = 1, φ = ψ = identity, a candidate of x and b, and i, f
    replaced by i / (i + f), f / (i + f), so that h_t = c_t.
    """

    name = "lstm"
    gates = ("i", "f", "o")
    update_gates = ("i", "f", "o")
    candidate = "c"
    candidate_key = "c"
    forget_gate = "f"
    has_cell = True
    peeks_new_cell = ("o",)
    paper = "Hochreiter & Schmidhuber 1997; Gers et al. 2000"

    def update(self, gates, cand, carry, out):
        c, _ = carry
        c = gates["f"] * c + gates["i"] * cand
        o = gates["o"](c) if callable(gates["o"]) else gates["o"]
        return c, o * out(c)

    def affine(self, gates, cand):
        return gates["f"], gates["i"] * cand

    def readout(self, gates, s, out):
        return gates["o"] * out(s)

    def hidden(self, carry):
        return carry[1]

    def cell(self, carry):
        return carry[0]

    def state(self, carry):
        return carry[0]

    def pack(self, s, h):
        return s, h

    def zeros_carry(self, shape, dtype):
        return jnp.zeros(shape, dtype), jnp.zeros(shape, dtype)


class TanhRNN(Family):
    """Elman RNN (Chung et al. 2014's tanh baseline); IndRNN (Li et al. 2018) with ``d``, relu.

    h_t = φ(W x_t + U h_{t-1} + b)      φ = tanh
    """

    name = "tanh"
    candidate = ""
    paper = "Elman 1990; Chung et al. 2014"

    def update(self, gates, cand, carry, out):
        return cand

    def affine(self, gates, cand):
        return 0.0, cand


class LinRec(Family):
    """A diagonal linear recurrence with a pluggable decay and input scale (issue 28; the
    ``linrec`` family of ../shared/MODERN_VARIANTS.md §5, E2):

        f_t = σ(a_f)                          the decay a_t; ``floor=γ``: γ + (1 − γ) σ(a_f)
        i_t = σ(a_i),  or 1 − f_t,  or 1      the input scale b_t
        v_t = φ(W_v x_t + b_v)                the candidate; φ identity, tanh, silu, g, relu
        h_t = f_t ⊙ h_{t−1} + i_t ⊙ v_t

    ``range=signed`` puts the decay in (−1, 1): f_t ↦ 2 f_t − 1 in the transition only, after a
    coupled i = 1 − f, or ``norm``, has read f in (0, 1) (Grazzi et al., ICLR 2025, "Unlocking
    state-tracking in linear RNNs through negative eigenvalues"; the reading of
    tests/reference_modern.py). No part may read h_{t−1}: the family is linear by construction
    and runs on ``gruvar.core.linear`` (sequential or ``jax.lax.associative_scan``).

    One family, many papers, told apart by the specs (the registry):
    minGRU (Feng et al. 2024)  i = σ(W x + b), f = 1 − i, φ = g (their code) or identity (§3);
    minLSTM                    f, i = σ(W x + b), ``norm=fi``; T-RNN (Balduzzi & Ghifary 2016)
    f = σ(V x + b), i = 1 − f, v = W x; QRNN f-pooling window 1 (Bradbury et al. 2017) i = F,
    f = 1 − F, φ = tanh; HGRN real (Qin et al. 2023) f = λ, i = 1 − λ, φ = silu, ``floor=γ``.
    The sign of a gate's pre-activation is a reparametrisation (σ(−a) = 1 − σ(a)), so
    minGRU-identity and T-RNN are one function class (MODERN_VARIANTS.md §0).
    """

    name = "linrec"
    gates = ("f", "i")
    update_gates = ("f", "i")
    candidate = "v"
    candidate_key = "v"
    default_spec = "xb"
    default_candidate = "xb"
    default_act = "identity"
    gate_defaults = MappingProxyType({"i": "1-f"})
    decay_gate = "f"
    paper = "Feng et al. 2024; Qin et al. 2023; Grazzi et al. 2025"

    def update(self, gates, cand, carry, out):
        return gates["f"] * carry + gates["i"] * cand

    def affine(self, gates, cand):
        return gates["f"], gates["i"] * cand


FAMILIES: dict[str, Family] = {
    f.name: f for f in (GRU(), GRUResetAfter(), MGU(), LiGRU(), LSTM(), TanhRNN(), LinRec())
}
