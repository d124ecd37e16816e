"""The model, optimizer and the pure jitted train / eval steps of a run.

Metrics leave a step as sums and counts (never means), so padded batches and windows of
several steps average exactly:

    classify:  loss = Σ_i w_i CE(logits_i, y_i) / Σ_i w_i,  accuracy = Σ_i w_i [ŷ_i = y_i] / Σ_i w_i
    frames:    nll  = Σ_{i,t<len_i} w_i Σ_d BCE(logit_itd, y_itd) / Σ_{i,t<len_i} w_i

    density:   nll  = Σ_{i,t<len_i} w_i (-log p(y_it)) / (D Σ_{i,t<len_i} w_i)   (per value)
               nll_step = D · nll                                             (per step)

(frames: the negative log-likelihood per time step of Chung et al. 2014, summed over the
d Bernoulli units of a frame, averaged over every predicted frame; padding never counts.
density: p is the mixture of Gaussians over the D values of frame t+1 (``gruvar.core.mixture``),
in nats of the values as the dataset scales them (speech: samples over σ, gruvar.data.speech);
an update's loss is its batch's NLL per value.)
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

from gruvar.core import mixture
from gruvar.linen import models
from gruvar.training import options

Array = jax.Array
Sums = dict[str, Array]


def build_model(config: ml_collections.ConfigDict, dataset) -> nn.Module:
    """The recurrent layers and the task's head, initialised and gated as ``config.model``
    names (``gruvar.training.options``)."""
    m = config.model
    cell_inits, head_init = options.INITIALIZERS[m.init]
    rnn = models.RNN(
        m.variant,
        m.features,
        num_layers=m.num_layers,
        bidirectional=m.bidirectional,
        unroll=m.unroll,
        scan=m.scan,
        cell_kwargs={**cell_inits, "gate_fn": options.GATES[m.gate], "forget_bias": m.forget_bias},
    )
    if dataset.kind == "classify":
        return models.SequenceClassifier(
            rnn,
            dataset.num_outputs,
            vocab_size=dataset.vocab_size,
            embed_dim=m.embed_dim,
            kernel_init=head_init,
        )
    if dataset.kind == "density":
        return models.MixturePredictor(
            rnn, dataset.num_outputs, m.mixture_components, kernel_init=head_init
        )
    return models.FramePredictor(rnn, dataset.num_outputs, kernel_init=head_init)


def make_optimizer(config: ml_collections.ConfigDict, total_steps: int):
    """optax optimizer from ``config.optimizer``, with global-norm clipping first if set.

    The learning rate is optimizer state (``optax.inject_hyperparams``), so runs that differ
    only in it share one optimizer and can be trained side by side (``gruvar.training.sweep``); a
    schedule scales it by a factor that goes from 1 to 0 over ``total_steps``.
    """
    o = config.optimizer
    unit = {
        "constant": None,
        "cosine": optax.cosine_decay_schedule(1.0, total_steps),
        "linear": optax.linear_schedule(1.0, 0.0, total_steps),
    }[o.schedule]

    def build(learning_rate):
        lr = learning_rate if unit is None else (lambda count: learning_rate * unit(count))
        optimizer = {
            "rmsprop": lambda: optax.rmsprop(
                lr, decay=o.decay, eps=o.eps, momentum=o.momentum or None
            ),
            "adam": lambda: optax.adam(lr, eps=o.eps),
            "sgd": lambda: optax.sgd(lr, momentum=o.momentum or None),
        }[o.name]()
        if o.grad_clip_norm is None:
            return optimizer
        return optax.chain(optax.clip_by_global_norm(o.grad_clip_norm), optimizer)

    return optax.inject_hyperparams(build)(learning_rate=o.learning_rate)


def create_state(config, dataset, model, total_steps: int) -> train_state.TrainState:
    """The initial state of a run: parameters drawn with ``config.seed``."""
    example = dataset.splits["train"].take(np.arange(1))
    params = model.init(jax.random.key(config.seed), example["x"], example["lengths"])["params"]
    return train_state.TrainState.create(
        apply_fn=model.apply, params=params, tx=make_optimizer(config, total_steps)
    )


def with_learning_rate(state: train_state.TrainState, learning_rate: float):
    """``state`` with the optimizer's learning rate set to ``learning_rate``."""
    hyper = state.opt_state.hyperparams
    lr = jnp.asarray(learning_rate, hyper["learning_rate"].dtype)
    return state.replace(
        opt_state=state.opt_state._replace(hyperparams=hyper | {"learning_rate": lr})
    )


