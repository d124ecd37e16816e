"""The training spine: steps, resume exactness, config errors, NaN stop, the entry point."""

import importlib.util
import json
import math
import os
import signal
import struct
import subprocess
import sys
import time
from pathlib import Path

import jax
import ml_collections
import numpy as np
import pytest

from gruvar import data
from gruvar.training import checkpoint, run, steps, train

ROOT = Path(__file__).parents[1]
sys.path.insert(0, str(ROOT))
from configs import synthetic  # noqa: E402


def smoke(arg="gru,parity", **overrides):
    c = synthetic.get_config(f"{arg},smoke")
    c.unlock()
    for field, value in overrides.items():
        *parents, name = field.split(".")
        node = c
        for parent in parents:
            node = node[parent]
        node[name] = value
    return c


def params_of(workdir):
    """(step, params) of the newest checkpoint in a run directory."""
    cfg = ml_collections.ConfigDict(json.loads((Path(workdir) / "config.json").read_text()))
    dataset = data.load(cfg.data.name, None, **cfg.data.options)
    total = cfg.train.num_epochs * dataset.steps_per_epoch(cfg.data.batch_size)
    like = run.checkpointed(
        steps.create_state(cfg, dataset, steps.build_model(cfg, dataset), total)
    )
    ckpts = checkpoint.Checkpoints(os.path.join(workdir, "checkpoints"), 2)
    step = ckpts.latest_step()
    state, _ = ckpts.restore(step, like)
    ckpts.close()
    return step, state["params"]


def metric_lines(workdir):
    with open(os.path.join(workdir, "metrics.jsonl")) as f:
        lines = [json.loads(line) for line in f]
    for line in lines:
        line.pop("wall_time")
    return lines


def tensorboard_scalars(workdir):
    """(tag, step) of every scalar in a run directory's TensorBoard event files (TFRecord
    framing: length, its CRC, the Event proto, its CRC); a record cut short ends a file."""
    from tensorboardX.proto.event_pb2 import Event

    found = []
    for path in Path(workdir).glob("events.out.tfevents.*"):
        raw, at = path.read_bytes(), 0
        while at + 12 <= len(raw):
            (size,) = struct.unpack("<Q", raw[at : at + 8])
            if at + 12 + size + 4 > len(raw):
                break
            event = Event.FromString(raw[at + 12 : at + 12 + size])
            found += [(value.tag, event.step) for value in event.summary.value]
            at += 12 + size + 4
    return found


def _config_data_state(variant, task):
    cfg = smoke(f"{variant},{task}", **{"optimizer.learning_rate": 1e-2})
    dataset = data.load(cfg.data.name, None, **cfg.data.options)
    model = steps.build_model(cfg, dataset)
    state = steps.create_state(cfg, dataset, model, 100)
    return cfg, dataset, state


@pytest.mark.parametrize("variant", ["gru", "gru3", "lstm", "tanh"])
def test_one_train_step_moves_every_parameter(variant):
    cfg, dataset, state = _config_data_state(variant, "parity")
    before = jax.tree.map(np.array, state.params)
    batch = dataset.train_batch(0, cfg.data.batch_size, cfg.seed)
    batch["weights"] = np.ones(cfg.data.batch_size, np.float32)
    state, _ = steps.train_step(
        "classify", state, steps.zero_window("classify"), batch, jax.random.key(0)
    )
    moved = jax.tree.map(lambda a, b: bool(np.any(np.asarray(a) != b)), state.params, before)
    assert all(jax.tree.leaves(moved)), f"parameters that did not move: {moved}"


@pytest.mark.parametrize("variant", ["gru", "gru3", "lstm", "tanh"])
def test_loss_decreases_on_a_learnable_task(variant):
    cfg, dataset, state = _config_data_state(variant, "shift")
    losses = []
    for step in range(40):
        batch = dataset.train_batch(step, cfg.data.batch_size, cfg.seed)
        batch["weights"] = np.ones(cfg.data.batch_size, np.float32)
        state, window = steps.train_step(
            "frames", state, steps.zero_window("frames"), batch, jax.random.key(0)
        )
        losses.append(float(window["nll"] / window["frames"]))
    assert np.mean(losses[-5:]) < 0.8 * np.mean(losses[:5]), losses


