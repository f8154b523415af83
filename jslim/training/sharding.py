"""Where the train state and the batches live: a 1-D device mesh over a ``'data'`` axis.

Data parallelism: every batch array is split along its first axis over ``'data'``; the
state is replicated, and XLA inserts the gradient all-reduce. FSDP (``fsdp=True``):
every state leaf of at least ``min_size`` elements is also split over ``'data'``, along
its largest axis that the mesh size divides (weights, optimizer slots and EMA alike);
XLA gathers the weights where the step needs them. Across processes
(``jax.distributed.initialize()``) the mesh spans every process's devices and each
process feeds its own rows of the global batch (:func:`global_batch`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

__all__ = [
    "DATA_AXIS", "batch_sharding", "divisible_batch_size", "fsdp_spec", "global_batch", "make_mesh", "replicated",
    "state_shardings",
]

DATA_AXIS = "data"
MIN_FSDP_SIZE = 2**10


def make_mesh(devices: Sequence[jax.Device] | None = None) -> Mesh:
    """A 1-D ``'data'`` mesh over ``devices`` (default: every device of every process)."""
    devices = jax.devices() if devices is None else list(devices)
    return Mesh(np.asarray(devices), (DATA_AXIS,))


def batch_sharding(mesh: Mesh) -> NamedSharding:
    """Splits the first (batch) axis over ``'data'``."""
    return NamedSharding(mesh, PartitionSpec(DATA_AXIS))


def replicated(mesh: Mesh) -> NamedSharding:
    """A full copy on every device."""
    return NamedSharding(mesh, PartitionSpec())


def fsdp_spec(shape: Sequence[int], num_shards: int, min_size: int = MIN_FSDP_SIZE) -> PartitionSpec:
    """The FSDP partition of one leaf: its largest axis divisible by ``num_shards``
    (the first such on ties), or replicated when small or indivisible."""
    if num_shards <= 1 or int(np.prod(shape, dtype=np.int64)) < min_size:
        return PartitionSpec()
    axes = [a for a, n in enumerate(shape) if n % num_shards == 0]
    if not axes:
        return PartitionSpec()
    axis = max(axes, key=lambda a: (shape[a], -a))
    return PartitionSpec(*([None] * axis), DATA_AXIS)


def state_shardings(state: Any, mesh: Mesh, fsdp: bool = False, min_size: int = MIN_FSDP_SIZE) -> Any:
    """A tree of ``NamedSharding`` like ``state`` (arrays or ``ShapeDtypeStruct``)."""
    num_shards = mesh.shape[DATA_AXIS]

    def sharding(leaf):
        shape = np.shape(leaf)
        spec = fsdp_spec(shape, num_shards, min_size) if fsdp else PartitionSpec()
        return NamedSharding(mesh, spec)

    return jax.tree.map(sharding, state)


def divisible_batch_size(batch_size: int, mesh: Mesh) -> int:
    """``batch_size`` rounded up to a multiple of the mesh's devices (for padded, masked
    evaluation batches, where extra rows do not change the result)."""
    n = mesh.devices.size
    return -(-batch_size // n) * n


def global_batch(local: Mapping[str, np.ndarray], mesh: Mesh) -> dict[str, jax.Array]:
    """This process's rows of a batch -> global arrays split over ``'data'``.

    Args:
      local: ``{name: [local_batch, ...]}``; with P processes the global batch is
        ``P * local_batch`` rows, process ``i`` holding rows ``[i * local_batch, (i + 1) * local_batch)``.
      mesh: the ``'data'`` mesh.

    Raises:
      ValueError: a batch that the mesh's devices cannot split evenly (names the key).
    """
    sharding = batch_sharding(mesh)
    local_devices = len(mesh.local_devices)
    out = {}
    for key, value in local.items():
        value = np.asarray(value)
        if value.shape[0] % local_devices:
            raise ValueError(f"batch['{key}'] has {value.shape[0]} rows on this process, not divisible by its "
                             f"{local_devices} devices: choose a --batch_size that is a multiple of "
                             f"{mesh.devices.size} (the devices of the mesh).")
        out[key] = jax.make_array_from_process_local_data(sharding, value)
    return out
