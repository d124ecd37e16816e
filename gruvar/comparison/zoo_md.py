"""The zoo table of one task: every variant against the base model of its paper.

    table = zoo_table(pd.read_csv("results/beyond/jsb/results.csv"), recurrent)

A row per variant of the grid's ``results.csv`` (``analysis.summarize``'s columns): its paper
(``variants.SOURCES``), parameters (all / the recurrent layer's, ``recurrent(variant)``), test
mean ± std over seeds, and Δ, its mean minus its reference's (``reference``: the base model
of its paper, e.g. Greff et al.'s vanilla LSTM for their variants) with the
standard error of that difference, SE = sqrt(s_a²/n_a + s_b²/n_b) (s the seeds' sample std).
A Δ larger than 2 SE either way ends in ``†``. Where either side has fewer than 2 seeds there is
no SE: Δ stands alone, unmarked. Accuracy is in percent (Δ in percentage points, ``pt``), NLL in
nats. The references come first, then the CSV's order.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import pandas as pd

from gruvar.comparison.markdown import integer, is_missing, markdown_rule, mean_std, row
from gruvar.core import variants

HEADER = (
    "| variant | paper | params (all / recurrent) | ours: test, mean ± std | n "
    "| Δ vs reference | lr (chosen on validation) | wall time per run (s) |"
)
REFERENCES = ("gru", "lstm_peephole", "lstm")
# metric: (scale, digits, unit of the test mean, unit of Δ)
FORMATS = {"accuracy": (100, 2, "%", " pt"), "nll": (1, 3, "", "")}


def reference(variant: str, present=REFERENCES) -> str:
    """The variant ``variant`` is measured against, the base model of its own paper: Greff et
    al.'s vanilla LSTM (``lstm_peephole``) for their variants, the plain ``lstm`` for every other
    LSTM-family cell (Akandeh & Salem's slim LSTMs compare against it, and so does minLSTM),
    ``gru`` for every other cell (GRU, MGU, MUT, Li-GRU, minGRU, IndRNN, tanh, ...). Where the
    grid (``present``) lacks that LSTM, the other one stands in."""
    if variants.get(variant).family.name not in ("lstm", "fgr"):
        return "gru"
    greff = "Greff" in variants.SOURCES.get(variant, "")
    first, other = ("lstm_peephole", "lstm") if greff else ("lstm", "lstm_peephole")
    return first if first in present or other not in present else other


def header() -> str:
    """The table's header rows alone: the table of a task not yet run."""
    return f"{HEADER}\n{markdown_rule(HEADER)}"


def zoo_table(table: pd.DataFrame, recurrent: Callable[[str], int]) -> str:
    """The zoo table of one grid's ``results.csv``; ``recurrent(variant)`` is the recurrent
    layer's parameter count at the task's input width and units."""
    records = {r["variant"]: r for r in table.to_dict("records")}
    refs = {v: reference(v, records) for v in records}
    first = [v for v in REFERENCES if v in refs.values() and v in records]
    rows = [header()]
    # A variant with no finished run has no metric of its own: the grid's metric stands in.
    metric = next((m for m in table["metric"] if not is_missing(m)), "accuracy")
    for name in first + [v for v in records if v not in first]:
        r = records[name] | {"metric": metric}
        scale, digits, unit, _ = _format(metric)
        ref = refs[name]
        rows.append(
            row(
                name,
                variants.SOURCES.get(name, "–"),
                f"{integer(r['params'])} / {recurrent(name):,}",
                mean_std(r, scale, digits, unit),
                integer(r["n"]),
                "ref" if name == ref else difference(r, records.get(ref)),
                "–" if is_missing(r["learning_rates"]) else r["learning_rates"],
                integer(r["wall_time_s"], sep=""),
            )
        )
    return "\n".join(rows)


def difference(r: dict, ref: dict | None) -> str:
    """Row ``r``'s test mean minus ``ref``'s, ± its standard error, ``†`` beyond 2 SE; – when
    either mean is missing."""
    found = delta(r, ref)
    if found is None:
        return "–"
    diff, se = found
    scale, digits, _, unit = _format(r["metric"])
    text = f"{diff * scale:+.{digits}f}"
    if se is None:
        return text + unit
    return f"{text} ± {se * scale:.{digits}f}{unit}" + (" †" if beyond_2se(diff, se) else "")


def delta(r: dict, ref: dict | None) -> tuple[float, float | None] | None:
    """Row ``r``'s test mean minus ``ref``'s and the standard error of that difference (None
    where either side has fewer than 2 seeds); None when either mean is missing."""
    if ref is None or is_missing(r["test_mean"]) or is_missing(ref["test_mean"]):
        return None
    diff = r["test_mean"] - ref["test_mean"]
    if min(r["n"], ref["n"]) < 2:
        return diff, None
    return diff, math.sqrt(r["test_std"] ** 2 / r["n"] + ref["test_std"] ** 2 / ref["n"])


def beyond_2se(diff: float, se: float | None) -> bool:
    """Whether a difference is marked ``†``: larger than 2 standard errors either way."""
    return se is not None and abs(diff) > 2 * se


def _format(metric: str) -> tuple[float, int, str, str]:
    if metric not in FORMATS:
        raise ValueError(f"A zoo table shows {sorted(FORMATS)}; got metric {metric!r}.")
    return FORMATS[metric]
