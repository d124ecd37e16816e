"""Run directories to tables and plots: what ``experiments/compare.py`` and the notebook show.

    runs = load_runs("/tmp/compare")      # one row per run and logged step (+ its config)
    table = summarize(runs)               # one row per variant
    print(compare(runs, "gru", "tanh"))   # is one better than the other? (95% CI, Welch)

(``gruvar.comparison.figures`` draws them.)

Selection never looks at the test split: for each (variant, seed) the run (learning rate) with
the best validation metric is kept, and its test metric is the one taken at that run's
best-validation evaluation. Over seeds the table gives mean ± sample std and n.

The metric is accuracy (higher is better) for classification runs and NLL per time step
(lower is better) for frame prediction, told apart by which one a run logs.
"""

from __future__ import annotations

import dataclasses
import math
import os
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from gruvar.comparison.markdown import is_missing, markdown_rule
from gruvar.training import runlog

RUN_COLUMNS = ("run", "status", "param_count")
REWRITE = (  # what to do about a damaged run file
    "delete it and re-run the command that trained the run: it resumes from its last "
    "checkpoint and writes the file again."
)
METRICS = {"accuracy": True, "nll": False}  # metric: higher is better


def load_runs(root: str) -> pd.DataFrame:
    """Every run directory under ``root`` (a directory holding config.json): one row per
    logged train window or evaluation, with the run's path relative to ``root`` (``run``), its
    ``status`` ("complete", "stopped_early", "diverged", or "unfinished" when it has no
    summary.json yet), ``param_count``, and its config flattened into dotted columns
    (``model.variant``, ``optimizer.learning_rate``, ``seed``, …). A run with nothing logged
    yet has one row with no metrics. A record logged twice (same split and step) counts once,
    the later one (``runlog.read_metrics``); a damaged file is a ValueError naming it."""
    frames = []
    for directory, _, files in sorted(os.walk(root)):
        if "config.json" not in files:
            continue
        config = _flatten(runlog.read_json(os.path.join(directory, "config.json"), REWRITE))
        summary = {}
        if "summary.json" in files:
            summary = runlog.read_json(os.path.join(directory, "summary.json"), REWRITE)
        lines = runlog.read_metrics(os.path.join(directory, "metrics.jsonl"))
        frame = pd.DataFrame(lines or [{}])
        frame.insert(0, "run", os.path.relpath(directory, root))
        frame.insert(1, "status", summary.get("status", "unfinished"))
        frame.insert(2, "param_count", summary.get("param_count", np.nan))
        for key, value in config.items():
            frame[key] = [value] * len(frame)
        frames.append(frame)
    if not frames:
        raise FileNotFoundError(
            f"No run directories (with a config.json) under {root!r}. Point at the --workdir "
            f"of experiments/compare.py or experiments/train.py."
        )
    return pd.concat(frames, ignore_index=True)


def run_results(runs: pd.DataFrame) -> pd.DataFrame:
    """One row per run: its best-validation evaluation (step, validation and test metric, and
    the train metric of the last window logged by then; NaN before its first evaluation),
    steps, wall time and status."""
    rows = []
    for run, frame in runs.groupby("run", sort=False):
        first = frame.iloc[0]
        metric = next((m for m in METRICS if m in frame and frame[m].notna().any()), None)
        row = {
            "run": run,
            "variant": first["model.variant"],
            "seed": first["seed"],
            "learning_rate": first["optimizer.learning_rate"],
            "status": first["status"],
            "param_count": first["param_count"],
            "metric": metric,
            "paper": first.get("paper.test"),
            "steps": frame["step"].max() if "step" in frame else np.nan,
            "wall_time": frame["wall_time"].max() if "wall_time" in frame else np.nan,
            **dict.fromkeys(("best_step", "validation", "test", "train"), np.nan),
        }
        if metric is not None:
            val = frame[frame["split"] == "validation"].dropna(subset=[metric])
            test = frame[frame["split"] == "test"].set_index("step")[metric]
            train = frame[frame["split"] == "train"].dropna(subset=[metric])
            if len(val):
                best = val[metric].idxmax() if METRICS[metric] else val[metric].idxmin()
                step = val.loc[best, "step"]
                before = train[train["step"] <= step][metric]
                row |= {
                    "best_step": step,
                    "validation": val.loc[best, metric],
                    "test": test.get(step, np.nan),
                    "train": before.iloc[-1] if len(before) else np.nan,
                }
        rows.append(row)
    return pd.DataFrame(rows)


