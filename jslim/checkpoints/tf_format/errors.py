"""The one error hierarchy of jslim's checkpoint code.

Every error is a ``CheckpointError`` (a ``ValueError``), so ``except CheckpointError``
catches anything a bad checkpoint can cause. Messages name the file and the tensor at
fault and say what to do about it.
"""

from __future__ import annotations


class CheckpointError(ValueError):
    """Base class: a checkpoint could not be read, written or matched."""


class CheckpointNotFoundError(CheckpointError, FileNotFoundError):
    """No checkpoint at the given path, or one of its files (e.g. a data shard) is missing."""


class CorruptCheckpointError(CheckpointError):
    """A checkpoint file's bytes are not what its format requires (CRC, truncation, ...)."""


class UnsupportedCheckpointError(CheckpointError):
    """A valid checkpoint that uses something jslim does not read (e.g. a variant tensor)."""


class TensorNotFoundError(CheckpointError, KeyError):
    """A tensor name that the checkpoint does not hold."""

    def __str__(self) -> str:  # KeyError would quote the message.
        return str(self.args[0]) if self.args else ""


class CheckpointMismatchError(CheckpointError):
    """A checkpoint does not fit a variables tree: missing, unexpected or misshapen names."""
