"""The compiled plan of a variant: what the recurrence needs to know, and nothing else.

``gruvar.core.variants`` compiles a variant (a family plus its part specs) into a ``Plan``; the
scan driver (``gruvar.core.recurrence``) reads only the plan, never the cell or registry modules.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp


def positive_g(a: jax.Array) -> jax.Array:
    """Feng et al.'s positive candidate g(x) = x + ½ (x ≥ 0), σ(x) (x < 0): continuous at 0,
    always > 0, so their log-space scan can take its log (minRNNs ``models/minRNNs.py``)."""
    return jnp.where(a >= 0, a + 0.5, jax.nn.sigmoid(a))


ACTIVATIONS = {
    "tanh": jnp.tanh,
    "identity": lambda a: a,
    "relu": jax.nn.relu,
    "silu": jax.nn.silu,  # x σ(x): HGRN's candidate
    "g": positive_g,
}


@dataclasses.dataclass(frozen=True)
class Plan:
    """Which terms go where, for one variant.

    ``family``: the family object (its ``update``, ``affine``, ``hidden``, ``cell``,
    ``zeros_carry``; a fixed-form family its own ``project`` and ``step``).
    ``gates``: the gate names, in the order they are computed (coupled ones last).
    ``candidate``: the candidate's parameter suffix (``"h"``, ``"c"``, ``""``).
    ``x_terms``: parts whose W x_t + b is computed for all steps before the loop (candidate last).
    ``h_terms``: parts whose U h_{t-1} is fused into one in-loop matmul (candidate last).
    ``diag``: parts with u ⊙ h_{t-1}; ``peep``: gates with V ⊙ c;
    ``loop_bias``: gates with a bias, no x term, that are not bias-only;
    ``learned_constant``: bias-only gates, σ(b) computed once;
    ``fixed``: (gate, value) constant gates; ``coupled``: (gate, source) with gate = 1 - source;
    ``norm``: a gate pair (g1, g2) replaced by g1 / (g1 + g2), g2 / (g1 + g2);
    ``candidate_mode``: how the candidate reads h: ``direct`` U h, ``before`` U (g ⊙ h),
    ``after`` g ⊙ (U h + b_U); ``candidate_gate``: g;
    ``act`` / ``out``: the candidate's and (LSTM) the output's activation;
    ``batch_norm``: x projections normalised over the batch and valid steps (scale ``gamma_p``);
    ``linear``: no part reads the previous state, so the state follows s_t = a_t s_{t-1} + b_t;
    ``floor``: (gate, γ), that gate lower-bounded to γ + (1 - γ) σ(a) before any coupling reads it
    (HGRN); ``signed``: the decay gate mapped to 2 a - 1 after couplings and ``norm`` have read it,
    so its range is (-1, 1) and every input scale keeps its (0, 1) value (Grazzi et al. 2025);
    ``own_step``: a fixed-form family that computes its step itself.
    """

    family: Any
    gates: tuple[str, ...] = ()
    candidate: str = ""
    x_terms: tuple[str, ...] = ()
    h_terms: tuple[str, ...] = ()
    diag: tuple[str, ...] = ()
    peep: tuple[str, ...] = ()
    loop_bias: tuple[str, ...] = ()
    learned_constant: tuple[str, ...] = ()
    fixed: tuple[tuple[str, float], ...] = ()
    coupled: tuple[tuple[str, str], ...] = ()
    norm: tuple[str, str] | None = None
    candidate_mode: str = "direct"
    candidate_gate: str | None = None
    act: str = "tanh"
    out: str = "tanh"
    batch_norm: bool = False
    linear: bool = False
    own_step: bool = False
    floor: tuple[str, float] | None = None
    signed: str | None = None
