"""Markdown table cells: the rule under a header, a row, and how a missing or a mean ± std
value reads. Shared by the comparison report and RESULTS.md's tables."""

import math


def markdown_rule(header: str) -> str:
    """The |---|---| line under a markdown table header."""
    return "|" + "---|" * (header.count("|") - 1)


def row(*cells) -> str:
    """A markdown table row of ``cells``."""
    return "| " + " | ".join(str(c) for c in cells) + " |"


def is_missing(value) -> bool:
    """None or NaN: a table cell with nothing to show."""
    return value is None or (isinstance(value, float) and math.isnan(value))


def mean_std(r, scale: float, digits: int, unit: str) -> str:
    """A results.csv row's test mean ± std, times ``scale``, with ``unit``; – if none."""
    if is_missing(r["test_mean"]):
        return "–"
    text = f"{r['test_mean'] * scale:.{digits}f}"
    if not is_missing(r["test_std"]):
        text += f" ± {r['test_std'] * scale:.{digits}f}"
    return text + unit


def integer(value, sep: str = ",") -> str:
    """``value`` rounded to a whole number, thousands split by ``sep``; – if missing."""
    if is_missing(value):
        return "–"
    return f"{value:{sep}.0f}"
