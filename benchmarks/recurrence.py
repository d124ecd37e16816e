"""Training-step time of gruvar's recurrence against flax.linen.RNN and torch.nn (GRU, LSTM).

Each gruvar model is compared with the peers of its family: the GRU variants with
``flax.linen.RNN(GRUCell)`` and ``torch.nn.GRU``, ``lstm`` with
``flax.linen.RNN(OptimizedLSTMCell)`` and ``torch.nn.LSTM``. flax and torch use the
reset-after GRU; gruvar's like-for-like model is ``gru_reset_after``, while ``gru`` (reset
before U_h, the papers' form) needs two dependent matmuls per step. The LSTMs are alike (no
peepholes; torch's has two bias vectors per gate).

One step = forward through the recurrent layer and a 10-way head on the final state,
cross-entropy, backward, and an SGD update. All models of a shape are timed round-robin
(one untimed then one timed step each per round, after warm-up/compilation) for a time
budget, so drifts in machine speed hit peers alike. The table gives each model's median step
time; a ratio (peer time / gruvar time, > 1 means gruvar is faster) is the median over rounds
of that round's ratio.
Ratios hold for this machine, in this run; compare them across machines, not the times.
torch runs on the GPU (cuDNN) when JAX's default backend is one, else on the CPU.

    python benchmarks/recurrence.py                 # all shapes, ~30 s of timing each
    python benchmarks/recurrence.py --shapes=row    # one shape, e.g. a quick check

torch is optional (``pip install -e '.[bench]'``); without it the torch columns read n/a.
"""

import functools
import statistics
from collections.abc import Callable

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
VARIANTS = ("gru", "gru3", "gru_reset_after", "lstm")
# Each family's peers: (flax model, torch model).
PEERS = {
    "gru": ("flax nn.RNN(GRUCell)", "torch.nn.GRU"),
    "lstm": ("flax nn.RNN(OptimizedLSTMCell)", "torch.nn.LSTM"),
}
CLASSES = 10
LR = 1e-3

Step = tuple[Callable, object]  # (blocking state -> state, initial state)


def jax_step_fn(model, x, y) -> Step:
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


class FlaxPeer(nn.Module):
    """The peer: flax.linen.RNN over one of flax's own cells, same head."""

    cell: str  # "GRUCell" (reset-after) or "OptimizedLSTMCell"
    features: int

    @nn.compact
    def __call__(self, x):
        carry, _ = nn.RNN(getattr(nn, self.cell)(self.features), return_carry=True)(x)
        h = carry[1] if isinstance(carry, tuple) else carry  # an LSTM's carry is (c, h)
        return nn.Dense(CLASSES)(h)


def torch_device() -> str:
    """Where torch runs: the GPU when JAX's default backend is one (cuDNN), else the CPU."""
    import torch

    return "cuda" if jax.default_backend() == "gpu" and torch.cuda.is_available() else "cpu"


def torch_step_fn(x, y, hidden, family="gru") -> Step:
    import torch

    device = torch_device()
    rnn_class = {"gru": torch.nn.GRU, "lstm": torch.nn.LSTM}[family]
    rnn = rnn_class(x.shape[-1], hidden, batch_first=True).to(device)
    head = torch.nn.Linear(hidden, CLASSES).to(device)
    opt = torch.optim.SGD([*rnn.parameters(), *head.parameters()], lr=LR)
    xt, yt = torch.from_numpy(x).to(device), torch.from_numpy(y).long().to(device)

    def step(state):
        opt.zero_grad(set_to_none=True)
        _, h = rnn(xt)
        h = h[0] if family == "lstm" else h  # an LSTM returns (h_n, c_n)
        loss = torch.nn.functional.cross_entropy(head(h[-1]), yt)
        loss.backward()
        opt.step()
        if device == "cuda":
            torch.cuda.synchronize()
        return state

    return step, None


