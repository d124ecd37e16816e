"""Float64 NumPy references for the modern cells (issue 28), one sequence and one step at a time.

Written from ``/work/shared/MODERN_VARIANTS.md`` (cited as MV §n) without reading gruvar's
implementation; each function cites its section and the provenance of its form there ([P] paper
or authors' code, [S] third party, [U] unverified). It shares no code with gruvar's recurrence.

Conventions, as in tests/reference.py and tests/reference_zoo.py:

- ``x`` is [B, T, m] float64, ``lengths`` [B] ints or None (= T). Sequence b is x[b, :lengths[b]],
  read backwards if ``reverse``; its outputs past its length are 0 and its final carry is that after
  its last valid step (the initial carry if the length is 0).
- Every cell returns ``(outputs [B, T, n_out], final carry {name: [B, n]})``, starting from the
  zero carry (minGRU/minLSTM: from g(h0) when ``p`` has ``h0``).
- Kernels are [in, out], so a term reads x @ W. Parameter names are the papers' symbols (ASCII
  for Greek: Lambda, theta, eta, zeta, nu, ...). ``p`` may be a ``reference_zoo.Params``, whose
  ``read`` then records the names a cell used; a missing name is a KeyError.
- ``<cell>_shapes(m, n, **knobs)`` gives every parameter's shape and ``<cell>_count(m, n, **knobs)``
  the count from the paper's formula, written independently of the shapes.

The decay-range knob (Grazzi et al., ICLR 2025, "Unlocking state-tracking in linear RNNs through
negative eigenvalues"; issue 28, not in MV): ``decay_range=(-1, 1)`` replaces a linear cell's
decay a ∈ (0, 1) by 2a − 1 and changes nothing else; every input scale keeps its (0, 1) value
(minGRU's z, RG-LRU's √(1 − a²) of the unmodified a). Grazzi et al. change only the state
transition. The other reading — recompute 1 − a′ or √(1 − a′²) from a′ = 2a − 1 — is not
implemented. LRU has no knob: its phase θ already reaches negative (and complex) eigenvalues.
"""

import math
from collections.abc import Callable

import numpy as np
from reference_zoo import Params

RANGES = ((0, 1), (-1, 1))


# ---- elementwise functions ----


def sigmoid(a):
    return 1.0 / (1.0 + np.exp(-a))


def softplus(a):
    return np.logaddexp(0.0, a)


def log_sigmoid(a):
    return -softplus(-a)


def silu(a):
    return a * sigmoid(a)


def g(a):
    """Feng et al.'s positive candidate: x + ½ (x ≥ 0), σ(x) (x < 0) (MV §2.5, [P] code)."""
    return np.where(a >= 0, a + 0.5, sigmoid(a))


def log_g(a):
    """log g(x) = log(relu(x) + ½) (x ≥ 0), −softplus(−x) (x < 0), as the official code has it."""
    return np.where(a >= 0, np.log(np.maximum(a, 0.0) + 0.5), -softplus(-a))


def signed(a, decay_range):
    """The decay in its range: a for (0, 1), 2a − 1 for (−1, 1) (Grazzi et al. 2025)."""
    if tuple(decay_range) not in RANGES:
        raise ValueError(f"decay_range must be one of {RANGES}, got {decay_range}")
    return a if tuple(decay_range) == (0, 1) else 2.0 * a - 1.0


def block_diag(blocks):
    """[H, a, b] -> the dense [H·a, H·b] block-diagonal kernel; head k maps units k·a:(k+1)·a."""
    heads, a, b = blocks.shape
    dense = np.zeros((heads * a, heads * b))
    for k in range(heads):
        dense[k * a : (k + 1) * a, k * b : (k + 1) * b] = blocks[k]
    return dense


def headwise(v, blocks):
    """v [H·a] through the block-diagonal kernel [H, a, b]: head k reads v[k·a:(k+1)·a]
    (recurrentgemma's einsum("...hi,hij->...hj"); xLSTM's per-head R)."""
    heads, a, _ = blocks.shape
    return np.einsum("hi,hij->hj", v.reshape(heads, a), blocks).reshape(-1)


def random_params(shapes, rng, scale=0.5):
    """Float64 N(0, scale²) parameters of the given shapes, for tests."""
    return {k: scale * rng.standard_normal(s) for k, s in shapes.items()}


# ---- the driver shared by every cell ----


def _run(step: Callable, init, x, lengths, reverse, n_out, dtype=np.float64):
    """Run ``step(carry, x_t, x_prev, first) -> (carry, y_t)`` over each sequence separately.
    ``x_prev`` is the previous input *in reading order* (x_{t+1} when ``reverse``), zero at the
    first step: QRNN window 2 reads it."""
    x = np.asarray(x, np.float64)
    batch, time, m = x.shape
    lengths = np.full(batch, time) if lengths is None else np.asarray(lengths)
    ys = np.zeros((batch, time, n_out), dtype)
    finals = []
    for b in range(batch):
        s = init()
        x_prev = np.zeros(m)
        steps = range(int(lengths[b]))
        for k, t in enumerate(reversed(steps) if reverse else steps):
            s, ys[b, t] = step(s, x[b, t], x_prev, k == 0)
            x_prev = x[b, t]
        finals.append(s)
    return ys, {name: np.stack([s[name] for s in finals]) for name in finals[0]}


def _p(p):
    return p if isinstance(p, Params) else Params(p)


def _zeros(n, *names, dtype=np.float64):
    return lambda: {name: np.zeros(n, dtype) for name in names}


# ---- RG-LRU (MV §2.1, [P] recurrentgemma 1.0.1 jax.layers.RGLRU; paper form [S]) ----


