"""Runs per hour: K vmapped runs (gruvar.training.sweep) against the same K runs one after another.

The step timed is the one training uses: ``steps.train_steps`` (K stacked runs, one jitted
vmapped update) against ``steps.train_step`` (one run), each with its own batch, on the
model a paper config builds. One-after-another training of K runs costs K solo steps per
step of all K. Every model of a shape is timed round-robin in one process (see
benchmarks/recurrence.py), and a ratio is the median over rounds of
(K x solo step time) / (vmapped step time): > 1 means the sweep trains more runs per hour.
Host-side batch assembly is left out (both ways pay it per run).

    python benchmarks/sweep.py                     # both shapes, K = 1, 4, 16
    python benchmarks/sweep.py --shapes=music --ks=1,16 --seconds=10

Memory is XLA's compiled footprint of the step (arguments + outputs + temporaries), and on a
GPU also the device's peak bytes in use.
"""

import jax
import numpy as np
from absl import app, flags
from harness import markdown, ratio, time_round_robin, times_x

from gruvar import hugepages
from gruvar.data import Dataset, Split
from gruvar.training import config as config_lib
from gruvar.training import run, steps, sweep

SHAPES = {  # name: (kind, batch, time, inputs, hidden, outputs)
    "mnist_row": ("classify", 32, 28, 28, 100, 10),  # Dey & Salem, MNIST row-wise
    "music": ("frames", 8, 200, 88, 46, 88),  # Chung et al., GRU on a piano-roll set
}


def setup(shape: tuple):
    """The config, a dataset of one random batch, and the model of ``shape``
    (kind, batch, time, inputs, hidden, outputs)."""
    kind, batch, time, inputs, hidden, outputs = shape
    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch, time, inputs)).astype(np.float32)
    if kind == "classify":
        y = rng.integers(0, outputs, batch).astype(np.int32)
    else:
        y = (rng.random((batch, time, outputs)) < 0.1).astype(np.float32)
    split = Split(x, y, np.full(batch, time, np.int32))
    dataset = Dataset("benchmark", kind, outputs, {"train": split})
    config = config_lib.default_config()
    config.model.features = hidden
    config.data.batch_size = batch
    return config, dataset, steps.build_model(config, dataset)


def step_fns(shape: tuple, ks: list[int]):
    """``name: (step, state)`` for the solo step and the vmapped step of each K, and the
    compiled memory of each. Each step is compiled once, ahead of time, and that executable
    is both timed and measured."""
    config, dataset, model = setup(shape)
    kind = dataset.kind
    batch = dataset.splits["train"].take(np.arange(config.data.batch_size))
    batch["weights"] = np.ones(config.data.batch_size, np.float32)
    batch = jax.device_put(batch)  # on the device, as the stacked batches below
    fns, memory = {}, {}

    key = jax.random.key(0)
    template = steps.create_state(config, dataset, model, 1)
    solo_state = (template, steps.zero_window(kind))
    solo = steps.train_step.lower(kind, *solo_state, batch, key).compile()
    fns["solo"] = (lambda s: jax.block_until_ready(solo(*s, batch, key)), solo_state)
    memory["solo"] = _footprint(solo)
    for k in ks:
        runs = []
        for seed in range(k):
            config.seed = seed
            runs.append(run.checkpointed(steps.create_state(config, dataset, model, 1)))
        stacked = jax.device_put(template.replace(**sweep.stack(runs)))
        batches = jax.device_put(sweep.stack_batches([jax.device_get(batch)] * k))
        rngs = jax.vmap(jax.random.key)(np.arange(k))
        state = (stacked, steps.zero_window(kind, k))
        vmapped = steps.train_steps.lower(kind, *state, batches, rngs).compile()

        def step(state, vmapped=vmapped, batches=batches, rngs=rngs):
            return jax.block_until_ready(vmapped(*state, batches, rngs))

        memory[f"K={k}"] = _footprint(vmapped)
        fns[f"K={k}"] = (step, state)
    return fns, memory


