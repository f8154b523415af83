"""What every checkpoint reader offers: a lazy, read-only mapping of names to arrays."""

from __future__ import annotations

import abc
import difflib
import math
from collections.abc import Iterator, Mapping
from typing import NamedTuple

import numpy as np

from jslim.checkpoints.tf_format import dtypes
from jslim.checkpoints.tf_format.errors import TensorNotFoundError


class TensorInfo(NamedTuple):
    """Shape and dtype of a stored tensor (strings: ``dtype`` is ``object``)."""

    shape: tuple[int, ...]
    dtype: np.dtype

    @property
    def size(self) -> int:
        """Number of elements."""
        return math.prod(self.shape)


class TensorReader(Mapping[str, np.ndarray], abc.ABC):
    """A checkpoint opened for reading: ``reader[name]`` reads one tensor on demand.

    Numeric tensors of V2 checkpoints are read-only views of the memory-mapped data
    files (no copy, no heap); copy one (``np.array(x)``) to modify it. Partitioned
    tensors are reassembled into new arrays; big-endian files are byte-swapped.

    Attributes:
      path: the checkpoint (V2 prefix, or V1 file / file pattern).
      format: "V1" or "V2".
    """

    format: str

    def __init__(self, path: str, infos: dict[str, TensorInfo]):
        self.path = path
        self._infos = infos

    def __getitem__(self, name: str) -> np.ndarray:
        self.info(name)
        return self._read(name)

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._infos))

    def __len__(self) -> int:
        return len(self._infos)

    def __contains__(self, name: object) -> bool:
        return name in self._infos

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.format} {self.path!r}: {len(self)} tensors>"

    def info(self, name: str) -> TensorInfo:
        """Shape and dtype of ``name`` (read from the index, no data touched).

        Raises:
          TensorNotFoundError: ``name`` is not in the checkpoint (closest names listed).
        """
        try:
            return self._infos[name]
        except KeyError:
            close = difflib.get_close_matches(str(name), list(self._infos), n=3)
            hint = f"; did you mean {', '.join(map(repr, close))}?" if close else ""
            raise TensorNotFoundError(
                f"{self.path}: no tensor named {name!r} in this {self.format} checkpoint "
                f"of {len(self)} tensors{hint}") from None

    def infos(self) -> dict[str, TensorInfo]:
        """``{name: TensorInfo}`` of every tensor, sorted by name."""
        return {name: self._infos[name] for name in self}

    def nbytes(self, name: str) -> int:
        """Bytes the tensor takes in memory (strings: their total length on disk)."""
        info = self.info(name)
        if dtypes.is_string(info.dtype):
            return self._stored_bytes(name)
        return info.size * info.dtype.itemsize

    @abc.abstractmethod
    def _read(self, name: str) -> np.ndarray:
        """Reads tensor ``name`` (known to exist)."""

    @abc.abstractmethod
    def _stored_bytes(self, name: str) -> int:
        """Bytes tensor ``name`` takes in its file."""
