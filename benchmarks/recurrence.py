"""Training-step time of gruvar's recurrence against flax.linen.RNN and torch.nn (GRU, LSTM).

Each gruvar model is compared with the peers of its family: the LSTM-family variants (``lstm``,
the slim and Greff LSTMs, minLSTM, FGR) with ``flax.linen.RNN(OptimizedLSTMCell)`` and
``torch.nn.LSTM``, every other variant (GRU, MGU, tanh/IndRNN, Li-GRU, MUT) with
``flax.linen.RNN(GRUCell)`` and ``torch.nn.GRU``. flax and torch use the
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
    python benchmarks/recurrence.py --shapes=row,pixel --variants=all   # + the whole zoo
    python benchmarks/recurrence.py --shapes=linear # the linear-variant table

``--nnx`` (default gru, lstm) times those variants through ``gruvar.nnx`` too, rows
``gruvar.nnx <variant>``: the same classifier as NNX modules, stepped as flax advises for speed
(``nnx.split`` once, then ``jax.jit`` over the parameters and ``nnx.merge`` inside), so
the row measures the layer, not ``nnx.jit``'s per-call graph traversal. Below each table a
line gives linen time / NNX time per variant (median over rounds; 1.00x: the same).
``--variants`` adds registered variants (``all``: every one) to the four timed by default; one
that cannot run at a shape (MUT1-3 need input width = hidden) is listed as skipped, with why.
The ``linear`` table times the registered variants linear in their state (minGRU, minLSTM)
at B 32, input width 1, hidden 100 (the pixel shape's) and T = 784, 4096, 16384, each with
``scan="sequential"`` and ``scan="parallel"`` (``jax.lax.associative_scan``), beside ``gru``
(sequential, its only path). Its ratios: "vs sequential" is the same variant's sequential
time / this time, "vs gru" is gru's time / this time (> 1: this one is faster).
``--linear_gru_lengths`` leaves gru out at long T (on a CPU, where its step takes seconds).

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
from flax import nnx
from harness import markdown, ratio, time_round_robin, times_x

import gruvar
import gruvar.nnx
from gruvar import hugepages

SHAPES = {  # name: (batch, time, inputs, hidden)
    "row": (32, 28, 28, 100),  # Dey & Salem, MNIST row-wise
    "pixel": (32, 784, 1, 100),  # Dey & Salem, MNIST pixel-wise
    "large": (64, 256, 128, 512),
}
VARIANTS = ("gru", "gru3", "gru_reset_after", "lstm")
LINEAR = tuple(name for name, v in gruvar.VARIANTS.items() if v.plan.linear)  # mingru, minlstm
LINEAR_LENGTHS = (784, 4096, 16384)
MODES = ("sequential", "parallel")
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


def batch_of(shape) -> tuple[np.ndarray, np.ndarray]:
    """Random inputs [batch, time, inputs] and labels [batch] for ``shape``."""
    batch, time_, inputs, _ = shape
    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch, time_, inputs)).astype(np.float32)
    return x, rng.integers(0, CLASSES, batch).astype(np.int32)


def gruvar_step_fn(variant, hidden, x, y, unroll=1, scan="auto") -> Step:
    """The training step of a gruvar ``variant`` classifier on the batch (x, y)."""
    rnn = gruvar.RNN(variant, hidden, unroll=unroll, scan=scan)
    return jax_step_fn(gruvar.SequenceClassifier(rnn, CLASSES), jnp.asarray(x), jnp.asarray(y))


def nnx_step_fn(variant, hidden, x, y, unroll=1, scan="auto") -> Step:
    """``gruvar_step_fn``'s step with the classifier built from ``gruvar.nnx`` modules: split
    once, then the same jitted SGD step over the parameter pytree, merged back inside."""
    rngs = nnx.Rngs(0)
    rnn = gruvar.nnx.RNN(variant, x.shape[-1], hidden, unroll=unroll, scan=scan, rngs=rngs)
    graphdef, params = nnx.split(gruvar.nnx.SequenceClassifier(rnn, CLASSES, rngs=rngs))

    @jax.jit
    def train_step(params):
        def loss(p):
            logits = nnx.merge(graphdef, p)(x)
            return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()

        grads = jax.grad(loss)(params)
        return jax.tree.map(lambda p, g: p - LR * g, params, grads)

    return lambda p: jax.block_until_ready(train_step(p)), params


def models(
    shape, unroll=1, gru_unrolls=(), variants=VARIANTS, nnx_variants=()
) -> dict[str, Callable[[], Step]]:
    """``name: builder`` of every model timed at ``shape`` (batch, time, inputs, hidden); a
    builder returns ``(step, state)``. gruvar's ``variants`` run with ``unroll``, and
    ``nnx_variants`` through ``gruvar.nnx`` too; ``gru_unrolls`` adds ``gru`` at other
    unrolls. The torch peers are left out when torch is not installed."""
    hidden = shape[-1]
    x, y = batch_of(shape)
    xj, yj = jnp.asarray(x), jnp.asarray(y)
    gruvar_model = functools.partial(gruvar_step_fn, hidden=hidden, x=xj, y=yj)
    builders = {f"gruvar {v}": functools.partial(gruvar_model, v, unroll=unroll) for v in variants}
    for v in nnx_variants:
        builders[f"gruvar.nnx {v}"] = functools.partial(nnx_step_fn, v, hidden, xj, yj, unroll)
    for u in gru_unrolls:
        if u != unroll:
            builders[f"gruvar gru unroll={u}"] = functools.partial(gruvar_model, "gru", unroll=u)
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
    """The (flax, torch) peers a model's time is compared with: the LSTM's for a gruvar variant
    of an LSTM family (and for the LSTM peers themselves), else the GRU's."""
    if model.startswith(("gruvar ", "gruvar.nnx ")):
        family = gruvar.core.variants.get(model.split()[1]).family.name
        return PEERS["lstm" if family in ("lstm", "fgr") else "gru"]
    return PEERS["lstm" if "LSTM" in model else "gru"]


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


