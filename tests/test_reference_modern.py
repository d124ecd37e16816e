"""Self-checks of tests/reference_modern.py against facts that come from no implementation:
one-unit, two-step values worked out by hand from MODERN_VARIANTS.md's equations, invariants the
papers state, equivalences MODERN_VARIANTS.md §0 claims, and the padding conventions.

Hand values use σ(0) = 1/2, σ(ln 3) = 3/4, σ(ln 2) = 2/3, tanh(ln 2) = 3/5, tanh(ln 3) = 4/5
(tanh(ln a) = (a² − 1)/(a² + 1)), so most are exact rationals.
"""

import math

import numpy as np
import pytest
import reference_modern as R
import reference_zoo
from reference_zoo import Params

LN2, LN3 = math.log(2.0), math.log(3.0)


def seq(*values):
    """One sequence of one-feature inputs: x [1, T, 1]."""
    return np.array(values, np.float64).reshape(1, -1, 1)


def one(**params):
    """One-unit parameters: scalars become [1] (vectors) or [1, 1] (kernels named W*, U*, V*, B*,
    C*), R*/blocked W_a, W_x become [1, 1, 1]; zeta, nu, alpha, beta stay scalars."""
    out = {}
    for name, v in params.items():
        if name in ("zeta", "nu", "alpha", "beta"):
            out[name] = np.float64(v)
        elif name.startswith("R_") or name in ("W_a", "W_x"):
            out[name] = np.full((1, 1, 1), v, np.float64)
        elif name[0] in "WUVBC" and name not in ("b",):
            out[name] = np.full((1, 1), v, np.float64)
        else:
            out[name] = np.full(1, v, np.float64)
    return out


def ys(out):
    return out[0][0, :, 0]


# ---- hand-computed one-unit, two-step values ----


def test_rglru_by_hand():
    # r = σ(0) = 1/2, i = σ(ln 3) = 3/4, a = σ(0)^{8·1/2} = 1/16, √(1 − a²) = √255/16; x = 2, 4.
    p = one(W_a=0, b_a=0, W_x=0, b_x=LN3, Lambda=0)
    root = math.sqrt(255) / 16
    # reset (recurrentgemma at segment start): h1 = i·x1 = 3/2; h2 = h1/16 + √255/16 · 3/4 · 4.
    np.testing.assert_allclose(ys(R.rglru(seq(2, 4), None, p)), [1.5, 1.5 / 16 + 3 * root])
    # The paper's equation at t = 1 too: h1 = √255/16 · 3/2.
    h1 = root * 1.5
    np.testing.assert_allclose(
        ys(R.rglru(seq(2, 4), None, p, reset=False)), [h1, h1 / 16 + 3 * root]
    )
    # (−1, 1): a ↦ 2/16 − 1 = −7/8, the multiplier still √255/16: h2 = −7/8 · 3/2 + 3√255/16.
    out = R.rglru(seq(2, 4), None, p, decay_range=(-1, 1))
    np.testing.assert_allclose(ys(out), [1.5, -7 / 8 * 1.5 + 3 * root])
    # c scales the exponent: c = 2 gives a = (1/2)^{2·1/2} = 1/2, √(1 − 1/4) = √3/2.
    out = R.rglru(seq(2, 4), None, p, c=2.0)
    np.testing.assert_allclose(ys(out), [1.5, 0.75 + math.sqrt(3) / 2 * 3])


def test_lru_by_hand():
    # |λ| = exp(−exp(ν_log)) = exp(−ln 2) = 1/2, phase exp(θ_log) = π/2: λ = i/2.
    # γ = 1, B = 1, C = 1 + i, D = 3; u = 2, 4.
    p = one(
        nu_log=math.log(LN2),
        theta_log=math.log(math.pi / 2),
        gamma_log=0,
        B_re=1,
        B_im=0,
        C_re=1,
        C_im=1,
        D=3,
    )
    # s1 = 2, y1 = Re((1 + i)·2) + 3·2 = 8;  s2 = i/2·2 + 4 = 4 + i,
    # y2 = Re((1 + i)(4 + i)) + 3·4 = Re(3 + 5i) + 12 = 15.
    outputs, carry = R.lru(seq(2, 4), None, p)
    np.testing.assert_allclose(outputs[0, :, 0], [8, 15])
    np.testing.assert_allclose(carry["h"][0], [4 + 1j])
    states, _ = R.lru(seq(2, 4), None, p, readout=False)
    np.testing.assert_allclose(states[0, :, 0], [2, 4 + 1j])
    # γ_log = log ½ halves every input term: s2 = i/2·1 + 2 = 2 + i/2.
    p["gamma_log"] = np.full(1, math.log(0.5))
    states, _ = R.lru(seq(2, 4), None, p, readout=False)
    np.testing.assert_allclose(states[0, :, 0], [1, 2 + 0.5j])


