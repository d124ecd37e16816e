"""A grid of variants x seeds x learning rates on one task, its runs, and its report.

Layout of a comparison directory::

    <workdir>/grid.json                      the runs the grid expects
    <workdir>/<variant>/seed<s>_lr<lr>/      one ordinary run directory per run
    <workdir>/results.md, results.csv        one row per variant (analysis.summarize)
    <workdir>/results_by_lr.md               one row per variant and learning rate
    <workdir>/curves.png, test_vs_params.png, forest.png, lr_sensitivity.png

Each variant's runs train as sweeps (``gruvar.training.sweep.train_runs``: vmapped, resumable), in
process or as one job each through submitit (SLURM, or its local executor). A finished run is
skipped and an interrupted one resumes, so re-running the same command picks up where it
stopped; the report is built from whatever run directories exist.

With ``select_seeds`` = N (``run``), learning rates are chosen first with the first N seeds
only; the other seeds then train at each variant's chosen rate (Chung et al.'s search, made
affordable: 10 rates x 1 seed + 2 seeds, not 10 x 3). The choice is made on validation, as
everywhere here.

A task config file gives ``get_config("<variant>,<task>[,modifiers]")``, so a config can
size each variant (e.g. hidden units matched to a parameter budget).

Every variant is parsed and every run's config validated before anything trains. The report
files, their figures and grid.json / chosen_rates.json are written to a temporary file and
renamed, so a kill never leaves one half-written or destroys the previous one.
"""

from __future__ import annotations

import importlib.util
import math
import os
import re
from collections.abc import Mapping, Sequence
from typing import Any

import jax
import ml_collections
import numpy as np

from gruvar import cli, data
from gruvar.comparison import analysis, figures
from gruvar.core.variants import get as get_variant
from gruvar.training import config as config_lib
from gruvar.training import records, runlog, steps, sweep
from gruvar.training.run import finished_summary

LAUNCHERS = ("local", "slurm", "submitit_local", "submitit_debug")
CHOSEN = "chosen_rates.json"  # the learning rates a --select_seeds comparison chose


def load_config_module(path: str):
    """The config file at ``path`` as a module (it must define ``get_config``)."""
    spec = importlib.util.spec_from_file_location(os.path.basename(path)[:-3], path)
    if spec is None or not os.path.exists(path):
        raise FileNotFoundError(f"No config file {path!r}.")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def variant_list(values: Sequence[str]) -> list[str]:
    """``--variants`` as absl splits it (at every comma), with each ``gate=spec`` piece of a
    custom spec joined back onto the variant before it: ``["gru:z=b", "r=b", "lstm"]`` ->
    ``["gru:z=b,r=b", "lstm"]``. Each variant is parsed (an unknown name or a bad spec is a
    ValueError naming it), and each model is listed once (two names of one model are refused)."""
    variants: list[str] = []
    for value in values:
        if variants and "=" in value and ":" not in value:
            variants[-1] += f",{value}"
        else:
            variants.append(value)
    forms = {}
    for variant in variants:
        try:
            form = get_variant(variant).canonical
        except ValueError as err:
            raise ValueError(f"--variants: {err}") from None
        if forms.setdefault(form, variant) != variant:  # (a name listed twice: below)
            raise ValueError(
                f"--variants lists {forms[form]!r} and {variant!r}, which are the same model "
                f"({form}); list it once."
            )
    directories = [directory_name(v) for v in variants]
    twice = sorted(
        {v for v, d in zip(variants, directories, strict=True) if directories.count(d) > 1}
    )
    if twice:
        raise ValueError(f"--variants lists {twice} twice (one directory each); list each once.")
    return variants


def variant_config(
    config_file: str, arg: str, variant: str, overrides: Mapping[str, Any]
) -> ml_collections.ConfigDict:
    """``get_config("<variant>,<arg>")`` of ``config_file`` with ``overrides`` (dotted field:
    value, as the command line gives them) applied. An override of ``model.variant`` that would
    train another variant than ``variant`` is a ValueError."""
    config = load_config_module(config_file).get_config(f"{variant},{arg}" if arg else variant)
    config.unlock()
    for field, value in overrides.items():
        *parents, name = field.split(".")
        node = config
        for parent in parents:
            node = node[parent]
        node[name] = value
    if config.model.variant != variant:
        raise ValueError(
            f"The run directory {directory_name(variant)}/ would train "
            f"{config.model.variant!r}, not {variant!r}: --config.model.variant replaces every "
            f"--variants entry. Name the variants in --variants only."
        )
    return config


