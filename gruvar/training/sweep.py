"""Many runs of one variant in one program: a grid of seeds x learning rates, vmapped.

A config whose ``sweep.seeds`` and/or ``sweep.learning_rates`` are set names a grid of runs.
Each (seed, learning rate) is an ordinary run with ``config.seed`` and
``config.optimizer.learning_rate`` set to that pair, with its own initialisation, its own
data order and its own run directory under the sweep's workdir. ``train_and_evaluate`` trains
them all at once: their states are stacked along a leading run axis and one jitted, vmapped
step updates all K (``steps.train_steps``), so K small models share one accelerator program.

Runs stop on their own (early stopping, a non-finite loss); a stopped run leaves the stack,
so it stops costing compute. Re-running the same command resumes every unfinished run.
"""

from __future__ import annotations

import itertools
import os
import time
from typing import Any

import jax
import ml_collections
import numpy as np

from gruvar import data
from gruvar.training import config as config_lib
from gruvar.training import parallel, records, run, runlog, steps


def grid(config: ml_collections.ConfigDict, workdir: str) -> list[tuple[Any, str]]:
    """The (run config, run directory) of every (seed, learning rate) of ``config.sweep``;
    an unset list means the config's own ``seed`` / ``optimizer.learning_rate``."""
    seeds = tuple(config.sweep.seeds) or (config.seed,)
    rates = tuple(config.sweep.learning_rates) or (config.optimizer.learning_rate,)
    runs, names = [], set()
    for seed, lr in itertools.product(seeds, rates):
        run = ml_collections.ConfigDict(config.to_dict())
        run.seed = int(seed)
        run.optimizer.learning_rate = float(lr)
        run.sweep.seeds, run.sweep.learning_rates = (), ()
        name = run_name(run)
        if name in names:
            raise ValueError(f"config.sweep lists the run {name} twice; list each value once.")
        names.add(name)
        runs.append((run, os.path.join(workdir, name)))
    return runs


def run_name(config: ml_collections.ConfigDict) -> str:
    """The directory name of one run of a sweep, e.g. ``seed0_lr0.001``."""
    return f"seed{config.seed}_lr{config.optimizer.learning_rate:g}"


def is_sweep(config: ml_collections.ConfigDict) -> bool:
    return bool(tuple(config.sweep.seeds) or tuple(config.sweep.learning_rates))


def train_and_evaluate(
    config: ml_collections.ConfigDict, workdir: str, keep: str | None = None
) -> list[dict[str, Any]]:
    """Trains every run of ``config``'s grid in one vmapped program; returns their summaries
    (a run whose loss stopped being finite has ``"status": "diverged"`` and an ``error``).
    ``keep``: a records folder, laid out as ``workdir`` (``gruvar.training.records``)."""
    runs = grid(config, workdir)
    dirs = [d for _, d in runs]
    keeps = None
    if keep:
        names = [os.path.relpath(d, workdir) for d in dirs]
        by_name = {n: c for n, (c, _) in zip(names, runs, strict=True)}
        records.sync(keep, workdir, lambda name, saved: by_name.get(name))
        keeps = [os.path.join(keep, n) for n in names]
    return train_runs([c for c, _ in runs], dirs, keeps)


def train_runs(
    configs: list[ml_collections.ConfigDict],
    workdirs: list[str],
    keeps: list[str] | None = None,
) -> list[dict]:
    """Trains the runs ``configs[i]`` in ``workdirs[i]`` side by side; returns their summaries.

    The configs may differ only in ``seed`` and ``optimizer.learning_rate``. Runs that are
    done (summary.json) are skipped; the others resume from a checkpoint step they share. A
    done or resumable run made with another config is an error (``run.check_config``), and
    each run directory is locked against other processes until this returns (``run.Run``).
    With ``keeps`` (each run's record directory), each run keeps its resume state there at
    every checkpoint and its record when it finishes, and resumes from it where the record's
    state is newer than the workdir's (``gruvar.training.resume``).
    """
    base = configs[0]
    for config in configs:
        config_lib.validate(config)
        _check_same_program(base, config)
    parallel.initialize()
    dataset = data.load(base.data.name, base.data.data_dir, **base.data.options)
    config_lib.check_task(base, dataset)
    parallel.check_batch_size(base.data.batch_size, "data.batch_size")
    parallel.check_batch_size(base.data.eval_batch_size, "data.eval_batch_size")
    per_epoch = dataset.steps_per_epoch(base.data.batch_size)
    total = base.train.num_epochs * per_epoch

    model = steps.build_model(base, dataset)
    # Shapes and optimizer only (nothing computed); each run's state is made from it.
    template = jax.eval_shape(lambda: steps.create_state(base, dataset, model, total))
    example = dataset.splits["train"].take(np.arange(1))

    @jax.jit
    def fresh_state(seed, learning_rate):
        params = model.init(jax.random.key(seed), example["x"], example["lengths"])["params"]
        state = template.replace(step=0, params=params, opt_state=template.tx.init(params))
        return run.checkpointed(steps.with_learning_rate(state, learning_rate))

    facts = {
        "variant": base.model.variant,
        "dataset": dataset.name,
        "param_count": steps.param_count(template.params),
    }
    main = parallel.is_main_process()
    runs: list[run.Run] = []
    try:  # every run opened is closed (its lock released) however this ends
        for c, d, k in zip(configs, workdirs, keeps or [None] * len(configs), strict=True):
            runs.append(run.Run(c, d, dataset.kind, main, k))
        _train(runs, template, fresh_state, dataset, facts, main)
    finally:
        for r in runs:
            r.close()
    return [r.summary for r in runs]