def test_hgrn_by_hand():
    # γ = 1/2, σ(0) = 1/2: λ = 1/2 + 1/2·1/2 = 3/4. SiLU(ln 3) = ln 3·3/4, SiLU(0) = 0.
    p = one(W_lambda=0, b_lambda=0, W_c=1, b_c=0)
    # h1 = (1 − 3/4)·3/4·ln 3 = 3/16 ln 3;  h2 = 3/4·h1 = 9/64 ln 3.
    np.testing.assert_allclose(
        ys(R.hgrn(seq(LN3, 0), None, p, gamma=0.5)), [3 / 16 * LN3, 9 / 64 * LN3]
    )
    # γ = 0: λ = 1/2, h1 = 1/2·3/4 ln 3 = 3/8 ln 3, h2 = 3/16 ln 3.
    np.testing.assert_allclose(ys(R.hgrn(seq(LN3, 0), None, p)), [3 / 8 * LN3, 3 / 16 * LN3])
    # Complex, θ = π/2, Re c = SiLU(x), Im c = SiLU(ln 3) = 3/4 ln 3 every step:
    # h1 = 1/4·(3/4 ln 3)(1 + i) = 3/16 ln 3 (1 + i);
    # h2 = 3/4·i·h1 + 1/4·(0 + i·3/4 ln 3) = ln 3 (9/64 (i − 1) + 12/64 i) = ln 3 (−9 + 21i)/64.
    pc = one(W_lambda=0, b_lambda=0, W_cr=1, b_cr=0, W_ci=0, b_ci=LN3, theta=math.pi / 2)
    out = R.hgrn(seq(LN3, 0), None, pc, gamma=0.5, complex_state=True)
    np.testing.assert_allclose(ys(out), [3 / 16 * LN3 * (1 + 1j), LN3 * (-9 + 21j) / 64])


def test_slstm_by_hand():
    # ĩ = ln 2, f̃ = 0 (log f = −ln 2), z̃ = x, õ = 0 (o = 1/2), R = 0 (xLSTM's init); x = ln 3, ln 2.
    p = one(W_i=0, b_i=LN2, W_f=0, b_f=0, W_z=1, b_z=0, W_o=0, b_o=0)
    p |= {f"R_{g}": np.zeros((1, 1, 1)) for g in "ifzo"}
    # Step 1 (n = 0): m1 = ĩ = ln 2, i′ = 1, c1 = tanh(ln 3) = 4/5, n1 = 1, h1 = 2/5.
    # Step 2: m2 = max(ln 2, ln 2 − ln 2) = ln 2, i′ = 1, f′ = exp(−ln 2 + ln 2 − ln 2) = 1/2,
    #   c2 = 2/5 + 3/5 = 1, n2 = 3/2, h2 = 1/2 · 1/(3/2) = 1/3.
    out, carry = R.slstm(seq(LN3, LN2), None, p)
    np.testing.assert_allclose(out[0, :, 0], [0.4, 1 / 3])
    np.testing.assert_allclose([carry[k][0, 0] for k in "cnmh"], [1, 1.5, LN2, 1 / 3])
    # The first step sets m1 = ĩ1 whatever m0 + log f1 is (the code's n = 0 branch): with
    # ĩ = −3, m1 = −3, not max(−3, 0 + log σ(0)) = −ln 2. h1 is 2/5 either way.
    out, carry = R.slstm(seq(LN3), None, p | one(b_i=-3))
    np.testing.assert_allclose([out[0, 0, 0], carry["m"][0, 0]], [0.4, -3])
    # Unstabilised (i = 2, f = 1/2): c1 = 8/5, n1 = 2; c2 = 4/5 + 6/5 = 2, n2 = 3: same h, m = 0.
    out, carry = R.slstm(seq(LN3, LN2), None, p, stabilise=False)
    np.testing.assert_allclose(out[0, :, 0], [0.4, 1 / 3])
    np.testing.assert_allclose([carry[k][0, 0] for k in "cnmh"], [2, 3, 0, 1 / 3])
    # The other branch of the max: ĩ = x, x = ln 3, −ln 2. m1 = ln 3, c1 = 4/5, n1 = 1;
    # m2 = max(−ln 2, ln 3 − ln 2) = ln 1.5, i′ = exp(−ln 2 − ln 1.5) = 1/3, f′ = 1,
    # c2 = 4/5 + 1/3·tanh(−ln 2) = 4/5 − 1/5 = 3/5, n2 = 4/3, h2 = 1/2 · (3/5)/(4/3) = 9/40.
    p["W_i"], p["b_i"] = np.ones((1, 1)), np.zeros(1)
    out, carry = R.slstm(seq(LN3, -LN2), None, p)
    np.testing.assert_allclose(out[0, :, 0], [0.4, 9 / 40])
    np.testing.assert_allclose([carry[k][0, 0] for k in "cnm"], [0.6, 4 / 3, math.log(1.5)])
    # The recurrent kernel: R_o = 5/(2·2/5)·ln 2... simpler, R_o = ln 3/(2/5) makes õ2 = ln 3,
    # o2 = 3/4, so h2 = 3/4 · 9/20 = 27/80 (h1 is unchanged: h0 = 0).
    p["R_o"] = np.full((1, 1, 1), LN3 / 0.4)
    np.testing.assert_allclose(ys(R.slstm(seq(LN3, -LN2), None, p)), [0.4, 27 / 80])
    # Exponential forget gate: log f = f̃ = 0 (f = 1): m2 = max(−ln 2, ln 3) = ln 3,
    # i′ = exp(−ln 2 − ln 3) = 1/6, f′ = 1: c2 = 4/5 − 1/10 = 7/10, n2 = 7/6, h2 = 1/2·3/5 = 3/10.
    p["R_o"] = np.zeros((1, 1, 1))
    np.testing.assert_allclose(ys(R.slstm(seq(LN3, -LN2), None, p, forget="exp")), [0.4, 0.3])