def seeds_from(values: Sequence[str]) -> tuple[int, ...]:
    """``["3"]`` means seeds 0, 1, 2; several values are the seeds themselves (each >= 0)."""
    try:
        numbers = [int(v) for v in values]
    except ValueError:
        raise ValueError(f"--seeds must be integers, got {list(values)}.") from None
    if len(numbers) == 1 and numbers[0] < 1:
        raise ValueError(
            f"--seeds={numbers[0]} gives no seed: a count N >= 1 (seeds 0..N-1) or a list."
        )
    if len(numbers) > 1 and min(numbers) < 0:
        raise ValueError(f"--seeds lists a negative seed: {numbers}; seeds are >= 0.")
    return tuple(range(numbers[0])) if len(numbers) == 1 else tuple(numbers)


def floats_from(flag: str, values: Sequence[str], count: int | None = None) -> tuple[float, ...]:
    """A list flag's values as numbers (``count`` of them, if given); a value that is not one,
    or another count, is a ValueError naming ``flag``."""
    try:
        numbers = tuple(float(v) for v in values)
    except ValueError:
        raise ValueError(f"--{flag} must be numbers, got {list(values)}.") from None
    if count is not None and len(numbers) != count:
        raise ValueError(f"--{flag} takes {count} numbers, got {len(numbers)}: {list(values)}.")
    return numbers


def drawn_learning_rates(n: int, low: float, high: float, seed: int) -> tuple[float, ...]:
    """Chung et al.'s protocol: ``n`` learning rates exp(u), u ~ U(low, high), drawn once
    (from ``seed``) and shared by every variant, so variants are compared on the same draws."""
    if n < 1 or not low < high:
        raise ValueError(
            f"--lr_draws must be >= 1 and --lr_log_range a range low < high; got {n} draws in "
            f"[{low}, {high}]."
        )
    lowest, highest = math.log(np.finfo(np.float32).tiny), math.log(config_lib.FLOAT32_MAX)
    if low < lowest or high > highest:
        raise ValueError(
            f"--lr_log_range [{low}, {high}] is a range of log learning rates: exp of it must be "
            f"a float32 learning rate, so it lies within [{lowest:.1f}, {highest:.1f}] (Chung "
            f"et al.'s is -12,-6)."
        )
    u = np.random.default_rng(seed).uniform(low, high, n)
    return tuple(float(f"{math.exp(x):.3g}") for x in u)


def plan(
    configs: Mapping[str, ml_collections.ConfigDict],
    seeds: Sequence[int],
    learning_rates: Sequence[float] | Mapping[str, Sequence[float]],
    workdir: str,
    max_stack: int = 0,
    also_expected: Sequence[str] = (),
) -> list[tuple[list[ml_collections.ConfigDict], list[str]]]:
    """The jobs of a grid: for each variant, its (seed, learning rate) runs in stacks of at
    most ``max_stack`` (0: all of them in one stack); ``learning_rates`` may map each variant
    to its own. Every variant's config is validated (``gruvar.training.config.validate``, with its
    seeds and rates) before any job exists. Writes ``grid.json`` (these runs and
    ``also_expected``)."""
    if not isinstance(max_stack, int) or max_stack < 0:
        raise ValueError(f"--max_stack must be >= 0 (0: no cap), got {max_stack!r}.")
    if not seeds:
        raise ValueError("The grid has no seed; give --seeds a count >= 1 or a list.")
    jobs, expected = [], list(also_expected)
    grids, datasets = {}, {}
    for variant, config in configs.items():
        rates = learning_rates[variant] if isinstance(learning_rates, Mapping) else learning_rates
        config = ml_collections.ConfigDict(config.to_dict())
        config.sweep.seeds = tuple(seeds)
        config.sweep.learning_rates = tuple(rates)
        try:
            config_lib.validate(config)
            _check_model(config, datasets)
        except ValueError as err:
            if not cli.user_error(err):
                raise
            message = str(err).split("\n-----")[0]  # (without JAX's note on its frames)
            raise ValueError(f"{variant}: {message}") from None
        grids[variant] = config
    for variant, config in grids.items():
        runs = sweep.grid(config, os.path.join(workdir, directory_name(variant)))
        expected += [os.path.relpath(d, workdir) for _, d in runs]
        size = max_stack or len(runs)
        for i in range(0, len(runs), size):
            chunk = runs[i : i + size]
            jobs.append(([c for c, _ in chunk], [d for _, d in chunk]))
    os.makedirs(workdir, exist_ok=True)
    runlog.write_json(os.path.join(workdir, "grid.json"), {"runs": expected})
    return jobs