def nnx_vs_linen(times: dict[str, list[float]]) -> dict[str, float]:
    """``variant: linen time / NNX time`` (median over rounds) for each variant timed both ways."""
    return {
        model.split()[1]: ratio(times[f"gruvar {model.split()[1]}"], t)
        for model, t in times.items()
        if model.startswith("gruvar.nnx ") and f"gruvar {model.split()[1]}" in times
    }


def table(shapes_rows: dict[str, list[dict]]) -> list[str]:
    """Markdown lines of ``{shape label: rows(...)}``."""
    return markdown(
        "| shape (B, T, in, hidden) | model | median ms/step | vs flax peer | vs torch peer |",
        "|---|---|---:|---:|---:|",
        [
            [label, r["model"], f"{r['ms']:.2f}", times_x(r["vs_flax"]), times_x(r["vs_torch"])]
            for label, shape_rows in shapes_rows.items()
            for r in shape_rows
        ],
    )


def linear_models(time_, with_gru=True) -> dict[str, Callable[[], Step]]:
    """``name: builder`` of the linear-variant table at length ``time_``: each of ``LINEAR`` with
    each scan mode, and ``gru`` (sequential) when ``with_gru``."""
    batch, _, inputs, hidden = SHAPES["pixel"]
    x, y = batch_of((batch, time_, inputs, hidden))
    step = functools.partial(gruvar_step_fn, hidden=hidden, x=x, y=y)
    builders = {f"{v} {m}": functools.partial(step, v, scan=m) for v in LINEAR for m in MODES}
    if with_gru:
        builders["gru"] = functools.partial(step, "gru")
    return builders


def linear_rows(times: dict[str, list[float]]) -> list[dict]:
    """One row per model of ``linear_models``: median ms per step, the ratio to the same
    variant's sequential scan and to gru (None where not timed or the model itself)."""
    out = []
    for model, t in times.items():
        sequential = times.get(model.replace("parallel", "sequential"))
        out.append(
            {
                "model": model,
                "ms": statistics.median(t) * 1e3,
                "vs_sequential": ratio(sequential, t) if "parallel" in model else None,
                "vs_gru": ratio(times["gru"], t) if "gru" in times and model != "gru" else None,
            }
        )
    return out


def linear_table(lengths_rows: dict[int, list[dict]]) -> list[str]:
    """Markdown lines of ``{T: linear_rows(...)}``; a ratio that does not apply is blank."""

    def x(r):
        return "" if r is None else times_x(r)

    return markdown(
        "| T | model | median ms/step | vs sequential | vs gru |",
        "|---:|---|---:|---:|---:|",
        [
            [str(t), r["model"], f"{r['ms']:.2f}", x(r["vs_sequential"]), x(r["vs_gru"])]
            for t, rows_ in lengths_rows.items()
            for r in rows_
        ],
    )