def test_resume_after_a_crash_equals_an_uninterrupted_run(tmp_path, monkeypatch):
    cfg = smoke(**{"train.num_epochs": 6, "train.checkpoint_every_steps": 8})
    straight, resumed = str(tmp_path / "straight"), str(tmp_path / "resumed")
    train.train_and_evaluate(cfg, straight)

    real = data.Dataset.train_batch

    def crash_at_13(self, step, *args):
        if step == 13:  # after the checkpoint at 8 and log lines at 10 and 12
            raise RuntimeError("simulated crash")
        return real(self, step, *args)

    monkeypatch.setattr(data.Dataset, "train_batch", crash_at_13)
    with pytest.raises(RuntimeError, match="simulated crash"):
        train.train_and_evaluate(cfg, resumed)
    assert params_of(resumed)[0] == 8
    monkeypatch.setattr(data.Dataset, "train_batch", real)
    summary = train.train_and_evaluate(cfg, resumed)

    step_a, params_a = params_of(straight)
    step_b, params_b = params_of(resumed)
    assert step_a == step_b == 24
    for a, b in zip(jax.tree.leaves(params_a), jax.tree.leaves(params_b), strict=True):
        np.testing.assert_array_equal(a, b)
    assert metric_lines(resumed) == metric_lines(straight)
    assert summary["best"] == json.loads((Path(straight) / "summary.json").read_text())["best"]
    # Speed covers the whole run (24 steps), not the 16 trained since the resume.
    assert summary["steps_per_second"] == pytest.approx(summary["steps"] / summary["wall_time"])


def test_resume_redoes_a_best_model_saved_after_the_last_checkpoint(tmp_path):
    """A kill between the best-model save and the checkpoint save leaves best/ ahead."""
    cfg = smoke(**{"train.num_epochs": 6, "train.keep_checkpoints": 3})
    straight, killed = str(tmp_path / "straight"), str(tmp_path / "killed")
    train.train_and_evaluate(cfg, straight)
    train.train_and_evaluate(cfg, killed)
    best = json.loads((Path(killed) / "summary.json").read_text())["best"]["step"]
    assert best > 4, "the test needs a best evaluation after the first checkpoint"
    ckpts = checkpoint.Checkpoints(os.path.join(killed, "checkpoints"), 3)
    ckpts.discard_after(best - 4)  # back to the checkpoint one eval before the best one
    ckpts.close()
    os.remove(os.path.join(killed, "summary.json"))

    train.train_and_evaluate(cfg, killed)
    for a, b in zip(*(jax.tree.leaves(params_of(r)) for r in (straight, killed)), strict=True):
        np.testing.assert_array_equal(a, b)
    for workdir in (straight, killed):
        steps_kept = checkpoint.Checkpoints(os.path.join(workdir, "best"), 1)
        assert steps_kept.latest_step() == best
        steps_kept.close()
    assert metric_lines(killed) == metric_lines(straight)


