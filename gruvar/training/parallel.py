"""Data parallelism: one run's batch split over every device, on one host or many.

A 1-D mesh ``data`` spans ``jax.devices()`` (all hosts' devices when JAX's distributed runtime
is up). Parameters and optimizer state are replicated; a batch is split along its example
axis, so each device runs the recurrence on B / n_devices sequences and XLA sums the
gradients across devices. With one device this is plain single-device training.

Every process builds the same global batch (batches depend only on (seed, step)) and places
only the shards its own devices hold, so the same code runs on one host and on many.
"""

from __future__ import annotations

import os
from typing import Any

import jax
import numpy as np
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P

AXIS = "data"

# Variables set by launchers that start several processes of one job.
_MULTI_PROCESS_ENV = ("SLURM_NTASKS", "OMPI_COMM_WORLD_SIZE", "JAX_NUM_PROCESSES")


def multi_process_env() -> bool:
    """Whether this process was launched as one of several of a job (SLURM, Open MPI, or
    JAX's own ``JAX_COORDINATOR_ADDRESS``)."""
    if os.environ.get("JAX_COORDINATOR_ADDRESS"):
        return True
    return any(int(os.environ.get(name, "1") or "1") > 1 for name in _MULTI_PROCESS_ENV)


def initialize() -> None:
    """Starts JAX's distributed runtime when launched as one of several processes; a no-op for a
    single process (and when already started). Call before anything touches a device."""
    if multi_process_env() and not jax.distributed.is_initialized():
        jax.distributed.initialize()


def is_main_process() -> bool:
    """Only process 0 writes logs and summaries; every process takes part in checkpointing."""
    return jax.process_index() == 0


def mesh() -> jax.sharding.Mesh:
    """All devices on one ``data`` axis; shardings inside the step are left to XLA (Auto)."""
    return jax.make_mesh((jax.device_count(),), (AXIS,), axis_types=(jax.sharding.AxisType.Auto,))


def check_batch_size(batch_size: int, field: str) -> None:
    """A clear error when ``batch_size`` cannot be split evenly over the devices."""
    n = jax.device_count()
    if batch_size % n:
        raise ValueError(
            f"config.{field} = {batch_size} does not split over {n} devices; use a multiple "
            f"of {n} (or fewer devices, e.g. CUDA_VISIBLE_DEVICES)."
        )


def replicate(tree: Any, where: jax.sharding.Mesh) -> Any:
    """``tree`` with every array copied to every device of the mesh."""
    return jax.device_put(tree, NamedSharding(where, P()))


def shard_batch(batch: dict[str, np.ndarray], where: jax.sharding.Mesh, axis: int) -> dict:
    """Global host arrays split along ``axis`` (the example axis) over the mesh's devices."""
    spec = P(*([None] * axis), AXIS)
    sharding = NamedSharding(where, spec)
    return {
        key: jax.make_array_from_callback(value.shape, sharding, lambda index, v=value: v[index])
        for key, value in batch.items()
    }
