"""Families whose form no part spec can say: Jozefowicz et al.'s MUT1-3 and Greff's FGR.

They have unweighted terms (tanh(x_t), x_t, tanh(h_{t-1})) or read the previous step's gate
activations, so each computes its own step from its paper-named parameters; the recurrence
hoists what reads only x_t (``project``) and scans ``step`` (``gruvar.core.recurrence``).
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from gruvar.core.families import Family

Array = jax.Array


class _Fixed(Family):
    """A family with one form: ``shapes(m, n)`` its parameters, ``project`` its x-only terms
    for all steps, ``step`` one step from them."""

    fixed_form = True

    def shapes(self, m: int, n: int) -> dict[str, tuple[int, ...]]:
        raise NotImplementedError

    def check_input(self, m: int, n: int) -> None:
        """Raises ValueError when an input width m cannot feed n units."""

    def project(self, params: dict[str, Array], x: Array) -> tuple[Array, ...]:
        raise NotImplementedError

    def step(self, gate_fn, params: dict[str, Array], carry: Any, xp_t: tuple) -> Any:
        raise NotImplementedError


class _MUT(_Fixed):
    """Shared by MUT1-3: the update h_t = z_t ⊙ h~_t + (1 - z_t) ⊙ h_{t-1} (z weights the new
    candidate) and the candidate tanh(U_h (r_t ⊙ h_{t-1}) + [x part]).

    Jozefowicz et al. (2015) write the unweighted terms tanh(x_t) (MUT1) and x_t (MUT2) as they
    stand, which needs input width m = n. We follow the paper literally, as debajyotidatta's
    RecurrentArchitectures does (VARIANTS.md §F; theanets and RecurrentLayers.jl put a weight
    there instead), and refuse m != n.
    """

    candidate_mode = "before"
    candidate_gate = "r"
    gates = ("z", "r")
    paper = "Jozefowicz et al. 2015"
    needs_square = False

    def check_input(self, m, n):
        if self.needs_square and m != n:
            raise ValueError(
                f"{self.name} adds the input x_t unweighted (Jozefowicz et al. 2015), so its input "
                f"width must equal its units: got {m} inputs for {n} units. Put a layer of width "
                f"{n} before it, or use mut3 or gru."
            )

    def _update(self, params, h, z, r, x_cand):
        h_tilde = jnp.tanh((r * h) @ params["U_h"] + x_cand)
        return h + z * (h_tilde - h)


class MUT1(_MUT):
    """MUT1 (Jozefowicz et al. 2015, [S] VARIANTS.md §F):

    z_t = σ(W_z x_t + b_z)
    r_t = σ(W_r x_t + U_r h_{t-1} + b_r)
    h_t = tanh(U_h (r_t ⊙ h_{t-1}) + tanh(x_t) + b_h) ⊙ z_t + h_{t-1} ⊙ (1 - z_t)
    """

    name = "mut1"
    needs_square = True

    def shapes(self, m, n):
        return {
            "W_z": (m, n), "b_z": (n,),
            "W_r": (m, n), "U_r": (n, n), "b_r": (n,),
            "U_h": (n, n), "b_h": (n,),
        }  # fmt: skip

    def project(self, params, x):
        z = x @ params["W_z"] + params["b_z"]
        r = x @ params["W_r"] + params["b_r"]
        return z, r, jnp.tanh(x) + params["b_h"]

    def step(self, gate_fn, params, carry, xp_t):
        a_z, a_r, x_cand = xp_t
        r = gate_fn(a_r + carry @ params["U_r"])
        return self._update(params, carry, gate_fn(a_z), r, x_cand)


class MUT2(_MUT):
    """MUT2 (Jozefowicz et al. 2015, [S] VARIANTS.md §F):

    z_t = σ(W_z x_t + U_z h_{t-1} + b_z)
    r_t = σ(x_t + U_r h_{t-1} + b_r)
    h_t = tanh(U_h (r_t ⊙ h_{t-1}) + W_h x_t + b_h) ⊙ z_t + h_{t-1} ⊙ (1 - z_t)
    """

    name = "mut2"
    needs_square = True

    def shapes(self, m, n):
        return {
            "W_z": (m, n), "U_z": (n, n), "b_z": (n,),
            "U_r": (n, n), "b_r": (n,),
            "W_h": (m, n), "U_h": (n, n), "b_h": (n,),
        }  # fmt: skip

    def project(self, params, x):
        z = x @ params["W_z"] + params["b_z"]
        return z, x + params["b_r"], x @ params["W_h"] + params["b_h"]

    def step(self, gate_fn, params, carry, xp_t):
        a_z, a_r, x_cand = xp_t
        n = carry.shape[-1]
        hU = carry @ jnp.concatenate([params["U_z"], params["U_r"]], axis=1)
        z, r = gate_fn(a_z + hU[..., :n]), gate_fn(a_r + hU[..., n:])
        return self._update(params, carry, z, r, x_cand)


class MUT3(_MUT):
    """MUT3 (Jozefowicz et al. 2015, [S] VARIANTS.md §F):

    z_t = σ(W_z x_t + U_z tanh(h_{t-1}) + b_z)
    r_t = σ(W_r x_t + U_r h_{t-1} + b_r)
    h_t = tanh(U_h (r_t ⊙ h_{t-1}) + W_h x_t + b_h) ⊙ z_t + h_{t-1} ⊙ (1 - z_t)
    """

    name = "mut3"

    def shapes(self, m, n):
        return {f"{k}_{g}": {"W": (m, n), "U": (n, n), "b": (n,)}[k] for g in "zrh" for k in "WUb"}

    def project(self, params, x):
        return tuple(x @ params[f"W_{g}"] + params[f"b_{g}"] for g in "zrh")

    def step(self, gate_fn, params, carry, xp_t):
        a_z, a_r, x_cand = xp_t
        z = gate_fn(a_z + jnp.tanh(carry) @ params["U_z"])
        r = gate_fn(a_r + carry @ params["U_r"])
        return self._update(params, carry, z, r, x_cand)


class FGR(_Fixed):
    """Greff et al.'s full gate recurrence (FGR, [S] VARIANTS.md §E): the vanilla (peephole)
    LSTM whose gates also read all three gate activations of the previous step,

        i_t = σ(W_i x_t + U_i h_{t-1} + V_i ⊙ c_{t-1} + b_i + R_ii i_{t-1} + R_fi f_{t-1} + R_oi o_{t-1})
        f_t = σ(W_f x_t + U_f h_{t-1} + V_f ⊙ c_{t-1} + b_f + R_if i_{t-1} + R_ff f_{t-1} + R_of o_{t-1})
        c_t = f_t ⊙ c_{t-1} + i_t ⊙ tanh(W_c x_t + U_c h_{t-1} + b_c)
        o_t = σ(W_o x_t + U_o h_{t-1} + V_o ⊙ c_t + b_o + R_io i_{t-1} + R_fo f_{t-1} + R_oo o_{t-1})
        h_t = o_t ⊙ tanh(c_t)

    R_{src}{dst} [n, n] feeds src_{t-1} into gate dst (9 matrices). The carry is
    (c, h, i, f, o), the previous gates starting at 0 (fomorians/lstm-odyssey ``fgr.py``).
    """  # noqa: E501

    name = "fgr"
    gates = ("i", "f", "o")
    candidate = "c"
    candidate_key = "c"
    forget_gate = "f"
    has_cell = True
    paper = "Greff et al. 2017"

    def shapes(self, m, n):
        shapes = {}
        for g in "ifo":
            shapes |= {f"W_{g}": (m, n), f"U_{g}": (n, n), f"V_{g}": (n,), f"b_{g}": (n,)}
        shapes |= {"W_c": (m, n), "U_c": (n, n), "b_c": (n,)}
        return shapes | {f"R_{s}{d}": (n, n) for d in "ifo" for s in "ifo"}

    def project(self, params, x):
        return tuple(x @ params[f"W_{g}"] + params[f"b_{g}"] for g in "ifoc")

    def step(self, gate_fn, params, carry, xp_t):
        c, h, *prev = carry
        n = c.shape[-1]
        # [h, i, f, o]_{t-1} @ [[U_i U_f U_o U_c], [R_i* ...], [R_f* ...], [R_o* ...]]: one matmul
        rows = [jnp.concatenate([params[f"U_{g}"] for g in "ifoc"], axis=1)]
        for s in "ifo":
            r = jnp.concatenate([params[f"R_{s}{d}"] for d in "ifo"], axis=1)
            rows.append(jnp.pad(r, ((0, 0), (0, n))))
        pre = jnp.concatenate([h, *prev], axis=-1) @ jnp.concatenate(rows, axis=0)
        a_i, a_f, a_o, a_c = (xp_t[k] + pre[..., k * n : (k + 1) * n] for k in range(4))
        i = gate_fn(a_i + params["V_i"] * c)
        f = gate_fn(a_f + params["V_f"] * c)
        c = f * c + i * jnp.tanh(a_c)
        o = gate_fn(a_o + params["V_o"] * c)
        return c, o * jnp.tanh(c), i, f, o

    def hidden(self, carry):
        return carry[1]

    def cell(self, carry):
        return carry[0]

    def zeros_carry(self, shape, dtype):
        return tuple(jnp.zeros(shape, dtype) for _ in range(5))


FIXED_FAMILIES: dict[str, _Fixed] = {f.name: f for f in (MUT1(), MUT2(), MUT3(), FGR())}