def rglru(x, lengths, p, *, c=8.0, reset=True, decay_range=(0, 1), reverse=False):
    """Griffin's Real-Gated Linear Recurrent Unit (De et al. 2024), m = n:

        r_t = σ(BlockDiag(W_a) x_t + b_a)          recurrence gate (recurrentgemma: a_gate)
        i_t = σ(BlockDiag(W_x) x_t + b_x)          input gate      (input_gate)
        a_t = σ(Λ)^{c·r_t},  log a_t = −c · r_t · softplus(−Λ)
        h_t = a_t ⊙ h_{t−1} + √(1 − a_t²) ⊙ (i_t ⊙ x_t)

    Parameters: W_a, W_x [H, n/H, n/H] (block-diagonal gate kernels, H heads; H = 1 is dense),
    b_a, b_x [n], Lambda [n] (the paper's Λ, a = σ(Λ); recurrentgemma's ``a_param`` is −Λ, since
    its log a = −c·r·softplus(a_param)). The candidate is x_t itself, so m = n.

    ``reset``: recurrentgemma with segment_pos = arange(T) (MV §2.1's test call) sets a = 0 and
    the √(1 − a²) multiplier to 1 at a segment's first step, so h_1 = i_1 ⊙ x_1. ``reset=False``
    is the paper's equation at t = 1 as well (h_1 = √(1 − a_1²) ⊙ i_1 ⊙ x_1). Default: the code.
    ``decay_range=(-1, 1)``: a_t ↦ 2a_t − 1, the multiplier still √(1 − a_t²) of the unmodified a.
    The block around it (linear_x, Conv1D(4), GeLU branch, W_o) is not part of the cell.
    Checked against recurrentgemma 1.0.1's jax.layers.RGLRU (2 heads, x64) to 9e-8, the float32
    its scan accumulates in: W_a = a_gate/w, b_a = a_gate/b [H, n/H] flattened, likewise
    input_gate, Lambda = −a_param.
    """
    p = _p(p)

    def step(s, x_t, _x_prev, first):
        r = sigmoid(headwise(x_t, p["W_a"]) + p["b_a"])
        i = sigmoid(headwise(x_t, p["W_x"]) + p["b_x"])
        log_a = -c * r * softplus(-p["Lambda"])
        a = np.exp(log_a)
        multiplier = np.sqrt(1.0 - np.exp(2.0 * log_a))
        a = signed(a, decay_range)
        if first and reset:
            a, multiplier = np.zeros_like(a), np.ones_like(a)
        h = a * s["h"] + multiplier * (i * x_t)
        return {"h": h}, h

    n = p["Lambda"].shape[0]
    return _run(step, _zeros(n, "h"), x, lengths, reverse, n)


def rglru_shapes(m, n, *, heads=1):
    if m != n or n % heads:
        raise ValueError(f"RG-LRU needs m = n and heads | n, got m={m}, n={n}, heads={heads}")
    d = n // heads
    return {
        "W_a": (heads, d, d),
        "b_a": (n,),
        "W_x": (heads, d, d),
        "b_x": (n,),
        "Lambda": (n,),
    }


def rglru_count(m, n, *, heads=1):
    return 2 * n * n // heads + 3 * n


def rglru_init_lambda(n, rng, min_rad=0.9, max_rad=0.999):
    """recurrentgemma's rnn_real_param_init as Λ: base a = σ(Λ) with a² ~ U[min_rad², max_rad²]
    (MV §0: area-uniform on the ring, not the paper's "a^c uniform in [0.9, 0.999]")."""
    a = np.sqrt(rng.uniform(min_rad**2, max_rad**2, n))
    return np.log(a) - np.log1p(-a)  # σ⁻¹(a)


# ---- LRU (MV §2.2, [S] minimal-LRU lru/model.py = the paper's Appendix-A code) ----


def lru(x, lengths, p, *, readout=True, reverse=False):
    """Orvieto et al.'s Linear Recurrent Unit (ICML 2023); paper: input u (H = m), state x (N = n):

        λ   = exp(−exp(ν_log) + i·exp(θ_log))                 |λ| < 1 for every ν_log
        s_t = λ ⊙ s_{t−1} + exp(γ_log) ⊙ (B u_t),    B = B_re + i B_im
        y_t = Re(C s_t) + D ⊙ u_t,                   C = C_re + i C_im

    Parameters: nu_log, theta_log, gamma_log [n]; B_re, B_im [m, n]; C_re, C_im [n, m]; D [m].
    Outputs y [B, T, m] (``readout=False``: the complex states s [B, T, n]); the carry is the
    complex state {"h": [B, n] complex128}. γ_log is its own parameter (initialised from λ, not
    recomputed). No decay-range knob: θ already reaches negative eigenvalues.
    """
    p = _p(p)
    lam = np.exp(-np.exp(p["nu_log"]) + 1j * np.exp(p["theta_log"]))
    B = p["B_re"] + 1j * p["B_im"]
    C = p["C_re"] + 1j * p["C_im"]

    def step(s, u_t, _x_prev, _first):
        h = lam * s["h"] + np.exp(p["gamma_log"]) * (u_t @ B)
        y = (h @ C).real + p["D"] * u_t if readout else h
        return {"h": h}, y

    n, m = C.shape
    out = m if readout else n
    dtype = np.float64 if readout else np.complex128
    return _run(step, _zeros(n, "h", dtype=np.complex128), x, lengths, reverse, out, dtype)


def lru_shapes(m, n):
    return {
        "nu_log": (n,),
        "theta_log": (n,),
        "gamma_log": (n,),
        "B_re": (m, n),
        "B_im": (m, n),
        "C_re": (n, m),
        "C_im": (n, m),
        "D": (m,),
    }


def lru_count(m, n):
    return 4 * m * n + 3 * n + m


def lru_ring_init(m, n, rng, r_min=0.0, r_max=1.0, max_phase=6.28):
    """minimal-LRU's ring init (MV §2.2): |λ|² ~ U[r_min², r_max²], phase ~ U[0, max_phase]."""
    u1, u2 = rng.uniform(size=n), rng.uniform(size=n)
    nu_log = np.log(-0.5 * np.log(u1 * (r_max**2 - r_min**2) + r_min**2))
    theta_log = np.log(max_phase * u2)
    lam_abs = np.exp(-np.exp(nu_log))
    return {
        "nu_log": nu_log,
        "theta_log": theta_log,
        "gamma_log": np.log(np.sqrt(1 - lam_abs**2)),
        "B_re": rng.normal(0, math.sqrt(1 / (2 * m)), (m, n)),
        "B_im": rng.normal(0, math.sqrt(1 / (2 * m)), (m, n)),
        "C_re": rng.normal(0, math.sqrt(1 / n), (n, m)),
        "C_im": rng.normal(0, math.sqrt(1 / n), (n, m)),
        "D": rng.normal(0, 1, m),
    }


