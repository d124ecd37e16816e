"""The files that make a run directory self-describing, and the progress line.

    config.json     the run's config (a resumed or finished run must have the same one)
    metrics.jsonl   one JSON object per logged train window or evaluation
    summary.json    final and best metrics, parameter count, speed
    events.out.*    the same metrics as TensorBoard scalars, when tensorboardX is installed
                    (``pip install -e '.[tensorboard]'``; it needs no TensorFlow), written as
                    they are logged and flushed to disk at every checkpoint
    lock            the pid and host of the process training the run (``lock``)

JSON files are written to a temporary file and renamed, so a crash never leaves half a file.
"""

from __future__ import annotations

import fcntl
import filecmp
import json
import math
import os
import shutil
import socket
import time
import warnings
from collections.abc import Mapping
from typing import Any

# The fields of a metrics.jsonl record that say where it was logged, not what was measured.
NOT_METRICS = ("split", "step", "epoch", "wall_time")
# What a finished run's results are, without its checkpoints (``gruvar.training.records``), in the
# order they are copied: summary.json last, so a copy cut short is not a finished run.
RECORD_FILES = ("config.json", "metrics.jsonl", "summary.json")


def write_json(path: str, obj: Any) -> None:
    """Writes ``obj`` as JSON, atomically (temporary file, then rename)."""
    write_text(path, json.dumps(obj, indent=2, sort_keys=True) + "\n")


def write_text(path: str, text: str) -> None:
    """Writes ``text`` to a temporary file and renames it over ``path``: a kill leaves the old
    file or the new one, never a partial one."""
    tmp = f"{path}.tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def copy(source: str, target: str) -> None:
    """Copies ``source`` over ``target`` through a temporary file renamed into place: a kill
    leaves the old file or the new one."""
    tmp = f"{target}.tmp"
    shutil.copyfile(source, tmp)
    os.replace(tmp, target)


def copy_files(source: str, target: str, files: tuple[str, ...]) -> None:
    """Copies each of ``files`` (in order) from directory ``source`` into ``target`` where the
    two differ."""
    os.makedirs(target, exist_ok=True)
    for name in files:
        a, b = os.path.join(source, name), os.path.join(target, name)
        if not (os.path.exists(b) and filecmp.cmp(a, b, shallow=False)):
            copy(a, b)


def read_json(path: str, what: str) -> Any:
    """The JSON in ``path``; a damaged file is a ValueError naming it (``what``: what it is for,
    and what to do)."""
    with open(path) as f:
        text = f.read()
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        state = "is empty" if not text.strip() else f"is not valid JSON ({err})"
        raise ValueError(f"{path} {state}; {what}") from None


def read_metrics(path: str) -> list[dict[str, Any]]:
    """The records of a metrics.jsonl, oldest first ([] if there is none). A last line cut
    short by a kill (no newline) is left out; a record logged twice for one (split, step) (by
    two processes that trained one run directory before it had a lock) counts once, the later
    copy in the earlier copy's place."""
    if not os.path.exists(path):
        return []
    records: dict[tuple[str, int], dict[str, Any]] = {}
    with open(path) as f:
        for number, line in enumerate(f, 1):
            if not line.endswith("\n"):
                break
            try:
                record = json.loads(line)
            except json.JSONDecodeError as err:
                raise ValueError(f"{path}, line {number}, is not a JSON record: {err}") from None
            records[record["split"], record["step"]] = record
    return list(records.values())


def lock(workdir: str):
    """Takes ``workdir``'s lock for this process: an exclusive flock on ``workdir/lock``, held
    while the returned file stays open. The OS drops it when the process ends, however it ends
    (kill -9 too), so a stale lock file holds nothing. Raises ValueError naming the holder if
    another process (or another open of it in this one) has it. On a file system without
    flock (some Lustre mounts) it warns and trains unlocked."""
    os.makedirs(workdir, exist_ok=True)
    f = open(os.path.join(workdir, "lock"), "a+")
    try:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        f.seek(0)
        pid, _, host = f.read().strip().partition(" ")
        f.close()
        raise ValueError(
            f"run directory {workdir} is in use by pid {pid or '?'}"
            f"{f' on {host}' if host else ''}: another process is training it. Wait for it to "
            f"end (or stop it), or train in another --workdir."
        ) from None
    except OSError as err:
        warnings.warn(
            f"Cannot lock run directory {workdir} ({err}); nothing stops a second process "
            f"from training it at the same time.",
            stacklevel=2,
        )
    f.truncate(0)
    f.write(f"{os.getpid()} {socket.gethostname()}\n")
    f.flush()
    return f


class RunLog:
    """config.json, metrics.jsonl and summary.json under ``workdir``.

    ``resume_step``: the step a resumed run restarts from. Lines of metrics.jsonl written after
    it (by the run that was interrupted) are dropped, so the resumed run writes them again and
    the file ends as an uninterrupted run's would (wall-clock fields aside). ``write=False``
    (every process but the first of a multi-host job) writes nothing. The caller checks that a
    resumed run keeps its config (``gruvar.training.run.check_config``).
    """

    def __init__(
        self,
        workdir: str,
        config: Mapping[str, Any],
        resume_step: int | None,
        write: bool = True,
    ):
        self.workdir, self.enabled = workdir, write
        self.metrics_path = os.path.join(workdir, "metrics.jsonl")
        self._events = None
        if not write:
            return
        os.makedirs(workdir, exist_ok=True)
        write_json(os.path.join(workdir, "config.json"), json.loads(json.dumps(config)))
        kept = []
        if resume_step is not None:
            kept = [r for r in read_metrics(self.metrics_path) if r["step"] <= resume_step]
        tmp = f"{self.metrics_path}.tmp"
        with open(tmp, "w") as f:
            f.writelines(json.dumps(record, sort_keys=True) + "\n" for record in kept)
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
            self._events.write(record)

    def lines(self) -> list[dict[str, Any]]:
        """The records in metrics.jsonl, oldest first."""
        return read_metrics(self.metrics_path)

    def flush(self) -> None:
        """Puts every TensorBoard scalar logged so far on disk (called at each checkpoint, so a
        kill -9 loses none that the resumed run will not log again)."""
        if self._events is not None:
            self._events.flush()

    def close(self) -> None:
        if self._events is not None:
            self._events.close()
            self._events = None

    def summary(self, summary: Mapping[str, Any]) -> None:
        if self.enabled:
            write_json(os.path.join(self.workdir, "summary.json"), summary)


def _event_writer(workdir: str) -> _Events | None:
    try:
        import tensorboardX  # noqa: F401
    except ImportError:
        return None
    return _Events(workdir)


class _Events:
    """A TensorBoard events file written in this thread. (tensorboardX's SummaryWriter hands
    events to a background thread through a queue that its ``flush`` does not drain, so a
    kill -9 after a flush could still lose the last ones.)"""

    def __init__(self, workdir: str):
        from tensorboardX.event_file_writer import EventsWriter

        # A run resumed within the same second must not truncate the previous file.
        self._writer = EventsWriter(
            os.path.join(workdir, "events"), filename_suffix=f".{time.time_ns()}"
        )

    def write(self, record: Mapping[str, Any]) -> None:
        from tensorboardX.proto.event_pb2 import Event
        from tensorboardX.summary import scalar

        for key, value in record.items():
            if key not in NOT_METRICS:
                summary = scalar(f"{record['split']}/{key}", value)
                self._writer.write_event(
                    Event(wall_time=time.time(), step=record["step"], summary=summary)
                )

    def flush(self) -> None:
        self._writer.flush()

    def close(self) -> None:
        self._writer.close()


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
