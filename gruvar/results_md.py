"""RESULTS.md's tables, built from the committed ``results/<paper>/<grid>/results.csv`` files.

Each table sits between ``<!-- table:NAME -->`` and ``<!-- /table -->`` in RESULTS.md and is
rewritten whole, so a number in it is always the CSV's, never typed:

    text = render(text, "results", recurrent)   # both tables

A grid is a directory under ``results/chung`` (music: test NLL, table ``chung``) or
``results/dey_salem`` (accuracy, table ``dey``) holding a ``results.csv`` (``analysis.summarize``'s
columns). Grids appear in the papers' task order, a task's variants (``nottingham_60epochs``)
after it, numbers in their names compared by value.
"""

from __future__ import annotations

import glob
import os
import re
from collections.abc import Callable, Mapping

import pandas as pd

from gruvar.analysis import is_missing, markdown_rule

TARGET = 0.05  # the music target: mean test NLL at most 5% above Table 2's
MUSIC_HEADER = (
    "| set | model | paper (test) | ours: test, mean ± std | n | ours vs paper | within 5%? "
    "| params (all / recurrent) | lr (chosen on validation) | steps | wall time per run (s) |"
)
ACCURACY_HEADER = (
    "| task | variant | paper (test) | ours: test accuracy, mean ± std | n | vs GRU | params "
    "| lr (chosen on validation) | steps | wall time per run (s) |"
)


TASKS = ("jsb", "nottingham", "musedata", "pianomidi", "imdb", "mnist_row", "mnist_pixel")


def render(text: str, results_dir: str, recurrent: Callable[[str], int]) -> str:
    """``text`` (RESULTS.md) with both tables rebuilt from ``results_dir``."""
    text = fill(text, "chung", music_table(grids(os.path.join(results_dir, "chung")), recurrent))
    return fill(text, "dey", accuracy_table(grids(os.path.join(results_dir, "dey_salem"))))


def grids(paper_dir: str) -> dict[str, pd.DataFrame]:
    """Every ``<grid>/results.csv`` under ``paper_dir``, by grid name, in task order."""
    paths = {
        os.path.basename(os.path.dirname(p)): p
        for p in glob.glob(os.path.join(paper_dir, "*", "results.csv"))
    }

    def order(name):  # task order, then numbers by value: nottingham_20epochs before _150epochs
        task = max((t for t in TASKS if name.startswith(t)), key=len, default=None)
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
                _row(
                    grid,
                    r["variant"],
                    f"{r['paper']:.2f}",
                    _mean_std(r, 1, 3, ""),
                    _int(r["n"]),
                    f"{rel * 100:+.1f}%" if done else "–",
                    ("yes" if rel <= TARGET else "no") if done else "not finished",
                    f"{_int(r['params'])} / {recurrent(r['variant']):,}",
                    "–" if is_missing(r["learning_rates"]) else r["learning_rates"],
                    _int(r["steps"]),
                    _int(r["wall_time_s"], sep=""),
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
                _row(
                    grid,
                    r["variant"],
                    paper,
                    _mean_std(r, 100, 2, "%"),
                    _int(r["n"]),
                    vs,
                    _int(r["params"]),
                    r["learning_rates"],
                    _int(r["steps"]),
                    _int(r["wall_time_s"], sep=""),
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


def _row(*cells) -> str:
    return "| " + " | ".join(str(c) for c in cells) + " |"


def _mean_std(r, scale: float, digits: int, unit: str) -> str:
    if is_missing(r["test_mean"]):
        return "–"
    text = f"{r['test_mean'] * scale:.{digits}f}"
    if not is_missing(r["test_std"]):
        text += f" ± {r['test_std'] * scale:.{digits}f}"
    return text + unit


def _int(value, sep: str = ",") -> str:
    if is_missing(value):
        return "–"
    return f"{value:{sep}.0f}"