# ---- HGRN (MV §2.4, [P] hgru-pytorch hgrureal1d.py / hgru1d.py; lower bound [S] fla) ----


def hgrn(x, lengths, p, *, gamma=0.0, complex_state=False, decay_range=(0, 1), reverse=False):
    """Qin, Yang & Zhong's Hierarchically Gated Recurrent Network (NeurIPS 2023), one layer:

        λ_t = γ + (1 − γ) ⊙ σ(W_λ x_t + b_λ)                    lower-bounded forget gate
        real (HgruRealV6):  h_t = λ_t ⊙ h_{t−1} + (1 − λ_t) ⊙ SiLU(W_c x_t + b_c)
        complex (Hgru1d):   c_t = SiLU(W_cr x_t + b_cr) + i·SiLU(W_ci x_t + b_ci)
                            h_t = λ_t ⊙ exp(iθ) ⊙ h_{t−1} + (1 − λ_t) ⊙ c_t

    Parameters: W_lambda [m, n], b_lambda [n]; real: W_c [m, n], b_c [n]; complex: W_cr, W_ci
    [m, n], b_cr, b_ci [n], theta [n] (data-independent phase). ``gamma`` is this layer's lower
    bound γ^k (scalar or [n]; see ``hgrn_lower_bounds``), 0 for the first layer. Outputs are h
    (complex128 in the complex form); the output gate, norm and W_o are block-level, not here.
    ``decay_range=(-1, 1)``: λ_t ↦ 2λ_t − 1 in the decay, (1 − λ_t) keeps the unmodified λ_t.
    """
    p = _p(p)

    def step(s, x_t, _x_prev, _first):
        lam = gamma + (1 - gamma) * sigmoid(x_t @ p["W_lambda"] + p["b_lambda"])
        decay = signed(lam, decay_range)
        if complex_state:
            decay = decay * np.exp(1j * p["theta"])
            cand = silu(x_t @ p["W_cr"] + p["b_cr"]) + 1j * silu(x_t @ p["W_ci"] + p["b_ci"])
        else:
            cand = silu(x_t @ p["W_c"] + p["b_c"])
        h = decay * s["h"] + (1 - lam) * cand
        return {"h": h}, h

    n = p["b_lambda"].shape[0]
    dtype = np.complex128 if complex_state else np.float64
    return _run(step, _zeros(n, "h", dtype=dtype), x, lengths, reverse, n, dtype)


def hgrn_shapes(m, n, *, complex_state=False):
    shapes = {"W_lambda": (m, n), "b_lambda": (n,)}
    if complex_state:
        return shapes | {"W_cr": (m, n), "b_cr": (n,), "W_ci": (m, n), "b_ci": (n,), "theta": (n,)}
    return shapes | {"W_c": (m, n), "b_c": (n,)}


def hgrn_count(m, n, *, complex_state=False):
    return 3 * m * n + 4 * n if complex_state else 2 * m * n + 2 * n


def hgrn_lower_bounds(Gamma, form="fla"):
    """Γ [L, n] (stack-level, learnable) -> γ [L, n], one row per layer, γ^1 = 0, rising with depth.

    P = softmax(Γ, over layers). ``form="fla"`` (the code MV §2.4 read, [S]): cumsum(P) − P[0],
    so layer k gets P_1 + … + P_k (0-based). ``form="sum_below"``: MV's formula γ^k = Σ_{j<k} P_j,
    layer k gets P_0 + … + P_{k−1}. MV calls them the same; they are not (the same function
    class, different parameter maps): say which one gruvar uses.
    """
    P = np.exp(Gamma - Gamma.max(0))
    P = P / P.sum(0)
    if form == "fla":
        return np.cumsum(P, 0) - P[0]
    if form == "sum_below":
        return np.cumsum(P, 0) - P
    raise ValueError(form)


# ---- sLSTM (MV §2.3, [P] NX-AI/xlstm 2.0.6 vanilla backend: slstm.py, __init__.py) ----

SLSTM_GATES = ("i", "f", "z", "o")  # xLSTM's order in R and in the fused pre-activation


