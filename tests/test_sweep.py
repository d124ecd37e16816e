"""Vmapped sweeps: a grid of (seed, learning rate) runs trained in one program."""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import jax
import numpy as np
import pytest
from test_train import ROOT, metric_lines, params_of, smoke

from gruvar import data
from gruvar.data import Dataset, Split
from gruvar.training import checkpoint, parallel, steps, sweep, train
from gruvar.training import config as config_lib

SEEDS, RATES = (0, 1), (1e-2, 3e-3)


def sweep_config(**overrides):
    cfg = smoke(**{"train.num_epochs": 4, "train.checkpoint_every_steps": 4} | overrides)
    cfg.sweep.seeds, cfg.sweep.learning_rates = SEEDS, RATES
    return cfg


def solo_config(seed, lr, **overrides):
    cfg = smoke(**{"train.num_epochs": 4, "train.checkpoint_every_steps": 4} | overrides)
    cfg.seed, cfg.optimizer.learning_rate = seed, lr
    return cfg


def assert_same_run(a, b):
    step_a, params_a = params_of(a)
    step_b, params_b = params_of(b)
    assert step_a == step_b
    for x, y in zip(jax.tree.leaves(params_a), jax.tree.leaves(params_b), strict=True):
        np.testing.assert_allclose(x, y, rtol=1e-5, atol=1e-6)
    lines_a, lines_b = metric_lines(a), metric_lines(b)
    assert [(m["split"], m["step"]) for m in lines_a] == [(m["split"], m["step"]) for m in lines_b]
    _assert_close(lines_a, lines_b)
    sa, sb = (json.loads((Path(d) / "summary.json").read_text()) for d in (a, b))
    for key in ("wall_time", "steps_per_second"):
        sa.pop(key), sb.pop(key)
    _assert_close(sa, sb)
    assert json.loads((Path(a) / "config.json").read_text()) == json.loads(
        (Path(b) / "config.json").read_text()
    )


def _assert_close(a, b):
    """Nested dicts equal, floats to float tolerance."""
    if isinstance(a, dict):
        assert a.keys() == b.keys()
        for key in a:
            _assert_close(a[key], b[key])
    elif isinstance(a, list):
        assert len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            _assert_close(x, y)
    elif isinstance(a, float):
        assert a == pytest.approx(b, rel=1e-4, abs=1e-6)
    else:
        assert a == b


def test_a_sweep_equals_its_runs_trained_alone(tmp_path):
    summaries = sweep.train_and_evaluate(sweep_config(), str(tmp_path / "sweep"))
    assert len(summaries) == 4 and all(s["status"] == "complete" for s in summaries)
    for seed in SEEDS:
        for lr in RATES:
            name = f"seed{seed}_lr{lr:g}"
            alone = str(tmp_path / "alone" / name)
            train.train_and_evaluate(solo_config(seed, lr), alone)
            assert_same_run(str(tmp_path / "sweep" / name), alone)
    finals = {s["final"]["train_loss"] for s in summaries}
    assert len(finals) == 4, "each run has its own initialisation, data order and learning rate"


def test_a_diverging_run_stops_alone(tmp_path):
    """lr 2e38 overflows the weights at the first update (its loss still finite), with a
    checkpoint every step: the run must stop there with no checkpoint, and say so."""
    cfg = sweep_config(**{"train.num_epochs": 1, "train.checkpoint_every_steps": 1})
    cfg.sweep.seeds, cfg.sweep.learning_rates = (0,), (1e-2, 2e38)
    by_lr = dict(zip((1e-2, 2e38), sweep.train_and_evaluate(cfg, str(tmp_path)), strict=True))
    error = by_lr[2e38]["error"]
    assert by_lr[2e38]["status"] == "diverged"
    assert "Non-finite training loss, parameters or optimizer state at step 1:" in error
    assert "before its first checkpoint, so none is kept" in error
    assert "learning_rate (this run: 2e+38)" in error
    ckpts = checkpoint.Checkpoints(str(tmp_path / "seed0_lr2e+38" / "checkpoints"), 2)
    assert ckpts.all_steps() == []
    ckpts.close()
    assert by_lr[1e-2]["status"] == "complete" and by_lr[1e-2]["steps"] == 4
    on_disk = json.loads((tmp_path / "seed0_lr2e+38" / "summary.json").read_text())
    assert on_disk["status"] == "diverged"
    # Its own run, alone, stops the same way.
    alone = solo_config(0, 2e38, **{"train.num_epochs": 1, "train.checkpoint_every_steps": 1})
    with pytest.raises(FloatingPointError) as stopped:
        train.train_and_evaluate(alone, str(tmp_path / "alone"))
    assert str(stopped.value) == error


