"""A comparison's figures: what ``compare.report``, ``experiments/fill_results.py`` and the
notebook draw.

    forest_plot(table, "forest.png")         # one row per variant, best first, ± std, † marks
    test_vs_params(table, "params.png")      # test metric against parameters, labels placed
    lr_sensitivity(runs, "lr.png")           # each variant at every learning rate it ran
    learning_curves(runs, "curves.png")      # validation metric against step and wall time

``table`` is ``analysis.summarize``'s (or a results.csv), ``runs`` ``analysis.load_runs``'.
Each ``draw_*`` returns the matplotlib Figure (the tests read its artists back); the function
without the prefix draws it and writes it atomically (``plotting.save``). Colours are the
families' (``plotting.FAMILY_COLOURS``), the same in every figure. The error bars are ± the
sample std over seeds, as the tables' "mean ± std"; † is the tables' mark (``zoo_md``): the
variant's mean differs from its reference's (the base model of its paper) by more than 2
standard errors of the difference.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from gruvar.comparison import analysis, plotting, zoo_md

# The references of zoo_md, drawn as vertical lines in their family's colour.
REFERENCE_STYLES = {"gru": "--", "lstm": ":", "lstm_peephole": "-."}
# adjustText's iterations: a fixed count (not its default time limit), so a figure is the same
# on every machine.
LABEL_ITERATIONS = 1000


def forest_plot(table, path, recurrent=None, title=None) -> str:
    """``draw_forest``, written to ``path`` (PNG); returns ``path``."""
    return plotting.save(draw_forest(table, recurrent, title), path)


def draw_forest(
    table: pd.DataFrame, recurrent: Callable[[str], int] | None = None, title: str | None = None
):
    """One row per variant, best test mean at the top: the mean as a dot in its family's colour
    with a ± std bar, ``†`` after the name where it is beyond 2 SE of its reference, each
    reference's mean as a vertical line, and n and the parameter count (``recurrent(variant)``,
    the recurrent layer's, where given; else the table's, all of them) at the row's end."""
    plt = plotting.pyplot()
    rows, metric = plotting.table_rows(table)
    _, unit, name, higher = plotting.UNITS[metric]
    fig, ax = plt.subplots(figsize=(7.5, 1.6 + 0.24 * max(len(rows), 1)))
    y = np.arange(len(rows))
    lo, hi = plotting.window(rows["mean"], rows["std"]) if len(rows) else (0.0, 1.0)
    inside = ((rows["mean"] >= lo) & (rows["mean"] <= hi)).to_numpy()
    colours = [plotting.colour(v) for v in rows["variant"]]
    ax.errorbar(
        rows["mean"][inside],
        y[inside],
        xerr=rows["std"][inside],
        fmt="none",
        ecolor=[c for c, i in zip(colours, inside, strict=True) if i],
        elinewidth=1.6,
        zorder=2,
    )
    ax.scatter(
        rows["mean"][inside], y[inside], c=[c for c, i in zip(colours, inside, strict=True) if i]
    )
    for r, yi in zip(rows[~inside].to_dict("records"), y[~inside], strict=True):
        _mark_outside(ax, r["mean"], yi, lo, hi, unit, plotting.colour(r["variant"]))
    present = list(rows["variant"])
    records = {r["variant"]: r for r in table.to_dict("records")}
    handles = plotting.family_handles(present)
    for ref, style in REFERENCE_STYLES.items():
        mean = rows.loc[rows["variant"] == ref, "mean"]
        if len(mean) and lo <= mean.iloc[0] <= hi:
            handles.append(
                ax.axvline(
                    mean.iloc[0],
                    color=plotting.colour(ref),
                    linestyle=style,
                    linewidth=1,
                    zorder=1,
                    label=f"{ref} (reference)",
                )
            )
    labels = [v + (" †" if _marked(v, records) else "") for v in present]
    ax.set_yticks(y, labels=labels, fontsize=8)
    ax.set_ylim(len(rows) - 0.5, -0.5)  # best at the top
    ax.set_xlim(lo, hi)
    ends = ax.get_yaxis_transform()
    params = "recurrent params" if recurrent else "params"
    ax.text(1.025, 1.005, f"n · {params}", transform=ax.transAxes, fontsize=7, va="bottom")
    for r, yi in zip(rows.to_dict("records"), y, strict=True):
        size = recurrent(r["variant"]) if recurrent else r["params"]
        text = f"{int(r['n'])} · " + ("–" if pd.isna(size) else plotting.count(size))
        ax.text(1.025, yi, text, transform=ends, fontsize=7, va="center", color="0.3")
    better = "higher" if higher else "lower"
    ax.set_xlabel(
        f"test {name}: mean ± std over seeds ({better} is better)\n"
        "† more than 2 SE from its reference (vertical line); ◀ ▶ beyond the axis, value shown",
        fontsize=8,
    )
    ax.grid(axis="x", alpha=0.3)
    ax.legend(handles=handles, ncol=4, **_below(fig, ax))
    if title:
        ax.set_title(title, fontsize=10)
    return fig