def test_resume_after_kill_9(tmp_path):
    """A real SIGKILL while training (checkpoint saves are asynchronous), then a re-run."""
    args = [
        "--config=configs/synthetic.py:gru,shift",
        "--config.train.num_epochs=60",
        "--config.train.checkpoint_every_steps=16",
        "--config.train.log_every_steps=16",
    ]
    straight, killed = str(tmp_path / "straight"), str(tmp_path / "killed")
    run = [sys.executable, "experiments/train.py", *args]
    subprocess.run([*run, f"--workdir={straight}"], cwd=ROOT, check=True, capture_output=True)

    proc = subprocess.Popen(
        [*run, f"--workdir={killed}"],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    ckpt_dir = Path(killed) / "checkpoints"

    def saved():
        return ckpt_dir.exists() and len([p for p in ckpt_dir.iterdir() if p.name.isdigit()])

    deadline = time.time() + 600  # a loaded machine (a training job beside CI) is slow to start
    while time.time() < deadline and proc.poll() is None and saved() < 2:
        time.sleep(0.05)
    assert proc.poll() is None, "the run finished before it could be killed; make it longer"
    assert saved() >= 2, "no two checkpoints in 10 minutes"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    if importlib.util.find_spec("tensorboardX"):  # what was logged up to a checkpoint survives
        last = max(int(p.name) for p in ckpt_dir.iterdir() if p.name.isdigit())
        lines = (Path(killed) / "metrics.jsonl").read_text().split("\n")[:-1]  # whole lines
        logged = sorted(
            (f"{line['split']}/{key}", line["step"])
            for line in map(json.loads, lines)
            if line["step"] <= last
            for key in line
            if key not in ("split", "step", "epoch", "wall_time")
        )
        scalars = sorted(s for s in tensorboard_scalars(killed) if s[1] <= last)
        assert scalars == logged, "TensorBoard lost scalars logged before the last checkpoint"
    resumed = subprocess.run(
        [*run, f"--workdir={killed}"], cwd=ROOT, capture_output=True, text=True
    )
    left = sorted(str(p.relative_to(killed)) for p in Path(killed).rglob("*") if p.is_dir())
    assert resumed.returncode == 0, (
        f"the re-run after kill -9 failed; directories the kill left: {left}\n{resumed.stderr}"
    )

    (step_a, params_a), (step_b, params_b) = params_of(straight), params_of(killed)
    assert step_a == step_b
    for a, b in zip(jax.tree.leaves(params_a), jax.tree.leaves(params_b), strict=True):
        np.testing.assert_array_equal(a, b)
    assert metric_lines(killed) == metric_lines(straight)


# First training loss of configs/synthetic.py:gru,parity,smoke, seed 0 (jax 0.10.2, CPU).
GOLDEN_FIRST_LOSS = 0.7394989728927612


def test_golden_first_step_loss(tmp_path):
    cfg = smoke(**{"train.log_every_steps": 1})
    train.train_and_evaluate(cfg, str(tmp_path))
    first = metric_lines(str(tmp_path))[0]
    assert first["step"] == 1
    assert abs(first["loss"] - np.log(2)) < 0.15, "an untrained 2-way classifier starts near ln 2"
    assert first["loss"] == pytest.approx(GOLDEN_FIRST_LOSS, abs=1e-5), (
        f"The first training loss of configs/synthetic.py:gru,parity,smoke (seed 0) changed "
        f"from {GOLDEN_FIRST_LOSS} to {first['loss']}. If you changed initialisation, the "
        f"data order, the model or the loss on purpose, update GOLDEN_FIRST_LOSS; if not, "
        f"something changed what the same config computes."
    )


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("model.variant", "gru9", "config.model.variant: Unknown variant 'gru9'"),
        ("model.features", 0, "config.model.features must be positive"),
        ("data.batch_size", -1, "config.data.batch_size must be positive"),
        ("optimizer.name", "adagrad", "config.optimizer.name = 'adagrad' is unknown"),
        ("optimizer.learning_rate", 0.0, "config.optimizer.learning_rate must be positive"),
        ("model.embed_dim", 16, "config.model.embed_dim is 16, but dataset 'parity'"),
        ("data.batch_size", 1000, "config.data.batch_size = 1000 exceeds"),
        ("optimizer.learning_rate", math.inf, "learning_rate must be positive and finite"),
        ("optimizer.learning_rate", math.nan, "learning_rate must be positive and finite"),
        ("optimizer.learning_rate", 1e39, r"finite in float32 \(<= 3.4e38\), got 1e\+39"),
        ("optimizer.decay", 2.0, r"config.optimizer.decay must be in \[0, 1\)"),
        ("optimizer.momentum", 1.0, r"config.optimizer.momentum must be in \[0, 1\)"),
        ("optimizer.eps", -1.0, "config.optimizer.eps must be positive and finite"),
        ("seed", -1, "config.seed must be an integer >= 0"),
        ("data.options.num_train", -4, "config.data.options.num_train must be >= 0"),
    ],
)
def test_bad_configs_fail_before_anything_is_built(field, value, message, tmp_path, monkeypatch):
    def no_model(*args, **kwargs):
        raise AssertionError("the model was built before the config was rejected")

    monkeypatch.setattr(steps, "build_model", no_model)
    with pytest.raises(ValueError, match=message):
        train.train_and_evaluate(smoke(**{field: value}), str(tmp_path / "run"))
    assert not (tmp_path / "run").exists(), "a rejected config made its run directory"


