"""The accelerator check: numerics, recurrence and sweep benchmarks, a pixel-wise MNIST epoch.

One command for a lent GPU (benchmarks/README.md, "GPU" section, has the device-tool call):

    python benchmarks/accelerator.py --out=/tmp/accel --data_dir=../shared/data
    python benchmarks/accelerator.py --out=/tmp/accel --dry_run   # toy sizes, < 1 minute

Parts, each under its own time budget (``Plan.budgets``, 6.5 minutes in all; past it, a part
skips what is left and says so), each run whatever the others did (a failed part, or piece of
one, is reported with its error):

1. environment: devices, jax/jaxlib/flax/optax/torch versions, the accelerator's name.
2. numerics: each family's scan against tests/reference.py and against flax.linen.RNN over
   its step, the K = 2 sweep against its runs alone (benchmarks/numerics.py), at float32.
3. recurrence: benchmarks/recurrence.py's models at the Dey & Salem shapes and the large one,
   ``gru`` at several unrolls and at JAX's default (TF32) matmul precision.
4. sweep: benchmarks/sweep.py at K = 1, 4, 16, 64, runs/hour vmapped against one at a time.
5. mnist_epoch: one epoch of ``configs/dey_salem.py:gru,mnist_pixel`` through
   experiments/train.py, timed end to end (process start to exit; benchmarks/epoch.py).

Matmuls run at ``--matmul_precision`` (float32: what gruvar asks for, see the README), torch's
too (TF32 off) except in the rows marked TF32. Writes ``report.md`` and ``report.json`` (the
figures) into ``--out``, checked before the first part and written again as each part ends
(a run cut short keeps the parts done). ``--dry_run`` runs every part at toy sizes on
generated data.
"""

import contextlib
import dataclasses
import os
import platform
import sys
import traceback
from functools import partial
from pathlib import Path

import epoch
import jax
import numerics
import recurrence
import report
import sweep
from absl import app, flags, logging
from harness import time_round_robin
from report import Part

from gruvar import cli, hugepages

ROOT = Path(__file__).resolve().parents[1]
PARTS = ("environment", "numerics", "recurrence", "sweep", "mnist_epoch")


@dataclasses.dataclass(frozen=True)
class Plan:
    """The sizes the parts run at, and each part's time budget (seconds)."""

    numerics_shape: tuple[int, int, int, int]  # batch, time, inputs, features
    numerics_variants: tuple[str, ...]
    recurrence_shapes: dict[str, tuple[int, int, int, int]]
    recurrence_variants: tuple[str, ...]
    gru_unrolls: tuple[int, ...]
    sweep_shapes: dict[str, tuple]
    ks: tuple[int, ...]
    seconds: float  # timing per shape, at most
    min_rounds: int
    epoch_config: str
    budgets: dict[str, float]


FULL = Plan(
    numerics_shape=(8, 100, 28, 100),
    numerics_variants=("gru", "gru3", "gru_reset_after", "mgu", "lstm", "lstm_peephole", "tanh"),
    recurrence_shapes={k: recurrence.SHAPES[k] for k in ("pixel", "row", "large")},
    recurrence_variants=recurrence.VARIANTS,
    gru_unrolls=(1, 4, 16),
    sweep_shapes=sweep.SHAPES,
    ks=(1, 4, 16, 64),
    seconds=12.0,
    min_rounds=3,
    epoch_config="configs/dey_salem.py:gru,mnist_pixel",
    # 6.5 minutes in all at most, so a 10-minute device call ends with time to spare.
    budgets={"environment": 10, "numerics": 40, "recurrence": 140, "sweep": 60, "mnist_epoch": 140},
)
DRY = Plan(
    numerics_shape=(2, 10, 3, 5),
    numerics_variants=("gru", "lstm"),
    recurrence_shapes={"toy": (4, 12, 3, 8)},
    recurrence_variants=("gru", "lstm"),
    gru_unrolls=(1, 2),
    sweep_shapes={"toy": ("classify", 4, 6, 3, 8, 10)},
    ks=(1, 2),
    seconds=0.0,
    min_rounds=2,
    epoch_config="configs/dey_salem.py:gru,mnist_pixel,smoke",
    # Generous: a dry run checks that everything runs, on however loaded a CPU.
    budgets=dict.fromkeys(PARTS, 300.0),
)