def slstm(x, lengths, p, *, forget="sigmoid", stabilise=True, reverse=False):
    """Beck et al.'s scalar LSTM (xLSTM, NeurIPS 2024), NX-AI's vanilla pointwise step:

        ĩ, f̃, z̃, õ = W_g x_t + R_g h_{t−1} + b_g         R_g block-diagonal per head
        log f_t = log σ(f̃_t)  (forget="sigmoid", the default)  or  f̃_t  (forget="exp")
        m_t  = ĩ_t if n_{t−1} = 0 (the first step), else max(ĩ_t, m_{t−1} + log f_t)
        i′_t = min(exp(ĩ_t − m_t), 1),   f′_t = min(exp(log f_t + m_{t−1} − m_t), 1)
        c_t  = f′_t ⊙ c_{t−1} + i′_t ⊙ tanh(z̃_t)
        n_t  = f′_t ⊙ n_{t−1} + i′_t
        h_t  = σ(õ_t) ⊙ c_t / n_t

    Parameters, g ∈ {i, f, z, o}: W_g [m, n] (dense; xLSTM's layer uses a headwise W with m = n:
    pass block_diag of its blocks), R_g [H, n/H, n/H] (head k reads and writes units
    k·n/H:(k+1)·n/H; xLSTM stores R as [H, d_h, 4, d_h], gates in the order i, f, z, o), b_g [n].
    Carry {c, n, m, h}, all zero at t = 0.

    The min(·, 1) clamps are the code's; they bind only at the first step, where they multiply
    c = n = 0. ``stabilise=False`` is the paper's unstabilised cell (i = exp(ĩ), f = σ(f̃) or
    exp(f̃), m stays 0): the same h in exact arithmetic, since m rescales c and n alike.
    Trap for authors'-code tests: xLSTM decides "first step" by torch.all(n == 0) over the whole
    batch, and has no lengths; here it is per sequence.
    Checked against xlstm 2.0.6's vanilla slstm_forward (float64, 2 heads) to 1e-15: its R
    [H, 4·d_h, d_h] holds R_g[k].T in rows g·d_h:(g+1)·d_h; Wx and b are gate-major [i|f|z|o];
    its states are [4, B, n] in the order (h, c, n, m).
    """
    p = _p(p)
    if forget not in ("sigmoid", "exp"):
        raise ValueError(f"forget must be 'sigmoid' or 'exp', got {forget!r}")

    def step(s, x_t, _x_prev, _first):
        pre = {
            gate: x_t @ p[f"W_{gate}"] + headwise(s["h"], p[f"R_{gate}"]) + p[f"b_{gate}"]
            for gate in SLSTM_GATES
        }
        log_f = log_sigmoid(pre["f"]) if forget == "sigmoid" else pre["f"]
        if stabilise:
            if np.all(s["n"] == 0.0):
                m = pre["i"]
            else:
                m = np.maximum(pre["i"], s["m"] + log_f)
            i = np.minimum(np.exp(pre["i"] - m), 1.0)
            f = np.minimum(np.exp(log_f + s["m"] - m), 1.0)
        else:
            m = s["m"]
            i, f = np.exp(pre["i"]), np.exp(log_f)
        c = f * s["c"] + i * np.tanh(pre["z"])
        n = f * s["n"] + i
        h = sigmoid(pre["o"]) * c / n
        return {"c": c, "n": n, "m": m, "h": h}, h

    n = p["b_i"].shape[0]
    return _run(step, _zeros(n, "c", "n", "m", "h"), x, lengths, reverse, n)


def slstm_shapes(m, n, *, heads=1):
    if n % heads:
        raise ValueError(f"sLSTM needs heads | n, got n={n}, heads={heads}")
    d = n // heads
    shapes = {}
    for gate in SLSTM_GATES:
        shapes |= {f"W_{gate}": (m, n), f"R_{gate}": (heads, d, d), f"b_{gate}": (n,)}
    return shapes


def slstm_count(m, n, *, heads=1):
    return 4 * m * n + 4 * n * n // heads + 4 * n


def slstm_powerlaw_forget_bias(d_head, block_idx=0, num_blocks=1):
    """xLSTM's "powerlaw_blockdependent" b_f over one head: 5 − 12·(j/(d_h−1))^{0.3 + 1.3·ℓ},
    ℓ = block_idx/(num_blocks − 1) (0 for one block), so +5 down to −7 (MV §2.3, [P] code)."""
    ratio = block_idx / (num_blocks - 1) if num_blocks > 1 else 0.0
    j = np.arange(d_head)
    return 5.0 - 12.0 * (j / (d_head - 1)) ** (0.3 + 1.3 * ratio)


# ---- minGRU / minLSTM (MV §2.5, [P] BorealisAI/minRNNs models/minRNNs.py; §0) ----


def _h0(p, candidate, n):
    """The initial carry: g(h0) when p has a learnable h0 (g form), h0 itself (identity form)."""
    if "h0" not in p:
        return lambda: {"h": np.zeros(n)}
    h0 = g(p["h0"]) if candidate == "g" else p["h0"]
    return lambda: {"h": h0.copy()}


def _candidate(candidate):
    if candidate not in ("g", "identity"):
        raise ValueError(f"candidate must be 'g' or 'identity', got {candidate!r}")
    return g if candidate == "g" else (lambda a: a)


def mingru(x, lengths, p, *, candidate="g", decay_range=(0, 1), reverse=False):
    """Feng et al.'s minGRU ("Were RNNs all we needed?", 2024), sequential form:

        z_t = σ(W_z x_t + b_z),   h̃_t = g(W_h x_t + b_h)
        h_t = (1 − z_t) ⊙ h_{t−1} + z_t ⊙ h̃_t

    ``candidate="g"`` is the official code's positive g (MV §2.5, [P]); ``candidate="identity"``
    is the paper's §3 form and gruvar's current ``mingru`` (reference_zoo.mingru). Parameters:
    W_z, W_h [m, n], b_z, b_h [n], optional h0 [n] (learnable init_hidden_state; the carry starts
    at g(h0)). ``decay_range=(-1, 1)``: the decay 1 − z_t ↦ 1 − 2z_t, the input scale stays z_t.
    """
    p = _p(p)
    act = _candidate(candidate)

    def step(s, x_t, _x_prev, _first):
        z = sigmoid(x_t @ p["W_z"] + p["b_z"])
        h = signed(1 - z, decay_range) * s["h"] + z * act(x_t @ p["W_h"] + p["b_h"])
        return {"h": h}, h

    n = p["b_z"].shape[0]
    return _run(step, _h0(p, candidate, n), x, lengths, reverse, n)


def mingru_shapes(m, n, *, h0=False):
    return {"W_z": (m, n), "b_z": (n,), "W_h": (m, n), "b_h": (n,)} | ({"h0": (n,)} if h0 else {})


def mingru_count(m, n, *, h0=False):
    return 2 * m * n + 2 * n + (n if h0 else 0)


