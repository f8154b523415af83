"""Reading TF checkpoints: open one lazily, read all of it, or list what it holds."""

from __future__ import annotations

import os

import numpy as np

from jslim.checkpoints.tf_format import paths
from jslim.checkpoints.tf_format.bundle import BundleReader
from jslim.checkpoints.tf_format.saved_slices import SavedSlicesReader
from jslim.checkpoints.tf_format.tensor_reader import TensorInfo, TensorReader


def open_tf_checkpoint(path: str | os.PathLike, *, verify_checksums: bool = True) -> TensorReader:
    """Opens a TF checkpoint, V1 or V2, without TensorFlow.

    Only the index (V2) or each file's metadata (V1) is read here; tensors are read
    when indexed, as zero-copy views of memory-mapped files where the format allows.

    Args:
      path: a V2 prefix, ``.index`` or ``.data-*`` file; a V1 file, shard or shard
        pattern; or a directory with a ``checkpoint`` state file (latest is read).
      verify_checksums: check CRC32C of every tensor (V2) and table block read.

    Returns:
      A read-only ``Mapping[str, np.ndarray]`` with ``info(name)`` for shape/dtype.

    Raises:
      CheckpointError: (a subclass of) when the files are missing, damaged or not a
        checkpoint; the message names the file.
    """
    location = paths.resolve(path)
    if location.format == "V2":
        return BundleReader(location.path, verify_checksums=verify_checksums)
    return SavedSlicesReader(location.path, list(location.files), verify_checksums=verify_checksums)


def read_tf_checkpoint(path: str | os.PathLike, *, verify_checksums: bool = True
                       ) -> dict[str, np.ndarray]:
    """Reads every tensor of a TF checkpoint: ``{name: array}``, sorted by name.

    V2 numeric arrays are read-only views of the memory-mapped data files (pages are
    read on first touch, and are page cache rather than heap); strings are object
    arrays of ``bytes``. See ``open_tf_checkpoint`` for ``path`` and errors.
    """
    reader = open_tf_checkpoint(path, verify_checksums=verify_checksums)
    return {name: reader[name] for name in reader}


def list_tf_checkpoint(path: str | os.PathLike) -> dict[str, TensorInfo]:
    """``{name: (shape, dtype)}`` of every tensor, from the index alone (no data read)."""
    return open_tf_checkpoint(path).infos()
