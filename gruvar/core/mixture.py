"""A mixture of K Gaussians with diagonal covariance over D real values, read from one
unconstrained output vector (Chung et al. 2014's speech output: K = 20 components over the
D = 10 samples a step predicts; the paper names the mixture, not its covariance, and diagonal
is the usual reading):

    p(y) = Σ_k π_k Π_d N(y_d; μ_kd, σ_kd²)
    raw [..., K + 2KD] = (a [K], μ [K, D], s [K, D]);  π = softmax(a)
    log σ = log σ_min + (log σ_max - log σ_min) · sigmoid(s)

The scales are bounded on both sides by construction, so a target that is exactly constant
(digital silence) cannot drive σ to 0 and the density to infinity: the NLL per value is at
least log σ_min + ½ log 2π. log p(y) is a log-sum-exp over components of log-domain terms, so
it is finite wherever the inputs are. Bounds are in the units of y (σ in [1e-3, 1e3] by
default; at s = 0, σ = 1, right for a target scaled to unit variance).
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

Array = jax.Array
MIN_SCALE, MAX_SCALE = 1e-3, 1e3
LOG_SQRT_2PI = 0.5 * math.log(2 * math.pi)


def num_params(components: int, dims: int) -> int:
    """Width of the raw vector: K mixture logits, K·D means, K·D scale pre-activations."""
    return components * (1 + 2 * dims)


def unpack(
    raw: Array, dims: int, min_scale: float = MIN_SCALE, max_scale: float = MAX_SCALE
) -> tuple[Array, Array, Array]:
    """(log π [..., K], μ [..., K, D], log σ [..., K, D]) from raw [..., K(1 + 2D)]."""
    width = raw.shape[-1]
    if width % (1 + 2 * dims):
        raise ValueError(
            f"A mixture over {dims} values needs K(1 + 2·{dims}) raw outputs; got {width}."
        )
    k = width // (1 + 2 * dims)
    lead = raw.shape[:-1]
    logits = raw[..., :k]
    means = raw[..., k : k + k * dims].reshape(*lead, k, dims)
    pre = raw[..., k + k * dims :].reshape(*lead, k, dims)
    lo, hi = math.log(min_scale), math.log(max_scale)
    return jax.nn.log_softmax(logits, axis=-1), means, lo + (hi - lo) * jax.nn.sigmoid(pre)


def log_prob(
    raw: Array, y: Array, min_scale: float = MIN_SCALE, max_scale: float = MAX_SCALE
) -> Array:
    """log p(y) [...] of targets y [..., D] under the mixture ``raw`` [..., K(1 + 2D)]."""
    log_w, means, log_scales = unpack(raw, y.shape[-1], min_scale, max_scale)
    z = (y[..., None, :] - means) * jnp.exp(-log_scales)
    per_component = -0.5 * jnp.square(z) - log_scales - LOG_SQRT_2PI  # [..., K, D]
    return jax.nn.logsumexp(log_w + per_component.sum(-1), axis=-1)


def nll(raw: Array, y: Array, **bounds: float) -> Array:
    """-log p(y) [...] in nats: the NLL of a whole D-vector (one step); divide by D for the NLL
    per predicted value."""
    return -log_prob(raw, y, **bounds)