def finished(results: pd.DataFrame) -> pd.DataFrame:
    """The runs of ``run_results`` that finished (complete or stopped early) with a finite
    validation metric: the only ones any selection or table counts."""
    done = results[results["status"].isin(["complete", "stopped_early"])]
    return done.dropna(subset=["validation"])


def select(results: pd.DataFrame) -> pd.DataFrame:
    """For each (variant, seed), the finished run with the best validation metric (of equals,
    the one with the smaller learning rate)."""
    done = finished(results)
    keep = []
    for _, group in done.groupby(["variant", "seed"], sort=False):
        group = group.sort_values("learning_rate", kind="stable")  # ties: the smaller rate
        higher = METRICS[group["metric"].iloc[0]]
        keep.append(group["validation"].idxmax() if higher else group["validation"].idxmin())
    return done.loc[keep]


def summarize(runs: pd.DataFrame, expected: list[str] | None = None) -> pd.DataFrame:
    """One row per variant (in order of appearance): parameter count; the selected runs' test
    metric as mean, std and n over seeds; the paper's value and our difference where the
    config carries one (``paper.test``); train and validation metric means; the selected
    learning rate(s); mean steps and wall time; and which runs are unfinished or missing
    (``expected``: run paths relative to the root that should exist)."""
    results = run_results(runs)
    chosen = select(results)
    rows = []
    for variant in results["variant"].unique():
        mine = results[results["variant"] == variant]
        picked = chosen[chosen["variant"] == variant]
        test = picked["test"].to_numpy(float)
        paper = mine["paper"].dropna()
        paper = float(paper.iloc[0]) if len(paper) else np.nan
        mean = test.mean() if len(test) else np.nan
        not_done = mine[~mine["status"].isin(["complete", "stopped_early"])]
        rows.append(
            {
                "variant": variant,
                "params": int(mine["param_count"].max())
                if mine["param_count"].notna().any()
                else None,
                "metric": mine["metric"].dropna().iloc[0] if mine["metric"].notna().any() else None,
                "test_mean": mean,
                "test_std": test.std(ddof=1) if len(test) > 1 else np.nan,
                "n": len(test),
                "paper": paper,
                "diff": mean - paper,
                "train_mean": picked["train"].mean(),
                "validation_mean": picked["validation"].mean(),
                "learning_rates": " ".join(
                    f"{lr:.3g}" for lr in sorted(picked["learning_rate"].unique())
                ),
                "steps": picked["steps"].mean(),
                "wall_time_s": picked["wall_time"].mean(),
                "runs_done": len(mine) - len(not_done),
                "not_done": " ".join(
                    f"{r} ({s})" for r, s in zip(not_done["run"], not_done["status"], strict=True)
                ),
            }
        )
    table = pd.DataFrame(rows)
    if expected is not None:
        label = {
            run.split(os.sep)[0]: v
            for run, v in zip(results["run"], results["variant"], strict=True)
        }
        missing: dict[str, list[str]] = {}
        for run in sorted(set(expected) - set(results["run"])):
            top = run.split(os.sep)[0]
            missing.setdefault(label.get(top, top), []).append(run)
        for variant in missing.keys() - set(table["variant"]):
            table.loc[len(table), ["variant", "n", "runs_done", "not_done"]] = [variant, 0, 0, ""]
        table["missing"] = [" ".join(missing.get(v, [])) for v in table["variant"]]
    return table


