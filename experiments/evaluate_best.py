"""Evaluate every trained run's best model again on whole splits, clean (no weight noise).

    python experiments/evaluate_best.py --workdir=/tmp/cmp --splits=train,test [--by_sequence]

The logged "train" metric is the loss while training (under weight noise, if any); this gives
the number a paper's train column means. Writes <workdir>/best_metrics.csv (a row per run and
split) and prints the mean, std and count per variant. ``--by_sequence`` (music) adds
nll_by_sequence: the NLL per frame of each song, averaged over songs (gruvar.comparison.best).
"""

import os

import pandas as pd
from absl import app, flags, logging

from gruvar import cli, hugepages
from gruvar.comparison import best

_WORKDIR = flags.DEFINE_string("workdir", None, "A run or comparison directory (trained).")
_SPLITS = flags.DEFINE_list("splits", ["train", "test"], "Splits to evaluate on.")
_DATA_DIR = flags.DEFINE_string("data_dir", None, "Data directory (default: each run's own).")
_BY_SEQUENCE = flags.DEFINE_bool("by_sequence", False, "Also average the NLL song by song.")
flags.mark_flags_as_required(["workdir"])


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    logging.set_verbosity(logging.WARNING)
    frame = best.evaluate_all(
        _WORKDIR.value, tuple(_SPLITS.value), _DATA_DIR.value, _BY_SEQUENCE.value
    )
    path = os.path.join(_WORKDIR.value, "best_metrics.csv")
    frame.to_csv(path, index=False)
    with pd.option_context("display.width", 120, "display.precision", 4):
        print(best.summarize(frame))
    print(f"best_metrics: {path}")


if __name__ == "__main__":
    hugepages.use_huge_pages()
    cli.run(main)