def minlstm(x, lengths, p, *, candidate="g", norm=True, decay_range=(0, 1), reverse=False):
    """Feng et al.'s minLSTM, sequential form (no output gate, c_t = h_t):

        f_t = σ(W_f x_t + b_f),   i_t = σ(W_i x_t + b_i),   h̃_t = g(W_h x_t + b_h)
        norm (use_coeff_norm): f′_t = f_t/(f_t + i_t), i′_t = i_t/(f_t + i_t); else f′ = f, i′ = i
        h_t = f′_t ⊙ h_{t−1} + i′_t ⊙ h̃_t

    Parameters: W_f, W_i, W_h [m, n], b_f, b_i, b_h [n], optional h0 [n]. The candidate is W_h
    here (Feng's Linear_h); reference_zoo.minlstm calls it W_c. ``decay_range=(-1, 1)``:
    f′ ↦ 2f′ − 1 in the decay, i′ unchanged.
    """
    p = _p(p)
    act = _candidate(candidate)

    def step(s, x_t, _x_prev, _first):
        f = sigmoid(x_t @ p["W_f"] + p["b_f"])
        i = sigmoid(x_t @ p["W_i"] + p["b_i"])
        if norm:
            f, i = f / (f + i), i / (f + i)
        h = signed(f, decay_range) * s["h"] + i * act(x_t @ p["W_h"] + p["b_h"])
        return {"h": h}, h

    n = p["b_f"].shape[0]
    return _run(step, _h0(p, candidate, n), x, lengths, reverse, n)


def minlstm_shapes(m, n, *, h0=False):
    shapes = {"W_f": (m, n), "b_f": (n,), "W_i": (m, n), "b_i": (n,), "W_h": (m, n), "b_h": (n,)}
    return shapes | ({"h0": (n,)} if h0 else {})


def minlstm_count(m, n, *, h0=False):
    return 3 * m * n + 3 * n + (n if h0 else 0)


def heinsen_scan(log_a, log_b, log_h0=None):
    """Heinsen's log-space scan (MV §2.5, [P]): h_t = a_t h_{t−1} + b_t for positive a, b, h0,
    computed as a* = cumsum(log a), log h = a* + logcumsumexp(log b − a*), over axis 0 [T, n].
    With h0 it is prepended to log b and log a is padded by one step; the first row is dropped."""
    if log_h0 is not None:
        log_b = np.concatenate([log_h0[None], log_b])
        log_a = np.concatenate([np.zeros_like(log_h0)[None], log_a])
    a_star = np.cumsum(log_a, 0)
    log_h = a_star + np.logaddexp.accumulate(log_b - a_star, 0)
    return log_h[1:] if log_h0 is not None else log_h


def _log_space(x, lengths, reverse, coefficients, log_h0, n):
    """Run a positive linear recurrence per sequence through ``heinsen_scan``;
    ``coefficients(x_seq [L, m]) -> (log a, log b)``, each [L, n]."""
    x = np.asarray(x, np.float64)
    batch, time, _ = x.shape
    lengths = np.full(batch, time) if lengths is None else np.asarray(lengths)
    ys = np.zeros((batch, time, n))
    finals = []
    for b in range(batch):
        idx = np.arange(int(lengths[b]))
        idx = idx[::-1] if reverse else idx
        if len(idx) == 0:
            finals.append(np.exp(log_h0) if log_h0 is not None else np.zeros(n))
            continue
        log_a, log_b = coefficients(x[b, idx])
        h = np.exp(heinsen_scan(log_a, log_b, log_h0))
        ys[b, idx] = h
        finals.append(h[-1])
    return ys, {"h": np.stack(finals)}


def mingru_log(x, lengths, p, *, reverse=False):
    """minGRU with candidate g in the official code's parallel mode (MV §2.5, [P]):
    log a_t = −softplus(k_z), log b_t = −softplus(−k_z) + log g(k_h), then ``heinsen_scan``,
    h0 (if present) entering as log g(h0). Only the (0, 1) decay range has a log form."""
    p = _p(p)
    n = p["b_z"].shape[0]
    log_h0 = log_g(p["h0"]) if "h0" in p else None

    def coefficients(xs):
        k_z = xs @ p["W_z"] + p["b_z"]
        return -softplus(k_z), -softplus(-k_z) + log_g(xs @ p["W_h"] + p["b_h"])

    return _log_space(x, lengths, reverse, coefficients, log_h0, n)


def minlstm_log(x, lengths, p, *, norm=True, reverse=False):
    """minLSTM with candidate g in log space (MV §2.5, [P]): with use_coeff_norm,
    diff = softplus(−k_f) − softplus(−k_i), log f′ = −softplus(diff), log i′ = −softplus(−diff);
    without, log f = −softplus(−k_f), log i = −softplus(−k_i); log b = log i′ + log g(k_h)."""
    p = _p(p)
    n = p["b_f"].shape[0]
    log_h0 = log_g(p["h0"]) if "h0" in p else None

    def coefficients(xs):
        k_f, k_i = xs @ p["W_f"] + p["b_f"], xs @ p["W_i"] + p["b_i"]
        if norm:
            diff = softplus(-k_f) - softplus(-k_i)
            log_f, log_i = -softplus(diff), -softplus(-diff)
        else:
            log_f, log_i = -softplus(-k_f), -softplus(-k_i)
        return log_f, log_i + log_g(xs @ p["W_h"] + p["b_h"])

    return _log_space(x, lengths, reverse, coefficients, log_h0, n)


# ---- T-RNN (MV §3.6, [S] TF re-implementation, torchrecurrent TRNNCell) ----


def trnn(x, lengths, p, *, decay_range=(0, 1), reverse=False):
    """Balduzzi & Ghifary's strongly-typed RNN (ICML 2016), MV §0: ≡ minGRU-identity, gate flipped:

        z_t = W x_t,   f_t = σ(V x_t + b),   h_t = f_t ⊙ h_{t−1} + (1 − f_t) ⊙ z_t

    Parameters: W, V [m, n], b [n]. ``decay_range=(-1, 1)``: f_t ↦ 2f_t − 1 in the decay only.
    T-GRU/T-LSTM (tanh "gate", x_{t−1} terms; [U]) are not here.
    """
    p = _p(p)

    def step(s, x_t, _x_prev, _first):
        f = sigmoid(x_t @ p["V"] + p["b"])
        h = signed(f, decay_range) * s["h"] + (1 - f) * (x_t @ p["W"])
        return {"h": h}, h

    n = p["b"].shape[0]
    return _run(step, _zeros(n, "h"), x, lengths, reverse, n)


