"""Compare variants on one task: a grid of variants x seeds x learning rates, then a table
and plots. Re-running the same command skips finished runs and resumes interrupted ones.

    python experiments/compare.py --config=configs/synthetic.py:parity \
        --variants=gru,gru3,lstm,tanh --seeds=3 --learning_rates=1e-2,1e-3 --workdir=/tmp/cmp

--config names a task config, ``<file>:<task>[,modifiers]``; its ``get_config`` is called as
``get_config("<variant>,<task>[,modifiers]")`` for each variant, and ``--config.<field>=value``
overrides apply to every variant (``--config.model.variant`` is refused with --variants: the
variants are named there). A custom spec keeps its commas: ``--variants='gru:z=b,r=b',lstm``.
Writes <workdir>/results.md, results.csv, results_by_lr.md and the figures (curves.png,
test_vs_params.png, forest.png, and lr_sensitivity.png with more than one rate), and prints the
table and their paths. A mistake in the command (a bad variant, flag value or config field,
missing data) is one line on stderr and exit status 1, before anything trains; so is a
comparison with a diverged run, after its report.

A grid longer than one session or machine: ``--records=<folder>`` keeps each finished run's
config.json, summary.json and metrics.jsonl there, and each unfinished run's resume state
(small; commit them), and a later command with the same flags in a new --workdir counts the
finished runs, resumes the unfinished ones from their state and trains only the rest
(``gruvar.training.records``). ``--report_only --records=<folder>`` rebuilds the report from them
alone (every recorded variant, or those of --variants; each record is checked against the config).
"""

from absl import app, flags, logging
from ml_collections import config_flags

from gruvar import cli, hugepages
from gruvar.comparison import compare
from gruvar.training import records

_CONFIG = config_flags.DEFINE_config_file(
    "config", None, "Task config file:argument (e.g. configs/chung.py:jsb).", lock_config=True
)
_VARIANTS = flags.DEFINE_list(
    "variants",
    None,
    "Variants (names or specs, e.g. gru:z=b,r=b) to compare (default: the config's).",
)
_SEEDS = flags.DEFINE_list("seeds", ["3"], "A count N (seeds 0..N-1) or a list of seeds.")
_LRS = flags.DEFINE_list("learning_rates", None, "Learning rates to try (default: the config's).")
_LR_DRAWS = flags.DEFINE_integer(
    "lr_draws", 0, "Draw this many learning rates exp(u), u ~ U(--lr_log_range) (Chung et al.)."
)
_LR_LOG_RANGE = flags.DEFINE_list("lr_log_range", ["-12", "-6"], "Range of log learning rate.")
_LR_SEED = flags.DEFINE_integer("lr_seed", 0, "Seed of the learning-rate draws.")
_RATES_FROM = flags.DEFINE_string(
    "learning_rates_from", None, "Use the rates another comparison chose (its chosen_rates.json)."
)
_SELECT_SEEDS = flags.DEFINE_integer(
    "select_seeds", 0, "Choose learning rates with the first N seeds, then run the rest at them."
)
_MAX_STACK = flags.DEFINE_integer(
    "max_stack", 0, "At most this many runs per vmapped program (0: a variant's whole grid)."
)
_LAUNCHER = flags.DEFINE_enum("launcher", "local", list(compare.LAUNCHERS), "Where runs train.")
_SLURM_PARTITION = flags.DEFINE_string(
    "slurm_partition", None, "SLURM partition (--launcher=slurm)."
)
_TIMEOUT_MIN = flags.DEFINE_integer("timeout_min", 24 * 60, "Job time limit, submitit launchers.")
_GPUS = flags.DEFINE_integer("gpus_per_node", 0, "GPUs per job (--launcher=slurm).")
_RECORDS = flags.DEFINE_string(
    "records",
    None,
    "A folder of run records (config, summary, metrics of each finished run, and an unfinished "
    "run's resume state; no checkpoints): recorded runs count as finished, unfinished ones "
    "resume from their state, and each run is recorded there as it trains. Commit it to carry "
    "a grid across machines or sessions.",
)
_REPORT_ONLY = flags.DEFINE_bool("report_only", False, "Build the report from existing runs only.")
_WORKDIR = flags.DEFINE_string("workdir", None, "Comparison directory (created; resumed).")
flags.mark_flags_as_required(["config", "workdir"])


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    logging.set_verbosity(logging.WARNING)
    workdir = _WORKDIR.value
    path, _, arg = flags.FLAGS["config"].config_filename.partition(":")
    base = _CONFIG.value
    overrides = config_flags.get_override_values(flags.FLAGS["config"])
    if _VARIANTS.value:
        variants = compare.variant_list(_VARIANTS.value)
    elif _REPORT_ONLY.value and _RECORDS.value:  # the report of every variant recorded
        variants = records.variants(_RECORDS.value)
    else:
        variants = [base.model.variant]
    configs = {v: compare.variant_config(path, arg, v, overrides) for v in variants}
    if _REPORT_ONLY.value:
        if _RECORDS.value:
            compare.sync_records(_RECORDS.value, workdir, configs)
    else:
        if _RATES_FROM.value:
            rates = compare.rates_chosen_in(_RATES_FROM.value, variants)
        elif _LR_DRAWS.value:
            low, high = compare.floats_from("lr_log_range", _LR_LOG_RANGE.value, count=2)
            rates = compare.drawn_learning_rates(_LR_DRAWS.value, low, high, _LR_SEED.value)
        else:
            rates = compare.floats_from(
                "learning_rates", _LRS.value or [base.optimizer.learning_rate]
            )
        slurm = {"timeout_min": _TIMEOUT_MIN.value} if _LAUNCHER.value != "local" else {}
        if _LAUNCHER.value == "slurm":
            slurm |= {"gpus_per_node": _GPUS.value}
            if _SLURM_PARTITION.value:
                slurm["slurm_partition"] = _SLURM_PARTITION.value
        seeds = compare.seeds_from(_SEEDS.value)
        compare.run(
            configs,
            seeds,
            rates,
            workdir,
            _LAUNCHER.value,
            _MAX_STACK.value,
            _SELECT_SEEDS.value,
            _RECORDS.value,
            **slurm,
        )
    paths = compare.report(workdir)
    with open(paths["results.md"]) as f:
        print(f.read())
    for name, path in paths.items():
        print(f"{name}: {path}")
    diverged = compare.diverged(workdir)
    if diverged:
        raise FloatingPointError(
            f"{len(diverged)} run(s) diverged (each run's summary.json says at which step and "
            f"what to try): {' '.join(diverged)}"
        )


if __name__ == "__main__":
    hugepages.use_huge_pages()
    cli.run(main)
