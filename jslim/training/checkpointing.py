"""A training run's checkpoints: when to save, and what (state + data position).

A checkpoint is the whole :class:`jslim.train_step.TrainState` (weights, optimizer
state, step, RNG, EMA) plus the data iterator's ``get_state()``, saved through the one
orbax wrapper :class:`jslim.checkpoints.orbax_io.CheckpointManager` (async, keep-N,
atomic: a step directory appears only when complete, so ``kill -9`` mid-save leaves the
previous checkpoints whole). Restoring both gives the same run as if uninterrupted.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable
from typing import Any

from jslim.checkpoints import CheckpointMismatchError
from jslim.checkpoints.orbax_io import CheckpointManager

__all__ = ["Checkpointer", "SavePolicy", "checkpoint_dir", "is_jslim_checkpoint", "latest_step", "read_checkpoint"]

CHECKPOINT_SUBDIR = "checkpoints"


def checkpoint_dir(path: str | os.PathLike) -> str:
    """Where a run's checkpoints live: ``<train_dir>/checkpoints`` (``path`` itself when it
    is that directory or holds step directories already)."""
    path = os.fspath(path)
    if os.path.basename(os.path.normpath(path)) == CHECKPOINT_SUBDIR or _has_steps(path):
        return path
    return os.path.join(path, CHECKPOINT_SUBDIR)


def _has_steps(path: str) -> bool:
    return os.path.isdir(path) and any(name.isdigit() for name in os.listdir(path))


def _split_step(path: str | os.PathLike) -> tuple[str, int | None]:
    """``(checkpoints directory, step or None)`` of a run, its checkpoints, or a step directory."""
    path = os.path.normpath(os.fspath(path))
    if os.path.basename(path).isdigit() and os.path.isdir(path):
        return os.path.dirname(path), int(os.path.basename(path))
    return checkpoint_dir(path), None


def is_jslim_checkpoint(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a jslim run with checkpoints, its checkpoints directory or a step."""
    directory, step = _split_step(path)
    return step is not None or _has_steps(directory)


def latest_step(path: str | os.PathLike) -> int | None:
    """The newest complete checkpoint step of a run (or the step ``path`` names), or None."""
    directory, step = _split_step(path)
    if step is not None:
        return step
    if not os.path.isdir(directory):
        return None
    with CheckpointManager(directory, max_to_keep=None, async_save=False) as manager:
        return manager.latest_step()


def read_checkpoint(path: str | os.PathLike, step: int | None = None) -> tuple[int, dict[str, Any]]:
    """``(step, {'state': {...}, 'data': {...}})`` as nested dicts, without a template.

    Args:
      path: a run, its checkpoints directory, or a step directory.
      step: the step (default: the one ``path`` names, else the latest).

    Raises:
      jslim.checkpoints.CheckpointNotFoundError: no such checkpoint.
    """
    directory, named = _split_step(path)
    with CheckpointManager(directory, max_to_keep=None, async_save=False) as manager:
        step = step if step is not None else named if named is not None else manager.latest_step()
        return step, manager.restore(step)


@dataclasses.dataclass(frozen=True)
class SavePolicy:
    """When a run saves (the final step is always saved).

    Attributes:
      save_interval_steps: every this many steps (0: not by steps).
      save_interval_secs: at most this long between saves (0: not by time); slim's
        ``--save_interval_secs``.
      max_to_keep: how many newest checkpoints to keep.
      async_save: write in the background while training goes on.
    """

    save_interval_steps: int = 0
    save_interval_secs: float = 600.0
    max_to_keep: int = 5
    async_save: bool = True


class Checkpointer:
    """Saves and restores ``{'state': TrainState, 'data': iterator state}`` under a run.

    Args:
      train_dir: the run directory (checkpoints go to ``<train_dir>/checkpoints``).
      policy: when to save.
      clock: seconds, monotonic (tests pass a fake).
    """

    def __init__(self, train_dir: str | os.PathLike, policy: SavePolicy = SavePolicy(),
                 clock: Callable[[], float] = time.monotonic):
        self.directory = checkpoint_dir(train_dir)
        self.policy, self._clock = policy, clock
        self._manager = CheckpointManager(self.directory, max_to_keep=policy.max_to_keep,
                                          async_save=policy.async_save)
        self._last_save_time = clock()
        self._last_saved_step = self._manager.latest_step()

    def latest_step(self) -> int | None:
        """The newest complete checkpoint's step, or None."""
        return self._manager.latest_step()

    def due(self, step: int) -> bool:
        """Whether the policy asks for a save after ``step``."""
        p = self.policy
        by_steps = p.save_interval_steps > 0 and step % p.save_interval_steps == 0
        by_time = p.save_interval_secs > 0 and self._clock() - self._last_save_time >= p.save_interval_secs
        return by_steps or by_time

    def save(self, step: int, state: Any, data_state: dict[str, Any] | None = None) -> None:
        """Starts saving ``state`` (and the data position) as ``step``; returns once the
        arrays are copied (async) or written."""
        if self._last_saved_step == step:
            return
        self._manager.save(step, {"state": state, "data": data_state or {}}, force=True)
        self._last_save_time, self._last_saved_step = self._clock(), step

    def restore(self, state_template: Any, data_template: dict[str, Any] | None = None,
                step: int | None = None) -> tuple[Any, dict[str, Any]]:
        """The state and data position of ``step`` (default: the latest).

        Args:
          state_template: ``TrainStep.abstract_state(...)`` (shapes, dtypes, shardings).
          data_template: the iterator's ``get_state()`` (its structure), or None.
        """
        try:
            tree = self._manager.restore(step, template={"state": state_template, "data": data_template or {}})
        except ValueError as err:
            raise CheckpointMismatchError(
                f"{self.directory}: checkpoint step {step if step is not None else self.latest_step()} does not fit "
                "this run's state; was it written with another net, optimizer, --trainable_scopes or "
                f"--moving_average_decay? Use a new --train_dir to start over. ({err})") from err
        return tree["state"], dict(tree["data"])

    def wait(self) -> None:
        """Blocks until a background save is on disk."""
        self._manager.wait_until_finished()

    def close(self) -> None:
        """Finishes pending saves."""
        self._manager.close()