def _footprint(compiled) -> int:
    """Bytes of arguments, outputs and temporaries of a compiled step."""
    analysis = compiled.memory_analysis()
    if analysis is None:
        return 0
    return (
        analysis.argument_size_in_bytes
        + analysis.output_size_in_bytes
        + analysis.temp_size_in_bytes
        - analysis.alias_size_in_bytes
    )


def rows(ks, times, memory, run_steps: int) -> list[dict]:
    """One row per K: ms per step of all K, runs/hour both ways, their ratio, memory (MB)."""
    alone = 3600 / (run_steps * np.median(times["solo"]))
    out = []
    for k in ks:
        t = float(np.median(times[f"K={k}"]))
        out.append(
            {
                "K": k,
                "ms": 1e3 * t,
                "runs_per_hour_vmapped": 3600 / (run_steps * t) * k,
                "runs_per_hour_alone": alone,
                "gain": ratio([k * s for s in times["solo"]], times[f"K={k}"]),
                "memory_mb": memory[f"K={k}"] / 2**20,
            }
        )
    return out


def table(shapes_rows: dict[str, list[dict]]) -> list[str]:
    """Markdown lines of ``{shape label: rows(...)}``."""
    return markdown(
        "| shape | K | ms/step (all K) | runs/hour vmapped | runs/hour one at a time | "
        "vmapped / one at a time | step memory (MB) |",
        "|---|---:|---:|---:|---:|---:|---:|",
        [
            [
                label,
                str(r["K"]),
                f"{r['ms']:.2f}",
                f"{r['runs_per_hour_vmapped']:.1f}",
                f"{r['runs_per_hour_alone']:.1f}",
                times_x(r["gain"]),
                f"{r['memory_mb']:.1f}",
            ]
            for label, shape_rows in shapes_rows.items()
            for r in shape_rows
        ],
    )


def main(argv):
    del argv
    FLAGS = flags.FLAGS
    unknown = set(FLAGS.shapes) - set(SHAPES)
    if unknown:
        raise app.UsageError(f"Unknown shape(s) {sorted(unknown)}; choose from {list(SHAPES)}.")
    ks = [int(k) for k in FLAGS.ks]
    device = jax.devices()[0]
    print(
        f"jax {jax.__version__} | {device.device_kind} ({device.platform}) | runs of "
        f"{FLAGS.run_steps:,} steps | malloc huge pages {hugepages.enabled()}"
    )
    print(*table({})[:2], sep="\n")
    for shape in FLAGS.shapes:
        fns, memory = step_fns(SHAPES[shape], ks)
        times = time_round_robin(fns, FLAGS.seconds, FLAGS.min_rounds, FLAGS.warmup)
        lines = table({shape: rows(ks, times, memory, FLAGS.run_steps)})[2:]
        print(*lines, sep="\n", flush=True)
    stats = device.memory_stats()
    if stats and "peak_bytes_in_use" in stats:
        print(f"device peak bytes in use: {stats['peak_bytes_in_use'] / 2**20:.1f} MB")
    print(f"({len(times['solo'])} rounds for the last shape)")


if __name__ == "__main__":
    # Flags are defined here, not on import, so benchmarks/accelerator.py can import this module
    # beside recurrence.py (which has flags of the same names).
    flags.DEFINE_list("shapes", list(SHAPES), f"Shapes to time, from {list(SHAPES)}.")
    flags.DEFINE_list("ks", ["1", "4", "16"], "Numbers of vmapped runs.")
    flags.DEFINE_float("seconds", 20.0, "Timing budget per shape (after warm-up).")
    flags.DEFINE_integer("min_rounds", 5, "Timed rounds per shape at least.")
    flags.DEFINE_integer("warmup", 2, "Untimed rounds first (compilation, caches).")
    flags.DEFINE_integer("run_steps", 10_000, "Training steps of one run (runs/hour).")
    hugepages.use_huge_pages()
    app.run(main)
