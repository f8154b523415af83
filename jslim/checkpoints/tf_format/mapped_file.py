"""Read-only memory maps of checkpoint files: tensors become views, not copies."""

from __future__ import annotations

import mmap
import os

from jslim.checkpoints.tf_format.errors import CheckpointError, CheckpointNotFoundError


def map_file(path: str, what: str) -> memoryview:
    """Maps ``path`` read-only; ``what`` says what the file is, for the error message.

    The map stays open as long as a view of it is alive (the OS keeps the inode of a
    file deleted or renamed meanwhile). Pages are read on first touch and are page
    cache, not process heap, so reading a large checkpoint costs no extra copy.
    """
    try:
        with open(path, "rb") as f:
            if os.fstat(f.fileno()).st_size == 0:
                return memoryview(b"")
            return memoryview(mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ))
    except FileNotFoundError as err:
        raise CheckpointNotFoundError(f"{path}: {what} does not exist") from err
    except OSError as err:
        raise CheckpointError(f"{path}: cannot read {what}: {err}") from err
