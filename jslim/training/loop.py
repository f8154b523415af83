"""The training loop: steps, checkpoints by policy, signals, non-finite losses.

::

    result = train_loop(train_step, state, batches, max_steps=1000,
                        checkpointer=Checkpointer(train_dir, SavePolicy(save_interval_steps=100)),
                        reporters=[ProgressReporter(batch_size=32)])

- ``batches``: any iterator of ``{'images', 'labels'}`` numpy batches (this process's
  rows); if it has ``get_state()``/``set_state()`` its position is checkpointed too.
- The step's metrics are read one step late, so the host never waits on the step just
  dispatched; a save first checks the step being saved.
- SIGTERM / SIGINT: the loop finishes the current step, saves it and returns
  (``stop_reason='signal'``). With several processes, a signal to any of them stops all,
  and a save that any one's policy asks for is made by all (orbax saves are collective).
- A non-finite loss raises :class:`NonFiniteLossError` naming the step; nothing after
  the last good step is saved, and pending saves are completed first.
"""

from __future__ import annotations

import contextlib
import dataclasses
import signal
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Protocol

import jax
import numpy as np
from jax.experimental import multihost_utils

from jslim.training import sharding
from jslim.training.checkpointing import Checkpointer

__all__ = ["LoopResult", "NonFiniteLossError", "Reporter", "restore_or_init", "train_loop"]


class NonFiniteLossError(FloatingPointError):
    """The loss of update number ``step`` (1-based, as the progress shows) was inf or NaN;
    that update was not applied."""

    def __init__(self, step: int, last_checkpoint: int | None):
        self.step, self.last_checkpoint = step, last_checkpoint
        kept = (f"the last good checkpoint is step {last_checkpoint}" if last_checkpoint is not None
                else "no checkpoint was saved")
        super().__init__(f"LossTensor is inf or nan at step {step}: training stopped; {kept}.")


class Reporter(Protocol):
    """Receives every step's metrics (host floats) after the step completed."""

    def report(self, step: int, metrics: Mapping[str, float], now: float) -> None:
        """``step``: the global step reached; ``now``: ``time.monotonic()``."""

    def close(self) -> None:
        """Flushes and releases resources."""


@dataclasses.dataclass
class LoopResult:
    """How a ``train_loop`` ended.

    Attributes:
      state: the final train state.
      step: its global step.
      stop_reason: ``'max_steps'``, ``'end_of_data'`` or ``'signal'``.
      metrics: the last step's metrics (host floats).
    """

    state: Any
    step: int
    stop_reason: str
    metrics: dict[str, float]


class _StopRequest:
    """Turns SIGTERM/SIGINT into a flag while active (main thread only)."""

    SIGNALS = (signal.SIGTERM, signal.SIGINT)

    def __init__(self):
        self.signal_name: str | None = None

    def _handle(self, signum, frame):
        del frame
        self.signal_name = signal.Signals(signum).name

    @contextlib.contextmanager
    def installed(self) -> Iterator[_StopRequest]:
        if threading.current_thread() is not threading.main_thread():
            yield self
            return
        previous = {s: signal.signal(s, self._handle) for s in self.SIGNALS}
        try:
            yield self
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)


def _host(metrics: Mapping[str, jax.Array]) -> dict[str, float]:
    return {k: float(v) for k, v in jax.device_get(dict(metrics)).items()}


def _across_processes(*flags: bool) -> tuple[bool, ...]:
    """Each flag OR-ed over the processes, so that all save (a collective) and stop together
    even when only one got the signal or its clock said "save"."""
    if jax.process_count() == 1:
        return flags
    gathered = np.asarray(multihost_utils.process_allgather(np.asarray(flags, np.int32)))
    return tuple(bool(v) for v in gathered.reshape(-1, len(flags)).any(axis=0))


def _data_state(batches: Any) -> dict[str, Any] | None:
    return batches.get_state() if hasattr(batches, "get_state") else None


def restore_or_init(checkpointer: Checkpointer | None, init_state: Any, batches: Any,
                    abstract_state: Any | None = None) -> tuple[Any, bool]:
    """The latest checkpoint's state (and the data position set on ``batches``), or
    ``init_state()`` when there is none.

    Args:
      checkpointer: the run's checkpointer (None: always init).
      init_state: ``() -> state``, called only without a checkpoint.
      batches: the data iterator (its ``set_state`` is called on restore).
      abstract_state: the restore template (default ``jax.eval_shape(init_state)``;
        pass one with shardings for sharded runs).

    Returns:
      ``(state, restored)``.
    """
    if checkpointer is None or checkpointer.latest_step() is None:
        return init_state(), False
    template = abstract_state if abstract_state is not None else jax.eval_shape(init_state)
    state, data_state = checkpointer.restore(template, _data_state(batches))
    if data_state and hasattr(batches, "set_state"):
        batches.set_state(data_state)
    return state, True


def train_loop(train_step: Any, state: Any, batches: Iterator[Mapping[str, np.ndarray]], *,
               max_steps: int | None, checkpointer: Checkpointer | None = None,
               reporters: Sequence[Reporter] = ()) -> LoopResult:
    """Runs ``train_step`` from ``state`` until ``max_steps`` (global), the data's end or a signal.

    Args:
      train_step: a :class:`jslim.train_step.TrainStep` (``mesh`` and ``(state, batch) ->
        (state, metrics)``).
      state: the starting state (fresh, warm-started or restored).
      batches: this process's batches (see the module docstring).
      max_steps: stop at this global step (None: when the data ends).
      checkpointer: saves by its policy, and always the final step.
      reporters: receive each step's metrics.

    Returns:
      A :class:`LoopResult`.

    Raises:
      NonFiniteLossError: a step's loss was inf or NaN.
    """
    step = int(jax.device_get(state.step))
    stop, reason, pending, last = _StopRequest(), "max_steps", None, {}

    def check(entry):
        nonlocal last
        at, metrics = entry
        last = _host(metrics)
        if not last.get("finite", 1.0):
            if checkpointer is not None:
                checkpointer.wait()
            raise NonFiniteLossError(at, checkpointer.latest_step() if checkpointer else None)
        for reporter in reporters:
            reporter.report(at, last, time.monotonic())

    with stop.installed(), contextlib.ExitStack() as closing:
        for reporter in reporters:
            closing.callback(reporter.close)
        while max_steps is None or step < max_steps:
            try:
                local = next(batches)
            except StopIteration:
                reason = "end_of_data"
                break
            state, metrics = train_step(state, sharding.global_batch(local, train_step.mesh))
            step += 1
            if pending is not None:
                check(pending)
            pending = (step, metrics)
            save, stopping = _across_processes(checkpointer is not None and checkpointer.due(step),
                                               stop.signal_name is not None)
            if save or stopping:
                check(pending)
                pending = None
                if checkpointer is not None:
                    checkpointer.save(step, state, _data_state(batches))
            if stopping:
                reason = "signal"
                break
        if pending is not None:
            check(pending)
        if checkpointer is not None:
            checkpointer.save(step, state, _data_state(batches))
            checkpointer.wait()
    return LoopResult(state, step, reason, last)
