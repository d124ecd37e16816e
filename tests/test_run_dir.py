"""A run directory's guarantees: one process trains it at a time; a finished run is reused only
for its own config; a damaged newest checkpoint is passed over; a run that lost its
checkpoints or its summary says so instead of silently starting again."""

import errno
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import textwrap

import jax
import numpy as np
import pytest
from test_train import metric_lines, params_of, smoke

from gruvar import data
from gruvar.training import checkpoint, runlog, train

CONFIG = {"train.checkpoint_every_steps": 2}  # 8 steps; checkpoints 6 and 8 kept


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """One finished smoke run, trained once; tests work on copies of it."""
    workdir = str(tmp_path_factory.mktemp("finished") / "run")
    train.train_and_evaluate(smoke(**CONFIG), workdir)
    return workdir


def copy_of(finished, tmp_path, unfinish=False):
    workdir = str(tmp_path / "run")
    shutil.copytree(finished, workdir)
    if unfinish:  # as if killed after its last checkpoint, before its summary
        os.remove(os.path.join(workdir, "summary.json"))
    return workdir


def test_a_finished_run_is_reused_only_for_its_own_config(finished, tmp_path):
    workdir = copy_of(finished, tmp_path)
    before = open(os.path.join(workdir, "summary.json")).read()
    assert train.train_and_evaluate(smoke(**CONFIG), workdir) == json.loads(before)
    for change, fields in [
        ({"model.variant": "lstm"}, "['model.variant']"),
        ({"model.features": 64, "optimizer.name": "adam"}, "['model.features', 'optimizer.name']"),
    ]:
        with pytest.raises(ValueError) as refused:
            train.train_and_evaluate(smoke(**CONFIG | change), workdir)
        assert f"holds a finished run with a different config (changed: {fields})" in str(
            refused.value
        )
        assert "new --workdir" in str(refused.value)
    assert open(os.path.join(workdir, "summary.json")).read() == before
    # Where the data lives and how often progress prints do not change what a run computes.
    moved = smoke(**CONFIG | {"train.progress_every_seconds": 1.0})
    moved.data.data_dir = "/elsewhere"
    train.train_and_evaluate(moved, workdir)


def test_a_field_added_after_the_run_counts_as_unchanged_at_its_default(finished, tmp_path):
    workdir = copy_of(finished, tmp_path)
    path = os.path.join(workdir, "config.json")
    saved = json.loads(open(path).read())
    del saved["train"]["weight_noise_on"]  # as written before the field existed
    runlog.write_json(path, saved)
    train.train_and_evaluate(smoke(**CONFIG), workdir)
    with pytest.raises(ValueError, match=r"changed: \['train.weight_noise_on'\]"):
        train.train_and_evaluate(smoke(**CONFIG | {"train.weight_noise_on": "recurrent"}), workdir)


# Another process training the run, as far as the lock goes: it holds workdir/lock.
LOCK_HOLDER = textwrap.dedent(
    """
    import fcntl, os, sys, time
    os.makedirs(sys.argv[1])
    held = open(os.path.join(sys.argv[1], "lock"), "a+")
    fcntl.flock(held, fcntl.LOCK_EX)
    held.write(f"{os.getpid()} elsewhere\\n")
    held.flush()
    print("locked", flush=True)
    time.sleep(120)
    """
)