def _train(runs: list[run.Run], template, fresh_state, dataset, facts, main: bool) -> None:
    """Trains the unfinished ``runs`` (of one program: ``train_runs``) to their end."""
    base = runs[0].config
    kind, batch_size = dataset.kind, base.data.batch_size
    frames = steps.loss_frames(base, dataset)
    per_epoch = dataset.steps_per_epoch(batch_size)
    total = base.train.num_epochs * per_epoch
    eval_every = base.train.eval_every_steps or per_epoch
    ckpt_every = base.train.checkpoint_every_steps or eval_every

    # Done runs are skipped; a run whose last checkpoint ended it gets its summary now.
    active: list[run.Run] = []
    for r in runs:
        if r.summary is not None:
            _say(main, f"{r.workdir}: done ({r.summary['status']}); skipped.")
            continue
        step = r.restore_newest(run.checkpointed(template))
        if step and r.finished_at(step, total):
            r.open_log(step)  # (killed after its last checkpoint, before its summary)
            status = "stopped_early" if r.record["stopped_early"] else "complete"
            timing = {"epochs": step / per_epoch, "wall_time": r.record["elapsed"]}
            r.finish(
                status, step, facts | timing | {"steps_per_second": step / timing["wall_time"]}
            )
        else:
            active.append(r)
    if not active:
        return

    start = min(r.latest_step() for r in active)
    states = [
        r.restore(start, run.checkpointed(template))
        if start
        else fresh_state(r.config.seed, r.config.optimizer.learning_rate)
        for r in active
    ]
    for r in active:
        r.open_log(start)
    mesh = parallel.mesh()
    stacked = parallel.replicate(template.replace(**stack(states)), mesh)
    rngs = jax.vmap(jax.random.key)(np.array([r.config.seed for r in active]))
    window = parallel.replicate(steps.zero_window(kind, len(active)), mesh)
    what = f"{len(active)} runs of " if len(active) > 1 else ""
    workdirs = [r.workdir for r in runs]
    home = workdirs[0] if len(workdirs) == 1 else os.path.commonpath(workdirs)
    where = f"resuming at step {start}" if start else f"workdir {home}"
    _say(
        main,
        f"{what}{base.model.variant}: {facts['param_count']:,} parameters | {dataset.name}: "
        f"{per_epoch} steps/epoch, {total} steps | devices {jax.devices()} | {where}",
    )

    progress = runlog.Progress(total, per_epoch, base.train.progress_every_seconds, start)
    session_start = time.time()
    for r in active:
        r.t0 = session_start - r.record["elapsed"]  # wall time counts across resumes

    def finish(r: run.Run, status: str, step: int, error: str | None = None) -> None:
        wall_time = time.time() - r.t0  # across resumes (less the time of steps redone)
        timing = {
            "epochs": step / per_epoch,
            "wall_time": wall_time,
            "steps_per_second": step / wall_time,
        }
        r.finish(status, step, facts | timing, error)
        if error:
            _say(main, f"{r.workdir}: {error}")

    # Row i of the stack trains slots[i]; a finished run's slot becomes None and its row rides
    # along unused until the live runs are at most half the stack, which then shrinks (each
    # stack size compiles anew, so it shrinks at most log2(K) times).
    slots: list[run.Run | None] = list(active)
    step = start
    while any(slots):
        live = [i for i, r in enumerate(slots) if r is not None]
        seed_of = [slots[i if slots[i] else live[0]].config.seed for i in range(len(slots))]
        batch = stack_batches([dataset.train_batch(step, batch_size, s) for s in seed_of])
        batch["weights"] = np.ones((len(slots), batch_size), np.float32)
        stacked, window = steps.train_steps(
            kind,
            stacked,
            window,
            parallel.shard_batch(batch, mesh, axis=1),
            rngs,
            weight_noise=base.train.weight_noise,
            noise_on=base.train.weight_noise_on,
            loss_frames=frames,
        )
        step += 1
        done = step == total
        at_eval, at_ckpt = step % eval_every == 0 or done, step % ckpt_every == 0 or done
        ended: dict[int, str] = {}  # slot -> status
        if step % base.train.log_every_steps == 0 or at_eval or at_ckpt:
            sums = _per_run(jax.device_get(window))
            for i in live:
                bad_step = int(sums[i].pop("nonfinite_step"))
                if bad_step == np.iinfo(np.int32).max:
                    slots[i].log_train(sums[i], step, per_epoch)
                else:
                    ended[i] = "diverged"
                    finish(slots[i], "diverged", step, _divergence(bad_step + 1, slots[i]))
            window = parallel.replicate(steps.zero_window(kind, len(slots)), mesh)
        if at_eval:
            results = _evaluate_runs(kind, stacked, dataset, base, mesh)
            params = jax.device_get(stacked.params)
            for i in live:
                if i not in ended and slots[i].log_eval(results[i], step, per_epoch):
                    slots[i].save_best(step, take(params, i))
        stopped = {i for i in live if slots[i].record["stopped_early"]} - set(ended)
        if at_ckpt or stopped:
            for i in set(live) - set(ended):  # every run's previous checkpoint is committed
                slots[i].ckpts.wait()  # before any new one: their newest differ by one at most
            saved = jax.device_get(run.checkpointed(stacked))
            for i in live:
                if i not in ended and (at_ckpt or i in stopped):
                    slots[i].save(step, take(saved, i))
        for i in live:
            if i in stopped or (done and i not in ended):
                ended[i] = "stopped_early" if i in stopped else "complete"
                finish(slots[i], ended[i], step)
        if main:
            latest = [slots[i].latest for i in live]
            progress.update(step, latest, force=done or bool(ended))
        for i in ended:
            slots[i] = None
        keep = np.array([i for i, r in enumerate(slots) if r is not None], int)
        if 0 < len(keep) <= len(slots) // 2:  # finished runs stop costing compute
            slots = [slots[i] for i in keep]
            stacked = parallel.replicate(take(stacked, keep), mesh)
            rngs = rngs[keep]
            window = parallel.replicate(steps.zero_window(kind, len(slots)), mesh)