def trnn_shapes(m, n):
    return {"W": (m, n), "V": (m, n), "b": (n,)}


def trnn_count(m, n):
    return 2 * m * n + n


# ---- QRNN (MV §3.7, [P] salesforce/pytorch-qrnn qrnn.py, forget_mult.py) ----

QRNN_GATES = {"f": ("z", "f"), "fo": ("z", "f", "o"), "ifo": ("z", "f", "o", "i")}


def qrnn(
    x, lengths, p, *, pooling="fo", window=1, f_weights="new", decay_range=(0, 1), reverse=False
):
    """Bradbury et al.'s Quasi-Recurrent NN (ICLR 2017), one layer:

        g̃_t = W_g x_t + W′_g x_{t−1} + b_g      (W′ only for window 2; x_0 = 0)
        z_t = tanh(z̃_t),  f_t = σ(f̃_t),  o_t = σ(õ_t),  i_t = σ(ĩ_t)
        f, fo pooling:   c_t = f_t ⊙ z_t + (1 − f_t) ⊙ c_{t−1}   (f_weights="new", pytorch-qrnn)
                         c_t = f_t ⊙ c_{t−1} + (1 − f_t) ⊙ z_t   (f_weights="old", the paper's
                         notation: the same function with f ↔ 1 − f)
        ifo pooling:     c_t = f_t ⊙ c_{t−1} + i_t ⊙ z_t            (the paper; not in pytorch-qrnn)
        h_t = c_t (f)   or   o_t ⊙ c_t (fo, ifo)

    Parameters: W_g [m, n], b_g [n] and, for window 2, Wp_g [m, n] (W′_g, reading x_{t−1}), for
    g in z, f (+ o for fo, + o, i for ifo). x_{t−1} is the previous input in reading order
    (x_{t+1} when ``reverse``), zero before a sequence's first step. pytorch-qrnn fuses these as
    one Linear on [x_t; x_{t−1}] split (Z, F, O). ``decay_range=(-1, 1)``: the decay (1 − f_t, or
    f_t) ↦ 2·decay − 1, the input scale unchanged. Carry {"c"}: a window-2 cell would also carry
    x_{t−1} to continue a sequence; not needed from the zero state.
    """
    p = _p(p)
    if pooling not in QRNN_GATES or window not in (1, 2) or f_weights not in ("new", "old"):
        raise ValueError(f"pooling {pooling!r}, window {window}, f_weights {f_weights!r}")

    def pre(gate, x_t, x_prev):
        a = x_t @ p[f"W_{gate}"] + p[f"b_{gate}"]
        return a + x_prev @ p[f"Wp_{gate}"] if window == 2 else a

    def step(s, x_t, x_prev, _first):
        z = np.tanh(pre("z", x_t, x_prev))
        f = sigmoid(pre("f", x_t, x_prev))
        if pooling == "ifo":
            decay, scale = f, sigmoid(pre("i", x_t, x_prev))
        elif f_weights == "new":
            decay, scale = 1 - f, f
        else:
            decay, scale = f, 1 - f
        c = signed(decay, decay_range) * s["c"] + scale * z
        h = c if pooling == "f" else sigmoid(pre("o", x_t, x_prev)) * c
        return {"c": c}, h

    n = p["b_z"].shape[0]
    return _run(step, _zeros(n, "c"), x, lengths, reverse, n)


def qrnn_shapes(m, n, *, pooling="fo", window=1):
    shapes = {}
    for gate in QRNN_GATES[pooling]:
        shapes |= {f"W_{gate}": (m, n), f"b_{gate}": (n,)}
        if window == 2:
            shapes[f"Wp_{gate}"] = (m, n)
    return shapes


def qrnn_count(m, n, *, pooling="fo", window=1):
    k = len(pooling) + 1  # z and each pooling gate
    return k * (window * m * n + n)


SQRT3 = math.sqrt(3.0)  # SRU's highway scale √(1 + 2e^{highway_bias}) at highway_bias = 0


# ---- SRU (MV §3.4, [P] asappresearch/sru ops.py elementwise_recurrence_naive) ----


def sru(x, lengths, p, *, v1=False, use_tanh=False, alpha=SQRT3, reverse=False):
    """Lei et al.'s Simple Recurrent Unit (EMNLP 2018), v2 as the code runs it:

        f_t = σ(W_f x_t + v_f ⊙ c_{t−1} + b_f)
        r_t = σ(W_r x_t + v_r ⊙ c_{t−1} + b_r)            r peeks at c_{t−1}, not c_t
        c_t = f_t ⊙ c_{t−1} + (1 − f_t) ⊙ (W x_t)
        h_t = r_t ⊙ act(c_t) + (1 − r_t) ⊙ skip_t,   act = identity (use_tanh=False) or tanh
        skip_t = α x_t (m = n, α = √(1 + 2e^{highway_bias}) = √3 by default)  or  W_hw x_t (m ≠ n)

    Parameters: W, W_f, W_r [m, n], b_f, b_r [n], v_f, v_r [n] (absent with ``v1=True``: v1 has
    v = 0, frozen, and is linear in c), and W_hw [m, n] when m ≠ n (sru's 4th projection u3).
    Checked against sru 2.6.0's elementwise_recurrence_naive (float64, m = n and m ≠ n): α scales
    x only, never u3; the fused [m, k·n] weight is interleaved per unit (column j·k + g, g in
    W, W_f, W_r, W_hw order); weight_c = [v_f; v_r], bias = [b_f; b_r].
    """
    p = _p(p)
    n = p["b_f"].shape[0]

    def step(s, x_t, _x_prev, _first):
        c_prev = s["c"]
        peek_f = 0.0 if v1 else p["v_f"] * c_prev
        peek_r = 0.0 if v1 else p["v_r"] * c_prev
        f = sigmoid(x_t @ p["W_f"] + peek_f + p["b_f"])
        r = sigmoid(x_t @ p["W_r"] + peek_r + p["b_r"])
        c = f * c_prev + (1 - f) * (x_t @ p["W"])
        skip = alpha * x_t if x_t.shape[0] == n else x_t @ p["W_hw"]
        h = r * (np.tanh(c) if use_tanh else c) + (1 - r) * skip
        return {"c": c}, h

    return _run(step, _zeros(n, "c"), x, lengths, reverse, n)


