"""Re-evaluating a trained run's best model: it must give back the logged metrics exactly."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from test_train import smoke

from gruvar.comparison import best
from gruvar.training import train


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("best") / "run"
    config = smoke("gru,shift", **{"train.num_epochs": 3, "train.weight_noise": 0.3})
    train.train_and_evaluate(config, str(workdir))
    return workdir


def test_best_model_gives_back_its_logged_validation_and_test_metrics(trained):
    logged = json.loads((trained / "summary.json").read_text())["best"]
    again = best.evaluate(str(trained), ("train", "validation", "test"))
    for split in ("validation", "test"):
        assert again[split]["nll"] == pytest.approx(logged[split]["nll"], rel=1e-5)
    assert again["train"]["nll"] > 0


def _as_run(trained, directory, seed, learning_rate, validation_shift=0.0):
    """A copy of the trained run posing as another (seed, rate), its logged validation moved."""
    shutil.copytree(trained, directory)
    config = json.loads((directory / "config.json").read_text())
    config["seed"], config["optimizer"]["learning_rate"] = seed, learning_rate
    (directory / "config.json").write_text(json.dumps(config))
    lines = [json.loads(line) for line in (directory / "metrics.jsonl").read_text().splitlines()]
    for line in lines:
        if line["split"] == "validation":
            line["nll"] += validation_shift
    (directory / "metrics.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))


def test_evaluate_all_takes_the_runs_the_comparison_table_counts(trained, tmp_path):
    grid = tmp_path / "grid"
    _as_run(trained, grid / "gru" / "seed0_lr0.1", 0, 0.1)
    _as_run(trained, grid / "gru" / "seed0_lr0.01", 0, 0.01, validation_shift=1.0)
    _as_run(trained, grid / "gru" / "seed1_lr0.1", 1, 0.1)
    frame = best.evaluate_all(str(grid), ("validation",))
    assert sorted(frame["run"]) == ["gru/seed0_lr0.1", "gru/seed1_lr0.1"], "best rate per seed"
    assert frame["nll"].nunique() == 1, "the same model twice gives the same number"
    summary = best.summarize(frame)
    assert summary.loc[("gru", "validation"), ("nll", "count")] == 2


def test_clear_errors_for_what_is_not_a_trained_run(trained, tmp_path):
    with pytest.raises(FileNotFoundError, match="not a run directory"):
        best.evaluate(str(tmp_path))
    untrained = tmp_path / "untrained"
    untrained.mkdir()
    shutil.copy(trained / "config.json", untrained / "config.json")
    with pytest.raises(FileNotFoundError, match="no best/ model yet"):
        best.evaluate(str(untrained))
    with pytest.raises(ValueError, match="has no split"):
        best.evaluate(str(trained), ("dev",))
    with pytest.raises(FileNotFoundError, match="No finished run under"):
        best.evaluate_all(str(untrained))


def test_the_entry_point_writes_best_metrics_csv(trained, tmp_path):
    root = Path(__file__).parents[1]
    result = subprocess.run(
        [
            sys.executable,
            str(root / "experiments" / "evaluate_best.py"),
            f"--workdir={trained}",
            "--splits=validation",
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "GRUVAR_HUGE_PAGES": "0"},
    )
    assert result.returncode == 0, result.stderr
    assert "best_metrics:" in result.stdout
    assert (trained / "best_metrics.csv").read_text().startswith("run,variant,seed")


def test_per_sequence_nll_recombines_into_the_frame_weighted_one(trained):
    # shift's sequences have 4 to 12 frames, so the two averages differ, and weighting each
    # song's NLL by its frames must give back the batched, padded frame average exactly.
    again = best.evaluate(str(trained), ("test",), by_sequence=True)["test"]
    _, dataset, state = best.restore(str(trained))
    split = dataset.splits["test"]
    per_sequence = best.sequence_nll(dataset.kind, state, split)
    assert len(per_sequence) == len(split) and len(set(split.lengths)) > 1
    assert np.average(per_sequence, weights=split.lengths) == pytest.approx(again["nll"], rel=1e-5)
    assert again["nll_by_sequence"] == pytest.approx(per_sequence.mean(), rel=1e-6)
    assert abs(again["nll_by_sequence"] - again["nll"]) > 1e-4


def test_per_sequence_nll_needs_a_frames_data_set():
    with pytest.raises(ValueError, match="needs a frames data set"):
        best.sequence_nll("classify", None, None)
