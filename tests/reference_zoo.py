"""Float64 NumPy references for the variant zoo (issue 15), one sequence and one step at a time.

Written from the equations in ``/work/shared/VARIANTS.md``; each step cites its section and the
status of its source there ([P] paper or authors' code, [S] third-party, [U] unverified). It shares
no code with gruvar's recurrence. Parameter names are the zoo's: gate g ∈ {z, r, f, i, o} has W_g
[m, n], U_g [n, n], u_g [n] (diagonal recurrent weight, u_g ⊙ h_{t-1}), V_g [n] (peephole), b_g
[n]; the candidate has W_h, U_h, u_h, b_h (GRU-like), W_c, U_c, u_c, b_c (LSTM-like) or W, u, b
(IndRNN); Greff's FGR has R_{src}{dst} [n, n], feeding src_{t-1} into gate dst. Kernels are
[in, out], so a term reads x @ W_g.

Each step reads by name exactly the parameters its equations have: a missing one is a KeyError,
and ``Params.read`` tells a test whether the implementation has any the equations lack.
"""

from collections.abc import Callable, Mapping
from functools import partial
from typing import NamedTuple

import numpy as np
from reference import sigmoid


class Params(dict):
    """Parameters as float64 arrays, remembering which names a step has read (``read``)."""

    def __init__(self, params: Mapping):
        super().__init__({k: np.asarray(v, np.float64) for k, v in params.items()})
        self.read = set()

    def __getitem__(self, name):
        self.read.add(name)
        return super().__getitem__(name)

    def get(self, name, default=None):
        return self[name] if name in self else default


# ---- Akandeh & Salem's slim LSTMs (VARIANTS.md §B, [P] authors' Keras code slim22.py) ----


def slim_lstm(p, s, x, *, gates, candidate):
    """c_t = f ⊙ c_{t-1} + i ⊙ tanh(c̃), h_t = o ⊙ tanh(c_t), the gates as ``gates`` says:

    "u": σ(u_g ⊙ h_{t-1}) (LSTM4, 10), "ub": σ(u_g ⊙ h_{t-1} + b_g) (LSTM5, 11), a number: that
    constant (LSTM4a/5a: f = 0.96, o = 1; LSTM6: i = 1, f = 0.4, o = 1).
    c̃ = W_c x + U_c h_{t-1} + b_c (``candidate="U"``, all but LSTM10/11) or
    W_c x + u_c ⊙ h_{t-1} + b_c (``candidate="u"``, LSTM10/11).
    """
    c_prev, h = s["c"], s["h"]

    def gate(g):
        kind = gates[g]
        if not isinstance(kind, str):
            return kind
        a = p[f"u_{g}"] * h
        return sigmoid(a + p[f"b_{g}"] if kind == "ub" else a)

    recurrent = h @ p["U_c"] if candidate == "U" else p["u_c"] * h
    c = gate("f") * c_prev + gate("i") * np.tanh(x @ p["W_c"] + recurrent + p["b_c"])
    return {"c": c, "h": gate("o") * np.tanh(c)}


def _slim(gates, candidate="U"):
    if isinstance(gates, str):
        gates = dict.fromkeys("ifo", gates)
    return partial(slim_lstm, gates=gates, candidate=candidate)


# ---- Heck & Salem's MGU1-3 (VARIANTS.md §C, [U]: inferred from Dey & Salem's GRU1-3) ----


def mgu_variant(p, s, x, *, f_terms):
    """f_t = σ(a_f) with a_f = U_f h_{t-1} + b_f (MGU1), U_f h_{t-1} (MGU2) or b_f (MGU3);
    h̃_t = tanh(W_h x_t + U_h (f_t ⊙ h_{t-1}) + b_h); h_t = (1 − f_t) ⊙ h_{t-1} + f_t ⊙ h̃_t
    (Zhou et al.'s MGU as documented: f weights the new candidate)."""
    h = s["h"]
    a = 0.0
    if "h" in f_terms:
        a = a + h @ p["U_f"]
    if "b" in f_terms:
        a = a + p["b_f"]
    f = sigmoid(a)
    h_tilde = np.tanh(x @ p["W_h"] + (f * h) @ p["U_h"] + p["b_h"])
    return {"h": (1 - f) * h + f * h_tilde}


# ---- Greff et al.'s LSTM: A Search Space Odyssey (VARIANTS.md §E, [S] fomorians/lstm-odyssey) ----