def sru_shapes(m, n, *, v1=False):
    shapes = {"W": (m, n), "W_f": (m, n), "W_r": (m, n), "b_f": (n,), "b_r": (n,)}
    if not v1:
        shapes |= {"v_f": (n,), "v_r": (n,)}
    return shapes | ({"W_hw": (m, n)} if m != n else {})


def sru_count(m, n, *, v1=False):
    k = 3 if m == n else 4
    return k * m * n + (2 if v1 else 4) * n


# ---- FastGRNN, FastRNN (MV §3.9, [P] microsoft/EdgeML pytorch/edgeml_pytorch/graph/rnn.py) ----


def fastgrnn(x, lengths, p, *, reverse=False):
    """Kusupati et al.'s FastGRNN (NeurIPS 2018); one W and one U shared by gate and candidate:

        p_t = W x_t + U h_{t−1}
        z_t = σ(p_t + b_g),   h̃_t = tanh(p_t + b_h)
        h_t = z_t ⊙ h_{t−1} + (σ(ζ)(1 − z_t) + σ(ν)) ⊙ h̃_t

    Parameters: W [m, n], U [n, n], b_g, b_h [n], zeta, nu [] (scalars; init 1, −4). Full rank.
    Checked against edgeml-pytorch 0.3.0's FastGRNNCell (float64), whose W, U are stored
    [out, in] (W.T, U.T here) and biases bias_gate, bias_update [1, n].
    """
    p = _p(p)

    def step(s, x_t, _x_prev, _first):
        pre = x_t @ p["W"] + s["h"] @ p["U"]
        z = sigmoid(pre + p["b_g"])
        h_tilde = np.tanh(pre + p["b_h"])
        h = z * s["h"] + (sigmoid(p["zeta"]) * (1 - z) + sigmoid(p["nu"])) * h_tilde
        return {"h": h}, h

    n = p["b_g"].shape[0]
    return _run(step, _zeros(n, "h"), x, lengths, reverse, n)


def fastgrnn_shapes(m, n):
    return {"W": (m, n), "U": (n, n), "b_g": (n,), "b_h": (n,), "zeta": (), "nu": ()}


def fastgrnn_count(m, n):
    return m * n + n * n + 2 * n + 2


def fastrnn(x, lengths, p, *, reverse=False):
    """Kusupati et al.'s FastRNN: h̃_t = tanh(W x_t + U h_{t−1} + b),
    h_t = σ(β) h_{t−1} + σ(α) h̃_t. Parameters: W [m, n], U [n, n], b [n], alpha, beta []
    (scalars; EdgeML init α = −3, β = 3, so ≈ 0.95 on the old state; RL.jl has them reversed).
    Checked against edgeml-pytorch 0.3.0's FastRNNCell, which, unlike its FastGRNNCell, stores
    W [in, out] and U [n, n] as used here, and the bias as bias_update [1, n]."""
    p = _p(p)

    def step(s, x_t, _x_prev, _first):
        h_tilde = np.tanh(x_t @ p["W"] + s["h"] @ p["U"] + p["b"])
        h = sigmoid(p["beta"]) * s["h"] + sigmoid(p["alpha"]) * h_tilde
        return {"h": h}, h

    n = p["b"].shape[0]
    return _run(step, _zeros(n, "h"), x, lengths, reverse, n)


def fastrnn_shapes(m, n):
    return {"W": (m, n), "U": (n, n), "b": (n,), "alpha": (), "beta": ()}


def fastrnn_count(m, n):
    return m * n + n * n + n + 2


# ---- JANET (MV §3.1, [P] JosvanderWesthuizen/janet aux_code/rnn_cells.py, forget_only) ----


def janet(x, lengths, p, *, beta=1.0, reverse=False):
    """van der Westhuizen & Lasenby's forget-gate-only LSTM (2018):

        s_t = W_f x_t + U_f h_{t−1} + b_f
        c_t = σ(s_t) ⊙ c_{t−1} + (1 − σ(s_t − β)) ⊙ tanh(W_c x_t + U_c h_{t−1} + b_c)
        h_t = c_t,   β = 1 (hard-coded in the authors' code)

    Parameters: W_f, W_c [m, n], U_f, U_c [n, n], b_f, b_c [n] (b_f: chrono, ``chrono_bias``).
    Carry {c, h} with h = c.
    """
    p = _p(p)

    def step(s, x_t, _x_prev, _first):
        a_f = x_t @ p["W_f"] + s["h"] @ p["U_f"] + p["b_f"]
        cand = np.tanh(x_t @ p["W_c"] + s["h"] @ p["U_c"] + p["b_c"])
        c = sigmoid(a_f) * s["c"] + (1 - sigmoid(a_f - beta)) * cand
        return {"c": c, "h": c}, c

    n = p["b_f"].shape[0]
    return _run(step, _zeros(n, "c", "h"), x, lengths, reverse, n)


def janet_shapes(m, n):
    return {"W_f": (m, n), "U_f": (n, n), "b_f": (n,), "W_c": (m, n), "U_c": (n, n), "b_c": (n,)}


def janet_count(m, n):
    return 2 * (m * n + n * n + n)


def chrono_bias(n, t_max, rng):
    """JANET's chrono forget bias (Tallec & Ollivier): b_f = log U(1, T_max) (MV §3.1, [P])."""
    return np.log(rng.uniform(1.0, t_max, n))


# ---- UGRNN (MV §3.2, [S] TF contrib UGRNNCell) ----


