"""The accelerator check's parts and its report: each part's status, budget and figures.

A part is a function of a ``Part``: it fills ``figures`` (for report.json) and ``lines``
(markdown), asks ``over(what)`` before each piece of work and so skips what its budget no
longer covers. ``run_parts`` runs them in turn, whatever the others did; ``write_report``
writes report.md and report.json, with the issue's goals for an H100/H200.
"""

import datetime
import json
import os
import resource
import time
import traceback
from collections.abc import Callable
from pathlib import Path

import jax


class Part:
    """What a part reports: figures (for the JSON), markdown lines, and what it skipped."""

    def __init__(self, name: str, seconds: float):
        self.name, self.budget, self.start = name, seconds, time.perf_counter()
        self.seconds = 0.0  # set when the part ends
        self.figures: dict = {}
        self.lines: list[str] = []
        self.skipped: list[str] = []
        self.failures: list[str] = []  # pieces that failed while the part went on
        self.status, self.error = "ok", None

    def left(self) -> float:
        return self.budget - (time.perf_counter() - self.start)

    def over(self, what: str) -> bool:
        """Whether the budget is spent; if so ``what`` is recorded as skipped."""
        if self.left() > 0:
            return False
        self.skipped.append(what)
        return True

    def fail(self, what: str, why: str) -> None:
        """Records that ``what`` failed (``why``: one line) and lets the part go on; the part
        is then reported failed, with what it did measure."""
        self.failures.append(f"{what}: {why}")

    def summary(self) -> dict:
        return {
            "status": self.status,
            "error": self.error,
            "seconds": round(self.seconds, 1),
            "budget_seconds": self.budget,
            "skipped": self.skipped,
            "figures": self.figures,
        }


def check_out(out: Path) -> None:
    """ValueError, in one line, unless ``out`` is (or can be made) a folder this process can
    write: checked before the first part, so a lent GPU's run is not lost at the end."""
    probe = out / ".write-probe.tmp"
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe.write_text("probe\n")
        probe.unlink()
    except OSError as err:
        raise ValueError(
            f"--out {str(out)!r} cannot hold the report ({err.strerror or err}); give a folder "
            f"this process can create and write."
        ) from None


def run_parts(
    parts: dict[str, Callable[[Part], None]],
    budgets: dict[str, float],
    after: Callable[[dict], None] | None = None,
) -> dict:
    """Runs each ``name: fn(part)`` in turn, ``budgets[name]`` seconds each. One that raises,
    or records a failure, is marked failed with the reasons (an exception's type and message),
    and the next runs all the same. Each part's table is printed as it ends, and ``after``
    is given the parts done so far (to write the report: a run cut short keeps them)."""
    done = {}
    for name, fn in parts.items():
        part, cpu = Part(name, budgets[name]), _cpu_seconds()
        print(f"== {name} (budget {part.budget:.0f} s)", flush=True)
        try:
            fn(part)
        except Exception as e:
            traceback.print_exc()
            part.failures.append(one_line(e))
        if part.failures:
            part.status, part.error = "failed", "; ".join(part.failures)
        elif part.skipped:
            part.status = "over budget"
        part.seconds = time.perf_counter() - part.start
        cpu = _cpu_seconds() - cpu
        print(*part.lines, sep="\n")
        print(f"== {name}: {part.status} in {part.seconds:.1f} s ({cpu:.1f} s of CPU)", flush=True)
        done[name] = part
        if after is not None:
            after(done)
    return done


def one_line(e: BaseException) -> str:
    """The exception's type and message on one line, for a cell of the report's tables."""
    return " ".join("".join(traceback.format_exception_only(e)).split())


def _cpu_seconds() -> float:
    """CPU time of this process and its finished children (a loaded machine's wall time is
    no measure of the work)."""
    own, children = (
        resource.getrusage(w) for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
    )
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


GRU_GOAL = "gru step time / torch.nn.GRU's at the pixel shape (goal <= 1.5)"
SWEEP_GOAL = "vmapped / one-at-a-time runs per hour at K = 16, mnist_row (goal >= 10)"


def goals(parts: dict[str, Part]) -> dict[str, dict]:
    """The issue's two goals for an H100/H200 from this run's figures; value and met are None
    where the run did not measure them (a dry run, a part skipped or failed)."""
    gru_ratio = k16_gain = None
    pixel = parts["recurrence"].figures.get("pixel") if "recurrence" in parts else None
    if pixel:
        gru = next(r for r in pixel["rows"] if r["model"] == "gruvar gru")
        gru_ratio = 1 / gru["vs_torch"] if gru["vs_torch"] else None
    row = parts["sweep"].figures.get("mnist_row") if "sweep" in parts else None
    if row:
        k16_gain = next((r["gain"] for r in row["rows"] if r["K"] == 16), None)
    return {
        GRU_GOAL: {"value": gru_ratio, "met": None if gru_ratio is None else gru_ratio <= 1.5},
        SWEEP_GOAL: {"value": k16_gain, "met": None if k16_gain is None else k16_gain >= 10},
    }


def write(out: Path, parts: dict[str, Part], dry_run: bool, quiet: bool = False) -> None:
    """Writes report.md and report.json into ``out`` (each to a temporary file, then renamed),
    and prints the report unless ``quiet``."""
    device = jax.devices()[0]
    when = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    found = goals(parts)
    report = {
        "when": when,
        "dry_run": dry_run,
        "accelerator": device.device_kind,
        "platform": device.platform,
        "matmul_precision": jax.config.jax_default_matmul_precision,
        "parts": {name: p.summary() for name, p in parts.items()},
        "goals": found,
    }
    lines = [
        "# gruvar accelerator check",
        "",
        f"{when}; {device.device_kind} ({device.platform}); matmul precision "
        f"{report['matmul_precision']}{'; DRY RUN (toy sizes)' if dry_run else ''}",
        "",
        "| part | status | seconds (budget) | note |",
        "|---|---|---:|---|",
    ]
    for name, p in parts.items():
        s = p.summary()
        note = p.error or (f"skipped: {'; '.join(p.skipped)}" if p.skipped else "")
        lines.append(f"| {name} | {s['status']} | {s['seconds']} ({p.budget:.0f}) | {note} |")
    lines += ["", "## Goals (H100/H200)", ""]
    for goal, g in found.items():
        verdict = "not measured" if g["met"] is None else ("met" if g["met"] else "NOT met")
        value = "" if g["value"] is None else f"{g['value']:.2f}x: "
        lines.append(f"- {goal}: {value}{verdict}")
    for name, p in parts.items():
        lines += ["", f"## {name}", "", *p.lines]
    out.mkdir(parents=True, exist_ok=True)
    for name, text in (
        ("report.md", "\n".join(lines) + "\n"),
        ("report.json", json.dumps(report, indent=1, default=float) + "\n"),
    ):
        (out / f"{name}.tmp").write_text(text)
        os.replace(out / f"{name}.tmp", out / name)
    if not quiet:
        print("\n".join(lines))


def write_so_far(out: Path, dry_run: bool) -> Callable[[dict], None]:
    """``run_parts``' ``after``: the report of the parts done so far, written quietly; a write
    that fails (a full disk) is said in one line, and the parts go on."""

    def after(parts: dict[str, Part]) -> None:
        try:
            write(out, parts, dry_run, quiet=True)
        except OSError as err:
            print(f"warning: the report so far could not be written to {out}: {err}", flush=True)

    return after
