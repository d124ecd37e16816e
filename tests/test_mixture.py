"""The mixture-of-Gaussians head (Chung et al. 2014's speech output): its NLL against a float64
SciPy reference, stability at the extremes, the linen and NNX heads, and the density loss."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx
from scipy.special import logsumexp, softmax
from scipy.stats import norm

import gruvar
import gruvar.nnx
from gruvar.core import mixture
from gruvar.training import steps

K, D = 20, 10


def reference_nll(raw, y, lo=mixture.MIN_SCALE, hi=mixture.MAX_SCALE):
    """-log Σ_k π_k Π_d N(y_d; μ_kd, σ_kd²) in float64, written out from the module docstring."""
    raw, y = np.asarray(raw, np.float64), np.asarray(y, np.float64)
    k = raw.shape[-1] // (1 + 2 * y.shape[-1])
    d = y.shape[-1]
    logits = raw[..., :k]
    mu = raw[..., k : k + k * d].reshape(*raw.shape[:-1], k, d)
    pre = raw[..., k + k * d :].reshape(*raw.shape[:-1], k, d)
    sigma = np.exp(np.log(lo) + (np.log(hi) - np.log(lo)) / (1 + np.exp(-pre)))
    log_pi = np.log(softmax(logits, axis=-1))
    per = norm.logpdf(y[..., None, :], mu, sigma).sum(-1)
    return -logsumexp(log_pi + per, axis=-1)


def test_nll_matches_the_float64_reference():
    rng = np.random.default_rng(0)
    raw = rng.standard_normal((4, 7, mixture.num_params(K, D))).astype(np.float32)
    y = rng.standard_normal((4, 7, D)).astype(np.float32)
    got = np.asarray(mixture.nll(jnp.asarray(raw), jnp.asarray(y)))
    assert got.shape == (4, 7)
    np.testing.assert_allclose(got, reference_nll(raw, y), rtol=1e-5, atol=1e-4)


def test_one_component_is_a_diagonal_gaussian():
    mu, pre = np.array([0.5, -1.0]), np.array([0.0, 2.0])
    raw = jnp.asarray(np.concatenate([[3.0], mu, pre]), jnp.float32)
    y = jnp.asarray([0.1, 0.2], jnp.float32)
    _, _, log_sigma = mixture.unpack(raw, 2)
    expected = -norm.logpdf([0.1, 0.2], mu, np.exp(np.asarray(log_sigma))).sum()
    assert float(mixture.nll(raw, y)) == pytest.approx(expected, rel=1e-5)
    assert float(jnp.exp(log_sigma[0, 0])) == pytest.approx(1.0), "σ = 1 at zero pre-activation"


def test_silence_and_extreme_outputs_stay_finite_with_finite_gradients():
    y = jnp.zeros((3, D))  # digital silence
    raw = jnp.zeros((3, mixture.num_params(K, D)))
    raw = raw.at[0, K + K * D :].set(-1e4)  # scales pushed to the floor
    raw = raw.at[1, :K].set(jnp.arange(K) * 1e4)  # one component owns everything
    raw = raw.at[2, K : K + K * D].set(1e4)  # means far away from the data
    nll = mixture.nll(raw, y)
    assert bool(jnp.all(jnp.isfinite(nll)))
    floor = D * (np.log(mixture.MIN_SCALE) + 0.5 * np.log(2 * np.pi))
    assert float(nll[0]) == pytest.approx(floor, rel=1e-5), "bounded below by σ_min"
    grads = jax.grad(lambda r: mixture.nll(r, y).sum())(raw)
    assert bool(jnp.all(jnp.isfinite(grads)))


def test_a_raw_width_that_is_no_mixture_is_refused():
    with pytest.raises(ValueError, match=r"needs K\(1 \+ 2·10\) raw outputs; got 22"):
        mixture.unpack(jnp.zeros(22), D)


def test_linen_and_nnx_heads_share_parameters_and_outputs():
    x = np.random.default_rng(1).standard_normal((2, 5, 20)).astype(np.float32)
    rnn = gruvar.RNN("gru", 8)
    linen = gruvar.MixturePredictor(rnn, D)
    variables = linen.init(jax.random.key(0), x)
    head = variables["params"]["head"]["dense"]
    assert head["kernel"].shape == (8, 420), "20 components x (1 weight + 10 means + 10 scales)"
    model = gruvar.nnx.MixturePredictor(
        gruvar.nnx.RNN("gru", 20, 8, rngs=nnx.Rngs(1)), D, rngs=nnx.Rngs(2)
    )
    gruvar.nnx.from_linen(model, variables)
    np.testing.assert_allclose(model(x), linen.apply(variables, x), rtol=1e-5, atol=1e-5)
    alone = gruvar.MixtureDensityHead(components=3, dims=2)
    assert alone.init_with_output(jax.random.key(0), np.zeros((4, 8)))[0].shape == (4, 15)


def test_the_density_loss_is_the_nll_per_value_and_masks_padding():
    rng = np.random.default_rng(2)
    raw = rng.standard_normal((3, 4, mixture.num_params(2, 5))).astype(np.float32)
    y = rng.standard_normal((3, 4, 5)).astype(np.float32)
    batch = {
        "y": jnp.asarray(y),
        "lengths": jnp.asarray([4, 2, 3]),
        "weights": jnp.asarray([1.0, 1.0, 0.0]),  # the last row is padding
    }
    loss, sums = steps.loss_and_sums("density", jnp.asarray(raw), batch)
    ref = reference_nll(raw, y)
    total = ref[0].sum() + ref[1, :2].sum()
    assert float(sums["frames"]) == 6 and float(sums["values"]) == 30
    assert float(sums["nll"]) == pytest.approx(total, rel=1e-5)
    assert float(loss) == pytest.approx(total / 30, rel=1e-5)
    metrics = steps.metrics_from_sums("density", {k: float(v) for k, v in sums.items()})
    assert metrics["nll"] == pytest.approx(total / 30, rel=1e-5)
    assert metrics["nll_step"] == pytest.approx(total / 6, rel=1e-5)
    assert set(steps.zero_window("density")) >= set(sums)