def test_mingru_by_hand():
    # z = σ(0) = 1/2; k_h = x = 1, −ln 3: g(1) = 3/2, g(−ln 3) = σ(−ln 3) = 1/4.
    p = one(W_z=0, b_z=0, W_h=1, b_h=0)
    # h1 = 1/2·3/2 = 3/4, h2 = 3/8 + 1/8 = 1/2.
    np.testing.assert_allclose(ys(R.mingru(seq(1, -LN3), None, p)), [0.75, 0.5])
    # Identity candidate (the paper's §3): h1 = 1/2, h2 = 1/4 − ln 3/2.
    out = R.mingru(seq(1, -LN3), None, p, candidate="identity")
    np.testing.assert_allclose(ys(out), [0.5, 0.25 - LN3 / 2])
    # Learnable h0 = 0 enters as g(0) = 1/2: h1 = 1/4 + 3/4 = 1, h2 = 1/2 + 1/8 = 5/8.
    np.testing.assert_allclose(ys(R.mingru(seq(1, -LN3), None, p | one(h0=0))), [1, 0.625])
    # (−1, 1) with z = σ(ln 3) = 3/4: decay 1 − 2z = −1/2, input 3/4·g:
    # h1 = 3/4·3/2 = 9/8, h2 = −9/16 + 3/4·1/4 = −3/8.
    p["b_z"] = np.full(1, LN3)
    out = R.mingru(seq(1, -LN3), None, p, decay_range=(-1, 1))
    np.testing.assert_allclose(ys(out), [9 / 8, -3 / 8])


def test_minlstm_by_hand():
    # f = σ(ln 3) = 3/4, i = σ(0) = 1/2; normalised f′ = 3/5, i′ = 2/5; g(1) = 3/2, g(−ln 3) = 1/4.
    p = one(W_f=0, b_f=LN3, W_i=0, b_i=0, W_h=1, b_h=0)
    # h1 = 2/5·3/2 = 3/5, h2 = 9/25 + 1/10 = 23/50.
    np.testing.assert_allclose(ys(R.minlstm(seq(1, -LN3), None, p)), [0.6, 23 / 50])
    # Without the normalisation: h1 = 1/2·3/2 = 3/4, h2 = 9/16 + 1/8 = 11/16.
    out = R.minlstm(seq(1, -LN3), None, p, norm=False)
    np.testing.assert_allclose(ys(out), [0.75, 11 / 16])


def test_trnn_by_hand():
    # z = 2x, f = σ(ln 3) = 3/4; x = 1, 2: h1 = 1/4·2 = 1/2, h2 = 3/8 + 1/4·4 = 11/8.
    p = one(W=2, V=0, b=LN3)
    np.testing.assert_allclose(ys(R.trnn(seq(1, 2), None, p)), [0.5, 11 / 8])
    # (−1, 1): decay 2·3/4 − 1 = 1/2, input still 1 − f = 1/4: h2 = 1/4 + 1 = 5/4.
    np.testing.assert_allclose(ys(R.trnn(seq(1, 2), None, p, decay_range=(-1, 1))), [0.5, 1.25])


def test_qrnn_by_hand():
    # fo-pooling, window 2: z̃_t = x_t + x_{t−1} (x_0 = 0), F = σ(0) = 1/2, o = σ(0) = 1/2.
    p = one(W_z=1, Wp_z=1, b_z=0, W_f=0, Wp_f=0, b_f=0, W_o=0, Wp_o=0, b_o=0)
    x = seq(LN3, LN2 - LN3)
    # Forwards: z1 = tanh(ln 3) = 4/5, z2 = tanh(ln 2) = 3/5; c1 = 2/5, c2 = 3/10 + 1/5 = 1/2;
    # h = o·c = 1/5, 1/4.
    out, carry = R.qrnn(x, None, p, window=2)
    np.testing.assert_allclose(out[0, :, 0], [0.2, 0.25])
    np.testing.assert_allclose(carry["c"][0], [0.5])
    # Backwards, "previous" is the later input and zero at the start (t = 2):
    # z(t=2) = tanh(ln 2 − ln 3) = tanh(ln 2/3) = (4/9 − 1)/(4/9 + 1) = −5/13, c = −5/26;
    # z(t=1) = tanh(ln 3 + ln 2 − ln 3) = 3/5, c = −5/52 + 3/10 = 53/260; h = c/2.
    out, carry = R.qrnn(x, None, p, window=2, reverse=True)
    np.testing.assert_allclose(out[0, :, 0], [53 / 520, -5 / 52])
    np.testing.assert_allclose(carry["c"][0], [53 / 260])
    # f-pooling, window 1, code form: F = σ(ln 3) = 3/4 weights the NEW value;
    # x = ln 3, ln 2: c1 = 3/4·4/5 = 3/5, c2 = 3/4·3/5 + 1/4·3/5 = 3/5; h = c.
    pf = one(W_z=1, b_z=0, W_f=0, b_f=LN3)
    np.testing.assert_allclose(ys(R.qrnn(seq(LN3, LN2), None, pf, pooling="f")), [0.6, 0.6])
    # The paper's notation, f weights the old value: c1 = 1/4·4/5 = 1/5, c2 = 3/20 + 3/20 = 3/10.
    out = R.qrnn(seq(LN3, LN2), None, pf, pooling="f", f_weights="old")
    np.testing.assert_allclose(ys(out), [0.2, 0.3])
    # ifo: c = f c + i z with f = σ(0) = 1/2, i = σ(ln 3) = 3/4, o = 1/2:
    # c1 = 3/5, c2 = 3/10 + 9/20 = 3/4; h = 3/10, 3/8.
    pi = one(W_z=1, b_z=0, W_f=0, b_f=0, W_o=0, b_o=0, W_i=0, b_i=LN3)
    np.testing.assert_allclose(ys(R.qrnn(seq(LN3, LN2), None, pi, pooling="ifo")), [0.3, 0.375])


