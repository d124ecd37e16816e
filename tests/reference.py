"""Plain NumPy (float64) implementations of every family's equations, one step at a time.

Written from the papers' equations, reading the paper-named parameters; it shares no code with
gruvar's fused recurrence, so agreement checks the fusion, hoisting, masking and reversal.
"""

import numpy as np


def sigmoid(a):
    return 1.0 / (1.0 + np.exp(-a))


def hard_sigmoid(a):
    """Keras 1.x-2.2's gate: clip(0.2 a + 0.5, 0, 1)."""
    return np.clip(0.2 * a + 0.5, 0.0, 1.0)


def preact(p, g, x, h):
    """a_g = [W_g x] + [U_g h] + [b_g], each term present only if its parameter exists."""
    a = np.zeros(h.shape[-1])
    if f"W_{g}" in p:
        a = a + x @ p[f"W_{g}"]
    if f"U_{g}" in p:
        a = a + h @ p[f"U_{g}"]
    if f"b_{g}" in p:
        a = a + p[f"b_{g}"]
    return a


def peephole(p, g, c):
    """V_g ⊙ c, a diagonal weight on the cell state, or 0 when gate g has none."""
    return p[f"V_{g}"] * c if f"V_{g}" in p else 0.0


def step(family, p, carry, x, gate=sigmoid):
    """One step of ``family`` for a single sequence: x [m], carry [n] (or (c, h) for LSTM);
    ``gate`` is the gate nonlinearity (σ unless a test asks for another)."""
    if family in ("gru", "gru_reset_after"):
        h = carry
        z = gate(preact(p, "z", x, h))
        r = gate(preact(p, "r", x, h))
        if family == "gru":
            h_tilde = np.tanh(x @ p["W_h"] + (r * h) @ p["U_h"] + p["b_h"])
        else:
            h_tilde = np.tanh(x @ p["W_h"] + p["b_h"] + r * (h @ p["U_h"] + p["b_Uh"]))
        return (1 - z) * h + z * h_tilde
    if family == "mgu":
        h = carry
        f = gate(preact(p, "f", x, h))
        h_tilde = np.tanh(x @ p["W_h"] + (f * h) @ p["U_h"] + p["b_h"])
        return (1 - f) * h + f * h_tilde
    if family == "lstm":  # with peepholes V_g where present (PAPERS.md §1.1, Graves 2013)
        c_prev, h = carry
        i = gate(preact(p, "i", x, h) + peephole(p, "i", c_prev))
        f = gate(preact(p, "f", x, h) + peephole(p, "f", c_prev))
        c = f * c_prev + i * np.tanh(x @ p["W_c"] + h @ p["U_c"] + p["b_c"])
        o = gate(preact(p, "o", x, h) + peephole(p, "o", c))  # o reads c_t, not c_{t-1}
        return c, o * np.tanh(c)
    if family == "tanh":
        return np.tanh(x @ p["W"] + carry @ p["U"] + p["b"])
    raise ValueError(family)


def hidden(family, carry):
    return carry[1] if family == "lstm" else carry


def run(family, p, x, lengths=None, reverse=False, gate=sigmoid):
    """x [B, T, m] -> (outputs [B, T, n], final carry), zero state, padding and reversal per
    sequence by plain indexing: sequence b is x[b, :lengths[b]], read backwards if ``reverse``."""
    p = {k: np.asarray(v, np.float64) for k, v in p.items()}
    x = np.asarray(x, np.float64)
    batch, time, _ = x.shape
    n = p["U" if family == "tanh" else ("U_c" if family == "lstm" else "U_h")].shape[0]
    lengths = np.full(batch, time) if lengths is None else np.asarray(lengths)
    ys = np.zeros((batch, time, n))
    finals = []
    for b in range(batch):
        carry = (np.zeros(n), np.zeros(n)) if family == "lstm" else np.zeros(n)
        steps = range(lengths[b])
        for t in reversed(steps) if reverse else steps:
            carry = step(family, p, carry, x[b, t], gate)
            ys[b, t] = hidden(family, carry)
        finals.append(carry)
    if family == "lstm":
        return ys, (np.stack([c for c, _ in finals]), np.stack([h for _, h in finals]))
    return ys, np.stack(finals)
