"""The model, optimizer and the pure jitted train / eval steps of a run.

Metrics leave a step as sums and counts (never means), so padded batches and windows of
several steps average exactly:

    classify:  loss = Σ_i w_i CE(logits_i, y_i) / Σ_i w_i,  accuracy = Σ_i w_i [ŷ_i = y_i] / Σ_i w_i
    frames:    nll  = Σ_{i,t<len_i} w_i Σ_d BCE(logit_itd, y_itd) / Σ_{i,t<len_i} w_i

(frames: the negative log-likelihood per time step of Chung et al. 2014, summed over the
d Bernoulli units of a frame, averaged over every predicted frame; padding never counts).
"""

from __future__ import annotations

import functools
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
from flax.training import train_state

import gruvar

Array = jax.Array
Sums = dict[str, Array]


def build_model(config: ml_collections.ConfigDict, dataset) -> nn.Module:
    rnn = gruvar.RNN(
        config.model.variant,
        config.model.features,
        num_layers=config.model.num_layers,
        bidirectional=config.model.bidirectional,
        unroll=config.model.unroll,
    )
    if dataset.kind == "classify":
        return gruvar.SequenceClassifier(
            rnn,
            dataset.num_outputs,
            vocab_size=dataset.vocab_size,
            embed_dim=config.model.embed_dim,
        )
    return gruvar.FramePredictor(rnn, dataset.num_outputs)


def make_optimizer(config: ml_collections.ConfigDict, total_steps: int):
    """optax optimizer from ``config.optimizer``, with global-norm clipping first if set."""
    o = config.optimizer
    lr = {
        "constant": lambda: o.learning_rate,
        "cosine": lambda: optax.cosine_decay_schedule(o.learning_rate, total_steps),
        "linear": lambda: optax.linear_schedule(o.learning_rate, 0.0, total_steps),
    }[o.schedule]()
    optimizer = {
        "rmsprop": lambda: optax.rmsprop(lr, decay=o.decay, eps=o.eps, momentum=o.momentum or None),
        "adam": lambda: optax.adam(lr, eps=o.eps),
        "sgd": lambda: optax.sgd(lr, momentum=o.momentum or None),
    }[o.name]()
    if o.grad_clip_norm is not None:
        return optax.chain(optax.clip_by_global_norm(o.grad_clip_norm), optimizer)
    return optimizer


def create_state(config, dataset, model, total_steps: int) -> train_state.TrainState:
    example = dataset.splits["train"].take(np.arange(1))
    params = model.init(jax.random.key(config.seed), example["x"], example["lengths"])["params"]
    return train_state.TrainState.create(
        apply_fn=model.apply, params=params, tx=make_optimizer(config, total_steps)
    )


def loss_and_sums(kind: str, logits: Array, batch: dict[str, Array]) -> tuple[Array, Sums]:
    """The mean loss of a batch and its metric sums (see the module docstring)."""
    w = batch["weights"]
    if kind == "frames":
        valid = jnp.arange(logits.shape[1])[None, :] < batch["lengths"][:, None]
        mask = valid * w[:, None]
        nll = optax.sigmoid_binary_cross_entropy(logits, batch["y"]).sum(-1)
        sums = {"nll": jnp.sum(mask * nll), "frames": jnp.sum(mask)}
        return sums["nll"] / jnp.maximum(sums["frames"], 1), sums
    y = batch["y"]
    if logits.shape[-1] == 1:  # binary: one logit
        losses = optax.sigmoid_binary_cross_entropy(logits[:, 0], y.astype(logits.dtype))
        correct = (logits[:, 0] > 0) == (y > 0)
    else:
        losses = optax.softmax_cross_entropy_with_integer_labels(logits, y)
        correct = jnp.argmax(logits, -1) == y
    sums = {"loss": jnp.sum(w * losses), "correct": jnp.sum(w * correct), "count": jnp.sum(w)}
    return sums["loss"] / jnp.maximum(sums["count"], 1), sums


def metrics_from_sums(kind: str, sums: dict[str, float]) -> dict[str, float]:
    if kind == "frames":
        return {"nll": sums["nll"] / max(sums["frames"], 1)}
    count = max(sums["count"], 1)
    return {"loss": sums["loss"] / count, "accuracy": sums["correct"] / count}


def zero_window(kind: str) -> Sums:
    """An empty train-metrics window: metric sums, steps, Σ grad norm, first non-finite step."""
    keys = ("nll", "frames") if kind == "frames" else ("loss", "correct", "count")
    window = {k: jnp.zeros((), jnp.float32) for k in (*keys, "steps", "grad_norm")}
    return window | {"nonfinite_step": jnp.full((), jnp.iinfo(jnp.int32).max, jnp.int32)}


@functools.partial(jax.jit, static_argnums=0, donate_argnums=(1, 2))
def train_step(kind: str, state, window: Sums, batch: dict[str, Array], rng: Array):
    """One update. ``rng`` is folded with the step, one key per step, for stochastic layers."""
    step_rng = jax.random.fold_in(rng, state.step)

    def loss_fn(params):
        logits = state.apply_fn(
            {"params": params}, batch["x"], batch["lengths"], rngs={"noise": step_rng}
        )
        return loss_and_sums(kind, logits, batch)

    (loss, sums), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params)
    bad = ~jnp.isfinite(loss)
    window = {k: window[k] + v for k, v in sums.items()} | {
        "steps": window["steps"] + 1,
        "grad_norm": window["grad_norm"] + optax.tree.norm(grads),
        "nonfinite_step": jnp.where(
            bad, jnp.minimum(window["nonfinite_step"], state.step), window["nonfinite_step"]
        ),
    }
    return state.apply_gradients(grads=grads), window


@functools.partial(jax.jit, static_argnums=0)
def eval_step(kind: str, state, batch: dict[str, Array]) -> Sums:
    logits = state.apply_fn({"params": state.params}, batch["x"], batch["lengths"])
    return loss_and_sums(kind, logits, batch)[1]


def evaluate(kind: str, state, batches) -> dict[str, float]:
    """Metrics over a whole split, from exact sums over its (padded) batches."""
    total: dict[str, Any] = {}
    for batch in batches:
        sums = eval_step(kind, state, batch)
        total = sums if not total else jax.tree.map(jnp.add, total, sums)
    return metrics_from_sums(kind, {k: float(v) for k, v in total.items()})


def param_count(params) -> int:
    return sum(int(p.size) for p in jax.tree.leaves(params))