def _check_model(config: ml_collections.ConfigDict, datasets: dict) -> None:
    """ValueError (the model's or the task's) unless ``config``'s model can be built for its
    data set: a width a variant cannot take (MUT1 needs as many inputs as units), say, is
    found before any variant trains. Data sets are loaded once into ``datasets``."""
    key = (config.data.name, config.data.data_dir, repr(sorted(config.data.options.items())))
    if key not in datasets:
        datasets[key] = data.load(config.data.name, config.data.data_dir, **config.data.options)
    dataset = datasets[key]
    config_lib.check_task(config, dataset)
    model = steps.build_model(config, dataset)
    example = dataset.splits["train"].take(np.arange(1))
    jax.eval_shape(lambda: model.init(jax.random.key(0), example["x"], example["lengths"]))


def run(
    configs: Mapping[str, ml_collections.ConfigDict],
    seeds: Sequence[int],
    learning_rates: Sequence[float] | Mapping[str, Sequence[float]],
    workdir: str,
    launcher: str = "local",
    max_stack: int = 0,
    select_seeds: int = 0,
    keep: str | None = None,
    **slurm: Any,
) -> None:
    """Trains the grid (resuming what exists). With ``select_seeds`` = N > 0 and several
    learning rates, first the first N seeds at every rate, then the other seeds at each
    variant's rate chosen on validation by ``chosen_rates`` (saved in ``chosen_rates.json``).
    ``learning_rates`` may also map each variant to its own rates. With ``keep``, a folder of
    run records (``gruvar.training.records``), the runs recorded there count as finished here, and
    each job's finished runs are recorded there as it ends."""
    if select_seeds < 0:
        raise ValueError(f"--select_seeds must be >= 0 (0: no selection), got {select_seeds}.")
    if select_seeds > len(seeds):
        raise ValueError(
            f"--select_seeds={select_seeds} chooses learning rates with the first "
            f"{select_seeds} seeds, but --seeds gives {len(seeds)} ({list(seeds)}): give fewer "
            f"selection seeds, or more seeds."
        )
    folder = os.path.join(workdir, "submitit")
    fixed = isinstance(learning_rates, Mapping) or len(learning_rates) == 1
    select = not fixed and 0 < select_seeds < len(seeds)
    first = plan(
        configs, seeds[:select_seeds] if select else seeds, learning_rates, workdir, max_stack
    )
    if keep:
        sync_records(keep, workdir, configs)
    launch(_recorded(first, workdir, keep), launcher, folder, **slurm)
    if not select:
        return
    rates = chosen_rates(workdir, list(configs))
    chosen = {"seeds": list(seeds[:select_seeds]), "learning_rates": rates}
    runlog.write_json(os.path.join(workdir, CHOSEN), chosen)
    chosen = ", ".join(f"{v} {r:g}" for v, r in rates.items())
    print(f"learning rates chosen on validation with seeds {seeds[:select_seeds]}: {chosen}")
    done = [os.path.relpath(d, workdir) for _, dirs in first for d in dirs]
    per_variant = {v: (r,) for v, r in rates.items()}
    rest = plan(configs, seeds[select_seeds:], per_variant, workdir, max_stack, done)
    launch(_recorded(rest, workdir, keep), launcher, folder, **slurm)


def _recorded(jobs, workdir: str, keep: str | None):
    """``jobs`` (configs, run directories) with each run's record directory under ``keep``
    (None: no records)."""
    return [
        (
            configs,
            dirs,
            [os.path.join(keep, os.path.relpath(d, workdir)) for d in dirs] if keep else None,
        )
        for configs, dirs in jobs
    ]


