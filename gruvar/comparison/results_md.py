"""RESULTS.md's tables, built from the committed ``results/<paper>/<grid>/results.csv`` files.

Each table sits between ``<!-- table:NAME -->`` and ``<!-- /table -->`` in RESULTS.md and is
rewritten whole, so a number in it is always the CSV's, never typed:

    text = render(text, "results", recurrent, paper)   # every table

A grid is a directory under ``results/chung`` (music: test NLL, table ``chung``) or
``results/dey_salem`` (accuracy, table ``dey``) holding a ``results.csv`` (``analysis.summarize``'s
columns). A music grid may also hold ``best_metrics.csv`` (``experiments/evaluate_best.py``: the
selected runs' best models evaluated again, clean): table ``chung_fit`` sets their train NLL
beside Table 2's train column, and table ``chung_per_song`` their test NLL averaged song by song
(where evaluated ``--by_sequence``) beside Table 2's test column. ``results/baselines/music.csv``
(``experiments/baselines.py``) fills table ``music_baselines``: the model-free baselines on each
split. Grids appear in the papers' task order, a task's variants (``nottingham_60epochs``) after
it, numbers in their names compared by value. ``results/beyond/<task>/results.csv``, with the
Dey & Salem grid run under the same protocol (``SAME_PROTOCOL``), fills table ``beyond_<task>``
(``zoo_md``: every variant against the base model of its paper), for each task in ``BEYOND``; a
task not yet run gets the header alone. ``zoo_plots`` draws the same rows into
``results/beyond/<task>/``: a forest plot, test metric against parameter count, and (from the
run records) each variant at every learning rate.
"""

from __future__ import annotations

import glob
import os
import re
from collections.abc import Callable, Mapping

import pandas as pd

from gruvar.comparison import analysis, baselines, figures, zoo_md
from gruvar.comparison.markdown import integer, is_missing, markdown_rule, mean_std, row
from gruvar.core import variants

TARGET = 0.05  # the music target: mean test NLL at most 5% above Table 2's
# The independent anchor: Bai, Kolter & Koltun 2018 (the TCN paper), Table 1, test metric and
# model size, trained on the same .mat copies and MNIST we use (VARIANTS.md §G, [P]). Their RNNs
# were sized to the TCN's budget, not to Chung's ~20K or to Dey & Salem's 100 units.
TCN = {
    "jsb": ({"lstm": 8.45, "gru": 8.43, "tanh": 8.91}, "300K"),
    "nottingham": ({"lstm": 3.29, "gru": 3.46, "tanh": 4.05}, "1M"),
    "mnist_pixel": ({"lstm": 0.872, "gru": 0.962, "tanh": 0.215}, "70K"),
}
MUSIC_HEADER = (
    "| set | model | paper (test) | TCN paper (size) | ours: test, mean ± std | n "
    "| ours vs paper | within 5%? "
    "| params (all / recurrent) | lr (chosen on validation) | steps | wall time per run (s) |"
)
ACCURACY_HEADER = (
    "| task | variant | paper (test) | TCN paper (size) | ours: test accuracy, mean ± std | n "
    "| vs GRU | params "
    "| lr (chosen on validation) | steps | wall time per run (s) |"
)


FIT_HEADER = (
    "| set | model | paper: train | paper: test | ours: train (clean), mean ± std "
    "| ours: test, mean ± std | n | test − train: paper | test − train: ours |"
)
PER_SONG_HEADER = (
    "| set | model | paper (test) | ours: test per frame | ours: test per song, mean ± std | n "
    "| per song vs paper | within 5%? |"
)

TASKS = ("jsb", "nottingham", "musedata", "pianomidi", "imdb", "mnist_row", "mnist_pixel")
# "Beyond the two papers": one zoo table per task, from results/beyond/<task>/results.csv. The
# Dey & Salem tasks' recurrent layer: (input width, units), as configs/dey_salem.py builds it.
BEYOND = ("jsb", "mnist_row", "imdb", "mnist_pixel")
# The Dey & Salem grid run under the zoo's protocol for a task (same config, rates, seeds and
# selection): its variants join the zoo table, so they are not trained twice.
SAME_PROTOCOL = {
    "mnist_row": "dey_salem/mnist_row",
    "imdb": "dey_salem/imdb",
    "mnist_pixel": "dey_salem/mnist_pixel_10epochs",
}
DEY_WIDTHS = {"mnist_row": (28, 100), "imdb": (128, 128), "mnist_pixel": (1, 100)}
TASK_NAMES = {
    "jsb": "JSB Chorales",
    "mnist_row": "Row-wise MNIST",
    "imdb": "IMDB",
    "mnist_pixel": "Pixel-wise MNIST",
}