def test_vs_params(table, path, title=None) -> str:
    """``draw_test_vs_params``, written to ``path`` (PNG); returns ``path``."""
    return plotting.save(draw_test_vs_params(table, title), path)


def draw_test_vs_params(table: pd.DataFrame, title: str | None = None):
    """Each variant's test mean (± std over seeds) against its parameter count (all of them:
    where an embedding dominates, their differences are still the recurrent layers'), coloured
    by family, each point named by a label that adjustText moves off the others and the
    points."""
    from adjustText import adjust_text
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    plt = plotting.pyplot()
    rows, metric = plotting.table_rows(table)
    rows = rows.dropna(subset=["params"])
    _, unit, name, higher = plotting.UNITS[metric]
    fig, ax = plt.subplots(figsize=(10, 7))
    if not len(rows):
        return fig
    lo, hi = plotting.window(rows["mean"], rows["std"])
    room = 0.04 * (hi - lo)  # the edge markers of rows beyond the window sit inside the axes
    rows["inside"] = (rows["mean"] >= lo) & (rows["mean"] <= hi)
    rows["y"] = rows["mean"].clip(lo, hi)
    for variant, r in rows.set_index("variant").iterrows():
        ax.errorbar(
            r["params"],
            r["y"],
            yerr=r["std"] if r["inside"] else None,
            fmt="o" if r["inside"] else ("v" if r["mean"] < lo else "^"),
            color=plotting.colour(variant),
            markersize=5,
            capsize=2,
            linewidth=1,
        )
    if rows["params"].max() > 4 * rows["params"].min():
        ax.set_xscale("log")
        ax.xaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
        ax.xaxis.set_minor_formatter(NullFormatter())
    ax.xaxis.set_major_formatter(FuncFormatter(plotting.tick))
    ax.set_ylim(lo - room, hi + room)
    texts = [
        ax.text(
            r["params"],
            r["y"],
            r["variant"] + ("" if r["inside"] else f" ({r['mean']:.4g}{unit})"),
            fontsize=7,
            color=plotting.colour(r["variant"]),
        )
        for r in rows.to_dict("records")
    ]
    ax.set_xlabel("parameters")
    better = "higher" if higher else "lower"
    ax.set_ylabel(f"test {name}, mean ± std over seeds\n({better} is better)")
    ax.grid(alpha=0.3)
    ax.legend(
        handles=plotting.family_handles(rows["variant"]),
        fontsize=8,
        loc="upper left",
        bbox_to_anchor=(1.01, 1.0),
        title="family",
    )
    if title:
        ax.set_title(title, fontsize=10)
    adjust_text(
        texts,
        x=rows["params"].to_numpy(),
        y=rows["y"].to_numpy(),
        ax=ax,
        iter_lim=LABEL_ITERATIONS,
        expand=(1.15, 1.4),
        force_text=(0.3, 0.6),
        arrowprops={"arrowstyle": "-", "color": "0.6", "linewidth": 0.5},
    )
    return fig


def lr_sensitivity(runs, path, title=None) -> str:
    """``draw_lr_sensitivity``, written to ``path`` (PNG); returns ``path``."""
    return plotting.save(draw_lr_sensitivity(runs, title), path)


def draw_lr_sensitivity(runs: pd.DataFrame, title: str | None = None):
    """Which variants are fragile (Greff et al.'s question): one row per variant, its
    validation metric at each learning rate it ran as a dot coloured by rate, joined by a bar in
    its family's colour from its worst rate to its best; the spread at the row's end. Only the
    seeds that ran every one of the variant's rates count (seed 0 of a ``--select_seeds=1``
    grid), so each rate is measured alike. Rows sorted by the best rate's metric."""
    plt = plotting.pyplot()
    by_lr = analysis.by_learning_rate(every_rate(runs))
    if not len(by_lr):
        return plt.figure(figsize=(7.5, 1.6))
    fig, ax = plt.subplots(figsize=(7.5, 1.6 + 0.24 * by_lr["variant"].nunique()))
    metric = by_lr["metric"].iloc[0]
    scale, _, name, higher = plotting.UNITS[metric]
    by_lr = by_lr.assign(value=by_lr["validation_mean"] * scale)
    best = by_lr.groupby("variant", sort=False)["value"].agg("max" if higher else "min")
    order = list(best.sort_values(ascending=not higher, kind="stable").index)
    lo, hi = plotting.window(by_lr["value"], np.zeros(len(by_lr)))
    rates = sorted(by_lr["learning_rate"].unique())
    shades = plt.cm.viridis(np.linspace(0.0, 0.85, len(rates)))
    ends = ax.get_yaxis_transform()
    ax.text(1.025, 1.005, "spread", transform=ax.transAxes, fontsize=7, va="bottom")
    for y, variant in enumerate(order):
        mine = by_lr[by_lr["variant"] == variant]
        values = mine["value"].clip(lo, hi)
        ax.hlines(
            y, values.min(), values.max(), color=plotting.colour(variant), linewidth=3, alpha=0.6
        )
        for lr, value in zip(mine["learning_rate"], mine["value"], strict=True):
            inside = lo <= value <= hi
            ax.plot(
                min(max(value, lo), hi),
                y,
                "o" if inside else ("<" if value < lo else ">"),
                color=shades[rates.index(lr)],
                markersize=6,
                zorder=3,
                clip_on=False,
            )
        spread = mine["value"].max() - mine["value"].min()
        ax.text(
            1.025,
            y,
            f"{spread:.3f}" if metric == "nll" else f"{spread:.2f} pt",
            transform=ends,
            fontsize=7,
            va="center",
        )
    handles = [
        plt.Line2D([], [], marker="o", linestyle="", color=shade, label=f"lr {lr:.3g}")
        for lr, shade in zip(rates, shades, strict=True)
    ]
    ax.set_yticks(range(len(order)), labels=order, fontsize=8)
    ax.set_ylim(len(order) - 0.5, -0.5)
    ax.set_xlim(lo, hi)
    better = "higher" if higher else "lower"
    ax.set_xlabel(
        f"validation {name} at each learning rate, seeds that ran every rate ({better} is "
        "better)\n◀ ▶ beyond the axis",
        fontsize=8,
    )
    ax.grid(axis="x", alpha=0.3)
    ax.legend(handles=handles, ncol=min(len(rates), 5), **_below(fig, ax))
    if title:
        ax.set_title(title, fontsize=10)
    return fig