def ugrnn(x, lengths, p, *, forget_bias=0.0, reverse=False):
    """Collins, Sohl-Dickstein & Sussillo's update-gate RNN (ICLR 2017):

        g_t = σ(W_g x_t + U_g h_{t−1} + b_g + forget_bias),  c_t = tanh(W_c x_t + U_c h_{t−1} + b_c)
        h_t = g_t ⊙ h_{t−1} + (1 − g_t) ⊙ c_t                    (≡ ligru:act=tanh, MV §0)

    Parameters: W_g, W_c [m, n], U_g, U_c [n, n], b_g, b_c [n]. TF adds forget_bias = 1.0 as a
    constant; MV recommends b_g initialised to +1 instead, so the default constant here is 0.
    """
    p = _p(p)

    def step(s, x_t, _x_prev, _first):
        gate = sigmoid(x_t @ p["W_g"] + s["h"] @ p["U_g"] + p["b_g"] + forget_bias)
        cand = np.tanh(x_t @ p["W_c"] + s["h"] @ p["U_c"] + p["b_c"])
        h = gate * s["h"] + (1 - gate) * cand
        return {"h": h}, h

    n = p["b_g"].shape[0]
    return _run(step, _zeros(n, "h"), x, lengths, reverse, n)


def ugrnn_shapes(m, n):
    return {"W_g": (m, n), "U_g": (n, n), "b_g": (n,), "W_c": (m, n), "U_c": (n, n), "b_c": (n,)}


def ugrnn_count(m, n):
    return 2 * (m * n + n * n + n)


# ---- RAN (MV §3.3, [P] kentonl/ran ran.py) ----


def ran(x, lengths, p, *, output="tanh", reverse=False):
    """Lee, Levy & Zettlemoyer's Recurrent Additive Network (2017):

        c̃_t = W_c x_t                                     (no bias; RL.jl wrongly adds one)
        i_t = σ(W_i x_t + U_i h_{t−1} + b_i),   f_t = σ(W_f x_t + U_f h_{t−1} + b_f)
        c_t = i_t ⊙ c̃_t + f_t ⊙ c_{t−1}
        h_t = tanh(c_t)  (output="tanh", use_tanh=True)   or   c_t  (output="identity")

    Parameters: W_c, W_i, W_f [m, n], U_i, U_f [n, n], b_i, b_f [n] (init 0). Carry {c, h}.
    """
    p = _p(p)
    if output not in ("tanh", "identity"):
        raise ValueError(f"output must be 'tanh' or 'identity', got {output!r}")

    def step(s, x_t, _x_prev, _first):
        i = sigmoid(x_t @ p["W_i"] + s["h"] @ p["U_i"] + p["b_i"])
        f = sigmoid(x_t @ p["W_f"] + s["h"] @ p["U_f"] + p["b_f"])
        c = i * (x_t @ p["W_c"]) + f * s["c"]
        h = np.tanh(c) if output == "tanh" else c
        return {"c": c, "h": h}, h

    n = p["b_i"].shape[0]
    return _run(step, _zeros(n, "c", "h"), x, lengths, reverse, n)


def ran_shapes(m, n):
    return {
        "W_c": (m, n),
        "W_i": (m, n),
        "U_i": (n, n),
        "b_i": (n,),
        "W_f": (m, n),
        "U_f": (n, n),
        "b_f": (n,),
    }


def ran_count(m, n):
    return 3 * m * n + 2 * n * n + 2 * n


# ---- CFN (MV §3.5, [S] RL.jl cfn_cell.jl, torchrecurrent cfn_cell.py; no authors' code) ----


def cfn(x, lengths, p, *, reverse=False):
    """Laurent & von Brecht's Chaos-Free Network (ICLR 2017):

        θ_t = σ(U_θ h_{t−1} + W_θ x_t + b_θ),   η_t = σ(U_η h_{t−1} + W_η x_t + b_η)
        h_t = θ_t ⊙ tanh(h_{t−1}) + η_t ⊙ tanh(W x_t)        (no bias inside; RL.jl adds one)

    Parameters: W, W_theta, W_eta [m, n], U_theta, U_eta [n, n], b_theta, b_eta [n].
    """
    p = _p(p)

    def step(s, x_t, _x_prev, _first):
        h = s["h"]
        theta = sigmoid(h @ p["U_theta"] + x_t @ p["W_theta"] + p["b_theta"])
        eta = sigmoid(h @ p["U_eta"] + x_t @ p["W_eta"] + p["b_eta"])
        h = theta * np.tanh(h) + eta * np.tanh(x_t @ p["W"])
        return {"h": h}, h

    n = p["b_theta"].shape[0]
    return _run(step, _zeros(n, "h"), x, lengths, reverse, n)


def cfn_shapes(m, n):
    return {
        "W": (m, n),
        "W_theta": (m, n),
        "U_theta": (n, n),
        "b_theta": (n,),
        "W_eta": (m, n),
        "U_eta": (n, n),
        "b_eta": (n,),
    }


def cfn_count(m, n):
    return 3 * m * n + 2 * n * n + 2 * n


# ---- the table tests iterate over ----

CELLS = {
    # name: (cell, shapes, count); every cell's output width is n, except LRU's (m)
    "rglru": (rglru, rglru_shapes, rglru_count),
    "lru": (lru, lru_shapes, lru_count),
    "hgrn": (hgrn, hgrn_shapes, hgrn_count),
    "slstm": (slstm, slstm_shapes, slstm_count),
    "mingru": (mingru, mingru_shapes, mingru_count),
    "minlstm": (minlstm, minlstm_shapes, minlstm_count),
    "trnn": (trnn, trnn_shapes, trnn_count),
    "qrnn": (qrnn, qrnn_shapes, qrnn_count),
    "sru": (sru, sru_shapes, sru_count),
    "fastgrnn": (fastgrnn, fastgrnn_shapes, fastgrnn_count),
    "fastrnn": (fastrnn, fastrnn_shapes, fastrnn_count),
    "janet": (janet, janet_shapes, janet_count),
    "ugrnn": (ugrnn, ugrnn_shapes, ugrnn_count),
    "ran": (ran, ran_shapes, ran_count),
    "cfn": (cfn, cfn_shapes, cfn_count),
}