def environment(plan: Plan, part: Part) -> None:
    import flax
    import jaxlib
    import optax

    devices = jax.devices()
    figures = {
        "accelerator": devices[0].device_kind,
        "platform": devices[0].platform,
        "devices": [str(d) for d in devices],
        "python": platform.python_version(),
        "jax": jax.__version__,
        "jaxlib": jaxlib.__version__,
        "flax": flax.__version__,
        "optax": optax.__version__,
        "matmul_precision": jax.config.jax_default_matmul_precision,
        "malloc_huge_pages": hugepages.enabled(),
    }
    try:  # after JAX has loaded its CUDA libraries
        import torch

        figures["torch"] = torch.__version__
        figures["torch_device"] = recurrence.torch_device()
        if figures["torch_device"] == "cuda":
            figures["torch_accelerator"] = torch.cuda.get_device_name()
            figures["cudnn"] = torch.backends.cudnn.version()
    except ImportError:
        figures["torch"] = None
    part.figures = figures
    part.lines = [f"- {k}: {v}" for k, v in figures.items()]


def numerics_part(plan: Plan, part: Part) -> None:
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from configs import synthetic

    shape, smoke = plan.numerics_shape, synthetic.get_config("gru,parity,smoke")
    asked = jax.config.jax_default_matmul_precision
    # (name, check, precision); the last, at JAX's default precision, informs and cannot fail.
    checks = [
        *(
            (f"scan = reference, {v}", partial(numerics.reference_error, v, shape), asked)
            for v in plan.numerics_variants
        ),
        ("sweep K=2 = its runs alone", partial(numerics.sweep_vs_solo, smoke), asked),
        *(
            (
                f"scan = flax.linen.RNN(cell), {v}",
                partial(numerics.step_path_error, v, shape),
                asked,
            )
            for v in plan.numerics_variants
        ),
        (
            "scan = reference, gru, JAX's default precision (informative)",
            partial(numerics.reference_error, "gru", shape),
            "default",
        ),
    ]
    part.lines = ["| check | max abs difference | within float32 tolerance |", "|---|---:|---|"]
    for name, check, precision in checks:
        if part.over(name):
            continue
        error = None
        try:
            with jax.default_matmul_precision(precision):
                err, ok = check()
        except Exception as e:
            traceback.print_exc()
            err, ok = float("nan"), False
            error = report.one_line(e)
        part.figures[name] = {"max_abs_difference": err, "ok": ok, "error": error}
        part.lines.append(f"| {name} | {err:.2e} | {'yes' if ok else 'NO'} {error or ''} |")
        if not ok and name != checks[-1][0]:
            part.fail(name, error or "outside the float32 tolerance")


@contextlib.contextmanager
def tf32():
    """JAX's default matmul precision (TF32 on NVIDIA GPUs since Ampere) and torch's TF32."""
    try:
        import torch
    except ImportError:
        torch = None
    saved = torch and (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32)
    if torch:
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = True
    try:
        with jax.default_matmul_precision("default"):
            yield
    finally:
        if torch:
            torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved


def _under_tf32(build):
    with tf32():
        step, state = build()

    def step_tf32(state):
        with tf32():
            return step(state)

    return step_tf32, state


