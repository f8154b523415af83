"""TF checkpoint files without TensorFlow: V1 and V2 readers, a V2 writer.

Pure file I/O (names -> numpy arrays and back); nothing here imports JAX or Flax.
"""

from jslim.checkpoints.tf_format.errors import (
    CheckpointError, CheckpointMismatchError, CheckpointNotFoundError, CorruptCheckpointError,
    TensorNotFoundError, UnsupportedCheckpointError)
from jslim.checkpoints.tf_format.paths import latest_checkpoint
from jslim.checkpoints.tf_format.reader import (
    list_tf_checkpoint, open_tf_checkpoint, read_tf_checkpoint)
from jslim.checkpoints.tf_format.tensor_reader import TensorInfo, TensorReader
from jslim.checkpoints.tf_format.writer import write_tf_checkpoint

__all__ = [
    "CheckpointError", "CheckpointMismatchError", "CheckpointNotFoundError",
    "CorruptCheckpointError", "TensorInfo", "TensorNotFoundError", "TensorReader",
    "UnsupportedCheckpointError", "latest_checkpoint", "list_tf_checkpoint",
    "open_tf_checkpoint", "read_tf_checkpoint", "write_tf_checkpoint",
]
