"""Run records: a grid carried to a new workdir through its finished runs' small files."""

import json
import os
import shutil
import subprocess

import pandas as pd
import pytest
import test_compare
from test_compare import write_run

from gruvar.comparison import analysis
from gruvar.training import records, runlog

GRID = [
    "--config=configs/synthetic.py:parity,smoke",
    "--variants=gru",
    "--seeds=2",
    "--learning_rates=1e-2",
    "--max_stack=1",
]


def compare_cli(workdir, *extra):
    return test_compare.compare_cli(workdir, *extra, grid=GRID)


def recorded(root):
    return sorted(records.finished(str(root)))


def trained(workdir):
    """The runs that trained in ``workdir`` (a restored run has no checkpoint)."""
    return sorted(
        str(p.parent.relative_to(workdir))
        for p in workdir.glob("*/*/checkpoints")
        if any(p.iterdir())
    )


def test_a_grid_goes_on_in_a_new_workdir_from_its_records_and_trains_only_the_rest(tmp_path):
    keep = tmp_path / "records"
    compare_cli(tmp_path / "first")
    # Runs that finished before --records was given are recorded by the next command.
    kept = compare_cli(tmp_path / "first", f"--records={keep}")
    assert "recorded 2 finished run(s)" in kept.stdout and "done, skipped" in kept.stdout
    runs = recorded(tmp_path / "first")
    assert runs == ["gru/seed0_lr0.01", "gru/seed1_lr0.01"] and recorded(keep) == runs
    for run in runs:  # the three small files, never the checkpoints
        assert sorted(os.listdir(keep / run)) == sorted(records.FILES)
    table = pd.read_csv(tmp_path / "first" / "results.csv")

    # One record lost (as if that run had not finished last session): in a new workdir only
    # it trains, and it is recorded when it finishes.
    shutil.rmtree(keep / runs[1])
    second = compare_cli(tmp_path / "second", f"--records={keep}")
    assert "restored 1 finished run(s)" in second.stdout
    assert trained(tmp_path / "second") == [runs[1]]
    assert recorded(keep) == runs
    same = [c for c in table.columns if c != "wall_time_s"]
    pd.testing.assert_frame_equal(
        pd.read_csv(tmp_path / "second" / "results.csv")[same], table[same]
    )

    # All recorded: the report alone, from the records alone, trains nothing.
    third = compare_cli(tmp_path / "third", f"--records={keep}", "--report_only")
    assert "restored 2 finished run(s)" in third.stdout and trained(tmp_path / "third") == []
    pd.testing.assert_frame_equal(
        pd.read_csv(tmp_path / "third" / "results.csv")[same], table[same]
    )

    # Records of another config are never counted for this one.
    with pytest.raises(subprocess.CalledProcessError) as changed:
        compare_cli(tmp_path / "fourth", f"--records={keep}", "--config.model.features=5")
    assert "model.features" in changed.value.stderr


def test_a_record_is_written_summary_last_so_a_kill_leaves_none(tmp_path, monkeypatch):
    write_run(tmp_path / "work", "gru/seed0_lr0.1", "gru", 0, 0.1, [(1, 0.7, 0.7)])
    real = runlog.copy

    def killed_at_summary(source, target):
        if target.endswith("summary.json"):
            raise KeyboardInterrupt
        real(source, target)

    monkeypatch.setattr(runlog, "copy", killed_at_summary)
    with pytest.raises(KeyboardInterrupt):
        records.save(str(tmp_path / "work"), str(tmp_path / "keep"))
    assert recorded(tmp_path / "keep") == []
    monkeypatch.setattr(runlog, "copy", real)
    assert records.save(str(tmp_path / "work"), str(tmp_path / "keep")) == ["gru/seed0_lr0.1"]
    assert records.save(str(tmp_path / "work"), str(tmp_path / "keep")) == []  # unchanged

    # A restore cut short the same way is completed by the next one.
    monkeypatch.setattr(runlog, "copy", killed_at_summary)
    with pytest.raises(KeyboardInterrupt):
        records.restore(str(tmp_path / "keep"), str(tmp_path / "new"))
    monkeypatch.setattr(runlog, "copy", real)
    assert records.restore(str(tmp_path / "keep"), str(tmp_path / "new")) == ["gru/seed0_lr0.1"]
    assert recorded(tmp_path / "new") == ["gru/seed0_lr0.1"]


def test_a_damaged_record_or_an_unfinished_run_in_its_place_is_a_clear_error(tmp_path):
    keep, work = tmp_path / "keep", tmp_path / "work"
    write_run(keep, "gru/seed0_lr0.1", "gru", 0, 0.1, [(1, 0.7, 0.7)])
    write_run(keep, "gru/seed1_lr0.1", "gru", 1, 0.1, [(1, 0.7, 0.7)])
    os.makedirs(work / "gru/seed1_lr0.1/checkpoints")  # an interrupted run of the same name
    with pytest.raises(ValueError, match=r"holds an unfinished run.*Move the run directory away"):
        records.restore(str(keep), str(work))
    assert not (work / "gru/seed0_lr0.1").exists(), "nothing is copied before all is checked"

    os.remove(keep / "gru/seed0_lr0.1/metrics.jsonl")
    with pytest.raises(ValueError, match=r"lacks \['metrics.jsonl'\]"):
        records.restore(str(keep), str(work))
    with pytest.raises(FileNotFoundError, match="is not a folder"):
        records.restore(str(tmp_path / "nowhere"), str(work))


def test_one_records_folder_gathers_several_comparisons_and_their_grids(tmp_path):
    keep = str(tmp_path / "keep")
    for work, variant in (("a", "gru"), ("b", "tanh")):
        write_run(tmp_path / work, f"{variant}/seed0_lr0.1", variant, 0, 0.1, [(1, 0.7, 0.6)])
        grid = {"runs": [f"{variant}/seed0_lr0.1", f"{variant}/seed1_lr0.1"]}
        (tmp_path / work / "grid.json").write_text(json.dumps(grid))
        assert records.save(str(tmp_path / work), keep) == [f"{variant}/seed0_lr0.1"]
    assert recorded(keep) == ["gru/seed0_lr0.1", "tanh/seed0_lr0.1"]

    # A new workdir gets both comparisons' runs, and a report that names what is missing.
    new = str(tmp_path / "new")
    assert records.restore(keep, new) == ["gru/seed0_lr0.1", "tanh/seed0_lr0.1"]
    table = analysis.summarize(analysis.load_runs(new), records.expected_runs(new))
    assert dict(zip(table["variant"], table["missing"], strict=True)) == {
        "gru": "gru/seed1_lr0.1",
        "tanh": "tanh/seed1_lr0.1",
    }
