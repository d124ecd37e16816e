"""Model-free music baselines (gruvar.comparison.baselines): NLL per frame on every split.

    python experiments/baselines.py --out=results/baselines/music.csv

Reads the packaged music sets, or a data directory's copies (--data_dir). Takes seconds. The
NLL is Chung et al.'s (steps), so the numbers sit beside the recurrent models': how much of a
model's score note persistence alone gives, and how hard each split is.
"""

import os

import pandas as pd
from absl import app, flags

from gruvar import cli, data
from gruvar.comparison import baselines
from gruvar.data import music

_DATASETS = flags.DEFINE_list("datasets", list(music.SETS), "Music sets to score.")
_DATA_DIR = flags.DEFINE_string(
    "data_dir", None, f"Data directory (default ${data.ENV_VAR}, else the packaged sets)."
)
_OUT = flags.DEFINE_string("out", None, "Also write the table here as CSV.")


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    frame = pd.concat(
        [baselines.table(data.load(name, _DATA_DIR.value)) for name in _DATASETS.value]
    )
    print(baselines.to_markdown(frame))
    if _OUT.value:
        os.makedirs(os.path.dirname(_OUT.value) or ".", exist_ok=True)
        frame.to_csv(_OUT.value, index=False)
        print(f"baselines: {_OUT.value}")


if __name__ == "__main__":
    cli.run(main)