def test_a_finished_sweep_rerun_with_another_config_is_refused(tmp_path):
    cfg = sweep_config(**{"train.num_epochs": 1})
    cfg.sweep.seeds = (0,)
    sweep.train_and_evaluate(cfg, str(tmp_path))
    changed = sweep_config(**{"train.num_epochs": 1, "model.features": 16})
    changed.sweep.seeds = (0,)
    with pytest.raises(
        ValueError,
        match=r"seed0_lr0.01 holds a finished run with a different config \(changed: "
        r"\['model.features'\]\)",
    ):
        sweep.train_and_evaluate(changed, str(tmp_path))


def test_sweep_resume_after_a_crash_equals_an_uninterrupted_sweep(tmp_path, monkeypatch):
    cfg = sweep_config(**{"train.num_epochs": 6, "train.checkpoint_every_steps": 8})
    straight, resumed = str(tmp_path / "straight"), str(tmp_path / "resumed")
    sweep.train_and_evaluate(cfg, straight)

    real = data.Dataset.train_batch

    def crash_at_13(self, step, *args):
        if step == 13:
            raise RuntimeError("simulated crash")
        return real(self, step, *args)

    monkeypatch.setattr(data.Dataset, "train_batch", crash_at_13)
    with pytest.raises(RuntimeError, match="simulated crash"):
        sweep.train_and_evaluate(cfg, resumed)
    monkeypatch.setattr(data.Dataset, "train_batch", real)
    sweep.train_and_evaluate(cfg, resumed)
    for run_cfg, run_dir in sweep.grid(cfg, resumed):
        name = sweep.run_name(run_cfg)
        assert params_of(run_dir)[0] == 24
        assert_same_run(os.path.join(straight, name), run_dir)
        assert metric_lines(run_dir) == metric_lines(os.path.join(straight, name))


def test_a_rerun_skips_finished_runs_and_resumes_a_lagging_one(tmp_path, capsys):
    """A kill between two runs' checkpoint saves leaves one run a checkpoint behind."""
    cfg = sweep_config(
        **{"train.num_epochs": 6, "train.checkpoint_every_steps": 8, "train.keep_checkpoints": 3}
    )
    cfg.sweep.learning_rates = (1e-2,)
    straight, resumed = str(tmp_path / "straight"), str(tmp_path / "resumed")
    sweep.train_and_evaluate(cfg, straight)
    sweep.train_and_evaluate(cfg, resumed)
    for (_, run_dir), keep in zip(sweep.grid(cfg, resumed), (16, 8), strict=True):
        os.remove(os.path.join(run_dir, "summary.json"))  # unfinished, one at 16, one at 8
        ckpts = checkpoint.Checkpoints(os.path.join(run_dir, "checkpoints"), 3)
        ckpts.discard_after(keep)
        ckpts.close()
    sweep.train_and_evaluate(cfg, resumed)
    assert "resuming at step 8" in capsys.readouterr().out
    for run_cfg, run_dir in sweep.grid(cfg, resumed):
        assert_same_run(os.path.join(straight, sweep.run_name(run_cfg)), run_dir)
    sweep.train_and_evaluate(cfg, resumed)
    assert capsys.readouterr().out.count("done (complete); skipped") == 2


def test_stacked_ragged_batches_train_like_separate_steps():
    """Runs whose batches have different time buckets are padded to the longest; the padding
    lies past every length, so each run's update is the one it gets alone."""
    rng = np.random.default_rng(0)
    lengths = np.array([3, 5, 9, 12, 20, 30, 31, 40])
    frames = [rng.integers(0, 2, (n + 1, 4)).astype(np.float32) for n in lengths]
    seqs = np.empty(len(lengths), object)
    seqs[:] = [f[:-1] for f in frames]
    targets = np.empty(len(lengths), object)
    targets[:] = [f[1:] for f in frames]
    split = Split(seqs, targets, lengths)
    dataset = Dataset("ragged", "frames", 4, {"train": split, "validation": split, "test": split})
    cfg = smoke(**{"data.batch_size": 2, "model.variant": "lstm"})
    model = steps.build_model(cfg, dataset)
    state = steps.create_state(cfg, dataset, model, 10)
    short, long = split.take(np.array([0, 1])), split.take(np.array([6, 7]))
    assert short["x"].shape[1] != long["x"].shape[1]
    batches = [b | {"weights": np.ones(2, np.float32)} for b in (short, long)]

    stacked = sweep.stack([state, state])  # host arrays, so the donating steps keep them
    alone = []
    for batch in batches:
        new, window = steps.train_step(
            "frames", sweep.take(stacked, 0), steps.zero_window("frames"), batch, jax.random.key(0)
        )
        alone.append((new.params, window))
    keys = jax.vmap(lambda _: jax.random.key(0))(np.arange(2))
    together, windows = steps.train_steps(
        "frames", stacked, steps.zero_window("frames", 2), sweep.stack_batches(batches), keys
    )
    for i, (params, window) in enumerate(alone):
        for a, b in zip(
            jax.tree.leaves(sweep.take(together.params, i)), jax.tree.leaves(params), strict=True
        ):
            np.testing.assert_allclose(a, b, rtol=2e-5, atol=1e-6)
        assert float(windows["nll"][i]) == pytest.approx(float(window["nll"]), rel=1e-5)
        assert float(windows["frames"][i]) == float(window["frames"])