def to_markdown(table: pd.DataFrame) -> str:
    """The summary table as GitHub markdown (accuracy in %, NLL as is)."""
    header = (
        "| variant | params | test (mean ± std) | n | paper | diff | train (at best) | validation "
        "| lr selected | steps | wall time (s) | runs done |"
    )
    lines = [header, markdown_rule(header)]
    for row in table.to_dict("records"):
        scale, unit = (100.0, "%") if row.get("metric") == "accuracy" else (1.0, "")
        lines.append(
            "| "
            + " | ".join(
                [
                    str(row["variant"]),
                    _count(row.get("params")),
                    _mean_std(row.get("test_mean"), row.get("test_std"), scale, unit),
                    str(row.get("n", 0)),
                    _number(row.get("paper"), scale, unit),
                    _number(row.get("diff"), scale, unit, signed=True),
                    _number(row.get("train_mean"), scale, unit),
                    _number(row.get("validation_mean"), scale, unit),
                    "–" if is_missing(row.get("learning_rates")) else row["learning_rates"],
                    _number(row.get("steps"), 1.0, "", digits=0),
                    _number(row.get("wall_time_s"), 1.0, "", digits=0),
                    str(row.get("runs_done", 0)),
                ]
            )
            + " |"
        )
    notes = []
    for row in table.to_dict("records"):
        if not is_missing(row.get("not_done")) and row["not_done"]:
            notes.append(f"- {row['variant']}: not counted: {row['not_done']}")
        if not is_missing(row.get("missing")) and row["missing"]:
            notes.append(f"- {row['variant']}: missing: {row['missing']}")
    return "\n".join(lines + (["", *notes] if notes else [])) + "\n"


def by_learning_rate(runs: pd.DataFrame) -> pd.DataFrame:
    """One row per (variant, learning rate; rates falling) over its finished runs: n seeds,
    validation and test metric (mean, std) at each run's best-validation evaluation. Nothing
    is selected here: this shows how each variant fares at every rate (Dey & Salem's tables
    are per rate)."""
    results = run_results(runs)
    done = finished(results)
    rows = []
    done = done.sort_values("learning_rate", ascending=False, kind="stable")
    variants = {v: i for i, v in enumerate(results["variant"].unique())}
    done = done.sort_values("variant", key=lambda v: v.map(variants), kind="stable")
    for (variant, lr), group in done.groupby(["variant", "learning_rate"], sort=False):
        rows.append(
            {
                "variant": variant,
                "learning_rate": lr,
                "metric": group["metric"].iloc[0],
                "n": len(group),
                "validation_mean": group["validation"].mean(),
                "test_mean": group["test"].mean(),
                "test_std": group["test"].std(ddof=1) if len(group) > 1 else np.nan,
                "train_mean": group["train"].mean(),
            }
        )
    return pd.DataFrame(rows)


