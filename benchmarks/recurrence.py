"""Training-step time of gruvar's recurrence against flax.linen.RNN(GRUCell) and torch.nn.GRU.

flax and torch use the reset-after GRU; gruvar's like-for-like model is ``gru_reset_after``,
while ``gru`` (reset before U_h, the papers' form) needs two dependent matmuls per step.

One step = forward through the recurrent layer and a 10-way head on the final state,
cross-entropy, backward, and an SGD update. All models of a shape are timed round-robin
(one untimed then one timed step each per round, after warm-up/compilation) for a time
budget, so drifts in machine speed hit peers alike. The table gives each model's median step
time; a ratio (peer time / gruvar time, > 1 means gruvar is faster) is the median over rounds
of that round's ratio.
Ratios hold for this machine, in this run; compare them across machines, not the times.

    python benchmarks/recurrence.py                 # all shapes, ~30 s of timing each
    python benchmarks/recurrence.py --shapes=row    # one shape, e.g. a quick check

torch is optional (``pip install -e '.[bench]'``); without it the torch column is left out.
"""

import statistics

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
from absl import app, flags
from harness import ratio, time_round_robin

import gruvar
from gruvar import hugepages

SHAPES = {  # name: (batch, time, inputs, hidden)
    "row": (32, 28, 28, 100),  # Dey & Salem, MNIST row-wise
    "pixel": (32, 784, 1, 100),  # Dey & Salem, MNIST pixel-wise
    "large": (64, 256, 128, 512),
}
CLASSES = 10
LR = 1e-3

_SHAPES = flags.DEFINE_list("shapes", list(SHAPES), f"Shapes to time, from {list(SHAPES)}.")
_SECONDS = flags.DEFINE_float("seconds", 30.0, "Timing budget per shape (after warm-up).")
_MIN_ROUNDS = flags.DEFINE_integer("min_rounds", 5, "Timed rounds per shape at least.")
_WARMUP = flags.DEFINE_integer("warmup", 3, "Untimed rounds first (compilation, caches).")
_UNROLL = flags.DEFINE_integer("unroll", 1, "gruvar scan unroll.")


def jax_step_fn(model, x, y):
    """A jitted SGD training step for a flax classifier; returns a blocking state -> state."""
    params = model.init(jax.random.key(0), x)["params"]

    @jax.jit
    def train_step(params):
        def loss(p):
            logits = model.apply({"params": p}, x)
            return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()

        grads = jax.grad(loss)(params)
        return jax.tree.map(lambda p, g: p - LR * g, params, grads)

    return lambda p: jax.block_until_ready(train_step(p)), params


class FlaxGRU(nn.Module):
    """The peer: flax.linen.RNN over flax's own (reset-after) GRUCell, same head."""

    features: int

    @nn.compact
    def __call__(self, x):
        carry, _ = nn.RNN(nn.GRUCell(self.features), return_carry=True)(x)
        return nn.Dense(CLASSES)(carry)


def torch_step_fn(x, y, hidden):
    import torch

    gru = torch.nn.GRU(x.shape[-1], hidden, batch_first=True)
    head = torch.nn.Linear(hidden, CLASSES)
    params = [*gru.parameters(), *head.parameters()]
    opt = torch.optim.SGD(params, lr=LR)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y).long()

    def step(state):
        opt.zero_grad(set_to_none=True)
        _, h = gru(xt)
        loss = torch.nn.functional.cross_entropy(head(h[-1]), yt)
        loss.backward()
        opt.step()
        return state

    return step, None


def bench_shape(name, seconds, min_rounds, warmup, unroll):
    batch, time_, inputs, hidden = SHAPES[name]
    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch, time_, inputs)).astype(np.float32)
    y = rng.integers(0, CLASSES, batch).astype(np.int32)
    steps = {}
    for variant in ("gru", "gru3", "gru_reset_after", "lstm"):
        model = gruvar.SequenceClassifier(gruvar.RNN(variant, hidden, unroll=unroll), CLASSES)
        steps[f"gruvar {variant}"] = jax_step_fn(model, jnp.asarray(x), jnp.asarray(y))
    steps["flax nn.RNN(GRUCell)"] = jax_step_fn(FlaxGRU(hidden), jnp.asarray(x), jnp.asarray(y))
    try:
        steps["torch.nn.GRU"] = torch_step_fn(x, y, hidden)
    except ImportError:
        pass
    return time_round_robin(steps, seconds, min_rounds, warmup)


def main(argv):
    del argv
    unknown = set(_SHAPES.value) - set(SHAPES)
    if unknown:
        raise app.UsageError(f"Unknown shape(s) {sorted(unknown)}; choose from {list(SHAPES)}.")
    print(
        f"jax {jax.__version__} on {jax.devices()[0].device_kind}; unroll={_UNROLL.value}; "
        f"malloc huge pages {hugepages.enabled()}"
    )
    print("| shape (B, T, in, hidden) | model | median ms/step | vs flax GRU | vs torch GRU |")
    print("|---|---|---:|---:|---:|")
    for name in _SHAPES.value:
        times = bench_shape(name, _SECONDS.value, _MIN_ROUNDS.value, _WARMUP.value, _UNROLL.value)
        flax_t = times["flax nn.RNN(GRUCell)"]
        torch_t = times.get("torch.nn.GRU")
        for model, t in times.items():
            vs_torch = f"{ratio(torch_t, t):.2f}x" if torch_t else "n/a"
            print(
                f"| {name} {SHAPES[name]} | {model} | {statistics.median(t) * 1e3:.2f} "
                f"| {ratio(flax_t, t):.2f}x | {vs_torch} |",
                flush=True,
            )
        print(f"({len(flax_t)} rounds)", flush=True)


if __name__ == "__main__":
    hugepages.use_huge_pages()
    app.run(main)