Paper = Callable[[str, str], tuple[float | None, float | None]]


def render(text: str, results_dir: str, recurrent: Callable[[str], int], paper: Paper) -> str:
    """``text`` (RESULTS.md) with every table rebuilt from ``results_dir``. ``recurrent(variant)``
    is a music model's recurrent parameter count (``configs/chung.py``'s ``layer_params``);
    ``paper(set, variant)`` is Table 2's (train, test) NLL for it (None where it has none)."""
    chung = os.path.join(results_dir, "chung")
    text = fill(text, "chung", music_table(grids(chung), recurrent))
    refits = grids(chung, "best_metrics.csv")
    text = fill(text, "chung_fit", fit_table(refits, paper))
    text = fill(text, "chung_per_song", per_song_table(refits, paper))
    music = pd.read_csv(os.path.join(results_dir, "baselines", "music.csv"))
    text = fill(text, "music_baselines", baselines.to_markdown(music))
    text = fill(text, "dey", accuracy_table(grids(os.path.join(results_dir, "dey_salem"))))
    for task in BEYOND:
        table = zoo_grid(results_dir, task)
        count = _zoo_recurrent(task, recurrent)
        zoo = zoo_md.header() if table is None else zoo_md.zoo_table(table, count)
        text = fill(text, f"beyond_{task}", zoo)
    return text


def zoo_grid(results_dir: str, task: str) -> pd.DataFrame | None:
    """The zoo's rows for ``task``: the variants of the Dey & Salem grid of the same protocol
    (``SAME_PROTOCOL``), then ``results/beyond/<task>/results.csv``'s, which win where a variant
    is in both; None when neither exists (a task not yet run)."""
    own = _read_csv(os.path.join(results_dir, "beyond", task, "results.csv"))
    same = None
    if task in SAME_PROTOCOL:
        same = _read_csv(os.path.join(results_dir, SAME_PROTOCOL[task], "results.csv"))
    if same is not None and own is not None:
        same = same[~same["variant"].isin(own["variant"])]
    frames = [f for f in (same, own) if f is not None]
    return pd.concat(frames, ignore_index=True) if frames else None


def zoo_plots(results_dir: str, recurrent: Callable[[str], int]) -> list[str]:
    """For each task of ``BEYOND`` that has rows (``zoo_grid``), its figures in
    ``results_dir/beyond/<task>/`` (``gruvar.comparison.figures``): ``forest.png`` (every row, best
    first, with the table's † marks, n and recurrent parameters; ``recurrent`` as in ``render``),
    ``zoo_vs_params.png`` (test metric against parameter count), and ``lr_sensitivity.png``
    from the run records (``zoo_runs``) where there are any; the paths written."""
    written = []
    for task in BEYOND:
        table = zoo_grid(results_dir, task)
        if table is None:
            continue
        folder = os.path.join(results_dir, "beyond", task)
        os.makedirs(folder, exist_ok=True)
        count = _zoo_recurrent(task, recurrent)
        name = TASK_NAMES[task]
        written.append(figures.forest_plot(table, os.path.join(folder, "forest.png"), count, name))
        written.append(
            figures.test_vs_params(table, os.path.join(folder, "zoo_vs_params.png"), name)
        )
        runs = zoo_runs(results_dir, task)
        if runs is not None:
            path = os.path.join(folder, "lr_sensitivity.png")
            written.append(figures.lr_sensitivity(runs, path, name))
    return written


