"""The best model is never lost silently: a resumed run checks best/ (rebuilding it from a
checkpoint of the same step, or saying plainly that it is lost), and evaluating a run's best
model fails in one line that names the run and says what is true. A damaged newest checkpoint
costs one warning line, not a screenful of asyncio tracebacks."""

import gc
import json
import os
import shutil
import sys
import time

import pytest
from test_train import smoke

from gruvar.comparison import best
from gruvar.training import records, train

# 8 steps, an evaluation every 4; checkpoints at 2, 4, 6, 8 with the newest two kept.
CONFIG = {"train.checkpoint_every_steps": 2}


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    workdir = str(tmp_path_factory.mktemp("kept") / "run")
    train.train_and_evaluate(smoke(**CONFIG), workdir)
    return workdir


def _unfinished_copy(finished, tmp_path):
    workdir = str(tmp_path / "run")
    shutil.copytree(finished, workdir)
    os.remove(os.path.join(workdir, "summary.json"))
    return workdir


def _damage(directory):
    for name in os.listdir(directory):
        path = os.path.join(directory, name)
        shutil.rmtree(path) if os.path.isdir(path) else open(path, "w").close()


def _best_step(workdir):
    return json.loads(open(os.path.join(workdir, "summary.json")).read())["best"]["step"]


def test_a_damaged_best_model_is_rebuilt_from_the_checkpoint_of_its_step(finished, tmp_path):
    workdir = _unfinished_copy(finished, tmp_path)
    at = _best_step(finished)
    assert at == 8, "the test needs the best evaluation at the last checkpoint"
    _damage(os.path.join(workdir, "best", str(at)))
    with pytest.warns(UserWarning, match=r"best/8 does not read back .*rebuilt it from check"):
        train.train_and_evaluate(smoke(**CONFIG), workdir)
    again = best.evaluate(workdir, ("validation",))["validation"]
    logged = json.loads(open(os.path.join(workdir, "summary.json")).read())["best"]
    assert again["accuracy"] == pytest.approx(logged["validation"]["accuracy"])


def test_a_lost_best_model_is_said_plainly(finished, tmp_path):
    """best/ damaged and the checkpoint of its step gone: the probe's case."""
    workdir = _unfinished_copy(finished, tmp_path)
    for step in os.listdir(os.path.join(workdir, "best")):
        _damage(os.path.join(workdir, "best", step))
    shutil.rmtree(os.path.join(workdir, "checkpoints", "8"))  # resumes at 6, its best at 4
    with pytest.warns(UserWarning, match=r"best/4 does not read back .* best model is lost"):
        train.train_and_evaluate(smoke(**CONFIG), workdir)
    assert _best_step(workdir) == 8  # a later evaluation improved on it: its model is saved
    assert best.evaluate(workdir, ("validation",))["validation"]["accuracy"] > 0


def test_evaluate_best_on_a_damaged_or_empty_best_is_one_error_naming_it(finished, tmp_path):
    workdir = str(tmp_path / "run")
    shutil.copytree(finished, workdir)
    kept = sorted(os.listdir(os.path.join(workdir, "best")), key=int)
    _damage(os.path.join(workdir, "best", kept[-1]))
    with pytest.raises(ValueError, match=rf"{workdir}/best/{kept[-1]} does not read back"):
        best.evaluate(workdir)
    shutil.rmtree(os.path.join(workdir, "best"))
    os.makedirs(os.path.join(workdir, "best"))
    with pytest.raises(FileNotFoundError, match=rf"{workdir} finished but holds no best model"):
        best.evaluate(workdir)


def test_a_run_restored_from_records_says_records_carry_no_model(finished, tmp_path):
    records.save(os.path.dirname(finished), str(tmp_path / "records"))
    restored = tmp_path / "restored"
    records.restore(str(tmp_path / "records"), str(restored))
    with pytest.raises(FileNotFoundError, match=r"records carry no model"):
        best.evaluate(str(restored / "run"))


def test_a_damaged_newest_checkpoint_costs_one_warning_and_no_tracebacks(
    finished, tmp_path, monkeypatch
):
    seen = []
    monkeypatch.setattr(sys, "unraisablehook", seen.append)
    workdir = _unfinished_copy(finished, tmp_path)
    os.remove(os.path.join(workdir, "checkpoints", "8", "state", "manifest.ocdbt"))
    with pytest.warns(UserWarning) as warned:
        train.train_and_evaluate(smoke(**CONFIG), workdir)
    time.sleep(0.5)  # the reads still in flight finish in tensorstore's threads
    gc.collect()
    assert not [str(u.exc_value) for u in seen]
    assert [str(w.message).split(" (")[0] for w in warned] == [
        f"Checkpoint {workdir}/checkpoints/8 does not read back"
    ]
