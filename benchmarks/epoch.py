"""The accelerator check's last part: one training epoch, timed from process start to exit.

``run`` starts experiments/train.py for one epoch of a config in a child process (the way a
researcher would) and reads its summary.json; at its time budget the child is stopped and
``stopped_epoch`` projects the epoch from the steps it logged.
"""

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import jax
import numpy as np
from report import Part

ROOT = Path(__file__).resolve().parents[1]


def run(part: Part, config: str, data_dir: str | None, dry: bool) -> None:
    """One epoch of ``config`` through experiments/train.py in a child process, timed end to
    end into ``part``; ``dry``: on random digits (``tiny_mnist``) instead of ``data_dir``."""
    with tempfile.TemporaryDirectory() as tmp:
        overrides = ["--config.train.num_epochs=1"]
        if dry:
            data_dir = tiny_mnist(Path(tmp) / "data")
        if data_dir:
            overrides.append(f"--config.data.data_dir={os.path.abspath(data_dir)}")
        workdir = Path(tmp) / "run"
        command = [
            sys.executable,
            "experiments/train.py",
            f"--config={config}",
            f"--workdir={workdir}",
            *overrides,
        ]
        env = os.environ | {
            "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
            # This process holds its share of the GPU; the child takes memory as it needs it.
            "XLA_PYTHON_CLIENT_PREALLOCATE": "false",
            "JAX_DEFAULT_MATMUL_PRECISION": jax.config.jax_default_matmul_precision,
        }
        part.lines = [f"`{' '.join(command[1:3])} {' '.join(overrides)}`", ""]
        log = Path(tmp) / "train.log"
        start = time.perf_counter()
        try:
            with open(log, "w") as out:
                code = subprocess.run(
                    command,
                    cwd=ROOT,
                    env=env,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    timeout=max(part.left(), 1.0),
                ).returncode
        except subprocess.TimeoutExpired:
            code = None
        wall = time.perf_counter() - start
        said = log.read_text().strip().splitlines() or [""]
        print(*said[-20:], sep="\n", flush=True)  # the run's own last words, for the log
        if code is None:
            part.skipped.append("the rest of the epoch")
            stopped_epoch(part, workdir / "metrics.jsonl", wall)
            return
        if code:
            raise RuntimeError(f"experiments/train.py exited {code}: {said[-1]}")
        summary = json.loads((workdir / "summary.json").read_text())
    part.figures = {
        "end_to_end_seconds": wall,
        "train_loop_seconds": summary["wall_time"],
        "steps": summary["steps"],
        "steps_per_second": summary["steps_per_second"],
        "test_accuracy": summary["best"]["test"]["accuracy"],
    }
    part.lines += [
        f"- one epoch, end to end (process start to exit): {wall:.1f} s",
        f"- of which the training loop (with evaluation): {summary['wall_time']:.1f} s, "
        f"{summary['steps']} steps, {summary['steps_per_second']:.1f} steps/s",
        f"- test accuracy after the epoch: {part.figures['test_accuracy']:.4f}",
    ]


def stopped_epoch(part: Part, metrics: Path, wall: float) -> None:
    """The figures of an epoch stopped at its budget after ``wall`` seconds: its last logged
    training step (``metrics``: the run's metrics.jsonl) and the loop time it projects."""
    text = metrics.read_text() if metrics.exists() else ""
    # Whole lines only: the run was killed, perhaps in the middle of writing one.
    records = [json.loads(line) for line in text.split("\n")[:-1]]
    train = [r for r in records if r["split"] == "train"]
    if not train:
        part.lines.append(f"- stopped at the budget ({wall:.0f} s) before the first logged step")
        return
    last = train[-1]
    per_epoch = round(last["step"] / last["epoch"])
    projected = last["wall_time"] / last["step"] * per_epoch
    part.figures = {
        "stopped_at_step": last["step"],
        "steps_per_epoch": per_epoch,
        "loop_seconds_at_stop": last["wall_time"],
        "projected_loop_seconds": projected,
    }
    part.lines.append(
        f"- stopped at the budget ({wall:.0f} s) at step {last['step']} of {per_epoch}; "
        f"the loop would take ~{projected:.0f} s per epoch (without evaluation)"
    )


def tiny_mnist(folder: Path) -> str:
    """Random 28x28 digits as Keras' mnist.npz: enough training images for the 5,000 held out
    for validation plus the smoke config's 64, and 16 test images."""
    rng = np.random.default_rng(0)
    (folder / "mnist").mkdir(parents=True)
    np.savez(
        folder / "mnist" / "mnist.npz",
        x_train=rng.integers(0, 256, (5064, 28, 28), dtype=np.uint8),
        y_train=rng.integers(0, 10, 5064, dtype=np.uint8),
        x_test=rng.integers(0, 256, (16, 28, 28), dtype=np.uint8),
        y_test=rng.integers(0, 10, 16, dtype=np.uint8),
    )
    return str(folder)
