"""One run directory's bookkeeping: checkpoints, best model, metrics log, early stopping.

The training loop (``gruvar.sweep.train_runs``) owns the compute; a ``Run`` owns what one run
writes: it restores or initialises the run's state, logs its train windows and evaluations,
keeps the best model by validation metric, checkpoints the model with the loop's own record
(best so far, evaluations since, elapsed time, early stop), and writes ``summary.json``.

``summary.json`` is written last, so its presence marks a run as done. Its ``status`` is
"complete" (all epochs), "stopped_early" (no validation improvement for
``config.train.early_stopping_patience`` evaluations) or "diverged" (a non-finite training
loss; its last checkpoint is the one before).
"""

from __future__ import annotations

import json
import math
import os
import time
from typing import Any

import ml_collections

from gruvar import checkpoint, runlog, steps

# The validation metric that selects the best evaluation, and whether higher is better.
SELECT = {"classify": ("accuracy", True), "frames": ("nll", False)}


def checkpointed(state) -> dict[str, Any]:
    """The part of a train state a checkpoint holds (the rest is rebuilt from the config)."""
    return {"step": state.step, "params": state.params, "opt_state": state.opt_state}


class Run:
    """The run in ``workdir`` trained with ``config`` (``kind``: the dataset's kind)."""

    def __init__(self, config: ml_collections.ConfigDict, workdir: str, kind: str, main: bool):
        self.config, self.workdir, self.kind, self.main = config, workdir, kind, main
        self.ckpts = checkpoint.Checkpoints(
            os.path.join(workdir, "checkpoints"), config.train.keep_checkpoints
        )
        self.best_ckpt = checkpoint.Checkpoints(os.path.join(workdir, "best"), 1)
        self.record = {"best": None, "evals_since_best": 0, "elapsed": 0.0, "stopped_early": False}
        self.latest: dict[str, float] = {}
        self.t0 = time.time()  # wall-clock origin; a resumed run moves it back by its elapsed
        self.log: runlog.RunLog | None = None
        summary_path = os.path.join(workdir, "summary.json")
        self.summary: dict[str, Any] | None = None
        if os.path.exists(summary_path):
            with open(summary_path) as f:
                self.summary = json.load(f)

    @property
    def name(self) -> str:
        return os.path.basename(os.path.normpath(self.workdir))

    def latest_step(self) -> int:
        return self.ckpts.latest_step() or 0

    def restore(self, step: int, like: dict[str, Any]) -> dict[str, Any]:
        """The saved part of the state at checkpoint ``step`` (0: ``like`` itself, a fresh run);
        the loop's record comes back with it."""
        # Anything saved after ``step`` (a best model saved after the last checkpoint; in a
        # sweep, a run one checkpoint ahead of the others) is redone and saved again.
        self.best_ckpt.discard_after(step)
        self.ckpts.discard_after(step)
        if not step:
            return like
        if step not in self.ckpts.all_steps():
            raise RuntimeError(
                f"{self.workdir} has checkpoints at steps {self.ckpts.all_steps()}, not at step "
                f"{step} where the other runs of its sweep resume. Move this run directory "
                f"away to retrain it, or resume it alone with experiments/train.py."
            )
        saved, self.record = self.ckpts.restore(step, like)
        return saved

    def finished_at(self, step: int, total: int) -> bool:
        return step == total or self.record["stopped_early"]

    def open_log(self, start: int) -> None:
        """Opens metrics.jsonl, cut back to ``start``; the newest metrics come back from it."""
        self.log = runlog.RunLog(
            self.workdir, self.config.to_dict(), resume_step=start or None, write=self.main
        )
        for line in self.log.lines():
            prefix = {"train": "train_", "validation": "val_"}.get(line["split"])
            if prefix:
                self.latest |= {
                    f"{prefix}{k}": v for k, v in line.items() if k not in runlog.NOT_METRICS
                }

    def log_train(self, window: dict[str, float], step: int, per_epoch: int) -> None:
        """Logs the train window (metric sums, steps, Σ grad norm) that ends at ``step``."""
        n_steps = window.pop("steps")
        grad_norm = window.pop("grad_norm") / n_steps
        metrics = steps.metrics_from_sums(self.kind, window) | {"grad_norm": grad_norm}
        self._write("train", step, per_epoch, metrics)
        self.latest = {f"train_{k}": v for k, v in metrics.items()}

    def log_eval(self, results: dict[str, dict[str, float]], step: int, per_epoch: int) -> bool:
        """Logs validation and test metrics; updates the best so far and early stopping.
        Returns whether this evaluation is the new best (by validation metric only)."""
        for split, metrics in results.items():
            self._write(split, step, per_epoch, metrics)
        self.latest |= {f"val_{k}": v for k, v in results["validation"].items()}
        name, higher = SELECT[self.kind]
        value = results["validation"][name]
        best = self.record["best"] and self.record["best"]["validation"][name]
        improved = math.isfinite(value) and (
            best is None or (value > best if higher else value < best)
        )
        if improved:
            self.record["best"] = {"step": step, **results}
            self.record["evals_since_best"] = 0
        else:
            self.record["evals_since_best"] += 1
            patience = self.config.train.early_stopping_patience
            self.record["stopped_early"] = (
                patience is not None and self.record["evals_since_best"] >= patience
            )
        return improved

    def save_best(self, step: int, params: Any) -> None:
        """Committed before the checkpoint whose record points at it."""
        self.best_ckpt.save(step, {"params": params}, self.record)
        self.best_ckpt.wait()

    def save(self, step: int, saved: dict[str, Any]) -> None:
        self.record["elapsed"] = time.time() - self.t0
        self.ckpts.save(step, saved, self.record)

    def finish(self, status: str, step: int, facts: dict[str, Any], error: str | None = None):
        """Writes summary.json (the run is done) and releases the checkpoint managers."""
        self.close()
        self.summary = {
            **facts,
            "status": status,
            "steps": step,
            "final": self.latest,
            "best": self.record["best"],
            **({"error": error} if error else {}),
        }
        if self.log is not None:
            self.log.summary(self.summary)
            self.log.close()

    def close(self) -> None:
        self.ckpts.close()
        self.best_ckpt.close()

    def _write(self, split, step, per_epoch, metrics) -> None:
        record = {"split": split, "step": step, "epoch": step / per_epoch}
        self.log.write(record | {"wall_time": time.time() - self.t0} | metrics)
