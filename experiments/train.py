"""Train one config in one run directory; re-running with the same --workdir resumes.

    python experiments/train.py --config=configs/synthetic.py:gru,parity --workdir=/tmp/run \
        --config.optimizer.learning_rate=1e-3

Writes config.json, metrics.jsonl, summary.json and checkpoints/ under --workdir. With
``--config.sweep.seeds=0,1,2`` and/or ``--config.sweep.learning_rates=1e-3,1e-4`` it trains
every (seed, learning rate) at once in one vmapped program (gruvar.training.sweep), one run
directory each under --workdir, e.g. --workdir/seed0_lr0.001. A mistake in the command (a bad config
value or variant, missing data) and a diverged run (alone, or any of a sweep's) are one line
on stderr and exit status 1.

``--records=<folder>`` lets a long run outlive its machine: the folder (small; commit it)
keeps the run's resume state at every checkpoint and its record when it finishes, and the same
command with a new --workdir on another machine resumes from it (gruvar.training.records).
"""

from absl import app, flags, logging
from ml_collections import config_flags

from gruvar import cli, hugepages
from gruvar.training import sweep, train

_CONFIG = config_flags.DEFINE_config_file(
    "config", None, "Config file[:argument].", lock_config=True
)
_WORKDIR = flags.DEFINE_string("workdir", None, "Run directory (created; resumed if it exists).")
_RECORDS = flags.DEFINE_string(
    "records",
    None,
    "A folder that keeps the run's record (config, metrics, summary) and, while it trains, its "
    "resume state (gruvar.training.records): the same command in a new --workdir on another "
    "machine resumes from it. Laid out as --workdir; commit it to outlive the machine.",
)
flags.mark_flags_as_required(["config", "workdir"])


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    logging.set_verbosity(logging.WARNING)  # progress is printed; keep orbax's INFO chatter out
    if not sweep.is_sweep(_CONFIG.value):
        summary = train.train_and_evaluate(_CONFIG.value, _WORKDIR.value, _RECORDS.value)
        print(f"best: {summary['best']}")
        print(f"summary: {_WORKDIR.value}/summary.json")
        return
    runs = sweep.grid(_CONFIG.value, _WORKDIR.value)
    summaries = sweep.train_and_evaluate(_CONFIG.value, _WORKDIR.value, _RECORDS.value)
    for (_, workdir), summary in zip(runs, summaries, strict=True):
        print(f"{workdir}: {sweep.describe(summary)}")
    diverged = [d for (_, d), s in zip(runs, summaries, strict=True) if s["status"] == "diverged"]
    if diverged:  # as a single run that diverges: exit status 1
        raise FloatingPointError(
            f"{len(diverged)} of {len(runs)} runs diverged (see above): {' '.join(diverged)}"
        )


if __name__ == "__main__":
    hugepages.use_huge_pages()
    cli.run(main)
