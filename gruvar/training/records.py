"""Run records: the few small files that keep a run's results, and an unfinished run's resume
state, without its checkpoints, so a grid outlives the machine it started on.

A comparison's tables and plots read three files per run (``analysis.load_runs``):
config.json (what was trained), summary.json (that it finished, and how) and metrics.jsonl
(every logged window and evaluation). Copied into a folder that is kept (committed beside the
report, say), they let a later machine or session rebuild the report, and let a grid that takes
longer than one session go on where the last one stopped: ``restore`` puts the finished runs'
records back into a new workdir, where the comparison counts them as finished, and trains only
the rest. A run trained with its record directory also keeps its resume state there at every
checkpoint (``gruvar.training.resume``, written by ``gruvar.training.run.Run``), so an unfinished
run resumes from it in the new workdir instead of starting again; when it finishes, its record is
written and the state removed.

    records/grid.json                                   the runs the grids expect (merged)
    records/<variant>/<run>/{config.json, summary.json, metrics.jsonl}   (the workdir's layout)
    records/<variant>/<run>/resume-state-step<N>.npz    an unfinished run's state (<= 2)

Nothing is written before everything is checked: a record is counted (restored) only where its
config is the command's (``match``), a damaged record is refused with a line naming the record,
and a workdir's run of another config never replaces a record.
"""

from __future__ import annotations

import contextlib
import fcntl
import filecmp
import os
from collections.abc import Callable
from typing import Any

import ml_collections

from gruvar.training import resume, runlog
from gruvar.training.run import config_changes

FILES = runlog.RECORD_FILES
GRID = "grid.json"  # the runs a comparison expects, so its report names those missing
# A run's name under the folder and its saved config -> the config it must have been trained
# with, or None where the run is not the command's (another variant: left alone).
Match = Callable[[str, dict[str, Any]], "ml_collections.ConfigDict | None"]


def finished(root: str) -> list[str]:
    """The finished runs under ``root`` (directories holding summary.json and config.json),
    relative to it."""
    found = []
    for directory, _, files in sorted(os.walk(root)):
        if "summary.json" in files and "config.json" in files:
            found.append(os.path.relpath(directory, root))
    return found


def unfinished(root: str) -> list[str]:
    """The records under ``root`` that keep an unfinished run's resume state, relative to it."""
    found = []
    for directory, _, files in sorted(os.walk(root)):
        if "summary.json" not in files and resume.steps(directory):
            found.append(os.path.relpath(directory, root))
    return found


def expected_runs(root: str) -> list[str] | None:
    """The runs a comparison's grid.json lists (paths relative to ``root``), if it has one."""
    path = os.path.join(root, GRID)
    if not os.path.exists(path):
        return None
    what = "it lists the runs a comparison expects: rerun the comparison's command."
    grid = runlog.read_json(path, what)
    runs = grid.get("runs") if isinstance(grid, dict) else None
    if not isinstance(runs, list) or not all(isinstance(r, str) for r in runs):
        raise ValueError(f"{path} has no list of run names under 'runs'; {what}")
    return runs


def variants(root: str) -> list[str]:
    """The variants (``model.variant``) of the runs recorded under ``root``, sorted."""
    found = set()
    for name in finished(root) + unfinished(root):
        found.add(_read_config(os.path.join(root, name))["model"]["variant"])
    return sorted(found)


def check_writable(folder: str) -> None:
    """ValueError, in one line, unless ``folder`` can be created and written (checked before
    anything trains, so a read-only or full disk does not end a long run)."""
    probe = os.path.join(folder, ".write-probe.tmp")
    try:
        os.makedirs(folder, exist_ok=True)
        with open(probe, "w") as f:
            f.write("probe\n")
        os.remove(probe)
    except OSError as err:
        raise ValueError(
            f"--records {folder!r} cannot be written ({err.strerror or err}); give a folder "
            f"this process can write, on a disk with free space."
        ) from None


def check(record: str) -> dict[str, Any]:
    """The summary of the finished run recorded in ``record``, after checking that its files
    are whole and agree with each other; otherwise a ValueError naming the record and what to
    do (a metrics.jsonl cut short, say, would change the table's numbers)."""
    advice = f"Restore the record from version control, or delete {record} to train that run again."
    missing = [f for f in FILES if not os.path.exists(os.path.join(record, f))]
    if missing:
        raise ValueError(f"The record {record} lacks {missing}, so it cannot be counted. {advice}")
    _read_config(record)
    summary = runlog.read_json(os.path.join(record, "summary.json"), advice)
    path = os.path.join(record, "metrics.jsonl")
    with open(path, "rb") as f:
        text = f.read()
    if text and not text.endswith(b"\n"):
        raise ValueError(f"The record {path} ends in a line cut short. {advice}")
    try:
        lines = runlog.read_metrics(path)
    except (ValueError, KeyError, TypeError) as err:
        raise ValueError(f"The record {path} is damaged ({err}). {advice}") from None
    if not isinstance(summary, dict) or "status" not in summary:
        raise ValueError(f"The record {record}/summary.json is not a run's summary. {advice}")
    last = max((line["step"] for line in lines), default=0)
    steps = summary.get("steps", last)
    if last > steps or (summary["status"] != "diverged" and last != steps):
        raise ValueError(
            f"The record {path} ends at step {last}, its summary.json at step {steps}: one of "
            f"them is cut short or from another run. {advice}"
        )
    best = summary.get("best")
    if best:
        logged = {(line["split"], line["step"]): line for line in lines}
        line = logged.get(("validation", best["step"]))
        if line is None or any(line.get(k) != v for k, v in best["validation"].items()):
            raise ValueError(
                f"The record {path} lacks the best evaluation its summary.json names (step "
                f"{best['step']}). {advice}"
            )
    return summary