def every_rate(runs: pd.DataFrame) -> pd.DataFrame:
    """The rows of ``runs`` whose (variant, seed) finished at every learning rate the variant
    finished at; all rows where no seed did."""
    done = analysis.finished(analysis.run_results(runs))
    keep = []
    for _, mine in done.groupby("variant", sort=False):
        rates = mine.groupby("seed")["learning_rate"].nunique()
        full = rates[rates == mine["learning_rate"].nunique()].index
        keep += list(mine[mine["seed"].isin(full)]["run"])
    return runs[runs["run"].isin(keep)] if keep else runs


def learning_curves(runs: pd.DataFrame, path: str) -> str:
    """Validation metric vs step and vs wall time of each variant's selected runs: the mean
    over seeds, with a band from the lowest to the highest seed. A variant none of whose runs
    has finished shows each of its evaluated runs dashed, marked unfinished, so a long grid can
    be watched while it trains. Saved as PNG at ``path``."""
    plt = plotting.pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    metric = None
    for label, picked, metric, style in analysis.curves(analysis.run_results(runs)):
        val = runs[runs["run"].isin(picked) & (runs["split"] == "validation")]
        by_step = val.pivot_table(index="step", columns="run", values=metric)
        wall = val.pivot_table(index="step", columns="run", values="wall_time").mean(axis=1)
        for ax, x in zip(axes, (by_step.index, wall.to_numpy()), strict=True):
            line = ax.plot(x, by_step.mean(axis=1), style, label=label)[0]
            ax.fill_between(
                x, by_step.min(axis=1), by_step.max(axis=1), alpha=0.2, color=line.get_color()
            )
    for ax, xlabel in zip(axes, ("step", "wall time (s)"), strict=True):
        ax.set_xlabel(xlabel)
        ax.set_ylabel(f"validation {metric}")
        if metric == "nll":  # as Chung et al.'s figures: the late differences stay visible
            ax.set_yscale("log")
        ax.grid(alpha=0.3)
    axes[0].legend()
    fig.tight_layout()
    return plotting.save(fig, path)


def _below(fig, ax) -> dict:
    """Legend placement under an axes' two-line x label, whatever the figure's height."""
    height = fig.get_figheight() * ax.get_position().height  # the axes' height in inches
    return {
        "loc": "upper center",
        "bbox_to_anchor": (0.5, -0.75 / height),
        "fontsize": 7,
        "frameon": False,
    }


def _marked(variant: str, records: dict) -> bool:
    """Whether ``variant``'s row gets † (``zoo_md``: beyond 2 SE of its reference)."""
    if plotting.family(variant) == "other":
        return False
    ref = zoo_md.reference(variant, records)
    if ref == variant or ref not in records:
        return False
    found = zoo_md.delta(records[variant], records[ref])
    return found is not None and zoo_md.beyond_2se(*found)


def _mark_outside(ax, value, y, lo, hi, unit, colour) -> None:
    """A row whose mean lies beyond the axis: an arrow at that edge and the value beside it."""
    right = value > hi
    edge = hi if right else lo
    ax.plot(edge, y, ">" if right else "<", color=colour, clip_on=False, zorder=3)
    text = f"{value:.4g}{unit}"
    ax.annotate(
        text,
        (edge, y),
        xytext=(-8 if right else 8, 0),
        textcoords="offset points",
        ha="right" if right else "left",
        va="center",
        fontsize=7,
        color=colour,
    )