def test_sru_by_hand():
    # W = 2, f = σ(ln 3 · c_{t−1}), r = σ(−ln 3 · c_{t−1}), α = √3; x = 1, 1.
    p = one(W=2, W_f=0, v_f=LN3, b_f=0, W_r=0, v_r=-LN3, b_r=0)
    # t1 (c0 = 0): f = r = 1/2, c1 = 1, h1 = 1/2 + √3/2.
    # t2: f = 3/4, c2 = 3/4 + 1/2 = 5/4; r reads c1 = 1 (not c2): r = 1/4,
    #   h2 = 1/4·5/4 + 3/4·√3.
    s3 = math.sqrt(3)
    np.testing.assert_allclose(ys(R.sru(seq(1, 1), None, p)), [0.5 + s3 / 2, 5 / 16 + 0.75 * s3])
    # tanh on c: h1 = tanh(1)/2 + √3/2.
    out = R.sru(seq(1, 1), None, p, use_tanh=True)
    np.testing.assert_allclose(ys(out)[0], math.tanh(1) / 2 + s3 / 2)
    # v1 (no peepholes): f = r = 1/2 always: c2 = 1/2 + 1 = 3/2, h2 = 3/4 + √3/2.
    p1 = {k: v for k, v in p.items() if k not in ("v_f", "v_r")}
    np.testing.assert_allclose(ys(R.sru(seq(1, 1), None, p1, v1=True))[1], 0.75 + s3 / 2)


def test_fastgrnn_and_fastrnn_by_hand():
    # FastGRNN: W = U = 1, b = 0, σ(ζ) = 1/2, σ(ν) = σ(−ln 3) = 1/4; x = ln 3, ln 2 − 3/10.
    # t1: pre = ln 3, z = 3/4, h̃ = 4/5, h1 = (1/2·1/4 + 1/4)·4/5 = 3/10.
    # t2: pre = ln 2 − 3/10 + 3/10 = ln 2, z = 2/3, h̃ = 3/5,
    #   h2 = 2/3·3/10 + (1/2·1/3 + 1/4)·3/5 = 1/5 + 1/4 = 9/20.
    p = one(W=1, U=1, b_g=0, b_h=0, zeta=0, nu=-LN3)
    np.testing.assert_allclose(ys(R.fastgrnn(seq(LN3, LN2 - 0.3), None, p)), [0.3, 0.45])
    # FastRNN: σ(α) = 3/4, σ(β) = 1/2; x = ln 3, ln 2 − 3/5:
    # h1 = 3/4·4/5 = 3/5; h̃2 = tanh(ln 2) = 3/5, h2 = 3/10 + 9/20 = 3/4.
    p = one(W=1, U=1, b=0, alpha=LN3, beta=0)
    np.testing.assert_allclose(ys(R.fastrnn(seq(LN3, LN2 - 0.6), None, p)), [0.6, 0.75])


def test_janet_by_hand():
    # s = 1 (b_f = 1, no weights), β = 1: σ(s) = e/(1 + e), 1 − σ(s − β) = 1/2; x = ln 3, ln 2.
    # c1 = 1/2·4/5 = 2/5, c2 = σ(1)·2/5 + 1/2·3/5.
    p = one(W_f=0, U_f=0, b_f=1, W_c=1, U_c=0, b_c=0)
    s1 = math.e / (1 + math.e)
    out, carry = R.janet(seq(LN3, LN2), None, p)
    np.testing.assert_allclose(out[0, :, 0], [0.4, s1 * 0.4 + 0.3])
    np.testing.assert_allclose(carry["c"], carry["h"])
    # β = 0 is the plain coupling i = 1 − f: c1 = (1 − σ(1))·4/5.
    out = R.janet(seq(LN3, LN2), None, p, beta=0.0)
    np.testing.assert_allclose(ys(out)[0], (1 - s1) * 0.8)


def test_ugrnn_by_hand():
    # g = σ(0 + forget_bias ln 3) = 3/4; c = tanh(x + h); x = ln 3, ln 2 − 1/5.
    # h1 = 1/4·4/5 = 1/5; c2 = tanh(ln 2) = 3/5, h2 = 3/4·1/5 + 1/4·3/5 = 3/10.
    p = one(W_g=0, U_g=0, b_g=0, W_c=1, U_c=1, b_c=0)
    out = R.ugrnn(seq(LN3, LN2 - 0.2), None, p, forget_bias=LN3)
    np.testing.assert_allclose(ys(out), [0.2, 0.3])
    # The constant is the bias: b_g = ln 3 with no constant is the same cell.
    p["b_g"] = np.full(1, LN3)
    np.testing.assert_allclose(ys(R.ugrnn(seq(LN3, LN2 - 0.2), None, p)), [0.2, 0.3])


def test_ran_by_hand():
    # c̃ = 2x, i = σ(0) = 1/2, f = σ(h_{t−1}); x = ln 3, 1.
    p = one(W_c=2, W_i=0, U_i=0, b_i=0, W_f=0, U_f=1, b_f=0)
    # Identity output: c1 = 1/2·2 ln 3 = ln 3 = h1; f2 = σ(ln 3) = 3/4: c2 = 1 + 3/4 ln 3.
    out = R.ran(seq(LN3, 1), None, p, output="identity")
    np.testing.assert_allclose(ys(out), [LN3, 1 + 0.75 * LN3])
    # tanh output: h1 = tanh(ln 3) = 4/5, so f2 = σ(4/5): c2 = 1 + σ(4/5) ln 3, h2 = tanh(c2).
    out, carry = R.ran(seq(LN3, 1), None, p)
    c2 = 1 + LN3 / (1 + math.exp(-0.8))
    np.testing.assert_allclose(out[0, :, 0], [0.8, math.tanh(c2)])
    np.testing.assert_allclose(carry["c"][0], [c2])


