"""Records never change a table silently: a damaged record, a record or run of another config,
a restore cut short, a shared folder, a folder that cannot be written (each case a hostile
probe of ``--records`` found)."""

import json
import os
import subprocess
import threading
import time

import pytest
from test_compare import compare_cli, write_run

from gruvar.training import records, runlog

GRID = [
    "--config=configs/synthetic.py:parity,smoke",
    "--variants=gru",
    "--seeds=1",
    "--learning_rates=1e-2",
]


def cli(workdir, *extra, grid=GRID):
    return compare_cli(workdir, *extra, grid=grid)


def failed(workdir, *extra, grid=GRID):
    with pytest.raises(subprocess.CalledProcessError) as err:
        cli(workdir, *extra, grid=grid)
    assert "Traceback" not in err.value.stderr, err.value.stderr
    return err.value.stderr


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    """A real finished grid's records (gru, one run), made once; copy it before changing it."""
    root = tmp_path_factory.mktemp("recorded")
    cli(root / "work", f"--records={root / 'keep'}")
    return root / "keep"


def copy_of(recorded, tmp_path):
    subprocess.run(["cp", "-r", str(recorded), str(tmp_path / "keep")], check=True)
    return tmp_path / "keep"


def snapshot(folder):
    return {
        str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


RUN = "gru/seed0_lr0.01"


def test_a_record_cut_short_is_refused_naming_the_record(recorded, tmp_path):
    keep = copy_of(recorded, tmp_path)
    metrics = keep / RUN / "metrics.jsonl"
    text = metrics.read_text()
    metrics.write_text(text[: len(text) // 2])
    said = failed(tmp_path / "work", f"--records={keep}", "--report_only")
    assert f"The record {metrics}" in said and "version control" in said
    # Cut at a line's end: whole lines, but no longer the run its summary describes.
    lines = text.splitlines(keepends=True)
    metrics.write_text("".join(lines[: len(lines) // 2]))
    said = failed(tmp_path / "work2", f"--records={keep}", "--report_only")
    assert f"The record {metrics}" in said and "summary.json at step" in said


def test_an_empty_summary_is_named_in_the_record_not_the_workdir_copy(recorded, tmp_path):
    keep = copy_of(recorded, tmp_path)
    (keep / RUN / "summary.json").write_text("")
    said = failed(tmp_path / "work", f"--records={keep}")
    assert f"{keep / RUN}/summary.json is empty" in said and str(tmp_path / "work") not in said
    assert not (tmp_path / "work" / RUN).exists(), "nothing is restored before all is checked"


def test_a_workdir_of_another_config_never_overwrites_the_records(recorded, tmp_path):
    keep = copy_of(recorded, tmp_path)
    before = snapshot(keep)
    cli(tmp_path / "other", "--config.model.features=5")  # the same run names, another model
    said = failed(tmp_path / "other", f"--records={keep}")
    assert "model.features" in said and "recorded" not in said
    assert snapshot(keep) == before


def test_records_of_another_task_or_variant_are_not_counted(recorded, tmp_path):
    keep = copy_of(recorded, tmp_path)
    write_run(keep, "tanh/seed0_lr0.01", "tanh", 0, 0.01, [(1, 0.7, 0.7)])
    shift = ["--config=configs/synthetic.py:shift,smoke", "--variants=gru", "--seeds=1"]
    said = failed(tmp_path / "shift", f"--records={keep}", grid=[*shift, "--learning_rates=1e-2"])
    assert str(keep / RUN) in said and "data.name" in said
    said = failed(tmp_path / "shift2", f"--records={keep}", "--report_only", grid=shift)
    assert str(keep / RUN) in said
    # The parity command asked for gru only: the tanh record is not restored nor reported.
    out = cli(tmp_path / "parity", f"--records={keep}", "--report_only").stdout
    assert "restored 1 finished run(s)" in out and not (tmp_path / "parity" / "tanh").exists()


def test_nothing_is_restored_before_the_config_is_validated(recorded, tmp_path):
    keep = copy_of(recorded, tmp_path)
    said = failed(tmp_path / "work", f"--records={keep}", "--config.model.features=0")
    assert "model.features" in said
    assert not (tmp_path / "work" / RUN).exists()


def test_a_restore_cut_by_a_kill_is_completed_by_the_next_command(recorded, tmp_path):
    keep = copy_of(recorded, tmp_path)
    work = tmp_path / "work"
    (work / RUN).mkdir(parents=True)
    for name in ("config.json", "metrics.jsonl"):
        (work / RUN / name).write_bytes((keep / RUN / name).read_bytes())
    (work / RUN / "summary.json.tmp").write_text('{"sta')  # the kill came here
    out = cli(work, f"--records={keep}").stdout
    assert "restored 1 finished run(s)" in out and "done, skipped" in out


def test_two_comparisons_sharing_a_records_folder_keep_both_grids(tmp_path, monkeypatch):
    keep = str(tmp_path / "keep")
    real = runlog.read_json

    def slow_read(path, what):  # widens the read-modify-write window of grid.json
        grid = real(path, what)
        if path.endswith(os.path.join("keep", "grid.json")):
            time.sleep(0.3)
        return grid

    monkeypatch.setattr(runlog, "read_json", slow_read)
    for work, variant in (("a", "gru"), ("b", "tanh")):
        write_run(tmp_path / work, f"{variant}/seed0_lr0.1", variant, 0, 0.1, [(1, 0.7, 0.6)])
        (tmp_path / work / "grid.json").write_text(json.dumps({"runs": [f"{variant}/x"]}))
    os.makedirs(keep)
    runlog.write_json(os.path.join(keep, "grid.json"), {"runs": ["mgu/x"]})
    threads = [threading.Thread(target=records.save, args=(str(tmp_path / w), keep)) for w in "ab"]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(records.expected_runs(keep)) == ["gru/x", "mgu/x", "tanh/x"]


def test_a_grid_json_without_a_list_of_runs_is_a_clear_error(tmp_path):
    (tmp_path / "grid.json").write_text(json.dumps({"runs": "gru/seed0_lr0.1"}))
    with pytest.raises(ValueError, match="no list of run names"):
        records.expected_runs(str(tmp_path))


def test_a_records_folder_that_cannot_be_written_fails_before_training(tmp_path):
    (tmp_path / "file").write_text("not a folder")
    said = failed(tmp_path / "work", f"--records={tmp_path / 'file' / 'keep'}")
    assert "cannot be written" in said
    assert not list((tmp_path / "work").rglob("checkpoints")), "it trained first"
