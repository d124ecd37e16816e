"""Checkpoints of a run: the only module that imports orbax.

A step's checkpoint holds the training state (a pytree) and a small JSON record of the
loop's own state (early stopping, best metrics). Saves are asynchronous and committed
atomically by orbax: a run killed mid-save resumes from the last complete checkpoint. A
committed checkpoint damaged later (a file removed or cut short) is passed over for the newest
one that still reads back (``restore_newest``).
"""

from __future__ import annotations

import os
import sys
import warnings
from typing import Any

import jax
import orbax.checkpoint as ocp


class Checkpoints:
    """The checkpoints under ``directory``, keeping the newest ``keep``."""

    def __init__(self, directory: str, keep: int):
        options = ocp.CheckpointManagerOptions(
            max_to_keep=keep, create=True, cleanup_tmp_directories=True
        )
        self._manager = ocp.CheckpointManager(os.path.abspath(directory), options=options)

    def latest_step(self) -> int | None:
        return self._manager.latest_step()

    def all_steps(self) -> list[int]:
        return sorted(self._manager.all_steps())

    def discard_after(self, step: int) -> None:
        """Deletes the checkpoints newer than ``step`` (a resumed run will write them again)."""
        for later in self._manager.all_steps():
            if later > step:
                self._manager.delete(later)

    def wait(self) -> None:
        """Blocks until every save so far is committed."""
        self._manager.wait_until_finished()

    def save(self, step: int, state: Any, record: dict) -> None:
        self._manager.save(
            step,
            args=ocp.args.Composite(
                state=ocp.args.StandardSave(state), record=ocp.args.JsonSave(record)
            ),
            force=True,
        )

    def restore(self, step: int, like: Any) -> tuple[Any, dict]:
        """The state saved at ``step``, shaped like ``like``, and its record."""
        abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, like)
        try:
            restored = self._manager.restore(
                step,
                args=ocp.args.Composite(
                    state=ocp.args.StandardRestore(abstract), record=ocp.args.JsonRestore()
                ),
            )
        except Exception:
            _quiet_closed_loop()
            raise
        return restored["state"], restored["record"]

    def restore_newest(self, like: Any) -> tuple[int, Any, dict] | None:
        """(step, state, record) of the newest checkpoint that reads back, each newer one that
        does not (damaged files) named in a warning; None if there is no checkpoint. ValueError
        if none reads back (nothing is deleted here: the caller discards what follows the
        step it resumes from)."""
        failures = []
        for step in reversed(self.all_steps()):
            try:
                return (step, *self.restore(step, like))
            except Exception as err:  # orbax and tensorstore raise many types for bad files
                failures.append(f"{self._path(step)}: {first_line(err)}")
                warnings.warn(
                    f"Checkpoint {self._path(step)} does not read back ({first_line(err)}); "
                    f"trying the one before it. If one reads back, training resumes from it "
                    f"and the unreadable one is deleted.",
                    stacklevel=2,
                )
        if failures:
            raise ValueError(
                f"No checkpoint under {self._manager.directory} reads back, so the run cannot "
                f"resume; move its run directory away to train it again. "
                f"Errors: {'; '.join(failures)}"
            )
        return None

    def _path(self, step: int) -> str:
        return os.path.join(str(self._manager.directory), str(step))

    def close(self) -> None:
        """Waits for pending saves to be committed, then releases the manager."""
        self._manager.wait_until_finished()
        self._manager.close()


def _quiet_closed_loop() -> None:
    """Drops the "Event loop is closed" errors a failed restore leaves behind (the caller says
    in one line that the checkpoint does not read back); every other unraisable error goes
    where it went before.

    orbax runs a restore's reads in an event loop of its own and closes it as soon as one read
    fails; tensorstore then completes the reads still in flight from its threads, and each one's
    callback finds the loop closed. Python reports each as "Exception ignored in: None" with a
    traceback (about 20 for one damaged checkpoint), though nothing is wrong by then."""
    previous = sys.unraisablehook
    if getattr(previous, "gruvar_quiet", False):
        return

    def hook(unraisable) -> None:
        err = unraisable.exc_value
        closed = isinstance(err, RuntimeError) and str(err) == "Event loop is closed"
        if not (closed and unraisable.object is None):
            previous(unraisable)

    hook.gruvar_quiet = True
    sys.unraisablehook = hook


def first_line(err: Exception, limit: int = 200) -> str:
    """The start of an error's message (tensorstore's run to kilobytes of spec)."""
    text = str(err).strip().splitlines()[0] if str(err).strip() else ""
    text = f"{type(err).__name__}: {text}"
    return text if len(text) <= limit else text[: limit - 3] + "..."