def recurrence_part(plan: Plan, part: Part) -> None:
    with contextlib.suppress(ImportError):
        import torch

        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    shapes = list(plan.recurrence_shapes.items())
    tables = {}
    for i, (name, shape) in enumerate(shapes):
        if part.over(f"shape {name}"):
            continue
        builders = recurrence.models(shape, 1, plan.gru_unrolls, plan.recurrence_variants)
        for model in ("gruvar gru", "torch.nn.GRU"):
            if model in builders:
                builders[f"{model} (TF32)"] = partial(_under_tf32, builders[model])
        steps = {}
        for model, build in builders.items():
            if part.over(f"{name}: {model}"):
                continue
            try:  # one model failing (a peer, say) leaves the others' figures
                step, state = build()
                steps[model] = (step, step(state))  # compiled here, within the budget
            except Exception as e:
                traceback.print_exc()
                part.fail(f"{name}: {model}", report.one_line(e))
        if "gruvar gru" not in steps:
            continue
        seconds = max(0.0, min(plan.seconds, part.left() / (len(shapes) - i) - 5))
        times = time_round_robin(steps, seconds, plan.min_rounds, warmup=1)
        rows = recurrence.rows(times)
        ms = {r["model"]: r["ms"] for r in rows}
        by_unroll = {1: ms["gruvar gru"]} | {
            u: ms[f"gruvar gru unroll={u}"]
            for u in plan.gru_unrolls
            if f"gruvar gru unroll={u}" in ms
        }
        label = f"{name} {shape}"
        part.figures[name] = {
            "shape": shape,
            "rounds": len(times["gruvar gru"]),
            "rows": rows,
            "gru_ms_by_unroll": by_unroll,
            "best_gru_unroll": min(by_unroll, key=by_unroll.get),
        }
        tables[label] = rows
        print(*recurrence.table({label: rows})[2:], sep="\n", flush=True)
    part.lines = [
        *recurrence.table(tables),
        "",
        *(
            f"- {n}: best `unroll` for gru {f['best_gru_unroll']} "
            f"(of {list(plan.gru_unrolls)}); {f['rounds']} rounds"
            for n, f in part.figures.items()
        ),
    ]


def sweep_part(plan: Plan, part: Part) -> None:
    shapes = list(plan.sweep_shapes.items())
    tables = {}
    for i, (name, shape) in enumerate(shapes):
        if part.over(f"shape {name}"):
            continue
        fns, memory = sweep.step_fns(shape, list(plan.ks))
        seconds = max(0.0, min(plan.seconds, part.left() / (len(shapes) - i) - 5))
        times = time_round_robin(fns, seconds, plan.min_rounds, warmup=1)
        rows = sweep.rows(plan.ks, times, memory, run_steps=10_000)
        part.figures[name] = {"shape": shape, "rounds": len(times["solo"]), "rows": rows}
        tables[name] = rows
        print(*sweep.table({name: rows})[2:], sep="\n", flush=True)
    part.lines = [*sweep.table(tables), "", "Runs/hour count runs of 10,000 steps."]


def epoch_part(plan: Plan, part: Part, data_dir: str | None) -> None:
    epoch.run(part, plan.epoch_config, data_dir, dry=plan is DRY)


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    FLAGS = flags.FLAGS
    logging.set_verbosity(logging.WARNING)  # keep orbax's INFO chatter out of the log
    unknown = set(FLAGS.parts) - set(PARTS)
    if unknown:
        raise app.UsageError(f"Unknown part(s) {sorted(unknown)}; choose from {list(PARTS)}.")
    jax.config.update("jax_default_matmul_precision", FLAGS.matmul_precision)
    data_dir = FLAGS.data_dir or os.environ.get("GRUVAR_DATA_DIR")
    fns = {
        "environment": environment,
        "numerics": numerics_part,
        "recurrence": recurrence_part,
        "sweep": sweep_part,
        "mnist_epoch": partial(epoch_part, data_dir=data_dir),
    }
    out = Path(FLAGS.out)
    report.check_out(out)
    plan = DRY if FLAGS.dry_run else FULL
    chosen = {p: partial(fns[p], plan) for p in PARTS if p in FLAGS.parts}
    done = report.run_parts(chosen, plan.budgets, report.write_so_far(out, FLAGS.dry_run))
    report.write(out, done, FLAGS.dry_run)


if __name__ == "__main__":
    flags.DEFINE_string("out", None, "Folder for report.md and report.json (created).")
    flags.DEFINE_bool("dry_run", False, "Every part at toy sizes on generated data (CI).")
    flags.DEFINE_string("data_dir", None, "Folder holding mnist/ (else $GRUVAR_DATA_DIR).")
    flags.DEFINE_list("parts", list(PARTS), f"Parts to run, from {list(PARTS)}.")
    flags.DEFINE_enum(
        "matmul_precision",
        "float32",
        ["float32", "default"],
        "JAX's default matmul precision for float32 (default: TF32 on NVIDIA GPUs since Ampere).",
    )
    flags.mark_flag_as_required("out")
    hugepages.use_huge_pages()
    cli.run(main)  # a mistake (--out, say) is one line
