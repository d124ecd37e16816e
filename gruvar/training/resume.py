"""An unfinished run's resume state, kept in its record so the run can go on on another machine.

``gruvar.training.records`` keeps a *finished* run's three small files. A run trained with a record
directory (``compare.py --records``, ``train.py --records``) also keeps there, at every
checkpoint, what makes its resume exact: the checkpointed state (step, parameters, optimizer
state), the loop's record (best so far, evaluations since, elapsed time), the best model's
parameters, and, beside them, its config.json and metrics.jsonl up to that step. A later
command in a new workdir resumes the run from the newest state that reads back, bit-equal to
an uninterrupted run. The two newest states are kept (a stacked group resumes at the step its
runs share, and a run may be one checkpoint ahead of another); they are removed when the run
finishes, leaving the finished record.

    <record>/resume-state-step<N>.npz     one file per kept step (<= 2), a NumPy archive:
        leaf_<i>, best_<i>     the state's leaves and the best parameters' (tree order)
        meta                   JSON: step, loop record, leaf paths, shapes, sha256 of the leaves

Each file is written to a temporary name and renamed, so a kill during a save leaves the
previous states as they were; a file damaged later (cut short, edited) fails its checksum or
its archive's own CRC, and ``load`` says so in one line, so the caller falls back to the state
before it or starts the run again.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import zipfile
from typing import Any

import jax
import numpy as np

PREFIX = "resume-state-step"
_NAME = re.compile(rf"^{PREFIX}(\d+)\.npz$")
KEEP = 2


class Damaged(ValueError):
    """A resume state file that does not read back as the state it should hold."""


def steps(record: str) -> list[int]:
    """The steps of the resume states kept in ``record``, oldest first."""
    if not os.path.isdir(record):
        return []
    found = (_NAME.match(name) for name in os.listdir(record))
    return sorted(int(m.group(1)) for m in found if m)


def path(record: str, step: int) -> str:
    return os.path.join(record, f"{PREFIX}{step}.npz")


def save(record: str, step: int, state: Any, loop: dict, best: Any | None) -> None:
    """Writes the state at ``step`` (with the loop's record and the best parameters) atomically,
    then removes every other state but the newest one before ``step``."""
    leaves, best_leaves = _leaves(state), _leaves(best) if best is not None else []
    meta = {
        "step": int(step),
        "loop": loop,
        "paths": _paths(state),
        "best_paths": _paths(best) if best is not None else [],
        "sha256": _digest(leaves + best_leaves),
    }
    arrays = {f"leaf_{i}": leaf for i, leaf in enumerate(leaves)}
    arrays |= {f"best_{i}": leaf for i, leaf in enumerate(best_leaves)}
    target = path(record, step)
    tmp = f"{target}.tmp"
    with open(tmp, "wb") as f:
        np.savez(f, meta=np.array(json.dumps(meta)), **arrays)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, target)
    older = [s for s in steps(record) if s < step]
    for other in steps(record):
        if other != step and other not in older[-(KEEP - 1) :]:
            os.remove(path(record, other))


def load(record: str, step: int, like: Any, best_like: Any) -> tuple[Any, dict, Any | None]:
    """(state, loop record, best parameters or None) of the state kept at ``step``, shaped
    like ``like`` / ``best_like``. ``Damaged`` (one line: the file and what is wrong) if it
    does not read back whole or holds another model's state."""
    file = path(record, step)
    try:
        with np.load(file, allow_pickle=False) as archive:
            meta = json.loads(str(archive["meta"]))
            leaves = [archive[f"leaf_{i}"] for i in range(len(meta["paths"]))]
            best = [archive[f"best_{i}"] for i in range(len(meta["best_paths"]))]
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as err:
        raise Damaged(f"{file} does not read back ({type(err).__name__}: {err})") from None
    if meta.get("step") != step or _digest(leaves + best) != meta.get("sha256"):
        raise Damaged(f"{file} fails its checksum (cut short or changed since it was written)")
    state = _rebuild(file, "state", like, meta["paths"], leaves)
    best_tree = _rebuild(file, "best model", best_like, meta["best_paths"], best) if best else None
    return state, meta["loop"], best_tree


def clear(record: str) -> None:
    """Removes every resume state (and any temporary file a kill left) from ``record``."""
    if not os.path.isdir(record):
        return
    for name in os.listdir(record):
        if _NAME.match(name) or (name.startswith(PREFIX) and name.endswith(".tmp")):
            os.remove(os.path.join(record, name))


def _rebuild(file: str, what: str, like: Any, paths: list[str], leaves: list) -> Any:
    if paths != _paths(like):
        raise Damaged(f"{file} holds another model's {what} (its parameters differ by name)")
    shapes = [(leaf.shape, leaf.dtype) for leaf in jax.tree.leaves(like)]
    for (shape, dtype), leaf, name in zip(shapes, leaves, paths, strict=True):
        if leaf.shape != tuple(shape) or leaf.dtype != dtype:
            raise Damaged(
                f"{file} holds another model's {what}: {name} is {leaf.dtype}{list(leaf.shape)}, "
                f"this model's {dtype}{list(shape)}"
            )
    return jax.tree.unflatten(jax.tree.structure(like), leaves)


def _leaves(tree: Any) -> list[np.ndarray]:
    return [np.asarray(leaf) for leaf in jax.tree.leaves(tree)]


def _paths(tree: Any) -> list[str]:
    return [jax.tree_util.keystr(p) for p, _ in jax.tree_util.tree_flatten_with_path(tree)[0]]


def _digest(leaves: list[np.ndarray]) -> str:
    h = hashlib.sha256()
    for leaf in leaves:
        h.update(str((leaf.dtype.str, leaf.shape)).encode())
        h.update(np.ascontiguousarray(leaf).tobytes())
    return h.hexdigest()