def save(
    workdir: str, records: str, runs: list[str] | None = None, match: Match | None = None
) -> list[str]:
    """Copies the record of every finished run under ``workdir`` (or of those of ``runs``,
    run directories, that have finished) into ``records``, and adds the runs of the
    workdir's grid.json to the records' (so one folder can gather several comparisons);
    returns the runs it wrote (a record already equal to the run's files is left alone).
    With ``match``, only the runs it gives a config for are recorded, and one trained with
    another config is a ValueError before anything is written."""
    names = finished(workdir)
    if runs is not None:
        wanted = {os.path.relpath(r, workdir) for r in runs}
        names = [n for n in names if n in wanted]
    if match is not None:
        names = [n for n in names if _matches(match, workdir, n, "a finished run")]
    for name in names:
        check(os.path.join(workdir, name))
    os.makedirs(records, exist_ok=True)
    with _locked(records):
        expected = expected_runs(records) or []
        added = [r for r in expected_runs(workdir) or [] if r not in expected]
        if added:
            runlog.write_json(os.path.join(records, GRID), {"runs": expected + added})
    written = []
    for name in names:
        source, target = os.path.join(workdir, name), os.path.join(records, name)
        resume.clear(target)  # a state left by a kill between the record and its removal
        if _same(source, target):
            continue
        runlog.copy_files(source, target, FILES)
        written.append(name)
    return written


def restore(records: str, workdir: str, match: Match | None = None) -> list[str]:
    """Copies every finished run's record in ``records`` into ``workdir`` where that run is not
    there yet (and the records' grid.json where the workdir has none); returns the runs
    restored. With ``match``, only the records it gives a config for are counted, and a record
    (finished or unfinished) of another config is a ValueError naming it. A damaged record
    (``check``), or a workdir holding an unfinished run where a record says it finished, is a
    ValueError that says what to do; nothing is copied then. A restore cut short (some record
    files, no summary.json) is completed."""
    if not os.path.isdir(records):
        raise FileNotFoundError(
            f"--records {records!r} is not a folder. Give the folder the comparison keeps its "
            f"runs in (created by a first run with --records)."
        )
    names = finished(records)
    if match is not None:
        for name in unfinished(records):
            _matches(match, records, name, "the resume state of a run")
        names = [n for n in names if _matches(match, records, n, "a finished run")]
    todo = []
    for name in names:
        record, target = os.path.join(records, name), os.path.join(workdir, name)
        check(record)
        if os.path.exists(os.path.join(target, "summary.json")):
            continue  # the workdir's own finished run; its config is checked when compared
        partial = set(FILES) | {f"{f}.tmp" for f in FILES}  # a copy cut short
        if os.path.isdir(target) and set(os.listdir(target)) - partial:
            raise ValueError(
                f"{target} holds an unfinished run, and {record} a finished one of the same "
                f"name. Move the run directory away to count the record, or leave --records "
                f"out to resume it."
            )
        todo.append(name)
    os.makedirs(workdir, exist_ok=True)
    grid = os.path.join(records, GRID)
    if os.path.exists(grid) and not os.path.exists(os.path.join(workdir, GRID)):
        runlog.copy(grid, os.path.join(workdir, GRID))
    for name in todo:
        runlog.copy_files(os.path.join(records, name), os.path.join(workdir, name), FILES)
    return todo


def sync(keep: str, workdir: str, match: Match) -> None:
    """Before a command trains: checks that ``keep`` can be written, records the workdir's
    finished runs there, restores the finished records into ``workdir`` and names the
    unfinished ones that will resume from their state, saying how many of each. Only the runs
    ``match`` gives a config for count, and each is checked against it first."""
    check_writable(keep)
    saved = save(workdir, keep, match=match)
    if saved:
        print(f"recorded {len(saved)} finished run(s) in {keep}", flush=True)
    restored = restore(keep, workdir, match)
    if restored:
        print(f"restored {len(restored)} finished run(s) from {keep}", flush=True)
    waiting = [n for n in unfinished(keep) if match(n, _read_config(os.path.join(keep, n)))]
    if waiting:
        print(f"{len(waiting)} unfinished run(s) in {keep} resume from their state", flush=True)


def _matches(match: Match, root: str, name: str, what: str) -> bool:
    """Whether the run ``name`` under ``root`` is the command's (``match``); ValueError naming
    it if it is but was trained with another config."""
    directory = os.path.join(root, name)
    saved = _read_config(directory)
    config = match(name, saved)
    if config is None:
        return False
    changed = config_changes(saved, config)
    if changed:
        raise ValueError(
            f"{directory} holds {what} of this grid with another config (changed: {changed}), "
            f"so it is not counted for this command. Give the command that made it (the same "
            f"flags and overrides), or another --records / --workdir for this one."
        )
    return True


def _read_config(directory: str) -> dict[str, Any]:
    path = os.path.join(directory, "config.json")
    config = runlog.read_json(
        path, f"restore it from version control, or delete {directory} to train it again."
    )
    if not isinstance(config, dict) or not isinstance(config.get("model"), dict):
        raise ValueError(f"{path} is not a run's config; delete {directory} to train it again.")
    return config


@contextlib.contextmanager
def _locked(folder: str):
    """Holds an exclusive lock on ``folder`` (a read-modify-write of its grid.json by two
    comparisons sharing it would otherwise lose one's runs)."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _same(source: str, target: str) -> bool:
    return all(_same_file(os.path.join(source, f), os.path.join(target, f)) for f in FILES)


def _same_file(source: str, target: str) -> bool:
    return os.path.exists(target) and filecmp.cmp(source, target, shallow=False)