def test_cfn_by_hand():
    # θ = σ(ln 3) = 3/4, η = σ(0) = 1/2, W = 1; x = ln 3, ln 2:
    # h1 = 3/4·tanh(0) + 1/2·4/5 = 2/5, h2 = 3/4·tanh(2/5) + 1/2·3/5.
    p = one(W=1, W_theta=0, U_theta=0, b_theta=LN3, W_eta=0, U_eta=0, b_eta=0)
    np.testing.assert_allclose(
        ys(R.cfn(seq(LN3, LN2), None, p)), [0.4, 0.75 * math.tanh(0.4) + 0.3]
    )


# ---- parameters: shapes, formulas, and that each cell reads exactly its shapes ----

KNOBS = {
    "rglru": [{}, {"heads": 2}],
    "lru": [{}],
    "hgrn": [{}, {"complex_state": True}],
    "slstm": [{}, {"heads": 2}],
    "mingru": [{}, {"h0": True}],
    "minlstm": [{}, {"h0": True}],
    "trnn": [{}],
    "qrnn": [
        {"pooling": pooling, "window": window}
        for pooling in ("f", "fo", "ifo")
        for window in (1, 2)
    ],
    "sru": [{}, {"v1": True}],
    "fastgrnn": [{}],
    "fastrnn": [{}],
    "janet": [{}],
    "ugrnn": [{}],
    "ran": [{}],
    "cfn": [{}],
}
# Knobs that are shape-only (the cell infers them from the parameters).
SHAPE_ONLY = {"heads", "h0"}


def cases():
    return [
        pytest.param(name, knobs, m, n, id=f"{name}-{knobs}-{m}x{n}")
        for name, knob_list in KNOBS.items()
        for knobs in knob_list
        for m, n in ((4, 4), (3, 4))
        if name != "rglru" or m == n
    ]


def test_every_cell_has_knobs():
    assert set(KNOBS) == set(R.CELLS)


@pytest.mark.parametrize(("name", "knobs", "m", "n"), cases())
def test_count_formula_matches_shapes_and_cell_reads_exactly_them(name, knobs, m, n):
    cell, shapes_fn, count_fn = R.CELLS[name]
    shapes = shapes_fn(m, n, **knobs)
    assert sum(math.prod(s) for s in shapes.values()) == count_fn(m, n, **knobs)
    rng = np.random.default_rng(0)
    p = Params(R.random_params(shapes, rng))
    run_knobs = {k: v for k, v in knobs.items() if k not in SHAPE_ONLY}
    out, _ = cell(rng.standard_normal((2, 3, m)), [3, 2], p, **run_knobs)
    assert p.read == set(shapes), "the cell's equations and its shapes disagree on names"
    assert np.isfinite(out).all()


def test_counts_by_formula_for_named_sizes():
    """A few counts spelled out, so a slip in a formula and the shapes together still shows."""
    assert R.rglru_count(8, 8, heads=2) == 2 * 2 * 4 * 4 + 3 * 8  # two [2, 4, 4] + b_a, b_x, Λ
    assert R.slstm_count(2, 4, heads=2) == 4 * (2 * 4) + 4 * (2 * 2 * 2) + 4 * 4
    assert R.qrnn_count(3, 5, pooling="fo", window=2) == 3 * (2 * 3 * 5 + 5)
    assert R.sru_count(3, 5) == 4 * 15 + 4 * 5 and R.sru_count(5, 5) == 3 * 25 + 4 * 5
    assert R.fastgrnn_count(3, 5) == 15 + 25 + 10 + 2


# ---- lengths and reverse: the padded batch equals each sequence run alone ----


def ragged_cases():
    """One (m, n) per case: m ≠ n except for RG-LRU."""
    return [c for c in cases() if c.values[2] != c.values[3] or c.values[0] == "rglru"]


@pytest.mark.parametrize(("name", "knobs", "m", "n"), ragged_cases())
@pytest.mark.parametrize("reverse", [False, True])
def test_ragged_batch_equals_each_sequence_alone(name, knobs, m, n, reverse):
    cell, shapes_fn, _ = R.CELLS[name]
    rng = np.random.default_rng(1)
    p = R.random_params(shapes_fn(m, n, **knobs), rng)
    run_knobs = {k: v for k, v in knobs.items() if k not in SHAPE_ONLY}
    x = rng.standard_normal((3, 6, m))
    lengths = [6, 4, 0]
    out, carry = cell(x, lengths, p, reverse=reverse, **run_knobs)
    for b, length in enumerate(lengths):
        alone = x[b : b + 1, :length]
        if reverse:  # a reversed run is the forward run of the flipped sequence, flipped back
            out_b, carry_b = cell(alone[:, ::-1], None, p, **run_knobs)
            out_b = out_b[:, ::-1]
        else:
            out_b, carry_b = cell(alone, None, p, **run_knobs)
        np.testing.assert_allclose(out[b, :length], out_b[0], rtol=1e-12, atol=1e-12)
        assert np.all(out[b, length:] == 0)
        for k in carry:
            np.testing.assert_allclose(carry[k][b], carry_b[k][0], rtol=1e-12, atol=1e-12)


def test_empty_sequence_keeps_the_initial_carry():
    p = R.random_params(R.mingru_shapes(2, 3, h0=True), np.random.default_rng(2))
    _, carry = R.mingru(np.ones((1, 4, 2)), [0], p)
    np.testing.assert_allclose(carry["h"][0], R.g(p["h0"]))


