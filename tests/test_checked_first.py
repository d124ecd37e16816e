"""A comparison checks what it can before anything trains, and a user's mistake in its flags or
its disk is one line: every variant's model against the task's data, --select_seeds against
--seeds, --lr_log_range's shape and range, a report that cannot be written."""

import errno
import os
import subprocess
import sys
from pathlib import Path

import pytest
from test_train import smoke

from gruvar.comparison import compare
from gruvar.training import runlog

ROOT = Path(__file__).parents[1]


def test_a_variant_that_cannot_take_the_tasks_width_stops_the_grid_before_any_training(
    tmp_path,
):
    configs = {v: smoke(f"{v},parity") for v in ("gru", "mut1")}
    with pytest.raises(ValueError, match=r"^mut1: .*input width must equal its units") as err:
        compare.run(configs, (0,), (1e-3,), str(tmp_path))
    assert "\n" not in str(err.value)
    assert not (tmp_path / "gru").exists()


def test_more_selection_seeds_than_seeds_is_refused(tmp_path):
    with pytest.raises(ValueError, match=r"--select_seeds=5 .* --seeds gives 2"):
        compare.run({"gru": smoke()}, (0, 1), (1e-3, 1e-2), str(tmp_path), select_seeds=5)


@pytest.mark.parametrize(
    "values, why",
    [(["-6"], "takes 2 numbers, got 1"), (["1000", "2000"], "lies within"), (["-2000", "-6"], "")],
)
def test_a_bad_lr_log_range_is_one_error(values, why):
    with pytest.raises(ValueError, match=f"--lr_log_range.*{why}"):
        low, high = compare.floats_from("lr_log_range", values, count=2)
        compare.drawn_learning_rates(10, low, high, 0)


@pytest.fixture(scope="module")
def compared(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("checked") / "cmp"
    compare.run({"gru": smoke(**{"train.num_epochs": 1})}, (0,), (1e-3,), str(workdir))
    return workdir


def test_a_report_that_cannot_be_written_is_one_error_naming_the_workdir(compared, monkeypatch):
    def full(path, text):
        raise OSError(errno.ENOSPC, "No space left on device", path)

    monkeypatch.setattr(runlog, "write_text", full)
    with pytest.raises(ValueError, match=rf"report cannot be written in {compared} \(No space"):
        compare.report(str(compared))


def test_report_only_in_a_read_only_workdir_is_one_line(compared, tmp_path):
    """As the user sees it (a read-only mount, as a process that is not root would)."""
    script = (
        "import builtins, os, sys\n"
        "real = os.replace\n"
        "def refused(*a, **k): raise PermissionError(13, 'Permission denied', a[1])\n"
        "os.replace = refused\n"
        "sys.argv = sys.argv[1:]\n"
        "exec(compile(open(sys.argv[0]).read(), sys.argv[0], 'exec'))\n"
    )
    command = [
        sys.executable,
        "-c",
        script,
        "experiments/compare.py",
        "--config=configs/synthetic.py:parity,smoke",
        "--variants=gru",
        f"--workdir={compared}",
        "--report_only",
    ]
    env = os.environ | {"GRUVAR_HUGE_PAGES": "0", "PYTHONPATH": str(ROOT)}
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    assert result.returncode == 1, result.stderr[-2000:]
    last = result.stderr.strip().splitlines()
    assert "Traceback" not in result.stderr, result.stderr[-2000:]
    assert last[-1].startswith(f"error: The report cannot be written in {compared}")