def zoo(names: list[str]) -> tuple[str, ...]:
    """The registered variants ``--variants`` names (``all``: every one) beyond ``VARIANTS``."""
    chosen = list(gruvar.VARIANTS) if names == ["all"] else names
    unknown = [v for v in chosen if v not in gruvar.VARIANTS]
    if unknown:
        raise app.UsageError(
            f"Unknown variant(s) {unknown} in --variants; choose from {list(gruvar.VARIANTS)} "
            f"or 'all'."
        )
    return tuple(v for v in chosen if v not in VARIANTS)


def build(builders, optional=()) -> dict[str, Step]:
    """The steps of ``builders``; a model in ``optional`` whose build raises ValueError (a variant
    the shape cannot run) is left out with a line saying why."""
    steps = {}
    for model, builder in builders.items():
        try:
            steps[model] = builder()
        except ValueError as err:
            if model not in optional:
                raise
            print(f"skipped {model}: {err}", flush=True)
    return steps


def _ints(flag: str) -> list[int]:
    try:
        return [int(t) for t in flags.FLAGS[flag].value]
    except ValueError:
        raise app.UsageError(f"--{flag} takes integers, got {flags.FLAGS[flag].value}.") from None


def main(argv):
    del argv
    FLAGS = flags.FLAGS
    unknown = set(FLAGS.shapes) - {*SHAPES, "linear"}
    if unknown:
        raise app.UsageError(
            f"Unknown shape(s) {sorted(unknown)}; choose from {[*SHAPES, 'linear']}."
        )
    extra = zoo(FLAGS.variants)
    try:
        for v in FLAGS.nnx:
            gruvar.core.variants.get(v)
    except ValueError as err:
        raise app.UsageError(f"--nnx: {err}") from None
    lengths, gru_lengths = _ints("linear_lengths"), _ints("linear_gru_lengths")
    print(
        f"jax {jax.__version__} on {jax.devices()[0].device_kind}; unroll={FLAGS.unroll}; "
        f"malloc huge pages {hugepages.enabled()}"
    )
    timing = (FLAGS.seconds, FLAGS.min_rounds, FLAGS.warmup)
    if set(FLAGS.shapes) & set(SHAPES):
        print(*table({})[:2], sep="\n")
    for name in FLAGS.shapes:
        if name == "linear":
            continue
        builders = models(
            SHAPES[name], FLAGS.unroll, variants=VARIANTS + extra, nnx_variants=tuple(FLAGS.nnx)
        )
        optional = {f"gruvar {v}" for v in extra} | {f"gruvar.nnx {v}" for v in FLAGS.nnx}
        steps = build(builders, optional=optional)
        times = time_round_robin(steps, *timing)
        print(*table({f"{name} {SHAPES[name]}": rows(times)})[2:], sep="\n", flush=True)
        print(f"({len(next(iter(times.values())))} rounds)", flush=True)
        same = nnx_vs_linen(times)
        if same:
            print("linen / NNX time: " + ", ".join(f"{v} {times_x(r)}" for v, r in same.items()))
    if "linear" in FLAGS.shapes:
        batch, _, inputs, hidden = SHAPES["pixel"]
        print(f"linear variants: B {batch}, input width {inputs}, hidden {hidden}", flush=True)
        print(*linear_table({})[:2], sep="\n")
        for length in lengths:
            steps = build(linear_models(length, length in gru_lengths))
            times = time_round_robin(steps, *timing)
            print(*linear_table({length: linear_rows(times)})[2:], sep="\n", flush=True)
            print(f"({len(next(iter(times.values())))} rounds)", flush=True)


if __name__ == "__main__":
    # Flags are defined here, not on import, so benchmarks/accelerator.py can import this module
    # beside sweep.py (which has flags of the same names).
    flags.DEFINE_list("shapes", list(SHAPES), f"Shapes to time, from {[*SHAPES, 'linear']}.")
    flags.DEFINE_list("variants", [], "Registered variants to add to the default four; 'all'.")
    flags.DEFINE_list("nnx", ["gru", "lstm"], "Variants timed through gruvar.nnx too.")
    flags.DEFINE_list("linear_lengths", list(map(str, LINEAR_LENGTHS)), "T of the linear table.")
    flags.DEFINE_list(
        "linear_gru_lengths", list(map(str, LINEAR_LENGTHS)), "T at which it times gru too."
    )
    flags.DEFINE_float("seconds", 30.0, "Timing budget per shape (after warm-up).")
    flags.DEFINE_integer("min_rounds", 5, "Timed rounds per shape at least.")
    flags.DEFINE_integer("warmup", 3, "Untimed rounds first (compilation, caches).")
    flags.DEFINE_integer("unroll", 1, "gruvar scan unroll.")
    hugepages.use_huge_pages()
    app.run(main)
