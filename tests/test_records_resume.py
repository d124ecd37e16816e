"""Records carry an unfinished run: stopped mid-run, only its records folder copied to a fresh
directory, it resumes there in a new process and ends bit-equal to an uninterrupted run."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import jax
import numpy as np
import pytest
from test_train import ROOT, metric_lines, params_of, smoke

from gruvar import data
from gruvar.comparison import compare
from gruvar.training import checkpoint, records, resume, run, sweep, train

SHIFT = [
    "--config=configs/synthetic.py:gru,shift",
    "--config.train.num_epochs=60",
    "--config.train.checkpoint_every_steps=16",
    "--config.train.log_every_steps=16",
]


def assert_same_run(a, b):
    """Bit-equal newest parameters and the same metrics lines (wall time aside)."""
    (step_a, params_a), (step_b, params_b) = params_of(a), params_of(b)
    assert step_a == step_b
    for x, y in zip(jax.tree.leaves(params_a), jax.tree.leaves(params_b), strict=True):
        np.testing.assert_array_equal(x, y)
    assert metric_lines(a) == metric_lines(b)


def best_of(workdir, like):
    """(step, params) of a run directory's best model, shaped like ``like``."""
    best = checkpoint.Checkpoints(os.path.join(workdir, "best"), 1)
    step = best.latest_step()
    params = best.restore(step, {"params": like})[0]["params"]
    best.close()
    return step, params


def assert_same_best(a, b):
    like = params_of(a)[1]
    (step_a, params_a), (step_b, params_b) = best_of(a, like), best_of(b, like)
    assert step_a == step_b
    for x, y in zip(jax.tree.leaves(params_a), jax.tree.leaves(params_b), strict=True):
        np.testing.assert_array_equal(x, y)


def only_the_record(folder):
    assert sorted(os.listdir(folder)) == sorted(records.FILES), "the state outlived the run"


