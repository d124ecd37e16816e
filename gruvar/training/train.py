"""``train_and_evaluate(config, workdir)``: from a config to a trained, checkpointed, logged run.

Re-running with the same ``workdir`` resumes from the newest checkpoint and ends exactly as
an uninterrupted run would: training batches depend only on (seed, step), the train-metrics
window is flushed at every checkpoint step, and the loop's own state (early stopping, best
metrics, elapsed time) is checkpointed with the model. A run is a sweep of one
(``gruvar.training.sweep.train_runs`` holds the loop; ``gruvar.training.run`` what a run directory
holds).

With a records folder (``keep``: ``gruvar.training.records``) a run outlives its machine: its resume
state is kept there at every checkpoint and its record when it finishes, and the same call in a
new workdir on another machine resumes it from there (or restores its finished record).
"""

from __future__ import annotations

from typing import Any

import ml_collections

from gruvar.training import records, sweep


def train_and_evaluate(
    config: ml_collections.ConfigDict, workdir: str, keep: str | None = None
) -> dict[str, Any]:
    """Trains ``config`` in ``workdir`` (resuming if it holds a checkpoint, or ``keep`` a
    newer resume state); returns the summary.

    The summary's ``best`` entry is the evaluation with the best validation metric (accuracy
    for classification, NLL per step for frame prediction), and its test metrics. A
    non-finite training loss raises FloatingPointError (and is recorded in summary.json).
    """
    if sweep.is_sweep(config):
        raise ValueError(
            "config.sweep lists several runs; train them with "
            "gruvar.training.sweep.train_and_evaluate (experiments/train.py does), or clear "
            "config.sweep.seeds / learning_rates."
        )
    if keep:
        records.sync(keep, workdir, lambda name, saved: config if name == "." else None)
    summary = sweep.train_runs([config], [workdir], [keep] if keep else None)[0]
    if summary["status"] == "diverged":
        raise FloatingPointError(summary["error"])
    return summary
