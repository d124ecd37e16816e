"""The run config: defaults every experiment config starts from, and validation.

``validate`` rejects a bad config before anything is built or compiled, naming the field.
"""

from __future__ import annotations

import math

import ml_collections
import numpy as np
from ml_collections import config_dict

from gruvar.core import recurrence
from gruvar.linen import cells
from gruvar.training import options

OPTIMIZERS = ("rmsprop", "adam", "sgd")
SCHEDULES = ("constant", "cosine", "linear")
NOISE_ON = ("all", "recurrent")
FRAME_LOSSES = ("batch_mean", "summed")
FLOAT32_MAX = float(np.finfo(np.float32).max)  # the optimizer's precision


def default_config() -> ml_collections.ConfigDict:
    """Every field a run reads, with sane defaults; experiment configs override some."""
    c = ml_collections.ConfigDict()
    c.seed = 0

    c.model = ml_collections.ConfigDict()
    c.model.variant = "gru"
    c.model.features = 100
    c.model.num_layers = 1
    c.model.bidirectional = False
    c.model.unroll = 1
    c.model.embed_dim = config_dict.placeholder(int)  # token inputs (IMDB)
    c.model.init = "flax"  # or "keras", "uniform", "pylearn2": gruvar.training.options.INITIALIZERS
    c.model.gate = "sigmoid"  # or "hard_sigmoid" (Keras <= 2.2)
    c.model.forget_bias = 1.0  # an LSTM's b_f at initialisation
    c.model.mixture_components = 20  # "density" tasks (speech): Gaussians in the output mixture
    # a variant linear in its state (mingru, minlstm): "auto" (parallel in time on GPU/TPU,
    # sequential on CPU), "sequential" or "parallel" (gruvar.core.recurrence.MODES)
    c.model.scan = "auto"

    c.data = ml_collections.ConfigDict()
    c.data.name = "parity"
    c.data.data_dir = config_dict.placeholder(str)  # else $GRUVAR_DATA_DIR
    c.data.options = ml_collections.ConfigDict()  # dataset-specific sizes, lengths, ...
    c.data.batch_size = 32
    c.data.eval_batch_size = 256

    c.optimizer = ml_collections.ConfigDict()
    c.optimizer.name = "rmsprop"
    c.optimizer.learning_rate = 1e-3
    c.optimizer.schedule = "constant"  # decays to 0 over the run when not constant
    c.optimizer.grad_clip_norm = config_dict.placeholder(float)  # global-norm clipping
    c.optimizer.decay = 0.9  # rmsprop
    c.optimizer.momentum = 0.0  # rmsprop, sgd
    c.optimizer.eps = 1e-7  # rmsprop, adam

    c.train = ml_collections.ConfigDict()
    c.train.num_epochs = 10
    c.train.weight_noise = 0.0  # std of Gaussian noise on weight matrices, fresh each update
    c.train.weight_noise_on = "all"  # or "recurrent": the recurrent layers' matrices only
    # frames tasks: "batch_mean" (each update's loss is its batch's NLL per frame) or "summed"
    # (its summed NLL over a constant, so every training frame weighs alike: librnn's cost)
    c.train.frame_loss = "batch_mean"
    c.train.log_every_steps = 50
    c.train.eval_every_steps = 0  # 0: once per epoch
    c.train.checkpoint_every_steps = 0  # 0: at each eval
    c.train.keep_checkpoints = 2
    c.train.early_stopping_patience = config_dict.placeholder(int)  # evals without improvement
    c.train.progress_every_seconds = 30.0

    c.paper = ml_collections.ConfigDict()  # the published number this config reproduces
    c.paper.test = config_dict.placeholder(float)  # test metric (accuracy as a fraction)
    c.paper.source = config_dict.placeholder(str)  # e.g. "Chung et al. 2014, Table 2"

    c.sweep = ml_collections.ConfigDict()  # several runs in one program: gruvar.training.sweep
    c.sweep.seeds = ()  # e.g. (0, 1, 2); empty: just config.seed
    c.sweep.learning_rates = ()  # e.g. (1e-3, 1e-4); empty: config.optimizer.learning_rate
    return c


def parse_arg(
    arg: str, tasks, modifiers=("smoke",), default_variant: str = "gru"
) -> tuple[str, str, set[str]]:
    """A config file's argument ``[<variant>,]<task>[,<modifier>...]`` as (variant, task,
    modifiers). The variant may be a spec with commas ("gru:z=hb,r=xhb"); it defaults to
    ``default_variant`` (experiments/compare.py passes each variant in front)."""
    parts = arg.split(",")
    at = next((i for i, part in enumerate(parts) if part in tasks), None)
    if at is None:
        raise ValueError(f"No task in config argument {arg!r}; tasks: {sorted(tasks)}.")
    unknown = set(parts[at + 1 :]) - set(modifiers)
    if unknown:
        raise ValueError(f"Unknown modifier(s) {sorted(unknown)}; known: {sorted(modifiers)}.")
    return ",".join(parts[:at]) or default_variant, parts[at], set(parts[at + 1 :])


