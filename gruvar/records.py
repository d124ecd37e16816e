"""Run records: the few small files that keep a finished run's results without its checkpoints.

A comparison's tables and plots read three files per run (``analysis.load_runs``):
config.json (what was trained), summary.json (that it finished, and how) and metrics.jsonl
(every logged window and evaluation). Copied into a folder that is kept (committed beside the
report, say), they let a later machine or session rebuild the report, and let a grid that takes
longer than one session go on where the last one stopped: ``restore`` puts the records back
into a new workdir, where the comparison sees those runs as finished (after checking each one's
config against the command's, as for any finished run) and trains only the rest, and ``save``
adds each run as it finishes. A run that had not finished has no record: it starts again.

    records/<variant>/<run>/{config.json, summary.json, metrics.jsonl}   (the workdir's layout)
"""

import filecmp
import os
import shutil

from gruvar import analysis, runlog

# summary.json last: a directory without it is no record (nor a finished run), so a copy cut
# short by a kill leaves none.
FILES = ("config.json", "metrics.jsonl", "summary.json")
GRID = "grid.json"  # the runs a comparison expects, so its report names those missing


def finished(root: str) -> list[str]:
    """The finished runs under ``root`` (directories holding summary.json and config.json),
    relative to it."""
    found = []
    for directory, _, files in sorted(os.walk(root)):
        if "summary.json" in files and "config.json" in files:
            found.append(os.path.relpath(directory, root))
    return found


def save(workdir: str, records: str, runs: list[str] | None = None) -> list[str]:
    """Copies the record of every finished run under ``workdir`` (or of those of ``runs``,
    run directories, that have finished) into ``records``, and adds the runs of the
    workdir's grid.json to the records' (so one folder can gather several comparisons);
    returns the runs it wrote (a record already equal to the run's files is left alone)."""
    names = finished(workdir)
    if runs is not None:
        wanted = {os.path.relpath(r, workdir) for r in runs}
        names = [n for n in names if n in wanted]
    os.makedirs(records, exist_ok=True)
    expected = analysis.expected_runs(records) or []
    added = [r for r in analysis.expected_runs(workdir) or [] if r not in expected]
    if added:
        runlog.write_json(os.path.join(records, GRID), {"runs": expected + added})
    written = []
    for name in names:
        source, target = os.path.join(workdir, name), os.path.join(records, name)
        if _same(source, target):
            continue
        os.makedirs(target, exist_ok=True)
        for file in FILES:
            _copy(os.path.join(source, file), os.path.join(target, file))
        written.append(name)
    return written


def restore(records: str, workdir: str) -> list[str]:
    """Copies every record in ``records`` into ``workdir`` where that run is not there yet
    (and the records' grid.json where the workdir has none); returns the runs restored.
    A record missing a file, or a workdir holding an unfinished run (anything beyond a record's
    files: checkpoints, a lock, ...) where a record says it finished, is a ValueError that says
    what to do; nothing is copied then. A restore cut short (some record files, no
    summary.json) is completed."""
    if not os.path.isdir(records):
        raise FileNotFoundError(
            f"--records {records!r} is not a folder. Give the folder the comparison keeps its "
            f"finished runs in (created by a first run with --records)."
        )
    names = finished(records)
    todo = []
    for name in names:
        record, target = os.path.join(records, name), os.path.join(workdir, name)
        missing = [f for f in FILES if not os.path.exists(os.path.join(record, f))]
        if missing:
            raise ValueError(
                f"The record {record} lacks {missing}, so its run cannot be counted. Restore "
                f"the file from version control, or delete the record to train that run again."
            )
        if os.path.exists(os.path.join(target, "summary.json")):
            continue  # the workdir's own finished run; its config is checked when compared
        if os.path.isdir(target) and set(os.listdir(target)) - set(FILES):
            raise ValueError(
                f"{target} holds an unfinished run, and {record} a finished one of the same "
                f"name. Move the run directory away to count the record, or leave --records "
                f"out to resume it."
            )
        todo.append(name)
    os.makedirs(workdir, exist_ok=True)
    grid = os.path.join(records, GRID)
    if os.path.exists(grid) and not os.path.exists(os.path.join(workdir, GRID)):
        _copy(grid, os.path.join(workdir, GRID))
    for name in todo:
        os.makedirs(os.path.join(workdir, name), exist_ok=True)
        for file in FILES:
            _copy(os.path.join(records, name, file), os.path.join(workdir, name, file))
    return todo


def _same(source: str, target: str) -> bool:
    return all(_same_file(os.path.join(source, f), os.path.join(target, f)) for f in FILES)


def _same_file(source: str, target: str) -> bool:
    return os.path.exists(target) and filecmp.cmp(source, target, shallow=False)


def _copy(source: str, target: str) -> None:
    """Copies through a temporary file renamed into place: a kill leaves the old file or the
    new one."""
    tmp = f"{target}.tmp"
    shutil.copyfile(source, tmp)
    os.replace(tmp, target)