# ---- invariants the papers state ----


def test_lru_state_bounded_since_abs_lambda_below_one():
    rng = np.random.default_rng(3)
    m, n = 3, 5
    p = R.lru_ring_init(m, n, rng, r_min=0.5, r_max=0.99)
    lam = np.abs(np.exp(-np.exp(p["nu_log"]) + 1j * np.exp(p["theta_log"])))
    assert np.all(lam < 1)
    u = rng.uniform(-1, 1, (1, 400, m))
    states, _ = R.lru(u, None, p, readout=False)
    # |s_t| ≤ Σ_k |λ|^k · γ ‖B‖₁ max|u| = γ ‖B‖₁ / (1 − |λ|).
    b_l1 = np.abs(p["B_re"] + 1j * p["B_im"]).sum(0)
    bound = np.exp(p["gamma_log"]) * b_l1 / (1 - lam)
    assert np.all(np.abs(states[0]) <= bound + 1e-12)
    # The ring init: |λ|² in [r_min², r_max²], γ = √(1 − |λ|²).
    assert np.all((lam**2 >= 0.25 - 1e-12) & (lam**2 <= 0.99**2 + 1e-12))
    np.testing.assert_allclose(np.exp(p["gamma_log"]), np.sqrt(1 - lam**2))


def test_rglru_fixed_point_and_bound():
    """|a_t| < 1, so with a constant gate and input h converges to √(1−a²)·i·x/(1−a) and, for any
    bounded input, |h_t| ≤ max|i x| / (1 − max a)."""
    n = 2
    lam = np.array([1.0, 2.0])
    p = {
        "W_a": np.zeros((1, n, n)),
        "b_a": np.zeros(n),
        "W_x": np.zeros((1, n, n)),
        "b_x": np.full(n, LN3),
        "Lambda": lam,
    }
    a = (1 / (1 + np.exp(-lam))) ** (8 * 0.5)
    x = np.full((1, 300, n), 2.0)
    out, _ = R.rglru(x, None, p)
    np.testing.assert_allclose(out[0, -1], np.sqrt(1 - a**2) * 0.75 * 2 / (1 - a), rtol=1e-9)
    rng = np.random.default_rng(4)
    p = R.random_params(R.rglru_shapes(4, 4, heads=2), rng, scale=1.0)
    x = rng.uniform(-1, 1, (1, 300, 4))
    out, _ = R.rglru(x, None, p)
    # The decay of the data: a_t = exp(−8 r_t softplus(−Λ)) ∈ (0, 1) since r_t > 0.
    r = 1 / (1 + np.exp(-(np.stack([R.headwise(v, p["W_a"]) for v in x[0]]) + p["b_a"])))
    a = np.exp(-8 * r * R.softplus(-p["Lambda"]))
    assert np.all((a > 0) & (a < 1))
    assert np.all(np.abs(out[0]) <= 1 / (1 - a.max(0)) + 1e-12)


def test_rglru_init_is_area_uniform_on_the_ring():
    lam = R.rglru_init_lambda(1000, np.random.default_rng(5))
    a = 1 / (1 + np.exp(-lam))
    assert np.all((a**2 >= 0.81 - 1e-12) & (a**2 <= 0.999**2 + 1e-12))


def test_hgrn_forgets_no_faster_than_its_lower_bound():
    """λ_t ≥ γ: after an impulse, with zero candidates, |h_t| ≥ γ^{t−1} |h_1| and ≤ |h_1|;
    at a gate pre-activation of −50 the decay is exactly γ."""
    gamma = 0.6
    rng = np.random.default_rng(6)
    p = {
        "W_lambda": np.array([[0.0], [3.0]]),  # the gate reads feature 2
        "b_lambda": np.array([-1.0]),
        "W_c": np.array([[1.0], [0.0]]),  # the candidate reads feature 1 only
        "b_c": np.zeros(1),
    }
    x = np.zeros((1, 20, 2))
    x[0, 0, 0] = 2.0
    x[0, :, 1] = rng.standard_normal(20)
    out, _ = R.hgrn(x, None, p, gamma=gamma)
    h = np.abs(out[0, :, 0])
    assert np.all(h >= gamma ** np.arange(20) * h[0] - 1e-15)
    assert np.all(h <= h[0])
    assert np.all(np.diff(h) <= 0) and np.any(h[1:] > gamma ** np.arange(1, 20) * h[0] * 1.01)
    p["b_lambda"] = np.array([-50.0])
    p["W_lambda"] = np.zeros((2, 1))
    out, _ = R.hgrn(x, None, p, gamma=gamma)
    np.testing.assert_allclose(out[0, 1:, 0], gamma * out[0, :-1, 0], rtol=1e-12)


def test_hgrn_lower_bounds_per_layer():
    L, n = 4, 3
    for form in ("fla", "sum_below"):
        gam = R.hgrn_lower_bounds(np.zeros((L, n)), form)
        np.testing.assert_allclose(gam, np.tile(np.arange(L)[:, None] / L, (1, n)))
    Gamma = np.random.default_rng(7).standard_normal((L, n))
    fla = R.hgrn_lower_bounds(Gamma, "fla")
    below = R.hgrn_lower_bounds(Gamma, "sum_below")
    for gam in (fla, below):
        assert np.all(gam[0] == 0) and np.all(np.diff(gam, axis=0) > 0) and np.all(gam < 1)
    assert not np.allclose(fla, below), "the two readings of MV §2.4 do differ"


