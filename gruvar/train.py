"""``train_and_evaluate(config, workdir)``: from a config to a trained, checkpointed, logged run.

Re-running with the same ``workdir`` resumes from the newest checkpoint and ends exactly as
an uninterrupted run would: training batches depend only on (seed, step), the train-metrics
window is flushed at every checkpoint step, and the loop's own state (early stopping, best
metrics, elapsed time) is checkpointed with the model.
"""

from __future__ import annotations

import json
import math
import os
import time
from typing import Any

import jax
import ml_collections
import numpy as np

from gruvar import checkpoint, data, runlog, steps
from gruvar import config as config_lib

# The validation metric that selects the best evaluation, and whether higher is better.
SELECT = {"classify": ("accuracy", True), "frames": ("nll", False)}


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str) -> dict[str, Any]:
    """Trains ``config`` in ``workdir`` (resuming if it holds a checkpoint); returns the summary.

    The summary's ``best`` entry is the evaluation with the best validation metric (accuracy
    for classification, NLL per step for frame prediction), and its test metrics.
    """
    config_lib.validate(config)
    dataset = data.load(config.data.name, config.data.data_dir, **config.data.options)
    config_lib.check_task(config, dataset)
    kind, batch_size = dataset.kind, config.data.batch_size
    per_epoch = dataset.steps_per_epoch(batch_size)
    total = config.train.num_epochs * per_epoch
    eval_every = config.train.eval_every_steps or per_epoch
    ckpt_every = config.train.checkpoint_every_steps or eval_every

    model = steps.build_model(config, dataset)
    state = steps.create_state(config, dataset, model, total)
    n_params = steps.param_count(state.params)
    ckpts = checkpoint.Checkpoints(
        os.path.join(workdir, "checkpoints"), config.train.keep_checkpoints
    )
    best_ckpt = checkpoint.Checkpoints(os.path.join(workdir, "best"), 1)
    start = ckpts.latest_step() or 0
    # A killed run may have saved a best model after its last checkpoint; this run redoes
    # those steps and saves it again.
    best_ckpt.discard_after(start)
    record = {"best": None, "evals_since_best": 0, "elapsed": 0.0, "stopped_early": False}
    if start:
        restored, record = ckpts.restore(start, _saved(state))
        state = state.replace(**restored)
        summary_path = os.path.join(workdir, "summary.json")
        if (start == total or record["stopped_early"]) and os.path.exists(summary_path):
            ckpts.close()
            best_ckpt.close()
            print(f"{workdir} already holds a finished run; its summary is unchanged.", flush=True)
            with open(summary_path) as f:
                return json.load(f)
    log = runlog.RunLog(workdir, config.to_dict(), resume_step=start if start else None)
    where = f"resuming at step {start}" if start else f"workdir {workdir}"
    print(
        f"{config.model.variant}: {n_params:,} parameters | {dataset.name}: "
        f"{per_epoch} steps/epoch, {total} steps | devices {jax.devices()} | {where}",
        flush=True,
    )

    rng = jax.random.key(config.seed)
    window = steps.zero_window(kind)
    progress = runlog.Progress(total, per_epoch, config.train.progress_every_seconds, start)
    latest: dict[str, float] = {}
    session_start = time.time()
    t0 = session_start - record["elapsed"]  # wall time counts across resumes
    step = start
    try:
        while step < total and not record["stopped_early"]:
            batch = dataset.train_batch(step, batch_size, config.seed)
            batch["weights"] = np.ones(batch_size, np.float32)
            state, window = steps.train_step(kind, state, window, batch, rng)
            step += 1
            done = step == total
            at_eval, at_ckpt = step % eval_every == 0 or done, step % ckpt_every == 0 or done
            if step % config.train.log_every_steps == 0 or at_eval or at_ckpt:
                latest = _flush(kind, window, step, per_epoch, t0, log)
                window = steps.zero_window(kind)
            if at_eval:
                improved, val = _evaluate(
                    kind, state, dataset, config, step, per_epoch, t0, log, record
                )
                latest |= val
                if improved:  # committed before the checkpoint whose record points at it
                    best_ckpt.save(step, {"params": state.params}, record)
                    best_ckpt.wait()
            if at_ckpt or record["stopped_early"]:
                record["elapsed"] = time.time() - t0
                ckpts.save(step, _saved(state), record)
            progress.update(step, latest, force=done or record["stopped_early"])
    finally:
        ckpts.close()
        best_ckpt.close()
        log.close()

    if not latest:  # killed after the last checkpoint, before the summary: nothing left to train
        batches = dataset.eval_batches("validation", config.data.eval_batch_size)
        latest = {f"val_{k}": v for k, v in steps.evaluate(kind, state, batches).items()}
    session = time.time() - session_start
    summary = {
        "variant": config.model.variant,
        "dataset": dataset.name,
        "param_count": n_params,
        "steps": step,
        "epochs": step / per_epoch,
        "wall_time": time.time() - t0,
        "steps_per_second": (step - start) / session if step > start else None,
        "final": latest,
        "best": record["best"],
        "stopped_early": record["stopped_early"],
    }
    log.summary(summary)
    return summary


def _saved(state) -> dict[str, Any]:
    """The part of the train state a checkpoint holds (the rest is rebuilt from the config)."""
    return {"step": state.step, "params": state.params, "opt_state": state.opt_state}


def _flush(kind, window, step, per_epoch, t0, log) -> dict[str, float]:
    """Logs the train window that ends at ``step``; stops the run if a loss was not finite."""
    window = jax.device_get(window)
    bad_step = int(window.pop("nonfinite_step"))
    if bad_step != np.iinfo(np.int32).max:
        raise FloatingPointError(
            f"Non-finite training loss at step {bad_step + 1}. The run stopped; the last "
            f"checkpoint (before that step) is kept. Try a lower config.optimizer.learning_rate "
            f"or set config.optimizer.grad_clip_norm (e.g. 1.0), then re-run to resume."
        )
    n_steps = float(window.pop("steps"))
    grad_norm = float(window.pop("grad_norm")) / n_steps
    metrics = steps.metrics_from_sums(kind, {k: float(v) for k, v in window.items()})
    log.write(
        {
            "split": "train",
            "step": step,
            "epoch": step / per_epoch,
            "wall_time": time.time() - t0,
            "grad_norm": grad_norm,
            **metrics,
        }
    )
    return {f"train_{k}": v for k, v in metrics.items()}


def _evaluate(kind, state, dataset, config, step, per_epoch, t0, log, record):
    """Validation and test metrics at ``step``; updates the best-so-far and early stopping.
    Returns (whether this evaluation is the new best, the validation metrics)."""
    results = {}
    for split in ("validation", "test"):
        metrics = steps.evaluate(
            kind, state, dataset.eval_batches(split, config.data.eval_batch_size)
        )
        log.write(
            {
                "split": split,
                "step": step,
                "epoch": step / per_epoch,
                "wall_time": time.time() - t0,
                **metrics,
            }
        )
        results[split] = metrics
    name, higher = SELECT[kind]
    value = results["validation"][name]
    best = record["best"] and record["best"]["validation"][name]
    improved = math.isfinite(value) and (best is None or (value > best if higher else value < best))
    if improved:
        record["best"] = {
            "step": step,
            "validation": results["validation"],
            "test": results["test"],
        }
        record["evals_since_best"] = 0
    else:
        record["evals_since_best"] += 1
        patience = config.train.early_stopping_patience
        record["stopped_early"] = patience is not None and record["evals_since_best"] >= patience
    return improved, {f"val_{k}": v for k, v in results["validation"].items()}
