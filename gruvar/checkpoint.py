"""Checkpoints of a run: the only module that imports orbax.

A step's checkpoint holds the training state (a pytree) and a small JSON record of the
loop's own state (early stopping, best metrics). Saves are asynchronous and committed
atomically by orbax: a run killed mid-save resumes from the last complete checkpoint.
"""

from __future__ import annotations

import os
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
        restored = self._manager.restore(
            step,
            args=ocp.args.Composite(
                state=ocp.args.StandardRestore(abstract), record=ocp.args.JsonRestore()
            ),
        )
        return restored["state"], restored["record"]

    def close(self) -> None:
        """Waits for pending saves to be committed, then releases the manager."""
        self._manager.wait_until_finished()
        self._manager.close()