def test_a_run_killed_mid_run_resumes_bit_equal_from_its_records_alone(tmp_path):
    straight, killed, fresh = (str(tmp_path / d) for d in ("straight", "killed", "fresh"))
    keep, copied = tmp_path / "keep", tmp_path / "copied"
    command = [sys.executable, "experiments/train.py", *SHIFT]
    subprocess.run(
        [*command, f"--workdir={straight}", f"--records={tmp_path / 'straight_keep'}"],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    only_the_record(tmp_path / "straight_keep")

    proc = subprocess.Popen(
        [*command, f"--workdir={killed}", f"--records={keep}"],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 600  # a loaded machine is slow to start
    while time.time() < deadline and proc.poll() is None and len(resume.steps(keep)) < 2:
        time.sleep(0.02)
    assert proc.poll() is None, "the run finished before it could be killed; make it longer"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    kept = resume.steps(keep)
    assert len(kept) == 2 and not (keep / "summary.json").exists()
    assert sum(p.stat().st_size for p in keep.iterdir()) < 200_000  # small enough to commit

    shutil.copytree(keep, copied)  # the records folder alone goes to the new machine
    resumed = subprocess.run(
        [*command, f"--workdir={fresh}", f"--records={copied}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert resumed.returncode == 0, resumed.stderr
    assert f"resuming at step {kept[-1]}" in resumed.stdout
    assert_same_run(straight, fresh)
    only_the_record(copied)
    assert metric_lines(copied) == metric_lines(straight)


def test_a_stopped_stacked_grid_resumes_as_a_group_from_its_records(tmp_path, monkeypatch, capsys):
    """A clean stop (an exception) mid-grid; a new workdir resumes both stacked runs."""
    config = smoke(**{"train.num_epochs": 6, "train.checkpoint_every_steps": 8})
    grid = dict(configs={"gru": config}, seeds=(0, 1), learning_rates=(1e-2,), max_stack=2)
    straight = tmp_path / "straight"
    compare.run(workdir=str(straight), **grid)

    real = data.Dataset.train_batch

    def stop_at_13(self, step, *args):
        if step == 13:  # after the checkpoint at 8
            raise KeyboardInterrupt
        return real(self, step, *args)

    keep = tmp_path / "keep"
    monkeypatch.setattr(data.Dataset, "train_batch", stop_at_13)
    with pytest.raises(KeyboardInterrupt):
        compare.run(workdir=str(tmp_path / "first"), keep=str(keep), **grid)
    monkeypatch.setattr(data.Dataset, "train_batch", real)
    assert records.unfinished(str(keep)) == ["gru/seed0_lr0.01", "gru/seed1_lr0.01"]

    shutil.copytree(keep, tmp_path / "copied")
    capsys.readouterr()
    compare.run(workdir=str(tmp_path / "second"), keep=str(tmp_path / "copied"), **grid)
    said = capsys.readouterr().out
    assert "2 unfinished run(s)" in said and "2 runs of gru" in said
    assert "resuming at step 8" in said
    for name in ("gru/seed0_lr0.01", "gru/seed1_lr0.01"):
        assert_same_run(straight / name, tmp_path / "second" / name)
        only_the_record(tmp_path / "copied" / name)
        assert metric_lines(tmp_path / "copied" / name) == metric_lines(straight / name)


def interrupted(tmp_path, monkeypatch, config, crash_step=21):
    """A run with a records folder stopped at ``crash_step``: (straight run, records)."""
    straight, keep = tmp_path / "straight", tmp_path / "keep"
    train.train_and_evaluate(config, str(straight))
    real = data.Dataset.train_batch

    def crash(self, step, *args):
        if step == crash_step:
            raise RuntimeError("simulated crash")
        return real(self, step, *args)

    monkeypatch.setattr(data.Dataset, "train_batch", crash)
    with pytest.raises(RuntimeError, match="simulated crash"):
        train.train_and_evaluate(config, str(tmp_path / "first"), str(keep))
    monkeypatch.setattr(data.Dataset, "train_batch", real)
    return straight, keep


CONFIG = {"train.num_epochs": 8, "train.checkpoint_every_steps": 8}


def test_a_damaged_newest_state_falls_back_to_the_one_before(tmp_path, monkeypatch, capsys):
    straight, keep = interrupted(tmp_path, monkeypatch, smoke(**CONFIG))
    assert resume.steps(str(keep)) == [8, 16]
    newest = resume.path(str(keep), 16)
    with open(newest, "r+b") as f:  # cut short, as by a copy killed half way
        f.truncate(os.path.getsize(newest) // 2)
    with pytest.warns(UserWarning, match=r"resume-state-step16.npz does not read back"):
        train.train_and_evaluate(smoke(**CONFIG), str(tmp_path / "fresh"), str(keep))
    assert "resuming at step 8" in capsys.readouterr().out
    assert_same_run(straight, tmp_path / "fresh")
    assert_same_best(straight, tmp_path / "fresh")  # the best model came with the state


def test_no_state_that_reads_back_starts_the_run_again_with_one_line(tmp_path, monkeypatch):
    straight, keep = interrupted(tmp_path, monkeypatch, smoke(**CONFIG))
    for step in resume.steps(str(keep)):  # a state edited after it was written
        with np.load(resume.path(str(keep), step)) as archive:
            arrays = dict(archive)
        arrays["leaf_3"] = arrays["leaf_3"] + 1
        np.savez(resume.path(str(keep), step), **arrays)
    with pytest.warns(UserWarning) as said:
        train.train_and_evaluate(smoke(**CONFIG), str(tmp_path / "fresh"), str(keep))
    messages = [str(w.message) for w in said]
    assert sum("fails its checksum" in m for m in messages) == 2
    assert any("starts again from step 0" in m for m in messages)
    assert_same_run(straight, tmp_path / "fresh")  # retrained from scratch: the same run


def test_a_state_of_another_config_is_refused_naming_the_record(tmp_path, monkeypatch):
    _, keep = interrupted(tmp_path, monkeypatch, smoke(**CONFIG))
    other = smoke(**CONFIG, **{"model.features": 5})
    with pytest.raises(ValueError, match=rf"{keep}.*another config.*model.features"):
        train.train_and_evaluate(other, str(tmp_path / "fresh"), str(keep))
    assert resume.steps(str(keep)) == [8, 16], "a refused command deletes nothing"


def test_a_state_of_another_model_shape_is_damaged_not_mixed(tmp_path):
    config = smoke(**CONFIG)
    dataset = data.load(config.data.name, None, **config.data.options)
    model = sweep.steps.build_model(config, dataset)
    like = run.checkpointed(
        jax.eval_shape(lambda: sweep.steps.create_state(config, dataset, model, 10))
    )
    state = jax.tree.map(lambda s: np.zeros(s.shape, s.dtype), like)
    resume.save(str(tmp_path), 8, state, {"best": None}, None)
    assert resume.load(str(tmp_path), 8, like, like["params"])[2] is None
    bigger = jax.tree.map(lambda s: np.zeros((*s.shape, 2), s.dtype), like)
    with pytest.raises(resume.Damaged, match="holds another model's state"):
        resume.load(str(tmp_path), 8, bigger, bigger["params"])
    (Path(tmp_path) / "notes.json").write_text(json.dumps({}))  # other files are left alone
    resume.clear(str(tmp_path))
    assert os.listdir(tmp_path) == ["notes.json"]


def test_the_best_model_comes_with_the_state(tmp_path, monkeypatch):
    _, keep = interrupted(tmp_path, monkeypatch, smoke(**CONFIG))
    real = data.Dataset.train_batch

    def crash_at_17(self, step, *args):  # just after resuming at 16: nothing new is saved
        if step == 17:
            raise RuntimeError("simulated crash")
        return real(self, step, *args)

    monkeypatch.setattr(data.Dataset, "train_batch", crash_at_17)
    with pytest.raises(RuntimeError, match="simulated crash"):
        train.train_and_evaluate(smoke(**CONFIG), str(tmp_path / "fresh"), str(keep))
    assert best_of(tmp_path / "first", params_of(tmp_path / "first")[1])[0] <= 16
    assert_same_best(tmp_path / "first", tmp_path / "fresh")