def loss_and_sums(kind: str, logits: Array, batch: dict[str, Array]) -> tuple[Array, Sums]:
    """The mean loss of a batch and its metric sums (see the module docstring)."""
    w = batch["weights"]
    if kind in ("frames", "density"):
        valid = jnp.arange(logits.shape[1])[None, :] < batch["lengths"][:, None]
        mask = valid * w[:, None]
        if kind == "frames":
            nll = optax.sigmoid_binary_cross_entropy(logits, batch["y"]).sum(-1)
            sums = {"nll": jnp.sum(mask * nll), "frames": jnp.sum(mask)}
            return sums["nll"] / jnp.maximum(sums["frames"], 1), sums
        # Padded steps hold y = 0 and a finite NLL (bounded scales): the mask removes them.
        nll = mixture.nll(logits, batch["y"])
        frames = jnp.sum(mask)
        sums = {
            "nll": jnp.sum(mask * nll),
            "frames": frames,
            "values": frames * batch["y"].shape[-1],
        }
        return sums["nll"] / jnp.maximum(sums["values"], 1), sums
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
    if kind == "density":
        return {
            "nll": sums["nll"] / max(sums["values"], 1),
            "nll_step": sums["nll"] / max(sums["frames"], 1),
        }
    count = max(sums["count"], 1)
    return {"loss": sums["loss"] / count, "accuracy": sums["correct"] / count}


def zero_window(kind: str, runs: int | None = None) -> Sums:
    """An empty train-metrics window: metric sums, steps, Σ grad norm, and the first step
    whose loss, or whose updated parameters or optimizer state, were not finite;
    with a leading axis of ``runs`` when given (for ``train_steps``)."""
    shape = () if runs is None else (runs,)
    keys = {"frames": ("nll", "frames"), "density": ("nll", "frames", "values")}.get(
        kind, ("loss", "correct", "count")
    )
    window = {k: np.zeros(shape, np.float32) for k in (*keys, "steps", "grad_norm")}
    return window | {"nonfinite_step": np.full(shape, np.iinfo(np.int32).max, np.int32)}


def with_weight_noise(params, rng: Array, std: float, on: str = "all"):
    """params with fresh N(0, std²) noise on every weight matrix (leaves of rank >= 2: W, U,
    the head's kernel, an embedding); biases and diagonal peepholes stay clean. Graves (2011)'s
    weight noise as Chung et al. (2014) used it (std 0.075, PAPERS.md §1.6). ``on="recurrent"``
    noises only the recurrent layers' matrices (``params["rnn"]``), as librnn's configs did:
    its output layer's ``weight_noise`` stayed at its default, off."""
    if on == "recurrent":
        return params | {"rnn": with_weight_noise(params["rnn"], rng, std)}
    leaves, treedef = jax.tree.flatten(params)
    keys = jax.random.split(rng, len(leaves))
    noisy = [
        p + std * jax.random.normal(k, p.shape, p.dtype) if p.ndim >= 2 else p
        for p, k in zip(leaves, keys, strict=True)
    ]
    return jax.tree.unflatten(treedef, noisy)


def loss_frames(config: ml_collections.ConfigDict, dataset) -> float:
    """What a ``train.frame_loss="summed"`` update divides its summed NLL by: the training
    split's mean predicted frames per batch, a constant, so a long song's update outweighs a
    short one's as in librnn's summed cost (PAPERS.md §1.5) while the loss keeps the scale of
    a mean per frame. 0 for "batch_mean" (each batch divides by its own frames)."""
    if config.train.frame_loss == "batch_mean":
        return 0.0
    return float(dataset.splits["train"].lengths.mean() * config.data.batch_size)