def greff_lstm(p, s, x, *, change=None):
    """Vanilla LSTM (peepholes; our ``lstm_peephole``), or it with one of Greff's changes:

        z_t = g(W_c x_t + U_c h_{t-1} + b_c)                       g = tanh; NIAF: identity
        i_t = σ(W_i x_t + U_i h_{t-1} + V_i ⊙ c_{t-1} + b_i)         NIG: i = 1
        f_t = σ(W_f x_t + U_f h_{t-1} + V_f ⊙ c_{t-1} + b_f)         NFG: f = 1; CIFG: f = 1 − i
        c_t = i_t ⊙ z_t + f_t ⊙ c_{t-1}
        o_t = σ(W_o x_t + U_o h_{t-1} + V_o ⊙ c_t + b_o)             NOG: o = 1
        h_t = o_t ⊙ tanh(c_t)                                       NOAF: h_t = o_t ⊙ c_t

    NP drops every V term. FGR adds i_{t-1} R_ig + f_{t-1} R_fg + o_{t-1} R_og to each gate g's
    pre-activation (9 [n, n] matrices); the previous gate activations start at zero (our
    assumption: the paper's initial state is not in VARIANTS.md) and are carried as i, f, o.
    """
    c_prev, h = s["c"], s["h"]

    def pre(g, c):
        a = x @ p[f"W_{g}"] + h @ p[f"U_{g}"] + p[f"b_{g}"]
        if change != "np":
            a = a + p[f"V_{g}"] * c
        if change == "fgr":
            a = a + sum(s[src] @ p[f"R_{src}{g}"] for src in "ifo")
        return a

    z = x @ p["W_c"] + h @ p["U_c"] + p["b_c"]
    z = z if change == "niaf" else np.tanh(z)
    i = 1.0 if change == "nig" else sigmoid(pre("i", c_prev))
    if change == "nfg":
        f = 1.0
    elif change == "cifg":
        f = 1 - i
    else:
        f = sigmoid(pre("f", c_prev))
    c = i * z + f * c_prev
    o = 1.0 if change == "nog" else sigmoid(pre("o", c))
    out = {"c": c, "h": o * (c if change == "noaf" else np.tanh(c))}
    if change == "fgr":
        out.update(i=i, f=f, o=o)
    return out


# ---- Jozefowicz et al.'s MUT1-3 (VARIANTS.md §F, [S] ×3; the paper's literal form, m = n) ----


def mut1(p, s, x):
    """z = σ(W_z x + b_z); r = σ(W_r x + U_r h + b_r);
    h_t = tanh(U_h (r ⊙ h) + tanh(x) + b_h) ⊙ z + h ⊙ (1 − z) — tanh(x) unweighted, so m = n."""
    h = s["h"]
    z = sigmoid(x @ p["W_z"] + p["b_z"])
    r = sigmoid(x @ p["W_r"] + h @ p["U_r"] + p["b_r"])
    return {"h": np.tanh((r * h) @ p["U_h"] + np.tanh(x) + p["b_h"]) * z + h * (1 - z)}


def mut2(p, s, x):
    """z = σ(W_z x + U_z h + b_z); r = σ(x + U_r h + b_r) — x unweighted, so m = n;
    h_t = tanh(U_h (r ⊙ h) + W_h x + b_h) ⊙ z + h ⊙ (1 − z)."""
    h = s["h"]
    z = sigmoid(x @ p["W_z"] + h @ p["U_z"] + p["b_z"])
    r = sigmoid(x + h @ p["U_r"] + p["b_r"])
    return {"h": np.tanh((r * h) @ p["U_h"] + x @ p["W_h"] + p["b_h"]) * z + h * (1 - z)}


def mut3(p, s, x):
    """z = σ(W_z x + U_z tanh(h) + b_z); r = σ(W_r x + U_r h + b_r);
    h_t = tanh(U_h (r ⊙ h) + W_h x + b_h) ⊙ z + h ⊙ (1 − z)."""
    h = s["h"]
    z = sigmoid(x @ p["W_z"] + np.tanh(h) @ p["U_z"] + p["b_z"])
    r = sigmoid(x @ p["W_r"] + h @ p["U_r"] + p["b_r"])
    return {"h": np.tanh((r * h) @ p["U_h"] + x @ p["W_h"] + p["b_h"]) * z + h * (1 - z)}


# ---- IndRNN, Li-GRU, minGRU, minLSTM ----


def indrnn(p, s, x):
    """h_t = relu(W x_t + u ⊙ h_{t-1} + b). Li, Li, Cook, Zhu, Gao (2018), "Independently
    Recurrent Neural Network (IndRNN)", CVPR; not in VARIANTS.md, so [U]: the standard form."""
    return {"h": np.maximum(x @ p["W"] + p["u"] * s["h"] + p["b"], 0.0)}