def by_learning_rate_markdown(table: pd.DataFrame) -> str:
    """``by_learning_rate``'s table as GitHub markdown."""
    header = "| variant | lr | n | train | validation | test (mean ± std) |"
    lines = [header, markdown_rule(header)]
    for row in table.to_dict("records"):
        scale, unit = (100.0, "%") if row["metric"] == "accuracy" else (1.0, "")
        cells = [
            str(row["variant"]),
            f"{row['learning_rate']:.3g}",
            str(row["n"]),
            _number(row["train_mean"], scale, unit),
            _number(row["validation_mean"], scale, unit),
            _mean_std(row["test_mean"], row["test_std"], scale, unit),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


@dataclasses.dataclass(frozen=True)
class Difference:
    """``compare``'s answer: ``a``'s mean test metric minus ``b``'s over their selected runs
    (one per seed), and a ``confidence`` interval for it and Welch's t-test p-value (NaN where
    either side has fewer than 2 seeds). ``str()`` says it in a sentence."""

    a: str
    b: str
    metric: str
    n_a: int
    n_b: int
    diff: float
    low: float
    high: float
    p: float
    confidence: float

    def __str__(self) -> str:
        scale, unit = (100.0, " pt") if self.metric == "accuracy" else (1.0, "")
        better = "higher" if METRICS[self.metric] else "lower"
        text = (
            f"{self.a} − {self.b}: {self.diff * scale:+.4g}{unit} test {self.metric} "
            f"({better} is better), n = {self.n_a} and {self.n_b} seeds"
        )
        if math.isnan(self.p):
            return text + ": too few seeds to conclude (an interval needs 2 or more a side)."
        verdict = (
            "no difference shown (the interval holds 0)"
            if self.low <= 0 <= self.high
            else f"{self.a if self.diff * (1 if METRICS[self.metric] else -1) > 0 else self.b} "
            "is better (the interval excludes 0)"
        )
        return (
            f"{text}; {self.confidence:.0%} CI {self.low * scale:+.4g} to "
            f"{self.high * scale:+.4g}{unit}, Welch's t-test p = {self.p:.2g}: {verdict}."
            + (" With so few seeds the interval is wide." if min(self.n_a, self.n_b) < 5 else "")
        )


def compare(runs: pd.DataFrame, a: str, b: str, confidence: float = 0.95) -> Difference:
    """Is variant ``a`` better than ``b``? The difference of their mean test metrics over seeds
    (each seed's run selected on validation, as in ``summarize``), with Welch's t-test (unequal
    variances) and its ``confidence`` interval (Welch-Satterthwaite degrees of freedom)."""
    chosen = select(run_results(runs))
    tests = {v: chosen.loc[chosen["variant"] == v, "test"].to_numpy(float) for v in (a, b)}
    for v, values in tests.items():
        if not len(values):
            raise ValueError(
                f"No finished run of {v!r} to compare; variants with one: "
                f"{', '.join(map(str, chosen['variant'].unique()))}."
            )
    x, y = tests[a], tests[b]
    low = high = p = math.nan
    if min(len(x), len(y)) >= 2:
        result = stats.ttest_ind(x, y, equal_var=False)
        interval = result.confidence_interval(confidence)
        low, high, p = float(interval.low), float(interval.high), float(result.pvalue)
    metric = chosen.loc[chosen["variant"] == a, "metric"].iloc[0]
    diff = float(x.mean() - y.mean())
    return Difference(a, b, metric, len(x), len(y), diff, low, high, p, confidence)


def curves(results: pd.DataFrame) -> list[tuple[str, list[str], str, str]]:
    """What ``figures.learning_curves`` draws, from ``run_results``: (label, the runs it averages,
    metric, line style) for each variant's selected runs, then, for a variant none of whose
    runs has finished, each of its evaluated runs on its own, dashed."""
    chosen = select(results)
    lines = [
        (variant, list(picked["run"]), picked["metric"].iloc[0], "-")
        for variant, picked in chosen.groupby("variant", sort=False)
    ]
    running = results[~results["variant"].isin(chosen["variant"])].dropna(subset=["validation"])
    return lines + [
        (f"{r['variant']} lr {r['learning_rate']:g} (unfinished)", [r["run"]], r["metric"], "--")
        for r in running.to_dict("records")
    ]


def _flatten(config: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat = {}
    for key, value in config.items():
        if isinstance(value, dict):
            flat |= _flatten(value, f"{prefix}{key}.")
        else:
            flat[f"{prefix}{key}"] = tuple(value) if isinstance(value, list) else value
    return flat


def _number(value, scale, unit, signed=False, digits=4) -> str:
    if is_missing(value):
        return "–"
    value = value * scale
    text = f"{value:+.{digits}g}" if signed else f"{value:.{digits}g}"
    if digits == 0:
        text = f"{value:,.0f}"
    return text + unit


def _mean_std(mean, std, scale, unit) -> str:
    if is_missing(mean):
        return "–"
    if is_missing(std):
        return _number(mean, scale, unit)
    return f"{mean * scale:.4g} ± {std * scale:.2g}{unit}"


def _count(value) -> str:
    return "–" if is_missing(value) else f"{int(value):,}"