def zoo_runs(results_dir: str, task: str) -> pd.DataFrame | None:
    """The recorded runs behind ``zoo_grid``'s rows (``analysis.load_runs``): those in
    ``beyond/<task>/runs``, then the same-protocol grid's ``runs`` for the variants the zoo did
    not run itself; None where neither folder exists."""
    folders = [os.path.join(results_dir, "beyond", task, "runs")]
    if task in SAME_PROTOCOL:
        folders.append(os.path.join(results_dir, SAME_PROTOCOL[task], "runs"))
    frames = []
    for folder in filter(os.path.isdir, folders):
        runs = analysis.load_runs(folder)
        seen = {v for frame in frames for v in frame["model.variant"]}
        frames.append(runs[~runs["model.variant"].isin(seen)])
    return pd.concat(frames, ignore_index=True) if frames else None


def _read_csv(path: str) -> pd.DataFrame | None:
    return pd.read_csv(path) if os.path.exists(path) else None


def grids(paper_dir: str, filename: str = "results.csv") -> dict[str, pd.DataFrame]:
    """Every ``<grid>/<filename>`` under ``paper_dir``, by grid name, in task order."""
    paths = {
        os.path.basename(os.path.dirname(p)): p
        for p in glob.glob(os.path.join(paper_dir, "*", filename))
    }

    def order(name):  # task order, then numbers by value: nottingham_20epochs before _150epochs
        task = _task(name)
        parts = [int(p) if p.isdigit() else p for p in re.split(r"(\d+)", name)]
        return (TASKS.index(task) if task else len(TASKS), parts)

    return {name: pd.read_csv(paths[name]) for name in sorted(paths, key=order)}


def music_table(grids: Mapping[str, pd.DataFrame], recurrent: Callable[[str], int]) -> str:
    """Chung et al.'s table: test NLL against the paper's, relative difference, the 5% target.

    ``recurrent(variant)`` is the recurrent layer's parameter count (what Table 1 sizes)."""
    rows = [MUSIC_HEADER, markdown_rule(MUSIC_HEADER)]
    for grid, table in grids.items():
        for r in table.to_dict("records"):
            rel = (r["test_mean"] - r["paper"]) / r["paper"]
            done = not is_missing(rel)  # a variant none of whose runs has finished: no verdict
            rows.append(
                row(
                    grid,
                    r["variant"],
                    f"{r['paper']:.2f}",
                    _anchor(grid, r["variant"], 1, 2, ""),
                    mean_std(r, 1, 3, ""),
                    integer(r["n"]),
                    *(_against_paper(rel) if done else ("–", "not finished")),
                    f"{integer(r['params'])} / {recurrent(r['variant']):,}",
                    "–" if is_missing(r["learning_rates"]) else r["learning_rates"],
                    integer(r["steps"]),
                    integer(r["wall_time_s"], sep=""),
                )
            )
    return "\n".join(rows)


def fit_table(grids: Mapping[str, pd.DataFrame], paper: Paper) -> str:
    """Train and test NLL of the best models, clean (``best_metrics.csv``), beside Table 2's
    train and test columns: how well each fits its training set, and how much worse it does
    on the test set, against the paper's."""
    rows = [FIT_HEADER, markdown_rule(FIT_HEADER)]
    for grid, frame in grids.items():
        task = _task(grid)
        for variant, runs in frame.groupby("variant", sort=False):
            nll = runs.pivot_table(index="run", columns="split", values="nll")
            train, test = nll["train"], nll["test"]
            p_train, p_test = paper(task, variant)
            rows.append(
                row(
                    grid,
                    variant,
                    _value(p_train, 2),
                    _value(p_test, 2),
                    _spread(train),
                    _spread(test),
                    len(nll),
                    _value(None if p_train is None else p_test - p_train, 2, signed=True),
                    _value((test - train).mean(), 3, signed=True),
                )
            )
    return "\n".join(rows)