def _evaluate_runs(kind, stacked, dataset, config, mesh) -> list[dict[str, dict[str, float]]]:
    """Each stacked run's validation and test metrics."""
    per_split = {
        split: steps.evaluate_runs(
            kind,
            stacked,
            (
                parallel.shard_batch(b, mesh, axis=0)
                for b in dataset.eval_batches(split, config.data.eval_batch_size)
            ),
        )
        for split in ("validation", "test")
    }
    runs = len(per_split["validation"])
    return [{split: metrics[i] for split, metrics in per_split.items()} for i in range(runs)]


def describe(summary: dict[str, Any]) -> str:
    """One line about a finished run: its status and its best evaluation."""
    if summary["status"] == "diverged":
        return f"diverged: {summary['error']}"
    best = summary["best"]
    if best is None:
        return f"{summary['status']}, no finite validation metric"
    shown = ", ".join(
        f"{split} {name} {value:.4g}"
        for split in ("validation", "test")
        for name, value in best[split].items()
    )
    return f"{summary['status']} | best at step {best['step']}: {shown}"


def stack(trees: list[Any]) -> Any:
    """K pytrees of the same structure as one pytree with a leading axis of K."""
    return jax.tree.map(lambda *leaves: np.stack(leaves), *trees)


def take(tree: Any, index: int | np.ndarray) -> Any:
    """Run ``index`` (or the runs of an index array) of a stacked pytree."""
    return jax.tree.map(lambda leaf: leaf[index], tree)


def stack_batches(batches: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """K runs' batches as one, padded with zeros to the longest time axis among them (the
    extra steps lie past every sequence's length, so masks keep them out of every result)."""
    time = max(b["x"].shape[1] for b in batches)
    batches = [{k: _pad_time(k, v, time) for k, v in b.items()} for b in batches]
    return {k: np.stack([b[k] for b in batches]) for k in batches[0]}


def _per_run(window: dict[str, np.ndarray]) -> list[dict[str, float]]:
    runs = len(window["steps"])
    return [{k: v[i].item() for k, v in window.items()} for i in range(runs)]


def _divergence(step: int, r: run.Run) -> str:
    return (
        f"Non-finite training loss, parameters or optimizer state at step {step}: the run "
        f"stopped. {r.kept()} Train again in a new --workdir with a lower "
        f"config.optimizer.learning_rate (this run: {r.config.optimizer.learning_rate:g}) or with "
        f"config.optimizer.grad_clip_norm set (e.g. 1.0)."
    )


def _check_same_program(a: ml_collections.ConfigDict, b: ml_collections.ConfigDict) -> None:
    """Runs trained side by side may differ only in seed and learning rate."""
    a, b = a.to_dict(), b.to_dict()
    for config in (a, b):
        config.pop("seed")
        config["optimizer"].pop("learning_rate")
    if a != b:
        raise ValueError(
            "Runs trained together may differ only in seed and optimizer.learning_rate; these "
            f"also differ in {sorted(runlog.diff(a, b))}."
        )


def _say(main: bool, message: str) -> None:
    if main:
        print(message, flush=True)


def _pad_time(key: str, value: np.ndarray, time: int) -> np.ndarray:
    if key not in ("x", "y") or value.ndim < 2 or value.shape[1] == time:
        return value
    pad = [(0, 0)] * value.ndim
    pad[1] = (0, time - value.shape[1])
    return np.pad(value, pad)