def test_mingru_and_minlstm_log_space_equal_the_direct_form():
    rng = np.random.default_rng(8)
    m, n = 3, 4
    x = 2 * rng.standard_normal((3, 7, m))
    lengths = [7, 3, 0]
    for h0 in (False, True):
        for reverse in (False, True):
            p = R.random_params(R.mingru_shapes(m, n, h0=h0), rng, scale=1.0)
            direct = R.mingru(x, lengths, p, reverse=reverse)
            logged = R.mingru_log(x, lengths, p, reverse=reverse)
            np.testing.assert_allclose(logged[0], direct[0], rtol=1e-10, atol=1e-14)
            np.testing.assert_allclose(logged[1]["h"], direct[1]["h"], rtol=1e-10)
            p = R.random_params(R.minlstm_shapes(m, n, h0=h0), rng, scale=1.0)
            for norm in (True, False):
                direct = R.minlstm(x, lengths, p, norm=norm, reverse=reverse)
                logged = R.minlstm_log(x, lengths, p, norm=norm, reverse=reverse)
                np.testing.assert_allclose(logged[0], direct[0], rtol=1e-10, atol=1e-14)
                np.testing.assert_allclose(logged[1]["h"], direct[1]["h"], rtol=1e-10)


def test_g_is_positive_continuous_and_its_log_matches():
    a = np.linspace(-30, 30, 601)
    assert np.all(R.g(a) > 0)
    np.testing.assert_allclose(R.log_g(a), np.log(R.g(a)), rtol=1e-12)
    assert R.g(np.array(0.0)) == 0.5 == R.sigmoid(0.0)  # both branches meet at ½
    assert R.g(np.array(-1e-12)) == pytest.approx(0.5)


def test_minlstm_normalised_coefficients_make_a_convex_combination():
    """f′ + i′ = 1: started at v with candidate v every step, h stays at v (identity form)."""
    rng = np.random.default_rng(9)
    v = np.array([0.3, -1.2])
    p = R.random_params(R.minlstm_shapes(3, 2), rng, scale=2.0)
    p["W_h"], p["b_h"], p["h0"] = np.zeros((3, 2)), v, v
    out, _ = R.minlstm(rng.standard_normal((2, 5, 3)), None, p, candidate="identity")
    np.testing.assert_allclose(out, np.broadcast_to(v, out.shape), rtol=1e-12)
    out, _ = R.minlstm(rng.standard_normal((2, 5, 3)), None, p, candidate="identity", norm=False)
    assert not np.allclose(out, np.broadcast_to(v, out.shape))


def test_slstm_stabiliser_changes_no_output_and_prevents_overflow():
    rng = np.random.default_rng(10)
    m, n = 3, 4
    p = R.random_params(R.slstm_shapes(m, n, heads=2), rng, scale=1.0)
    x = rng.standard_normal((2, 8, m))
    for forget in ("sigmoid", "exp"):
        stable, carry = R.slstm(x, [8, 5], p, forget=forget)
        plain, plain_carry = R.slstm(x, [8, 5], p, forget=forget, stabilise=False)
        np.testing.assert_allclose(stable, plain, rtol=1e-10, atol=1e-13)
        # c and n are rescaled by exp(−m) alike.
        scale = np.exp(-carry["m"])
        np.testing.assert_allclose(carry["c"], plain_carry["c"] * scale, rtol=1e-9)
        np.testing.assert_allclose(carry["n"], plain_carry["n"] * scale, rtol=1e-9)
        # h = o · (a convex combination of tanh values), so |h| < 1.
        assert np.all(np.abs(stable) < 1)
    p["b_i"] = np.full(n, 800.0)  # exp(800) overflows float64
    stable, _ = R.slstm(x, None, p)
    with np.errstate(over="ignore", invalid="ignore"):
        plain, _ = R.slstm(x, None, p, stabilise=False)
    assert np.isfinite(stable).all() and not np.isfinite(plain).all()


def test_slstm_heads_are_block_diagonal_recurrent_kernels():
    rng = np.random.default_rng(11)
    p = R.random_params(R.slstm_shapes(3, 4, heads=2), rng, scale=1.0)
    dense = p | {f"R_{g}": R.block_diag(p[f"R_{g}"])[None] for g in R.SLSTM_GATES}
    x = rng.standard_normal((2, 5, 3))
    np.testing.assert_allclose(R.slstm(x, None, p)[0], R.slstm(x, None, dense)[0], rtol=1e-12)
    # Head k reads only its units: a change in head 0's units never reaches head 1's gates at
    # the next step when R is block-diagonal and W reads nothing.
    v = np.arange(4.0)
    out = R.headwise(v, p["R_i"])
    np.testing.assert_allclose(out[2:], v[2:] @ p["R_i"][1])


def test_slstm_powerlaw_forget_bias():
    b = R.slstm_powerlaw_forget_bias(16, block_idx=0, num_blocks=2)
    assert b[0] == 5.0 and b[-1] == pytest.approx(-7.0) and np.all(np.diff(b) < 0)
    deeper = R.slstm_powerlaw_forget_bias(16, block_idx=1, num_blocks=2)
    assert np.all(deeper[1:-1] > b[1:-1])  # exponent 1.6 > 0.3: b stays high for longer


def test_chrono_bias_range():
    b = R.chrono_bias(1000, 784, np.random.default_rng(12))
    assert np.all((b >= 0) & (b <= math.log(784)))


# ---- equivalences MODERN_VARIANTS.md §0 states ----


