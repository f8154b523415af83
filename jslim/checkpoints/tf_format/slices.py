"""Slices of partitioned tensors (``TensorSliceProto``) and their reassembly."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence

import numpy as np

from jslim.checkpoints.tf_format import ordered_code
from jslim.checkpoints.tf_format.errors import CorruptCheckpointError


@dataclasses.dataclass(frozen=True)
class TensorSlice:
    """A box inside a tensor: per dimension a start and a length (None: the whole dim)."""

    starts: tuple[int, ...]
    lengths: tuple[int | None, ...]

    @classmethod
    def from_proto(cls, proto: dict) -> TensorSlice:
        """From a decoded ``TensorSliceProto``."""
        extents = proto.get("extent", [])
        return cls(tuple(e.get("start", 0) for e in extents),
                   tuple(e.get("length") for e in extents))

    def is_full(self) -> bool:
        """Whether the slice covers every dimension whole."""
        return all(length is None for length in self.lengths)

    def bounds(self, shape: Sequence[int], where: str) -> tuple[tuple[int, int], ...]:
        """``(start, stop)`` per dimension inside a tensor of ``shape``, checked."""
        if len(self.starts) != len(shape):
            raise CorruptCheckpointError(
                f"{where}: a slice of rank {len(self.starts)} in a tensor of shape {tuple(shape)}")
        out = []
        for start, length, size in zip(self.starts, self.lengths, shape):
            stop = size if length is None else start + length
            if length is None:
                start = 0
            if not 0 <= start <= stop <= size:
                raise CorruptCheckpointError(
                    f"{where}: slice [{start}, {stop}) lies outside a dimension of size {size}")
            out.append((start, stop))
        return tuple(out)

    def key(self, name: str) -> bytes:
        """The table key TF stores this slice of tensor ``name`` under."""
        return ordered_code.tensor_slice_key(name, self.starts, self.lengths)


def _overlap(a: tuple[tuple[int, int], ...], b: tuple[tuple[int, int], ...]) -> bool:
    return all(lo_a < hi_b and lo_b < hi_a for (lo_a, hi_a), (lo_b, hi_b) in zip(a, b))


def assemble(shape: tuple[int, ...], dtype: np.dtype, slices: Sequence[TensorSlice],
             read: Callable[[int, tuple[int, ...]], np.ndarray], where: str) -> np.ndarray:
    """Builds the full tensor from its slices.

    Args:
      shape: the full tensor's shape.
      dtype: its dtype.
      slices: the stored slices; together they must tile the tensor exactly.
      read: ``read(i, slice_shape)`` returns slice ``i``'s values, shaped ``slice_shape``.
      where: names the checkpoint file and tensor, for errors.

    Returns:
      A new array of ``shape``. (A single full slice is returned as read, uncopied.)
    """
    boxes = [s.bounds(shape, where) for s in slices]
    volume = sum(math.prod(hi - lo for lo, hi in box) for box in boxes)
    overlapping = any(_overlap(boxes[i], boxes[j])
                      for i in range(len(boxes)) for j in range(i))
    if volume != math.prod(shape) or overlapping:
        raise CorruptCheckpointError(
            f"{where}: its {len(boxes)} slices do not tile the shape {shape} exactly "
            "(a partition is missing or duplicated)")
    if len(boxes) == 1:
        return read(0, shape)
    try:
        out = np.empty(shape, dtype)
    except (MemoryError, ValueError) as err:
        raise CorruptCheckpointError(
            f"{where}: cannot allocate its shape {shape} of {dtype}: {err}") from err
    for i, box in enumerate(boxes):
        out[tuple(slice(lo, hi) for lo, hi in box)] = read(i, tuple(hi - lo for lo, hi in box))
    return out