def _train_step(kind, noise, noise_on, frames, state, window: Sums, batch, rng: Array):
    step_rng = jax.random.fold_in(rng, state.step)

    def loss_fn(params):
        # The gradient at the noisy weights updates the clean ones; evaluation never sees noise.
        if noise:
            params = with_weight_noise(params, jax.random.fold_in(step_rng, 1), noise, noise_on)
        logits = state.apply_fn(
            {"params": params}, batch["x"], batch["lengths"], rngs={"noise": step_rng}
        )
        loss, sums = loss_and_sums(kind, logits, batch)
        return (sums["nll"] / frames if frames else loss), sums

    (loss, sums), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params)
    new_state = state.apply_gradients(grads=grads)
    # A finite loss can still come with an update that leaves non-finite weights (a huge rate
    # overflows them): such a state must never be checkpointed as a good one.
    bad = ~(jnp.isfinite(loss) & all_finite((new_state.params, new_state.opt_state)))
    window = {k: window[k] + v for k, v in sums.items()} | {
        "steps": window["steps"] + 1,
        "grad_norm": window["grad_norm"] + optax.tree.norm(grads),
        "nonfinite_step": jnp.where(
            bad, jnp.minimum(window["nonfinite_step"], state.step), window["nonfinite_step"]
        ),
    }
    return new_state, window


def all_finite(tree) -> Array:
    """Whether every float in ``tree`` is finite (integer leaves, e.g. step counts, always are)."""
    leaves = [x for x in jax.tree.leaves(tree) if jnp.issubdtype(jnp.result_type(x), jnp.inexact)]
    return jnp.all(jnp.array([jnp.all(jnp.isfinite(x)) for x in leaves]))


_STATIC = dict(static_argnums=0, static_argnames=("weight_noise", "noise_on", "loss_frames"))


@functools.partial(jax.jit, **_STATIC, donate_argnums=(1, 2))
def train_step(
    kind: str,
    state,
    window: Sums,
    batch: dict[str, Array],
    rng: Array,
    weight_noise: float = 0.0,
    noise_on: str = "all",
    loss_frames: float = 0.0,
):
    """One update. ``rng`` is folded with the step, one key per step, for weight noise
    (``weight_noise``: its std, on the matrices ``noise_on`` names, ``with_weight_noise``)
    and stochastic layers. ``loss_frames`` > 0: the loss is the batch's summed NLL over it
    (``loss_frames``), not its mean per frame."""
    return _train_step(kind, weight_noise, noise_on, loss_frames, state, window, batch, rng)


@functools.partial(jax.jit, **_STATIC, donate_argnums=(1, 2))
def train_steps(
    kind: str,
    states,
    windows: Sums,
    batches: dict[str, Array],
    rngs: Array,
    weight_noise: float = 0.0,
    noise_on: str = "all",
    loss_frames: float = 0.0,
):
    """One update of each of K runs at once: every argument has a leading axis of K (``states``
    stacked train states, ``batches`` each run's own batch, ``rngs`` each run's key)."""
    step = functools.partial(_train_step, kind, weight_noise, noise_on, loss_frames)
    return jax.vmap(step)(states, windows, batches, rngs)


def _eval_step(kind: str, state, batch: dict[str, Array]) -> Sums:
    logits = state.apply_fn({"params": state.params}, batch["x"], batch["lengths"])
    return loss_and_sums(kind, logits, batch)[1]


@functools.partial(jax.jit, static_argnums=0)
def eval_step(kind: str, state, batch: dict[str, Array]) -> Sums:
    return _eval_step(kind, state, batch)


@functools.partial(jax.jit, static_argnums=0)
def eval_steps(kind: str, states, batch: dict[str, Array]) -> Sums:
    """The metric sums of K stacked runs on one shared batch; each sum has a leading axis K."""
    return jax.vmap(functools.partial(_eval_step, kind), in_axes=(0, None))(states, batch)


def evaluate(kind: str, state, batches) -> dict[str, float]:
    """Metrics over a whole split, from exact sums over its (padded) batches."""
    return evaluate_runs(kind, state, batches, stacked=False)[0]


def evaluate_runs(kind: str, states, batches, stacked: bool = True) -> list[dict[str, float]]:
    """Each run's metrics over a whole split (``states`` stacked with a leading run axis)."""
    step = eval_steps if stacked else eval_step
    total: dict[str, Any] = {}
    for batch in batches:
        sums = step(kind, states, batch)
        total = sums if not total else jax.tree.map(jnp.add, total, sums)
    total = {k: np.atleast_1d(np.asarray(v, np.float64)) for k, v in total.items()}
    runs = len(next(iter(total.values())))
    return [
        metrics_from_sums(kind, {k: float(v[i]) for k, v in total.items()}) for i in range(runs)
    ]


def param_count(params) -> int:
    return sum(int(p.size) for p in jax.tree.leaves(params))
