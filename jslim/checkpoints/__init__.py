"""Checkpoints: TF's V1/V2 files without TensorFlow, the slim importer, orbax for jslim's own.

- Tensor level (numpy only): ``read_tf_checkpoint``, ``list_tf_checkpoint``,
  ``open_tf_checkpoint``, ``write_tf_checkpoint``, ``latest_checkpoint``.
- Naming rule (a TF name IS the tree path): ``tree_to_tensor_names``,
  ``tensor_names_to_tree``.
- Variable trees (JAX): ``import_slim_checkpoint``, ``export_slim_checkpoint``.
- jslim's own checkpoints (orbax): ``CheckpointManager``, ``save_checkpoint``,
  ``restore_checkpoint``.

The JAX- and orbax-backed names are imported on first use, so reading or inspecting a
TF checkpoint does not import JAX.
"""

import importlib

from jslim.checkpoints.naming import (
    is_training_state_name, tensor_names_to_tree, tree_to_tensor_names)
from jslim.checkpoints.tf_format import (
    CheckpointError, CheckpointMismatchError, CheckpointNotFoundError, CorruptCheckpointError,
    TensorInfo, TensorNotFoundError, TensorReader, UnsupportedCheckpointError,
    latest_checkpoint, list_tf_checkpoint, open_tf_checkpoint, read_tf_checkpoint,
    write_tf_checkpoint)

_LAZY = {
    "import_slim_checkpoint": "jslim.checkpoints.slim_import",
    "export_slim_checkpoint": "jslim.checkpoints.slim_import",
    "CheckpointManager": "jslim.checkpoints.orbax_io",
    "save_checkpoint": "jslim.checkpoints.orbax_io",
    "restore_checkpoint": "jslim.checkpoints.orbax_io",
}

__all__ = [
    "CheckpointError", "CheckpointMismatchError", "CheckpointNotFoundError",
    "CorruptCheckpointError", "TensorInfo", "TensorNotFoundError", "TensorReader",
    "UnsupportedCheckpointError", "latest_checkpoint", "list_tf_checkpoint",
    "open_tf_checkpoint", "read_tf_checkpoint", "write_tf_checkpoint",
    "is_training_state_name", "tensor_names_to_tree", "tree_to_tensor_names", *_LAZY]


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'jslim.checkpoints' has no attribute {name!r}")


def __dir__():
    return sorted(__all__)
