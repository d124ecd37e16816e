"""An unfinished run's resume state, kept in its record so the run can go on on another machine.

``gruvar.training.records`` keeps a *finished* run's three small files. A run trained with a record
directory (``compare.py --records``, ``train.py --records``) also keeps there, at every
checkpoint, what makes its resume exact: the checkpointed state (step, parameters, optimizer
state) and the loop's record (best so far, evaluations since, elapsed time), with, beside them,
its config.json and metrics.jsonl up to that step, and the best model's parameters. A later
command in a new workdir resumes the run from the newest state that reads back, bit-equal to
an uninterrupted run. The two newest states are kept (a stacked group resumes at the step its
runs share, and a run may be one checkpoint ahead of another); they are removed when the run
finishes, leaving the finished record.

    <record>/resume-state-step<N>.npz   one per kept step (<= 2), a NumPy archive: leaf_<i>
                                        (the state's leaves, tree order) and meta (JSON: step,
                                        loop record, leaf paths, sha256 of the leaves)
    <record>/resume-best-step<B>.npz    the best model's parameters at step B, one per best
                                        step a kept state names (written once, when it is new)

Sizes: parameters and RMSProp's accumulator, 8 bytes a parameter a state, 4 for the best
model: ~90 KB a state for pixel-wise GRU3 (11K parameters), ~250 KB for GRU (31K), so a run's
state is a few hundred KB, under 1 MB for the papers' models.

Each file is written to a temporary name and renamed, so a kill during a save leaves the
previous states as they were; a file damaged later (cut short, edited) fails its checksum or
its archive's own CRC, and ``load`` says so in one line, so the caller falls back to the state
before it or starts the run again. A best model that does not read back loses the best model
only (``load`` returns None for it), never the resume.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import warnings
import zipfile
from typing import Any

import jax
import numpy as np

PREFIX = "resume-state-step"
BEST = "resume-best-step"
_NAME = re.compile(rf"^{PREFIX}(\d+)\.npz$")
_BEST_NAME = re.compile(rf"^{BEST}(\d+)\.npz$")
KEEP = 2


class Damaged(ValueError):
    """A resume state file that does not read back as the state it should hold."""


def steps(record: str) -> list[int]:
    """The steps of the resume states kept in ``record``, oldest first."""
    return _steps(record, _NAME)


def path(record: str, step: int) -> str:
    return os.path.join(record, f"{PREFIX}{step}.npz")


def save(record: str, step: int, state: Any, loop: dict, best: Any | None) -> None:
    """Writes the state at ``step`` with the loop's record atomically (and the best parameters,
    where the loop's best step has none yet), then removes every other state but the newest
    one before ``step``, and every best model no kept state names."""
    at = loop["best"]["step"] if loop.get("best") else None
    if best is not None and at and not os.path.exists(_best_path(record, at)):
        _write(_best_path(record, at), best, {"step": at})
    _write(path(record, step), state, {"step": int(step), "loop": loop})
    older = [s for s in steps(record) if s < step]
    for other in steps(record):
        if other != step and other not in older[-(KEEP - 1) :]:
            os.remove(path(record, other))
    named = set()
    for kept in steps(record):
        best_so_far = _meta(path(record, kept)).get("loop", {}).get("best")
        if best_so_far:
            named.add(best_so_far["step"])
    for other in _steps(record, _BEST_NAME):
        if other not in named:
            os.remove(_best_path(record, other))


def load(record: str, step: int, like: Any, best_like: Any) -> tuple[Any, dict, Any | None]:
    """(state, loop record, best parameters or None) of the state kept at ``step``, shaped
    like ``like`` / ``best_like``. ``Damaged`` (one line: the file and what is wrong) if the
    state does not read back whole or holds another model's; a best model that does not is
    None, with a warning."""
    meta, state = _read(path(record, step), like, "state")
    if meta.get("step") != step:
        raise Damaged(f"{path(record, step)} holds step {meta.get('step')}, not {step}")
    loop = meta["loop"]
    best = None
    if loop.get("best"):
        file = _best_path(record, loop["best"]["step"])
        try:
            best = _read(file, best_like, "best model")[1]
        except Damaged as err:
            warnings.warn(
                f"{err}: the run resumes, but its best model so far is lost (its metrics are "
                f"kept; the next better evaluation saves a new one).",
                stacklevel=2,
            )
    return state, loop, best


def clear(record: str) -> None:
    """Removes every resume state and best model (and any temporary file a kill left) from
    ``record``."""
    if not os.path.isdir(record):
        return
    for name in os.listdir(record):
        if name.startswith((PREFIX, BEST)):
            os.remove(os.path.join(record, name))


def _write(file: str, tree: Any, meta: dict) -> None:
    leaves = _leaves(tree)
    meta = meta | {"paths": _paths(tree), "sha256": _digest(leaves)}
    tmp = f"{file}.tmp"
    with open(tmp, "wb") as f:
        np.savez(
            f, meta=np.array(json.dumps(meta)), **{f"leaf_{i}": x for i, x in enumerate(leaves)}
        )
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, file)


def _read(file: str, like: Any, what: str) -> tuple[dict, Any]:
    try:
        with np.load(file, allow_pickle=False) as archive:
            meta = json.loads(str(archive["meta"]))
            leaves = [archive[f"leaf_{i}"] for i in range(len(meta["paths"]))]
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as err:
        raise Damaged(f"{file} does not read back ({type(err).__name__}: {err})") from None
    if _digest(leaves) != meta.get("sha256"):
        raise Damaged(f"{file} fails its checksum (cut short or changed since it was written)")
    return meta, _rebuild(file, what, like, meta["paths"], leaves)


def _meta(file: str) -> dict:
    try:
        with np.load(file, allow_pickle=False) as archive:
            return json.loads(str(archive["meta"]))
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
        return {}


def _steps(record: str, pattern: re.Pattern) -> list[int]:
    if not os.path.isdir(record):
        return []
    found = (pattern.match(name) for name in os.listdir(record))
    return sorted(int(m.group(1)) for m in found if m)


def _best_path(record: str, step: int) -> str:
    return os.path.join(record, f"{BEST}{step}.npz")


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
