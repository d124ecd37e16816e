"""The entry points in experiments/: a mistake the user can fix is one line and exit status 1,
before anything trains; a bug keeps its traceback; a diverged run, alone or in a sweep, exits
1 with a line naming it. And the core imports without TensorFlow."""

import json
import subprocess
import sys

import numpy as np
import pytest
from test_train import ROOT

import gruvar
from gruvar import cli

SMOKE = "--config=configs/synthetic.py:parity,smoke"


def entry(script, *args):
    return subprocess.run(
        [sys.executable, f"experiments/{script}", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )


def assert_one_line_error(result, *fragments):
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("error: "), result.stderr
    for fragment in fragments:
        assert fragment in last, last


@pytest.mark.parametrize(
    "script, args, fragments",
    [
        ("train.py", [SMOKE, "--config.model.variant=bogus"], ["Unknown variant 'bogus'"]),
        ("compare.py", [SMOKE, "--variants=gru,gru:z=q"], ["--variants", "'q'"]),
        ("compare.py", [SMOKE, "--variants=gru,tanh", "--config.model.variant=lstm"], ["lstm"]),
        ("train.py", ["--config=configs/synthetic.py:nosuch"], ["No task", "'nosuch'"]),
        ("train.py", [SMOKE, "--config.model.featurez=3"], ["'featurez'", "features"]),
        ("train.py", ["--config=configs/none.py:parity"], ["--config", "configs/none.py"]),
    ],
)
def test_a_user_error_is_one_line_and_nothing_trains(tmp_path, script, args, fragments):
    result = entry(script, *args, f"--workdir={tmp_path / 'w'}")
    assert_one_line_error(result, *fragments)
    assert not (tmp_path / "w").exists() or not any((tmp_path / "w").rglob("config.json"))


def test_user_errors_are_gruvar_raising_on_bad_input_and_bugs_keep_their_traceback():
    def caught(fn):
        try:
            fn()
        except Exception as err:
            return err
        raise AssertionError("no error")

    assert cli.user_error(caught(lambda: gruvar.make("bogus", 4)))
    assert cli.user_error(caught(lambda: gruvar.make("gru:z=hq", 4)))
    # The same types raised inside numpy, or any other type, are bugs.
    assert not cli.user_error(caught(lambda: np.array([[1.0], [1.0, 2.0]], float)))
    assert not cli.user_error(caught(lambda: {}["key"]))
    assert not cli.user_error(caught(lambda: int("x")))


@pytest.mark.parametrize("sweep", [False, True])
def test_a_diverged_run_exits_1_alone_or_in_a_sweep(tmp_path, sweep):
    # Weight noise of std 1e30 makes the first training loss non-finite.
    runs = ["--config.sweep.seeds=0,1"] if sweep else []
    result = entry(
        "train.py",
        "--config=configs/synthetic.py:gru,parity,smoke",
        "--config.train.weight_noise=1e30",
        *runs,
        f"--workdir={tmp_path}",
    )
    assert_one_line_error(result, "diverged" if sweep else "Non-finite training loss")
    summaries = sorted(tmp_path.rglob("summary.json"))
    assert len(summaries) == (2 if sweep else 1)
    assert all(json.loads(p.read_text())["status"] == "diverged" for p in summaries)


def test_the_core_imports_without_tensorflow():
    code = (
        "import sys, gruvar, gruvar.comparison.compare, gruvar.training.sweep, gruvar.data, "
        "gruvar.data.tfds; "
        "from gruvar.data import imdb, mnist, music; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('tensorflow', 'tensorflow_datasets')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]", result.stdout
