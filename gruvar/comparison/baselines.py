"""Model-free baselines for next-frame prediction: what an NLL per frame means on one copy of
a music set, and whether its test split is harder than its training split for a model that
memorises no melody.

Both are fit on the training split's (x_t, y_t = x_{t+1}) pairs, Laplace-smoothed, and scored
like the recurrent models (``steps``): Σ over the d keys of Bernoulli NLL, averaged over every
predicted frame of a split.

    independent:  p_d = (Σ_t y_td + 1) / (F + 2)                       (F: training frames)
    markov:       p_d(a) = (Σ_t [x_td = a] y_td + 1) / (Σ_t [x_td = a] + 2),  a ∈ {0, 1}
    NLL_t = −Σ_d [y_td log q_td + (1 − y_td) log(1 − q_td)],  q_td = p_d or p_d(x_td)

``independent`` is each key's training frequency; ``markov`` each key's own first-order chain
(a held note tends to stay held). A recurrent model that beats ``markov`` has learnt more than
note persistence; a split on which ``markov`` does worse than on train is harder in itself.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from gruvar.comparison.markdown import markdown_rule
from gruvar.data import Dataset, Split

BASELINES = ("independent", "markov")


def _frames(split: Split) -> tuple[np.ndarray, np.ndarray]:
    """Every predicted frame's input and target, [F, d] each, padding excluded."""
    x = np.concatenate([s[:n] for s, n in zip(split.x, split.lengths, strict=True)])
    y = np.concatenate([s[:n] for s, n in zip(split.y, split.lengths, strict=True)])
    return x.astype(np.float64), y.astype(np.float64)


def fit(train: Split) -> dict[str, np.ndarray]:
    """Each baseline's probabilities from the training split: ``independent`` [d] and
    ``markov`` [2, d] (row a: p(key on at t+1 | key at t = a))."""
    x, y = _frames(train)
    on = np.stack([((1 - x) * y).sum(0), (x * y).sum(0)])
    seen = np.stack([(1 - x).sum(0), x.sum(0)])
    return {
        "independent": (y.sum(0) + 1) / (len(y) + 2),
        "markov": (on + 1) / (seen + 2),
    }


def nll(probs: dict[str, np.ndarray], split: Split) -> dict[str, float]:
    """Each baseline's mean NLL per predicted frame of ``split``."""
    x, y = _frames(split)
    q = {
        "independent": np.broadcast_to(probs["independent"], y.shape),
        "markov": np.where(x > 0, probs["markov"][1], probs["markov"][0]),
    }
    return {
        name: float(-(y * np.log(p) + (1 - y) * np.log1p(-p)).sum(1).mean())
        for name, p in q.items()
    }


def table(dataset: Dataset) -> pd.DataFrame:
    """One row per baseline: its NLL on every split of ``dataset`` (a "frames" data set)."""
    if dataset.kind != "frames":
        raise ValueError(
            f"{dataset.name} is a {dataset.kind!r} data set; the baselines predict frames. "
            f"Use a music set (jsb, nottingham, musedata, pianomidi)."
        )
    probs = fit(dataset.splits["train"])
    scores = {split: nll(probs, s) for split, s in dataset.splits.items()}
    rows = [
        {"dataset": dataset.name, "baseline": b} | {s: scores[s][b] for s in scores}
        for b in BASELINES
    ]
    return pd.DataFrame(rows)


def to_markdown(frame: pd.DataFrame) -> str:
    """``table``'s rows (of one or more data sets) as GitHub markdown, with test − train."""
    header = "| set | baseline | train | validation | test | test − train |"
    rows = [header, markdown_rule(header)]
    for r in frame.to_dict("records"):
        cells = [r["dataset"], r["baseline"]]
        cells += [f"{r[s]:.3f}" for s in ("train", "validation", "test")]
        rows.append("| " + " | ".join([*cells, f"{r['test'] - r['train']:+.3f}"]) + " |")
    return "\n".join(rows)