def test_nan_loss_stops_with_the_step_and_keeps_the_last_good_checkpoint(tmp_path, monkeypatch):
    cfg = smoke(**{"train.checkpoint_every_steps": 2, "train.log_every_steps": 1})
    real = data.Dataset.train_batch

    def nan_at_5(self, step, *args):
        batch = real(self, step, *args)
        if step == 5:
            batch["x"] = np.full_like(batch["x"], np.nan)
        return batch

    monkeypatch.setattr(data.Dataset, "train_batch", nan_at_5)
    with pytest.raises(
        FloatingPointError, match=r"step 6.*checkpoint, at step 4.*learning_rate.*grad_clip_norm"
    ):
        train.train_and_evaluate(cfg, str(tmp_path))
    step, params = params_of(str(tmp_path))
    assert step == 4
    assert all(np.all(np.isfinite(p)) for p in jax.tree.leaves(params))


@pytest.mark.parametrize("checkpoint_every", [1, 0])  # every step; the default (each eval)
def test_an_update_to_non_finite_weights_is_divergence_and_never_checkpointed(
    tmp_path, checkpoint_every
):
    """RMSProp's first step moves each weight by about lr / sqrt(1 - decay) = 3.2 lr: at
    lr = 2e38 that overflows float32 while the step's own loss is still finite."""
    cfg = smoke(
        **{"optimizer.learning_rate": 2e38, "train.checkpoint_every_steps": checkpoint_every}
    )
    with pytest.raises(FloatingPointError, match=r"at step 1\b.*before its first checkpoint"):
        train.train_and_evaluate(cfg, str(tmp_path))
    ckpts = checkpoint.Checkpoints(os.path.join(tmp_path, "checkpoints"), 2)
    assert ckpts.all_steps() == [], "a non-finite state was checkpointed"
    ckpts.close()
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["status"] == "diverged" and "at step 1:" in summary["error"]


def test_early_stopping_stops_and_reports_the_best_validation_run(tmp_path):
    cfg = smoke(
        **{
            "train.num_epochs": 50,
            "train.eval_every_steps": 1,
            "train.early_stopping_patience": 3,
            "optimizer.learning_rate": 1e-9,
        }
    )
    summary = train.train_and_evaluate(cfg, str(tmp_path))
    assert summary["status"] == "stopped_early"
    assert summary["steps"] == summary["best"]["step"] + 3


def test_a_resumed_workdir_must_keep_its_config(tmp_path, monkeypatch):
    cfg = smoke(**{"train.checkpoint_every_steps": 2})
    real = data.Dataset.train_batch

    def crash_at_3(self, step, *args):
        if step == 3:
            raise RuntimeError("crash")
        return real(self, step, *args)

    monkeypatch.setattr(data.Dataset, "train_batch", crash_at_3)
    with pytest.raises(RuntimeError):
        train.train_and_evaluate(cfg, str(tmp_path))
    monkeypatch.setattr(data.Dataset, "train_batch", real)
    with pytest.raises(
        ValueError, match=r"different config \(changed: \['optimizer.learning_rate'\]"
    ):
        train.train_and_evaluate(
            smoke(**{"train.checkpoint_every_steps": 2, "optimizer.learning_rate": 0.5}),
            str(tmp_path),
        )


def test_train_script_runs_end_to_end(tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            "experiments/train.py",
            "--config=configs/synthetic.py:tanh,shift,smoke",
            f"--workdir={tmp_path}",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    assert "tanh:" in result.stdout and "parameters" in result.stdout
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["variant"] == "tanh" and summary["best"]["test"]["nll"] > 0
    files = set(os.listdir(tmp_path))
    assert {"config.json", "metrics.jsonl", "summary.json", "checkpoints"} <= files
    if importlib.util.find_spec("tensorboardX"):
        assert any(f.startswith("events.out.tfevents") for f in files), files


def test_rerun_after_the_last_checkpoint_but_before_the_summary(tmp_path):
    cfg = smoke()
    first = train.train_and_evaluate(cfg, str(tmp_path))
    (tmp_path / "summary.json").unlink()  # as if killed between the last save and the summary
    again = train.train_and_evaluate(cfg, str(tmp_path))
    assert again["best"] == first["best"]
    assert again["final"]["val_accuracy"] == first["final"]["val_accuracy"]
    assert again["steps_per_second"] == pytest.approx(again["steps"] / again["wall_time"])
