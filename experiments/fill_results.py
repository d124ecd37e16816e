"""Rewrite RESULTS.md's tables from the committed results/<paper>/<grid>/results.csv files, and
draw the zoo's figures (results/beyond/<task>/forest.png, zoo_vs_params.png and, from the run
records, lr_sensitivity.png) from the same rows.

python experiments/fill_results.py        # after copying a grid's evidence into results/

See gruvar/comparison/results_md.py for which grids go where.
"""

import importlib.util
import os

from absl import app, flags

from gruvar import cli
from gruvar.comparison.results_md import render, zoo_plots

_RESULTS = flags.DEFINE_string("results_dir", "results", "Where the grids' evidence lies.")
_RESULTS_MD = flags.DEFINE_string("results_md", "RESULTS.md", "The file whose tables to rewrite.")
_CHUNG_CONFIG = os.path.join(os.path.dirname(__file__), "..", "configs", "chung.py")


def chung_config():
    """configs/chung.py as a module: Table 1's units and Table 2's numbers."""
    spec = importlib.util.spec_from_file_location("chung_config", _CHUNG_CONFIG)
    chung = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(chung)
    return chung


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    with open(_RESULTS_MD.value) as f:
        chung = chung_config()
        text = render(f.read(), _RESULTS.value, chung.layer_params, chung.paper_nll)
    with open(_RESULTS_MD.value, "w") as f:
        f.write(text)
    print(f"{_RESULTS_MD.value}: tables rewritten from {_RESULTS.value}/*/*/results.csv.")
    for path in zoo_plots(_RESULTS.value, chung.layer_params):
        print(f"{path}: drawn")


if __name__ == "__main__":
    cli.run(main)
