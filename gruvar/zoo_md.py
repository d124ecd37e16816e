"""The zoo table of one task: every variant of a comparison against its family's reference.

    table = zoo_table(pd.read_csv("results/beyond/jsb/results.csv"), recurrent)

A row per variant of the grid's ``results.csv`` (``analysis.summarize``'s columns): its paper
(``variants.SOURCES``), parameters (all / the recurrent layer's, ``recurrent(variant)``), test
mean ± std over seeds, and Δ, its mean minus its family reference's (``reference``) with the
standard error of that difference, SE = sqrt(s_a²/n_a + s_b²/n_b) (s the seeds' sample std).
A Δ larger than 2 SE either way ends in ``†``. Where either side has fewer than 2 seeds there is
no SE: Δ stands alone, unmarked. Accuracy is in percent (Δ in percentage points, ``pt``), NLL in
nats. The references come first, then the CSV's order.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import pandas as pd

from gruvar import variants
from gruvar.markdown import integer, is_missing, markdown_rule, mean_std, row

HEADER = (
    "| variant | paper | params (all / recurrent) | ours: test, mean ± std | n "
    "| Δ vs family reference | lr (chosen on validation) | wall time per run (s) |"
)
REFERENCES = ("gru", "lstm_peephole")
# metric: (scale, digits, unit of the test mean, unit of Δ)
FORMATS = {"accuracy": (100, 2, "%", " pt"), "nll": (1, 3, "", "")}


def reference(variant: str) -> str:
    """The variant ``variant`` is measured against: Greff et al.'s vanilla LSTM
    (``lstm_peephole``) for the LSTM family (FGR and minLSTM included), GRU (``gru``) for
    every other cell (GRU, MGU, MUT, Li-GRU, minGRU, IndRNN, tanh, ...)."""
    family = variants.get(variant).family.name
    return "lstm_peephole" if family in ("lstm", "fgr") else "gru"


def header() -> str:
    """The table's header rows alone: the table of a task not yet run."""
    return f"{HEADER}\n{markdown_rule(HEADER)}"


def zoo_table(table: pd.DataFrame, recurrent: Callable[[str], int]) -> str:
    """The zoo table of one grid's ``results.csv``; ``recurrent(variant)`` is the recurrent
    layer's parameter count at the task's input width and units."""
    records = {r["variant"]: r for r in table.to_dict("records")}
    first = [v for v in REFERENCES if v in records]
    rows = [header()]
    # A variant with no finished run has no metric of its own: the grid's metric stands in.
    metric = next((m for m in table["metric"] if not is_missing(m)), "accuracy")
    for name in first + [v for v in records if v not in first]:
        r = records[name] | {"metric": metric}
        scale, digits, unit, _ = _format(metric)
        ref = reference(name)
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
    if ref is None or is_missing(r["test_mean"]) or is_missing(ref["test_mean"]):
        return "–"
    scale, digits, _, unit = _format(r["metric"])
    delta = r["test_mean"] - ref["test_mean"]
    text = f"{delta * scale:+.{digits}f}"
    if min(r["n"], ref["n"]) < 2:
        return text + unit
    se = math.sqrt(r["test_std"] ** 2 / r["n"] + ref["test_std"] ** 2 / ref["n"])
    return f"{text} ± {se * scale:.{digits}f}{unit}" + (" †" if abs(delta) > 2 * se else "")


def _format(metric: str) -> tuple[float, int, str, str]:
    if metric not in FORMATS:
        raise ValueError(f"A zoo table shows {sorted(FORMATS)}; got metric {metric!r}.")
    return FORMATS[metric]