def rates_chosen_in(workdir: str, variants: Sequence[str]) -> dict[str, tuple[float]]:
    """The learning rates another comparison chose (its ``chosen_rates.json``), per variant:
    e.g. Chung's other music sets at the rates JSB's validation picked."""
    path = os.path.join(workdir, CHOSEN)
    if not os.path.exists(path):
        raise FileNotFoundError(
            f"{path} does not exist: run that comparison with --select_seeds first."
        )
    chosen = runlog.read_json(path, f"rerun the comparison in {workdir} to choose again.")
    chosen = chosen["learning_rates"]
    missing = sorted(set(variants) - set(chosen))
    if missing:
        raise ValueError(f"{path} chose no learning rate for {missing}; it has {sorted(chosen)}.")
    return {v: (chosen[v],) for v in variants}


def chosen_rates(workdir: str, variants: Sequence[str]) -> dict[str, float]:
    """Each variant's learning rate with the best mean validation metric over its finished runs
    (each run at its best-validation evaluation); ties go to the smaller rate."""
    results = analysis.finished(analysis.run_results(analysis.load_runs(workdir)))
    top = results["run"].str.split(os.sep).str[0]
    rates = {}
    for variant in variants:
        mine = results[top == directory_name(variant)]
        if mine.empty:
            raise RuntimeError(
                f"No finished run of {variant} under {workdir} has a finite validation metric, "
                f"so no learning rate can be chosen; see its runs' summary.json."
            )
        means = mine.groupby("learning_rate")["validation"].mean().sort_index()
        higher = analysis.METRICS[mine["metric"].iloc[0]]
        rates[variant] = float(means.idxmax() if higher else means.idxmin())
    return rates


def directory_name(variant: str) -> str:
    """A variant's directory: its name, or its spec with path-unsafe characters replaced."""
    return re.sub(r"[^A-Za-z0-9_.=-]+", "_", variant)


def run_job(
    configs: list[ml_collections.ConfigDict], workdirs: list[str], keeps: list[str] | None = None
) -> list[dict]:
    """One stack of runs (a job's whole work: a module-level function, so it pickles), each
    recorded in its ``keeps`` directory if given (``gruvar.training.sweep.train_runs``).

    JAX's caches are cleared after it: each stack compiles its own programs, and XLA:CPU maps
    each one's code (~4K memory maps a stack, measured); kept, a grid of a dozen variants in one
    process reached vm.max_map_count (65,530), LLVM failed "Cannot allocate memory" and the
    process died. Cleared, the count stays flat (~640 over six variants)."""
    try:
        return sweep.train_runs(configs, workdirs, keeps)
    finally:
        jax.clear_caches()


def launch(jobs, launcher: str, folder: str, **slurm: Any) -> None:
    """Runs ``jobs`` (``run_job``'s arguments) in this process (``local``) or as one submitit
    job each, and waits for them: ``slurm`` (``slurm``: submitit's SLURM executor parameters,
    e.g. ``slurm_partition``, ``timeout_min``, ``gpus_per_node``), ``submitit_local`` (one
    subprocess each) or ``submitit_debug`` (in this process, through submitit)."""
    if launcher not in LAUNCHERS:
        raise ValueError(f"Unknown launcher {launcher!r}; choose from {list(LAUNCHERS)}.")
    done = [_done(configs, workdirs) for configs, workdirs, _ in jobs]
    pending = [job for job, finished in zip(jobs, done, strict=True) if not finished]
    for (_, workdirs, _), finished in zip(jobs, done, strict=True):
        if finished:
            print(f"done, skipped: {_where(workdirs)}", flush=True)
    if launcher == "local":
        for job in pending:
            run_job(*job)
        return
    import submitit

    executor = {
        "slurm": lambda: submitit.AutoExecutor(folder=folder, cluster="slurm"),
        "submitit_local": lambda: submitit.LocalExecutor(folder=folder),
        "submitit_debug": lambda: submitit.DebugExecutor(folder=folder),
    }[launcher]()
    if slurm:
        executor.update_parameters(**slurm)
    submitted = [executor.submit(run_job, *job) for job in pending]
    for job, (_, workdirs, _) in zip(submitted, pending, strict=True):
        print(f"submitted job {job.job_id}: {_where(workdirs)}", flush=True)
    for job in submitted:
        job.result()  # re-raises a job's error, with its log's path


