"""Training-step time of gruvar's recurrence against flax.linen.RNN(GRUCell) and torch.nn.GRU.

One step = forward through the recurrent layer and a 10-way head on the final state,
cross-entropy, backward, and an SGD update; median wall time over repeats, after warm-up
(compilation) steps. Peers run in the same process on the same inputs, so the ratios
(peer time / gruvar time, > 1 means gruvar is faster) hold for this machine at this moment.

    python benchmarks/recurrence.py                 # all shapes
    python benchmarks/recurrence.py --shapes=row    # one shape, e.g. a quick check

torch is optional (``pip install -e '.[bench]'``); without it the torch column is left out.
"""

import statistics
import time

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
from absl import app, flags

import gruvar

SHAPES = {  # name: (batch, time, inputs, hidden)
    "row": (32, 28, 28, 100),  # Dey & Salem, MNIST row-wise
    "pixel": (32, 784, 1, 100),  # Dey & Salem, MNIST pixel-wise
    "large": (64, 256, 128, 512),
}
CLASSES = 10
LR = 1e-3

_SHAPES = flags.DEFINE_list("shapes", list(SHAPES), f"Shapes to time, from {list(SHAPES)}.")
_REPEATS = flags.DEFINE_integer("repeats", 20, "Timed steps per model (median reported).")
_WARMUP = flags.DEFINE_integer("warmup", 3, "Untimed steps first (compilation, caches).")
_UNROLL = flags.DEFINE_integer("unroll", 1, "gruvar scan unroll.")


def time_steps(step, state, repeats, warmup):
    """Median seconds per call of ``state = step(state)``; ``step`` must block on its result."""
    for _ in range(warmup):
        state = step(state)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        state = step(state)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


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


def bench_shape(name, repeats, warmup, unroll):
    batch, time_, inputs, hidden = SHAPES[name]
    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch, time_, inputs)).astype(np.float32)
    y = rng.integers(0, CLASSES, batch).astype(np.int32)
    results = {}
    for variant in ("gru", "gru3", "lstm"):
        model = gruvar.SequenceClassifier(gruvar.RNN(variant, hidden, unroll=unroll), CLASSES)
        results[f"gruvar {variant}"] = time_steps(
            *jax_step_fn(model, jnp.asarray(x), jnp.asarray(y)), repeats, warmup
        )
    results["flax nn.RNN(GRUCell)"] = time_steps(
        *jax_step_fn(FlaxGRU(hidden), jnp.asarray(x), jnp.asarray(y)), repeats, warmup
    )
    try:
        results["torch.nn.GRU"] = time_steps(*torch_step_fn(x, y, hidden), repeats, warmup)
    except ImportError:
        pass
    return results


def main(argv):
    del argv
    unknown = set(_SHAPES.value) - set(SHAPES)
    if unknown:
        raise app.UsageError(f"Unknown shape(s) {sorted(unknown)}; choose from {list(SHAPES)}.")
    print(f"jax {jax.__version__} on {jax.devices()[0].device_kind}; unroll={_UNROLL.value}")
    print("| shape (B, T, in, hidden) | model | median ms/step | vs flax GRU | vs torch GRU |")
    print("|---|---|---:|---:|---:|")
    for name in _SHAPES.value:
        results = bench_shape(name, _REPEATS.value, _WARMUP.value, _UNROLL.value)
        flax_t = results["flax nn.RNN(GRUCell)"]
        torch_t = results.get("torch.nn.GRU")
        for model, t in results.items():
            vs_torch = f"{torch_t / t:.2f}x" if torch_t else "n/a"
            print(f"| {name} {SHAPES[name]} | {model} | {t * 1e3:.2f} | {flax_t / t:.2f}x "
                  f"| {vs_torch} |", flush=True)


if __name__ == "__main__":
    app.run(main)
