"""jslim's own checkpoints: the one module that wraps orbax.

A directory of numbered steps (``DIR/<step>/``); saves run in the background (async),
only the last ``max_to_keep`` are kept, and a step appears only once it is complete:
orbax writes into a temporary directory and renames it when done, so a crash (even
``kill -9``) during a save leaves the previous checkpoints intact. A variables tree or
any train-state pytree (``flax.struct`` dataclass, optax state, ...) can be saved.
"""

from __future__ import annotations

import os
from typing import Any

import orbax.checkpoint as ocp

from jslim.checkpoints.tf_format.errors import CheckpointNotFoundError


class CheckpointManager:
    """Saves and restores numbered checkpoints of a pytree.

    Args:
      directory: where the steps live (created if needed).
      max_to_keep: how many of the newest steps to keep (None: all).
      async_save: return from ``save`` once arrays are copied off the device, and
        write the files in the background (``wait_until_finished`` blocks until done).
      save_interval_steps: ``save`` skips steps that are not a multiple of this
        (unless ``force``).

    Example::

      with CheckpointManager("/tmp/run", max_to_keep=3) as ckpt:
          ckpt.save(step, state)
      state = CheckpointManager("/tmp/run").restore(template=state)  # latest step
    """

    def __init__(self, directory: str | os.PathLike, *, max_to_keep: int | None = 3,
                 async_save: bool = True, save_interval_steps: int = 1):
        self.directory = os.path.abspath(os.fspath(directory))
        options = ocp.CheckpointManagerOptions(
            max_to_keep=max_to_keep, save_interval_steps=save_interval_steps,
            enable_async_checkpointing=async_save, cleanup_tmp_directories=True)
        self._manager = ocp.CheckpointManager(self.directory, options=options)

    def save(self, step: int, tree: Any, *, force: bool = False) -> bool:
        """Starts saving ``tree`` as ``step``; returns whether a save was started.

        ``tree``: a pytree of arrays (jax or numpy) and scalars, e.g. the variables or
        a train state. Waits for the previous save to finish first.
        """
        return self._manager.save(int(step), args=ocp.args.StandardSave(tree), force=force)

    def restore(self, step: int | None = None, template: Any = None) -> Any:
        """Restores ``step`` (default: the latest).

        Args:
          step: the step to restore.
          template: a pytree like the saved one (arrays or ``jax.ShapeDtypeStruct``,
            with shardings): the result gets its structure, dtypes and shardings. Needed
            to get a train-state dataclass back (without it, nested dicts).

        Raises:
          CheckpointNotFoundError: no such step (the message lists those there are).
        """
        self.wait_until_finished()
        steps = self.all_steps()
        step = self.latest_step() if step is None else int(step)
        if step not in steps:
            raise CheckpointNotFoundError(
                f"{self.directory}: no checkpoint step {step}; the steps there are {steps}")
        return self._manager.restore(step, args=ocp.args.StandardRestore(template))

    def latest_step(self) -> int | None:
        """The newest complete step, or None."""
        return self._manager.latest_step()

    def all_steps(self) -> list[int]:
        """Every complete step, ascending (saves in progress are not listed)."""
        return sorted(self._manager.all_steps())

    def wait_until_finished(self) -> None:
        """Blocks until the background save (if any) is on disk."""
        self._manager.wait_until_finished()

    def close(self) -> None:
        """Finishes pending saves and releases the manager's resources."""
        self._manager.close()

    def __enter__(self) -> CheckpointManager:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()


def save_checkpoint(directory: str | os.PathLike, tree: Any, step: int = 0) -> None:
    """Saves ``tree`` as ``step`` under ``directory`` and waits until it is on disk."""
    with CheckpointManager(directory, max_to_keep=None, async_save=False) as manager:
        manager.save(step, tree, force=True)


def restore_checkpoint(directory: str | os.PathLike, template: Any = None,
                       step: int | None = None) -> Any:
    """Restores ``step`` (default: latest) from ``directory``; see ``CheckpointManager.restore``."""
    with CheckpointManager(directory, max_to_keep=None, async_save=False) as manager:
        return manager.restore(step, template)