def per_song_table(grids: Mapping[str, pd.DataFrame], paper: Paper) -> str:
    """Test NLL averaged song by song (``nll_by_sequence``), the other reading of Table 2's
    "average", against Table 2's test column; grids evaluated without it are left out."""
    rows = [PER_SONG_HEADER, markdown_rule(PER_SONG_HEADER)]
    for grid, frame in grids.items():
        if "nll_by_sequence" not in frame:
            continue
        test = frame[frame["split"] == "test"]
        for variant, runs in test.groupby("variant", sort=False):
            p_test = paper(_task(grid), variant)[1]
            rel = None if p_test is None else runs["nll_by_sequence"].mean() / p_test - 1
            rows.append(
                row(
                    grid,
                    variant,
                    _value(p_test, 2),
                    f"{runs['nll'].mean():.3f}",
                    _spread(runs["nll_by_sequence"]),
                    len(runs),
                    *(("–", "–") if rel is None else _against_paper(rel)),
                )
            )
    return "\n".join(rows)


def accuracy_table(grids: Mapping[str, pd.DataFrame]) -> str:
    """Dey & Salem's table: test accuracy, and each variant's difference from GRU (``gru``)."""
    rows = [ACCURACY_HEADER, markdown_rule(ACCURACY_HEADER)]
    for grid, table in grids.items():
        gru = table.set_index("variant")["test_mean"].get("gru")
        for r in table.to_dict("records"):
            vs = "–"
            if r["variant"] != "gru" and not is_missing(gru) and not is_missing(r["test_mean"]):
                vs = f"{(r['test_mean'] - gru) * 100:+.2f} pt"
            paper = "–" if is_missing(r["paper"]) else f"{r['paper'] * 100:.1f}%"
            rows.append(
                row(
                    grid,
                    r["variant"],
                    paper,
                    _anchor(grid, r["variant"], 100, 1, "%"),
                    mean_std(r, 100, 2, "%"),
                    integer(r["n"]),
                    vs,
                    integer(r["params"]),
                    "–" if is_missing(r["learning_rates"]) else r["learning_rates"],
                    integer(r["steps"]),
                    integer(r["wall_time_s"], sep=""),
                )
            )
    return "\n".join(rows)


def fill(text: str, name: str, table: str) -> str:
    """``text`` with the table between ``<!-- table:name -->`` and ``<!-- /table -->`` replaced."""
    pattern = rf"<!-- table:{re.escape(name)} -->\n(?:\|[^\n]*\n)*<!-- /table -->"
    found = len(re.findall(pattern, text))
    if found != 1:
        raise ValueError(
            f"RESULTS.md needs exactly one '<!-- table:{name} -->' ... '<!-- /table -->' block "
            f"with only table rows between them; found {found}."
        )
    return re.sub(pattern, lambda _: f"<!-- table:{name} -->\n{table}\n<!-- /table -->", text)


def _zoo_recurrent(task: str, recurrent: Callable[[str], int]) -> Callable[[str], int]:
    """A zoo task's recurrent parameter count: JSB's is ``recurrent`` (configs/chung.py's),
    a Dey & Salem task's at its input width and units."""
    return recurrent if task == "jsb" else _dey_recurrent(*DEY_WIDTHS[task])


def _dey_recurrent(in_features: int, features: int) -> Callable[[str], int]:
    """A variant's recurrent parameter count at a Dey & Salem task's input width and units."""
    return lambda variant: variants.param_count(variant, in_features, features)


def _anchor(grid: str, variant: str, scale: float, digits: int, unit: str) -> str:
    """The TCN paper's number for this task and model kind (``TCN``), with its model size."""
    values, size = TCN.get(_task(grid), ({}, None))
    kind = "lstm" if variant in ("lstm", "lstm_peephole") else variant
    if kind not in values:
        return "–"
    return f"{values[kind] * scale:.{digits}f}{unit} ({size})"


def _against_paper(rel: float) -> tuple[str, str]:
    """The relative difference from the paper's number, and whether it meets the 5% target."""
    return f"{rel * 100:+.1f}%", "yes" if rel <= TARGET else "no"


def _task(grid: str) -> str | None:
    """The task a grid belongs to: the longest task name it starts with."""
    return max((t for t in TASKS if grid.startswith(t)), key=len, default=None)


def _value(value, digits: int, signed: bool = False) -> str:
    if value is None or is_missing(value):
        return "–"
    return f"{value:{'+' if signed else ''}.{digits}f}"


def _spread(values: pd.Series) -> str:
    text = f"{values.mean():.3f}"
    return text + (f" ± {values.std():.3f}" if len(values) > 1 else "")