def test_a_run_directory_in_use_by_another_process_is_refused(tmp_path):
    workdir = str(tmp_path / "run")
    holder = subprocess.Popen(
        [sys.executable, "-c", LOCK_HOLDER, workdir], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        in_use = f"run directory {workdir} is in use by pid {holder.pid} on elsewhere"
        with pytest.raises(ValueError, match=re.escape(in_use)):
            train.train_and_evaluate(smoke(), workdir)
        assert sorted(os.listdir(workdir)) == ["lock"], "the refused process wrote in the run"
    finally:
        os.kill(holder.pid, signal.SIGKILL)  # the OS drops a killed process's lock
        holder.wait()
    runlog.lock(workdir).close()


def test_a_training_holds_its_run_directory(tmp_path, monkeypatch):
    workdir, tried = str(tmp_path / "run"), []
    real = data.Dataset.train_batch

    def try_the_lock_at_3(self, step, *args):
        if step == 3:
            with pytest.raises(ValueError, match=f"in use by pid {os.getpid()}"):
                runlog.lock(workdir)
            tried.append(step)
        return real(self, step, *args)

    monkeypatch.setattr(data.Dataset, "train_batch", try_the_lock_at_3)
    train.train_and_evaluate(smoke(), workdir)
    assert tried == [3]
    runlog.lock(workdir).close()  # released at the end


def test_a_file_system_without_flock_warns_and_trains_unlocked(tmp_path, monkeypatch):
    def no_flock(*args):
        raise OSError(errno.ENOLCK, "No locks available")

    monkeypatch.setattr(runlog.fcntl, "flock", no_flock)
    with pytest.warns(UserWarning, match="Cannot lock run directory .*No locks available"):
        runlog.lock(str(tmp_path)).close()


def test_a_damaged_newest_checkpoint_falls_back_to_the_one_before(finished, tmp_path):
    damages = {
        "manifest removed": lambda d: os.remove(f"{d}/state/manifest.ocdbt"),
        "metadata cut": lambda d: open(f"{d}/state/_METADATA", "w").close(),
    }
    for name, damage in damages.items():
        workdir = copy_of(finished, tmp_path / name.replace(" ", "_"), unfinish=True)
        damage(os.path.join(workdir, "checkpoints", "8"))
        with pytest.warns(UserWarning, match=r"checkpoints/8 does not read back"):
            train.train_and_evaluate(smoke(**CONFIG), workdir)
        step, params = params_of(workdir)
        for a, b in zip(
            jax.tree.leaves(params_of(finished)[1]), jax.tree.leaves(params), strict=True
        ):
            np.testing.assert_array_equal(a, b, err_msg=name)
        assert step == 8 and metric_lines(workdir) == metric_lines(finished), name


def test_no_readable_checkpoint_is_an_error_that_deletes_nothing(finished, tmp_path):
    workdir = copy_of(finished, tmp_path, unfinish=True)
    for step in ("6", "8"):
        os.remove(os.path.join(workdir, "checkpoints", step, "state", "manifest.ocdbt"))
    with (
        pytest.warns(UserWarning),
        pytest.raises(ValueError, match=r"No checkpoint under .* reads"),
    ):
        train.train_and_evaluate(smoke(**CONFIG), workdir)
    assert sorted(os.listdir(os.path.join(workdir, "checkpoints"))) == ["6", "8"]


def test_deleted_checkpoints_refuse_to_restart_and_keep_the_log(finished, tmp_path):
    workdir = copy_of(finished, tmp_path, unfinish=True)
    shutil.rmtree(os.path.join(workdir, "checkpoints"))
    log = open(os.path.join(workdir, "metrics.jsonl")).read()
    with pytest.raises(ValueError, match=r"metrics.jsonl up to step 8 but no checkpoints/"):
        train.train_and_evaluate(smoke(**CONFIG), workdir)
    assert open(os.path.join(workdir, "metrics.jsonl")).read() == log


@pytest.mark.parametrize("text", ["", '{"status": "compl'])
def test_a_damaged_summary_is_an_error_naming_it(finished, tmp_path, text):
    workdir = copy_of(finished, tmp_path)
    path = os.path.join(workdir, "summary.json")
    open(path, "w").write(text)
    with pytest.raises(ValueError, match=re.escape(path) + " is .*Delete it and re-run"):
        train.train_and_evaluate(smoke(**CONFIG), workdir)


def test_a_resume_writes_each_record_once_from_a_log_with_repeats(finished, tmp_path):
    """Two processes on one run (before it had a lock) wrote every line twice."""
    workdir = copy_of(finished, tmp_path, unfinish=True)
    path = os.path.join(workdir, "metrics.jsonl")
    lines = open(path).readlines()
    open(path, "w").writelines(line for line in lines for _ in range(2))
    ckpts = checkpoint.Checkpoints(os.path.join(workdir, "checkpoints"), 2)
    ckpts.discard_after(6)
    ckpts.close()
    train.train_and_evaluate(smoke(**CONFIG), workdir)
    assert metric_lines(workdir) == metric_lines(finished)