def models(shape, unroll=1, gru_unrolls=(), variants=VARIANTS) -> dict[str, Callable[[], Step]]:
    """``name: builder`` of every model timed at ``shape`` (batch, time, inputs, hidden); a
    builder returns ``(step, state)``. gruvar's ``variants`` run with ``unroll``;
    ``gru_unrolls`` adds ``gru`` at other unrolls. The torch peers are left out when torch is
    not installed."""
    batch, time_, inputs, hidden = shape
    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch, time_, inputs)).astype(np.float32)
    y = rng.integers(0, CLASSES, batch).astype(np.int32)
    xj, yj = jnp.asarray(x), jnp.asarray(y)

    def gruvar_model(variant, unroll):
        rnn = gruvar.RNN(variant, hidden, unroll=unroll)
        return jax_step_fn(gruvar.SequenceClassifier(rnn, CLASSES), xj, yj)

    builders = {f"gruvar {v}": functools.partial(gruvar_model, v, unroll) for v in variants}
    for u in gru_unrolls:
        if u != unroll:
            builders[f"gruvar gru unroll={u}"] = functools.partial(gruvar_model, "gru", u)
    for family, cell in (("gru", "GRUCell"), ("lstm", "OptimizedLSTMCell")):
        builders[PEERS[family][0]] = functools.partial(jax_step_fn, FlaxPeer(cell, hidden), xj, yj)
    try:
        import torch  # noqa: F401
    except ImportError:
        return builders
    for family in PEERS:
        builders[PEERS[family][1]] = functools.partial(torch_step_fn, x, y, hidden, family)
    return builders


def peers(model: str) -> tuple[str, str]:
    """The (flax, torch) peers a model's time is compared with: its own family's."""
    return PEERS["lstm" if " lstm" in model or "LSTM" in model else "gru"]


def rows(times: dict[str, list[float]]) -> list[dict]:
    """One row per model: median ms per step and the ratios to its family's peers (None where
    the peer was not timed)."""
    out = []
    for model, t in times.items():
        flax_peer, torch_peer = (times.get(p) for p in peers(model))
        out.append(
            {
                "model": model,
                "ms": statistics.median(t) * 1e3,
                "vs_flax": ratio(flax_peer, t) if flax_peer else None,
                "vs_torch": ratio(torch_peer, t) if torch_peer else None,
            }
        )
    return out


def table(shapes_rows: dict[str, list[dict]]) -> list[str]:
    """Markdown lines of ``{shape label: rows(...)}``."""

    def x(r):
        return "n/a" if r is None else f"{r:.2f}x"

    lines = [
        "| shape (B, T, in, hidden) | model | median ms/step | vs flax peer | vs torch peer |",
        "|---|---|---:|---:|---:|",
    ]
    for label, shape_rows in shapes_rows.items():
        for r in shape_rows:
            lines.append(
                f"| {label} | {r['model']} | {r['ms']:.2f} | {x(r['vs_flax'])} "
                f"| {x(r['vs_torch'])} |"
            )
    return lines


def main(argv):
    del argv
    FLAGS = flags.FLAGS
    unknown = set(FLAGS.shapes) - set(SHAPES)
    if unknown:
        raise app.UsageError(f"Unknown shape(s) {sorted(unknown)}; choose from {list(SHAPES)}.")
    print(
        f"jax {jax.__version__} on {jax.devices()[0].device_kind}; unroll={FLAGS.unroll}; "
        f"malloc huge pages {hugepages.enabled()}"
    )
    print(*table({})[:2], sep="\n")
    for name in FLAGS.shapes:
        steps = {m: build() for m, build in models(SHAPES[name], FLAGS.unroll).items()}
        times = time_round_robin(steps, FLAGS.seconds, FLAGS.min_rounds, FLAGS.warmup)
        print(*table({f"{name} {SHAPES[name]}": rows(times)})[2:], sep="\n", flush=True)
        print(f"({len(next(iter(times.values())))} rounds)", flush=True)


if __name__ == "__main__":
    # Flags are defined here, not on import, so benchmarks/accelerator.py can import this module
    # beside sweep.py (which has flags of the same names).
    flags.DEFINE_list("shapes", list(SHAPES), f"Shapes to time, from {list(SHAPES)}.")
    flags.DEFINE_float("seconds", 30.0, "Timing budget per shape (after warm-up).")
    flags.DEFINE_integer("min_rounds", 5, "Timed rounds per shape at least.")
    flags.DEFINE_integer("warmup", 3, "Untimed rounds first (compilation, caches).")
    flags.DEFINE_integer("unroll", 1, "gruvar scan unroll.")
    hugepages.use_huge_pages()
    app.run(main)