def validate(config: ml_collections.ConfigDict) -> None:
    """Raises ValueError naming the first bad field."""
    try:
        plan = cells.get(config.model.variant).plan
    except ValueError as err:
        raise ValueError(f"config.model.variant: {err}") from None
    try:
        recurrence.resolve_mode(plan, config.model.scan)
    except ValueError as err:
        raise ValueError(f"config.model.scan: {err}") from None
    for field in (
        "model.features",
        "model.num_layers",
        "model.unroll",
        "model.mixture_components",
        "data.batch_size",
        "data.eval_batch_size",
        "train.num_epochs",
        "train.log_every_steps",
        "train.keep_checkpoints",
    ):
        _positive(config, field)
    _seed(config.seed, "seed")
    _rate(config.optimizer.learning_rate, "optimizer.learning_rate")
    _optimizer_values(config.optimizer)
    _data_options(config.data.options)
    _choice(config, "model.init", tuple(options.INITIALIZERS))
    _choice(config, "model.gate", tuple(options.GATES))
    _choice(config, "optimizer.name", OPTIMIZERS)
    _choice(config, "optimizer.schedule", SCHEDULES)
    _choice(config, "train.weight_noise_on", NOISE_ON)
    _choice(config, "train.frame_loss", FRAME_LOSSES)
    if config.optimizer.grad_clip_norm is not None:
        _positive(config, "optimizer.grad_clip_norm")
    for field in ("train.eval_every_steps", "train.checkpoint_every_steps"):
        if _get(config, field) < 0:
            raise ValueError(
                f"config.{field} must be >= 0 (0: once per epoch), got {_get(config, field)}."
            )
    if not 0 <= config.train.weight_noise < math.inf:
        raise ValueError(
            f"config.train.weight_noise is a standard deviation, finite and >= 0; got "
            f"{config.train.weight_noise!r}."
        )
    if config.train.early_stopping_patience is not None:
        _positive(config, "train.early_stopping_patience")
    for lr in config.sweep.learning_rates:
        _rate(lr, "sweep.learning_rates")
    for seed in config.sweep.seeds:
        _seed(seed, "sweep.seeds")
    runs = max(len(config.sweep.seeds), 1) * max(len(config.sweep.learning_rates), 1)
    if runs > 1 and config.train.keep_checkpoints < 2:
        raise ValueError(
            "config.train.keep_checkpoints must be >= 2 for a sweep: its runs resume from a "
            "checkpoint step they all still hold."
        )


def check_task(config: ml_collections.ConfigDict, dataset) -> None:
    """The config fits the data: token inputs need an embedding, only token inputs have one,
    and only frames are weighed by ``train.frame_loss``."""
    if dataset.vocab_size is not None and config.model.embed_dim is None:
        raise ValueError(
            f"config.model.embed_dim must be set: dataset {dataset.name!r} gives token ids "
            f"(vocabulary {dataset.vocab_size})."
        )
    if dataset.vocab_size is None and config.model.embed_dim is not None:
        raise ValueError(
            f"config.model.embed_dim is {config.model.embed_dim}, but dataset "
            f"{dataset.name!r} gives real-valued inputs, not token ids; leave it unset."
        )
    if config.train.frame_loss != "batch_mean" and dataset.kind != "frames":
        raise ValueError(
            f"config.train.frame_loss={config.train.frame_loss!r} weighs frames; {dataset.name!r} "
            f"is a {dataset.kind!r} task. Leave it at 'batch_mean'."
        )
    per_epoch = dataset.steps_per_epoch(config.data.batch_size)
    if per_epoch == 0:
        raise ValueError(
            f"config.data.batch_size = {config.data.batch_size} exceeds the "
            f"{len(dataset.splits['train'])} training examples of {dataset.name!r}."
        )


def _get(config, field):
    value = config
    for part in field.split("."):
        value = value[part]
    return value


def _positive(config, field):
    value = _get(config, field)
    if not value > 0:
        raise ValueError(f"config.{field} must be positive, got {value!r}.")


def _seed(value, field):
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"config.{field} must be an integer >= 0 (a seed), got {value!r}.")


def _rate(value, field):
    """A learning rate: positive and finite at the optimizer's precision (float32)."""
    if not (isinstance(value, int | float) and 0 < value <= FLOAT32_MAX):
        raise ValueError(
            f"config.{field} must be positive and finite in float32 (<= 3.4e38), got {value!r}."
        )


def _optimizer_values(o):
    """RMSProp's decay and the momentum are averaging factors in [0, 1); eps keeps an update's
    denominator above 0 (a parameter with no gradient would otherwise get 0/0)."""
    for name in ("decay", "momentum"):
        value = o[name]
        if not (isinstance(value, int | float) and 0 <= value < 1):
            raise ValueError(
                f"config.optimizer.{name} must be in [0, 1) (an averaging factor), got {value!r}."
            )
    if not (isinstance(o.eps, int | float) and 0 < o.eps < math.inf):
        raise ValueError(f"config.optimizer.eps must be positive and finite, got {o.eps!r}.")


def _data_options(opts):
    """Every integer-valued dataset option (sizes, lengths, seeds) is >= 0."""
    for name, value in opts.items():
        if isinstance(value, int) and not isinstance(value, bool) and value < 0:
            raise ValueError(
                f"config.data.options.{name} must be >= 0 (a size, length or seed), got {value}."
            )


def _choice(config, field, allowed):
    value = _get(config, field)
    if value not in allowed:
        raise ValueError(f"config.{field} = {value!r} is unknown; choose from {list(allowed)}.")
