"""What every figure shares: a headless pyplot, atomic PNG writes, one colour per cell family,
the rows of a table in a figure's units, and axis limits that keep the bulk of the rows legible.

A family has one colour in every figure (``FAMILY_COLOURS``, colour-blind safe: Okabe & Ito's
palette), so a reader learns it once. Where a few rows lie far from the rest (a cell that does
not learn), ``window`` leaves them out of the axis range and the figure marks them at its edge
with their value, rather than squeezing every other difference into a few pixels.
"""

from __future__ import annotations

import contextlib
import os
import tempfile

import numpy as np
import pandas as pd

from gruvar.core import variants

# family (gruvar.core.families, MUT1-3 as one): (legend label, colour)
FAMILY_COLOURS = {
    "gru": ("GRU", "#0072B2"),
    "gru_reset_after": ("GRU (reset after)", "#56B4E9"),
    "mgu": ("MGU", "#009E73"),
    "ligru": ("Li-GRU", "#E69F00"),
    "lstm": ("LSTM", "#D55E00"),
    "fgr": ("LSTM + FGR", "#CC79A7"),
    "mut": ("MUT", "#8C8C00"),
    "tanh": ("tanh RNN", "#444444"),
    "other": ("other", "#AAAAAA"),
}
# metric: (scale, unit, axis name, higher is better)
UNITS = {
    "accuracy": (100.0, "%", "accuracy (%)", True),
    "nll": (1.0, "", "NLL per time step", False),
}


def pyplot():
    """matplotlib.pyplot on the headless Agg backend: figures go to files only."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save(fig, path: str, dpi: int = 110) -> str:
    """Writes ``fig`` as a PNG to a temporary file beside ``path`` and renames it over
    ``path``, so a kill leaves the old figure or the new one, never half of one; closes the
    figure and returns ``path``."""
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{os.path.basename(path)}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            fig.savefig(f, format="png", dpi=dpi, bbox_inches="tight")
        os.replace(tmp, path)
    finally:
        pyplot().close(fig)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
    return path


def family(variant: str) -> str:
    """The key of ``variant``'s family in ``FAMILY_COLOURS`` ("other" for a name the registry
    does not know, e.g. one registered in another process)."""
    try:
        name = variants.get(variant).family.name
    except (ValueError, TypeError):
        return "other"
    return "mut" if name.startswith("mut") else name if name in FAMILY_COLOURS else "other"


def colour(variant: str) -> str:
    """``variant``'s family colour."""
    return FAMILY_COLOURS[family(variant)][1]


def family_handles(names) -> list:
    """Legend entries, one per family of ``names``, in ``FAMILY_COLOURS``' order."""
    from matplotlib.lines import Line2D

    present = {family(v) for v in names}
    return [
        Line2D([], [], marker="o", linestyle="", color=c, label=label)
        for key, (label, c) in FAMILY_COLOURS.items()
        if key in present
    ]


def table_rows(table: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    """The rows of a summary table (``analysis.summarize``'s columns) that have a test mean,
    best first, with ``mean`` and ``std`` (0 where there is one seed) in the figure's units;
    and the metric."""
    rows = table.dropna(subset=["test_mean"]).copy()
    metric = next((m for m in rows["metric"] if isinstance(m, str)), "accuracy")
    scale, _, _, higher = UNITS[metric]
    rows["mean"] = rows["test_mean"].astype(float) * scale
    rows["std"] = rows["test_std"].astype(float).fillna(0.0) * scale
    rows = rows.sort_values("mean", ascending=not higher, kind="stable")
    return rows.reset_index(drop=True), metric


def window(mean, std, reach: float = 4.0) -> tuple[float, float]:
    """Axis limits holding every value within ``reach`` interquartile ranges of the quartiles,
    with its ± ``std`` bar and a margin; values beyond lie outside and are marked at the edge."""
    mean, std = np.asarray(mean, float), np.asarray(std, float)
    q1, q3 = np.percentile(mean, [25, 75])
    spread = q3 - q1
    inside = np.ones_like(mean, bool)
    if spread > 0:
        inside = (mean >= q1 - reach * spread) & (mean <= q3 + reach * spread)
    lo, hi = float(np.min((mean - std)[inside])), float(np.max((mean + std)[inside]))
    margin = 0.06 * (hi - lo) or 0.05 * max(abs(hi), 1.0)
    return lo - margin, hi + margin


def count(value: float) -> str:
    """A parameter count in a few characters, one decimal below 100K: 950, 3.6K, 39.0K, 132K,
    2.59M."""
    if value >= 1e6:
        return f"{value / 1e6:.2f}M"
    if value >= 1e5:
        return f"{value / 1e3:.0f}K"
    return f"{value / 1e3:.1f}K" if value >= 1e3 else f"{value:.0f}"


def tick(value: float, _position=None) -> str:
    """An axis tick's parameter count, as short as it is exact: 5K, 20K, 2.6M."""
    if value >= 1e6:
        return f"{value / 1e6:g}M"
    return f"{value / 1e3:g}K" if value >= 1e3 else f"{value:g}"
