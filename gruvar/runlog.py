"""The files that make a run directory self-describing, and the progress line.

    config.json     the run's config (a resumed run must have the same one)
    metrics.jsonl   one JSON object per logged train window or evaluation
    summary.json    final and best metrics, parameter count, speed
    events.out.*    the same metrics as TensorBoard scalars, when tensorboardX is installed
                    (``pip install -e '.[tensorboard]'``; it needs no TensorFlow)

JSON files are written to a temporary file and renamed, so a crash never leaves half a file.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Mapping
from typing import Any

# The fields of a metrics.jsonl record that say where it was logged, not what was measured.
NOT_METRICS = ("split", "step", "epoch", "wall_time")


def write_json(path: str, obj: Any) -> None:
    """Writes ``obj`` as JSON, atomically (temporary file, then rename)."""
    tmp = f"{path}.tmp"
    with open(tmp, "w") as f:
        json.dump(obj, f, indent=2, sort_keys=True)
        f.write("\n")
    os.replace(tmp, path)


class RunLog:
    """config.json, metrics.jsonl and summary.json under ``workdir``.

    ``resume_step``: the step a resumed run restarts from. Lines of metrics.jsonl written after
    it (by the run that was interrupted) are dropped, so the resumed run writes them again and
    the file ends as an uninterrupted run's would (wall-clock fields aside). ``write=False``
    (every process but the first of a multi-host job) checks the config and writes nothing.
    """

    def __init__(
        self,
        workdir: str,
        config: Mapping[str, Any],
        resume_step: int | None,
        write: bool = True,
    ):
        self.workdir, self.enabled = workdir, write
        config = json.loads(json.dumps(config))
        config_path = os.path.join(workdir, "config.json")
        if resume_step is not None and os.path.exists(config_path):
            with open(config_path) as f:
                saved = json.load(f)
            if saved != config:
                raise ValueError(
                    f"{workdir} holds a run with a different config (changed: "
                    f"{sorted(diff(saved, config))}). Resume it with its own config, or choose "
                    f"a new --workdir."
                )
        self.metrics_path = os.path.join(workdir, "metrics.jsonl")
        self._events = None
        if not write:
            return
        os.makedirs(workdir, exist_ok=True)
        write_json(config_path, config)
        kept = []
        if resume_step is not None and os.path.exists(self.metrics_path):
            with open(self.metrics_path) as f:
                kept = [  # a line cut short by a kill has no newline: it is dropped too
                    line
                    for line in f
                    if line.endswith("\n") and json.loads(line)["step"] <= resume_step
                ]
        tmp = f"{self.metrics_path}.tmp"
        with open(tmp, "w") as f:
            f.writelines(kept)
        os.replace(tmp, self.metrics_path)
        self._events = _event_writer(workdir)

    def write(self, record: Mapping[str, Any]) -> None:
        """Appends one JSON line (one write call, flushed), and TensorBoard scalars if enabled."""
        if not self.enabled:
            return
        with open(self.metrics_path, "a") as f:
            f.write(json.dumps(record, sort_keys=True) + "\n")
            f.flush()
        if self._events is not None:
            for key, value in record.items():
                if key not in NOT_METRICS:
                    self._events.add_scalar(f"{record['split']}/{key}", value, record["step"])

    def lines(self) -> list[dict[str, Any]]:
        """The records in metrics.jsonl, oldest first."""
        if not os.path.exists(self.metrics_path):
            return []
        with open(self.metrics_path) as f:
            return [json.loads(line) for line in f]

    def close(self) -> None:
        if self._events is not None:
            self._events.close()

    def summary(self, summary: Mapping[str, Any]) -> None:
        if self.enabled:
            write_json(os.path.join(self.workdir, "summary.json"), summary)


def _event_writer(workdir: str):
    try:
        from tensorboardX import SummaryWriter
    except ImportError:
        return None
    return SummaryWriter(workdir)


def diff(a: Any, b: Any, prefix: str = "") -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        return [d for k in set(a) | set(b) for d in diff(a.get(k), b.get(k), f"{prefix}{k}.")]
    return [] if a == b else [prefix.rstrip(".")]


class Progress:
    """A progress line at most every ``every_seconds`` (and at the end): steps/s, epoch, ETA and
    the latest metrics, so long runs are followable without flooding CI logs."""

    def __init__(self, total_steps: int, steps_per_epoch: int, every_seconds: float, start: int):
        self.total, self.per_epoch, self.every = total_steps, steps_per_epoch, every_seconds
        self.start_step, self.start_time = start, time.time()
        self.last_print = self.start_time

    def update(self, step: int, latest: list[Mapping[str, float]], force: bool = False) -> None:
        """``latest``: each active run's newest metrics (a range is shown for several runs)."""
        now = time.time()
        if not force and now - self.last_print < self.every:
            return
        self.last_print = now
        rate = (step - self.start_step) / max(now - self.start_time, 1e-9)
        eta = (self.total - step) / rate if rate > 0 else math.inf
        keys = list(dict.fromkeys(k for run in latest for k in run))
        shown = []
        for key in keys:
            values = [run[key] for run in latest if key in run]
            low, high = min(values), max(values)
            shown.append(f"{key} {low:.4g}" + (f"..{high:.4g}" if high != low else ""))
        runs = f" | {len(latest)} runs" if len(latest) > 1 else ""
        print(
            f"step {step}/{self.total} | epoch {step / self.per_epoch:.2f} | {rate:.1f} steps/s"
            f" | ETA {_duration(eta)}{runs} | {' '.join(shown)}",
            flush=True,
        )


def _duration(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "?"
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}"