@pytest.mark.parametrize(
    "change, message",
    [
        ({"train.keep_checkpoints": 1}, "keep_checkpoints must be >= 2 for a sweep"),
        ({"sweep.learning_rates": (1e-3, -1.0)}, "sweep.learning_rates must be positive"),
        ({"sweep.seeds": (0, 0)}, "lists the run seed0_lr0.01 twice"),
    ],
)
def test_bad_sweeps_are_refused_with_the_field(tmp_path, change, message):
    cfg = sweep_config()
    for field, value in change.items():
        section, name = field.split(".")
        cfg[section][name] = value
    with pytest.raises(ValueError, match=message):
        config_lib.validate(cfg)
        sweep.train_and_evaluate(cfg, str(tmp_path))


def test_one_run_entry_point_refuses_a_sweep(tmp_path):
    with pytest.raises(ValueError, match=r"gruvar\.training\.sweep\.train_and_evaluate"):
        train.train_and_evaluate(sweep_config(), str(tmp_path))


def test_train_script_runs_a_sweep_from_the_command_line(tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            "experiments/train.py",
            "--config=configs/synthetic.py:gru,parity,smoke",
            "--config.sweep.seeds=0,1",
            "--config.sweep.learning_rates=1e-2,1e-3",
            f"--workdir={tmp_path}",
        ],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    )
    runs = sorted(p.name for p in tmp_path.iterdir())
    assert runs == ["seed0_lr0.001", "seed0_lr0.01", "seed1_lr0.001", "seed1_lr0.01"]
    assert "4 runs of gru" in result.stdout
    for name in runs:
        assert (tmp_path / name / "summary.json").exists()
        assert name in result.stdout


DATA_PARALLEL = textwrap.dedent(
    """
    import os
    os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=8"
    import jax, numpy as np
    from gruvar import data
    from gruvar.training import parallel, steps, sweep
    from tests.test_train import smoke

    assert jax.device_count() == 8
    cfg = smoke(**{"data.batch_size": 16})
    dataset = data.load(cfg.data.name, None, **cfg.data.options)
    model = steps.build_model(cfg, dataset)
    state = sweep.stack([steps.create_state(cfg, dataset, model, 10)] * 2)
    batch = sweep.stack_batches([dataset.train_batch(0, 16, s) for s in (0, 1)])
    batch["weights"] = np.ones((2, 16), np.float32)
    keys = jax.vmap(jax.random.key)(np.arange(2))
    window = steps.zero_window("classify", 2)

    one = jax.devices()[0]
    single, w1 = steps.train_steps(
        "classify", jax.device_put(state, one), window, jax.device_put(batch, one), keys)
    mesh = parallel.mesh()
    sharded_batch = parallel.shard_batch(batch, mesh, axis=1)
    assert len(sharded_batch["x"].sharding.device_set) == 8
    split, w8 = steps.train_steps(
        "classify", parallel.replicate(state, mesh), window, sharded_batch, keys)
    for a, b in zip(jax.tree.leaves(single.params), jax.tree.leaves(split.params)):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(w1["loss"], w8["loss"], rtol=1e-6)
    try:
        parallel.check_batch_size(12, "data.batch_size")
    except ValueError as err:
        print("ERROR:", err)
    print("OK")
    """
)


def test_a_data_parallel_step_on_8_devices_equals_the_one_device_step():
    result = subprocess.run(
        [sys.executable, "-c", DATA_PARALLEL], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "OK" in result.stdout
    assert "config.data.batch_size = 12 does not split over 8 devices" in result.stdout


@pytest.mark.parametrize(
    "env, multi",
    [
        ({}, False),
        ({"SLURM_NTASKS": "1"}, False),
        ({"SLURM_NTASKS": "4"}, True),
        ({"OMPI_COMM_WORLD_SIZE": "2"}, True),
        ({"JAX_COORDINATOR_ADDRESS": "10.0.0.1:1234"}, True),
    ],
)
def test_the_distributed_runtime_starts_only_for_multi_process_launches(monkeypatch, env, multi):
    for name in (
        "SLURM_NTASKS",
        "OMPI_COMM_WORLD_SIZE",
        "JAX_NUM_PROCESSES",
        "JAX_COORDINATOR_ADDRESS",
    ):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert parallel.multi_process_env() is multi
    started = []
    monkeypatch.setattr(jax.distributed, "initialize", lambda: started.append(True))
    monkeypatch.setattr(jax.distributed, "is_initialized", lambda: False)
    parallel.initialize()
    assert started == ([True] if multi else [])