def sync_records(keep: str, workdir: str, configs: Mapping[str, ml_collections.ConfigDict]) -> None:
    """Records the workdir's finished runs of ``configs`` in ``keep`` (``gruvar.training.records``)
    and puts the runs recorded there into ``workdir``, saying how many of each. Only runs of these
    variants count, and each is checked against its variant's config (with its own seed and
    learning rate) before anything is written: a run or record of another config is a
    ValueError naming it."""
    records.sync(keep, workdir, matcher(configs))


def matcher(configs: Mapping[str, ml_collections.ConfigDict]) -> records.Match:
    """A run's name in a comparison and its saved config -> the config it must have (its
    variant's, at its own seed and learning rate), or None if it is not of ``configs``."""
    by_directory = {directory_name(v): c for v, c in configs.items()}

    def match(name: str, saved: dict[str, Any]) -> ml_collections.ConfigDict | None:
        base = by_directory.get(name.split(os.sep)[0])
        if base is None:
            return None
        config = ml_collections.ConfigDict(base.to_dict())
        config.seed = saved.get("seed", config.seed)
        config.optimizer.learning_rate = saved.get("optimizer", {}).get(
            "learning_rate", config.optimizer.learning_rate
        )
        config.sweep.seeds, config.sweep.learning_rates = (), ()
        return config

    return match


def report(workdir: str) -> dict[str, str]:
    """Writes results.md, results.csv, results_by_lr.md and the figures of the comparison in
    ``workdir`` (``gruvar.comparison.figures``; lr_sensitivity.png where it ran more than one
    learning rate); returns their paths."""
    runs = analysis.load_runs(workdir)
    table = analysis.summarize(runs, records.expected_runs(workdir))
    try:
        return _write_report(workdir, runs, table)
    except OSError as err:  # a full disk, a read-only workdir
        raise ValueError(
            f"The report cannot be written in {workdir} ({err.strerror or err}"
            f"{f': {err.filename}' if err.filename else ''}). Free some space or make it "
            f"writable, then rebuild it with --report_only (the runs are kept)."
        ) from None


def _write_report(workdir: str, runs, table) -> dict[str, str]:
    paths = {
        "results.md": os.path.join(workdir, "results.md"),
        "results.csv": os.path.join(workdir, "results.csv"),
        "results_by_lr.md": os.path.join(workdir, "results_by_lr.md"),
        "curves": figures.learning_curves(runs, os.path.join(workdir, "curves.png")),
        "test_vs_params": figures.test_vs_params(
            table, os.path.join(workdir, "test_vs_params.png")
        ),
        "forest": figures.forest_plot(table, os.path.join(workdir, "forest.png")),
    }
    if runs["optimizer.learning_rate"].nunique() > 1:
        path = os.path.join(workdir, "lr_sensitivity.png")
        paths["lr_sensitivity"] = figures.lr_sensitivity(runs, path)
    runlog.write_text(paths["results.csv"], table.to_csv(index=False))
    runlog.write_text(paths["results.md"], analysis.to_markdown(table))
    by_lr = analysis.by_learning_rate_markdown(analysis.by_learning_rate(runs))
    runlog.write_text(paths["results_by_lr.md"], by_lr)
    return paths


def diverged(workdir: str) -> list[str]:
    """The runs under ``workdir`` whose summary.json says they diverged (paths relative to it)."""
    summaries = {
        run: runlog.read_json(os.path.join(workdir, run, "summary.json"), analysis.REWRITE)
        for run in records.finished(workdir)
    }
    return [run for run, summary in summaries.items() if summary.get("status") == "diverged"]


def _done(configs: list[ml_collections.ConfigDict], workdirs: list[str]) -> bool:
    """Whether every run of a job has finished; ValueError (naming the changed fields) if one
    finished with another config, so a changed command never reuses stale results."""
    finished = [finished_summary(c, d) for c, d in zip(configs, workdirs, strict=True)]
    return all(s is not None for s in finished)


def _where(workdirs: list[str]) -> str:
    return (
        workdirs[0]
        if len(workdirs) == 1
        else f"{len(workdirs)} runs under " + (os.path.commonpath(workdirs))
    )
