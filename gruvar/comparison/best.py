"""A trained run's best model, restored from its directory and evaluated again on any split.

A run logs validation and test metrics at each evaluation, but its training metric is the
loss as it trained: averaged over a window of updates and, with ``train.weight_noise``, taken
at noisy weights. Papers report a train column of the final model (Chung et al. 2014, Table 2),
so comparing with it needs the clean number: the best-validation parameters (``best/``) on the
whole split, no noise, exactly as validation and test were measured.

Chung et al. never define Table 2's "average" (PAPERS.md §1.6.8). Ours weights every predicted
frame alike; ``by_sequence`` also gives the other reading, every song alike:

    nll_by_sequence = (1/N) Σ_i (1/T_i) Σ_{t<T_i} Σ_d BCE(logit_itd, y_itd)
"""

from __future__ import annotations

import json
import os

import ml_collections
import numpy as np
import pandas as pd

from gruvar import data
from gruvar.comparison import analysis
from gruvar.data import Split
from gruvar.training import checkpoint, steps
from gruvar.training.config import default_config


def load_config(run_dir: str) -> ml_collections.ConfigDict:
    """The config a run trained with (its ``config.json``), over today's defaults so a run
    written before a field existed reads that field's default. Its variant is the one it
    trained (the canonical form config.json keeps), whatever its name is registered as now."""
    path = os.path.join(run_dir, "config.json")
    if not os.path.exists(path):
        raise FileNotFoundError(
            f"{path} does not exist: {run_dir!r} is not a run directory. Point at a --workdir "
            f"that experiments/train.py or compare.py trained (it holds config.json)."
        )
    config = default_config()
    with open(path) as f:
        saved = json.load(f)
    form = saved.get("model", {}).pop("variant_form", None)
    config.update(saved)
    if form:
        config.model.variant = form
    return config


def restore(run_dir: str, data_dir: str | None = None):
    """(config, dataset, state): a run's config, its data set (from ``data_dir`` if given,
    else the run's own) and a train state holding its best-validation parameters."""
    config = load_config(run_dir)
    best = os.path.join(run_dir, "best")
    if not os.path.isdir(best) or not os.listdir(best):
        _no_best_model(run_dir)
    dataset = data.load(config.data.name, data_dir or config.data.data_dir, **config.data.options)
    state = steps.create_state(config, dataset, steps.build_model(config, dataset), 1)
    ckpts = checkpoint.Checkpoints(best, 1)
    try:
        step = ckpts.latest_step()
        if step is None:
            _no_best_model(run_dir)
        try:
            saved, _ = ckpts.restore(step, {"params": state.params})
        except Exception as err:  # orbax and tensorstore raise many types for bad files
            raise ValueError(
                f"{best}/{step} does not read back ({checkpoint.first_line(err)}): {run_dir}'s "
                f"best model is damaged, so it cannot be evaluated. Retrain the run (move its "
                f"directory away) to get it back."
            ) from None
    finally:
        ckpts.close()
    return config, dataset, state.replace(params=saved["params"])


def _no_best_model(run_dir: str) -> None:
    """FileNotFoundError saying why ``run_dir`` holds no best model, in one line."""
    finished = os.path.exists(os.path.join(run_dir, "summary.json"))
    if finished and not os.path.isdir(os.path.join(run_dir, "checkpoints")):
        raise FileNotFoundError(
            f"{run_dir} holds a run's record (config, summary, metrics), restored from "
            f"--records: records carry no model, so its best model cannot be evaluated here. "
            f"Evaluate it in the workdir that trained it, or retrain it without --records."
        )
    if finished:
        raise FileNotFoundError(
            f"{run_dir} finished but holds no best model in best/ (lost: deleted, or found "
            f"damaged when the run resumed), so it cannot be evaluated. Retrain the run (move "
            f"its directory away) to get one."
        )
    raise FileNotFoundError(
        f"{run_dir} has no best/ model yet: it has not finished its first evaluation. "
        f"Resume its training first (the same experiments/ command and --workdir)."
    )


def evaluate(
    run_dir: str,
    splits: tuple[str, ...] = ("train",),
    data_dir: str | None = None,
    by_sequence: bool = False,
) -> dict[str, dict[str, float]]:
    """split -> metrics of the run's best-validation model on that whole split (padding and
    weight noise excluded), with ``nll_by_sequence`` too if ``by_sequence``. ``data_dir``
    overrides the one the run was trained with."""
    config, dataset, state = restore(run_dir, data_dir)
    unknown = [s for s in splits if s not in dataset.splits]
    if unknown:
        raise ValueError(f"{dataset.name} has no split {unknown}; it has {list(dataset.splits)}.")
    size = config.data.eval_batch_size
    metrics = {}
    for s in splits:  # the per-sequence NLL first: a classification set fails before any work
        extra = {}
        if by_sequence:
            per_sequence = sequence_nll(dataset.kind, state, dataset.splits[s])
            extra["nll_by_sequence"] = float(per_sequence.mean())
        metrics[s] = steps.evaluate(dataset.kind, state, dataset.eval_batches(s, size)) | extra
    return metrics


def sequence_nll(kind: str, state, split: Split) -> np.ndarray:
    """Each sequence's NLL per predicted frame [N], in the split's order (one per batch)."""
    if kind != "frames":
        raise ValueError(
            f"A per-sequence NLL needs a frames data set (music), not {kind!r}: drop by_sequence."
        )
    one = {"weights": np.ones(1, np.float32)}
    sums = [
        steps.eval_step(kind, state, split.take(np.array([i])) | one) for i in range(len(split))
    ]
    return np.array([float(s["nll"]) / max(float(s["frames"]), 1.0) for s in sums])


def evaluate_all(
    root: str,
    splits: tuple[str, ...] = ("train",),
    data_dir: str | None = None,
    by_sequence: bool = False,
) -> pd.DataFrame:
    """``evaluate`` for the runs under ``root`` that its comparison table counts (for each
    variant and seed, the finished run with the best validation metric: ``analysis.select``):
    one row per run and split, with the run's path relative to ``root``, variant, seed and
    learning rate."""
    chosen = analysis.select(analysis.run_results(analysis.load_runs(root)))
    if chosen.empty:
        raise FileNotFoundError(
            f"No finished run under {root!r} (summary.json beside config.json): train it "
            f"first, or point at a trained --workdir; committed evidence folders hold no runs."
        )
    rows = []
    for run, variant, seed, lr in chosen[["run", "variant", "seed", "learning_rate"]].to_numpy():
        path = os.path.join(root, run)
        for split, metrics in evaluate(path, splits, data_dir, by_sequence).items():
            rows.append(
                {"run": run, "variant": variant, "seed": seed, "learning_rate": lr, "split": split}
                | metrics
            )
    return pd.DataFrame(rows)


def summarize(frame: pd.DataFrame) -> pd.DataFrame:
    """Mean, std and count of each metric by variant and split."""
    keys = ("run", "variant", "seed", "learning_rate", "split")
    metrics = [c for c in frame.columns if c not in keys]
    return frame.groupby(["variant", "split"])[metrics].agg(["mean", "std", "count"])