def test_trnn_is_mingru_identity_with_the_gate_flipped():
    rng = np.random.default_rng(13)
    p = R.random_params(R.trnn_shapes(3, 4), rng, scale=1.0)
    q = {"W_z": -p["V"], "b_z": -p["b"], "W_h": p["W"], "b_h": np.zeros(4)}
    x = rng.standard_normal((2, 6, 3))
    for decay_range in R.RANGES:
        a = R.trnn(x, [6, 2], p, decay_range=decay_range)[0]
        b = R.mingru(x, [6, 2], q, candidate="identity", decay_range=decay_range)[0]
        np.testing.assert_allclose(a, b, rtol=1e-12)


def test_identity_forms_equal_the_zoo_references():
    rng = np.random.default_rng(14)
    x = rng.standard_normal((2, 5, 3))
    p = R.random_params(R.mingru_shapes(3, 4), rng, scale=1.0)
    ours = R.mingru(x, [5, 2], p, candidate="identity")[0]
    np.testing.assert_allclose(ours, reference_zoo.run("mingru", p, x, [5, 2])[0], rtol=1e-12)
    p = R.random_params(R.minlstm_shapes(3, 4), rng, scale=1.0)
    zoo = {"W_c" if k == "W_h" else "b_c" if k == "b_h" else k: v for k, v in p.items()}
    ours = R.minlstm(x, [5, 2], p, candidate="identity")[0]
    np.testing.assert_allclose(ours, reference_zoo.run("minlstm", zoo, x, [5, 2])[0], rtol=1e-12)


def test_qrnn_parameterisations_and_window():
    rng = np.random.default_rng(15)
    x = rng.standard_normal((2, 6, 3))
    p = R.random_params(R.qrnn_shapes(3, 4, pooling="fo", window=2), rng, scale=1.0)
    # f ↔ 1 − f: the code's F on the new value is the paper's f on the old with f̃ negated.
    flipped = p | {k: -p[k] for k in ("W_f", "Wp_f", "b_f")}
    a = R.qrnn(x, [6, 3], p, window=2)[0]
    b = R.qrnn(x, [6, 3], flipped, window=2, f_weights="old")[0]
    np.testing.assert_allclose(a, b, rtol=1e-12)
    # W′ = 0 is window 1; W′ ≠ 0 is not.
    zero = p | {k: np.zeros_like(p[k]) for k in p if k.startswith("Wp_")}
    one_tap = {k: v for k, v in p.items() if not k.startswith("Wp_")}
    np.testing.assert_allclose(R.qrnn(x, None, zero, window=2)[0], R.qrnn(x, None, one_tap)[0])
    assert not np.allclose(R.qrnn(x, None, p, window=2)[0], R.qrnn(x, None, one_tap)[0])


def test_sru_v1_is_v2_with_zero_peepholes_and_highway_needs_w_hw_when_m_ne_n():
    rng = np.random.default_rng(16)
    p = R.random_params(R.sru_shapes(3, 3), rng, scale=1.0)
    x = rng.standard_normal((2, 5, 3))
    v1 = {k: v for k, v in p.items() if k not in ("v_f", "v_r")}
    zeroed = p | {"v_f": np.zeros(3), "v_r": np.zeros(3)}
    np.testing.assert_allclose(R.sru(x, None, v1, v1=True)[0], R.sru(x, None, zeroed)[0])
    pw = R.random_params(R.sru_shapes(2, 3), rng)
    del pw["W_hw"]
    with pytest.raises(KeyError):
        R.sru(rng.standard_normal((1, 2, 2)), None, pw)


# ---- the (−1, 1) decay range (Grazzi et al. 2025) ----


def _impulse(t=6):
    x = np.zeros((1, t, 1))
    x[0, 0, 0] = 1.0
    return x


SIGN_FLIP = {
    # cell, one-unit params whose decay pre-activation is very negative, knobs
    "trnn": (R.trnn, one(W=1, V=0, b=-40), {}),
    "mingru": (R.mingru, one(W_z=0, b_z=40, W_h=1, b_h=0), {"candidate": "identity"}),
    "minlstm": (
        R.minlstm,
        one(W_f=0, b_f=-40, W_i=0, b_i=0, W_h=1, b_h=0),
        {"candidate": "identity"},
    ),
    "hgrn": (R.hgrn, one(W_lambda=0, b_lambda=-40, W_c=1, b_c=0), {}),
    "qrnn": (R.qrnn, one(W_z=1, b_z=0, W_f=0, b_f=40), {"pooling": "f"}),
    "rglru": (R.rglru, one(W_a=0, b_a=0, W_x=0, b_x=40, Lambda=-80), {}),
}


@pytest.mark.parametrize("name", sorted(SIGN_FLIP))
def test_signed_range_flips_the_state_each_step(name):
    """Decay ≈ 0 in (0, 1) becomes ≈ −1 in (−1, 1): after an impulse the state alternates sign
    with |h| ≈ |h_1|, where the (0, 1) cell forgets it at once."""
    cell, p, knobs = SIGN_FLIP[name]
    h = ys(cell(_impulse(), None, p, decay_range=(-1, 1), **knobs))
    if name == "hgrn":  # SiLU(1) is the candidate
        h = h / R.silu(1.0)
    elif name == "qrnn":  # tanh(1)
        h = h / math.tanh(1.0)
    np.testing.assert_allclose(h, [1, -1, 1, -1, 1, -1], atol=1e-9)
    h = ys(cell(_impulse(), None, p, **knobs))
    np.testing.assert_allclose(h[1:], 0, atol=1e-9)


def test_bad_decay_range_is_refused():
    with pytest.raises(ValueError, match="decay_range"):
        R.trnn(seq(1.0), None, one(W=1, V=0, b=0), decay_range=(-1, 2))