def ligru(p, s, x):
    """z_t = σ(W_z x_t + U_z h_{t-1} [+ b_z]); h̃_t = relu(W_h x_t + U_h h_{t-1} [+ b_h]);
    h_t = z_t ⊙ h_{t-1} + (1 − z_t) ⊙ h̃_t — z keeps the *old* state (VARIANTS.md §H, [P]
    author code). Batch norm off; the author code has no bias, so b_z, b_h count only if present.
    """
    h = s["h"]
    z = sigmoid(x @ p["W_z"] + h @ p["U_z"] + p.get("b_z", 0.0))
    h_tilde = np.maximum(x @ p["W_h"] + h @ p["U_h"] + p.get("b_h", 0.0), 0.0)
    return {"h": z * h + (1 - z) * h_tilde}


def mingru(p, s, x):
    """z_t = σ(W_z x_t + b_z); h̃_t = W_h x_t + b_h; h_t = (1 − z_t) ⊙ h_{t-1} + z_t ⊙ h̃_t
    (VARIANTS.md §A, [P] official code; sequential form, no g(·))."""
    z = sigmoid(x @ p["W_z"] + p["b_z"])
    return {"h": (1 - z) * s["h"] + z * (x @ p["W_h"] + p["b_h"])}


def minlstm(p, s, x):
    """f_t = σ(W_f x_t + b_f); i_t = σ(W_i x_t + b_i); h̃_t = W_c x_t + b_c;
    h_t = f_t/(f_t + i_t) ⊙ h_{t-1} + i_t/(f_t + i_t) ⊙ h̃_t — no output gate, c_t = h_t
    (VARIANTS.md §A, [P] official code with its coefficient normalisation on)."""
    f = sigmoid(x @ p["W_f"] + p["b_f"])
    i = sigmoid(x @ p["W_i"] + p["b_i"])
    return {"h": (f * s["h"] + i * (x @ p["W_c"] + p["b_c"])) / (f + i)}


class Cell(NamedTuple):
    step: Callable  # (Params, state {name: [n]}, x [m]) -> new state
    state: tuple[str, ...]  # the state's names, each [n], all zero at t = 0; output is "h"


LSTM = ("c", "h")
CELLS = {
    "lstm4": Cell(_slim("u"), LSTM),
    "lstm5": Cell(_slim("ub"), LSTM),
    "lstm4a": Cell(_slim({"i": "u", "f": 0.96, "o": 1.0}), LSTM),
    "lstm5a": Cell(_slim({"i": "ub", "f": 0.96, "o": 1.0}), LSTM),
    "lstm6": Cell(_slim({"i": 1.0, "f": 0.4, "o": 1.0}), LSTM),
    "lstm10": Cell(_slim("u", candidate="u"), LSTM),
    "lstm11": Cell(_slim("ub", candidate="u"), LSTM),
    "mgu1": Cell(partial(mgu_variant, f_terms="hb"), ("h",)),
    "mgu2": Cell(partial(mgu_variant, f_terms="h"), ("h",)),
    "mgu3": Cell(partial(mgu_variant, f_terms="b"), ("h",)),
    **{
        f"lstm_{change}": Cell(partial(greff_lstm, change=change), LSTM)
        for change in ("nig", "nfg", "nog", "niaf", "noaf", "np", "cifg")
    },
    "lstm_fgr": Cell(partial(greff_lstm, change="fgr"), (*LSTM, "i", "f", "o")),
    "mut1": Cell(mut1, ("h",)),
    "mut2": Cell(mut2, ("h",)),
    "mut3": Cell(mut3, ("h",)),
    "indrnn": Cell(indrnn, ("h",)),
    "ligru": Cell(ligru, ("h",)),
    "mingru": Cell(mingru, ("h",)),
    "minlstm": Cell(minlstm, ("h",)),
}


def run(variant, p, x, lengths=None, reverse=False):
    """x [B, T, m] -> (outputs [B, T, n], final state {name: [B, n]}), from the zero state.

    ``variant`` is a name in ``CELLS`` or a ``Cell``.
    Sequence b is x[b, :lengths[b]], read backwards if ``reverse``; its outputs past its length
    are 0 and its final state is that after its last valid step. ``p`` may be a ``Params``,
    whose ``read`` then records the names the equations used.
    """
    cell = CELLS[variant] if isinstance(variant, str) else variant
    p = p if isinstance(p, Params) else Params(p)
    x = np.asarray(x, np.float64)
    batch, time, _ = x.shape
    n = next(iter(p.values())).shape[-1]  # every parameter's last axis is the n units
    lengths = np.full(batch, time) if lengths is None else np.asarray(lengths)
    ys = np.zeros((batch, time, n))
    finals = []
    for b in range(batch):
        s = {name: np.zeros(n) for name in cell.state}
        steps = range(lengths[b])
        for t in reversed(steps) if reverse else steps:
            s = cell.step(p, s, x[b, t])
            ys[b, t] = s["h"]
        finals.append(s)
    return ys, {name: np.stack([s[name] for s in finals]) for name in cell.state}
