"""Evaluation like ``slim.evaluation``: ``evaluate_once`` and ``evaluation_loop``.

Metrics stream over batches as mergeable sufficient statistics (:mod:`jslim.metrics`);
the last partial batch is padded and masked (``batch['mask']``), so every example counts
exactly once (slim's ``tf.train.batch`` repeated or dropped examples instead).

::

    eval_step = make_eval_step(model, use_moving_averages=False)
    results = evaluate_once(eval_step, state, batches)     # {'Accuracy': 0.98, 'Recall_5': 1.0}
    for step, results in evaluation_loop(eval_step, make_batches, train_dir, timeout=600):
        ...
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

import jax
import numpy as np

from jslim.train_step import EvalStep, TrainState
from jslim.training import checkpointing, sharding

__all__ = ["checkpoints_iterator", "evaluate_once", "evaluation_loop", "state_from_checkpoint"]


def evaluate_once(eval_step: EvalStep, state: TrainState, batches: Iterable[Mapping[str, np.ndarray]], *,
                  summary_writer: Any = None) -> dict[str, float]:
    """Streams ``batches`` through ``eval_step`` and computes the metrics.

    Args:
      eval_step: from :func:`jslim.train_step.make_eval_step`.
      state: the weights (a ``TrainState``; only params, batch_stats, EMA are used).
      batches: this process's ``{'images', 'labels', 'mask'}`` batches.
      summary_writer: if given (tensorboardX), ``eval/<name>`` scalars at ``state.step``.

    Returns:
      ``{metric name: value}``.

    Raises:
      ValueError: no batch at all.
    """
    stats = None
    for local in batches:
        batch_stats = eval_step(state, sharding.global_batch(local, eval_step.mesh))
        stats = batch_stats if stats is None else eval_step.metric.merge(stats, batch_stats)
    if stats is None:
        raise ValueError("evaluate_once: the evaluation data yielded no batch.")
    results = {k: float(v) for k, v in jax.device_get(eval_step.metric.compute(stats)).items()}
    if summary_writer is not None:
        step = int(jax.device_get(state.step))
        for name, value in results.items():
            summary_writer.add_scalar(f"eval/{name}", value, step)
        summary_writer.flush()
    return results


def state_from_checkpoint(path: str | os.PathLike, step: int | None = None) -> TrainState:
    """The weights of a jslim checkpoint as a ``TrainState`` (no optimizer state), for eval.

    Args:
      path: a run (``train_dir``), its checkpoints directory, or a step directory.
      step: which step (default: latest, or the one ``path`` names).
    """
    _, tree = checkpointing.read_checkpoint(path, step)
    saved = tree["state"]
    return TrainState(step=np.asarray(saved["step"]), params=saved["params"],
                      batch_stats=saved.get("batch_stats") or {}, opt_state=None,
                      ema_params=saved.get("ema_params") or None, rng=np.asarray(saved["rng"]),
                      non_trainable=saved.get("non_trainable") or {})


def checkpoints_iterator(train_dir: str | os.PathLike, min_interval_secs: float = 0.0, timeout: float | None = None,
                         timeout_fn: Callable[[], bool] | None = None,
                         sleep: Callable[[float], None] = time.sleep,
                         clock: Callable[[], float] = time.monotonic) -> Iterator[int]:
    """Yields each new checkpoint step of a run as it appears (slim's ``checkpoints_iterator``).

    Args:
      train_dir: the run being trained.
      min_interval_secs: at least this long between yields.
      timeout: stop after this many seconds without a new checkpoint (None: never).
      timeout_fn: called on a timeout; returning True stops, False waits again.
      sleep, clock: injectable for tests.
    """
    last, poll = None, max(min(min_interval_secs, 1.0), 0.05)
    while True:
        waited_since = clock()
        while (step := checkpointing.latest_step(train_dir)) is None or step == last:
            if timeout is not None and clock() - waited_since >= timeout:
                if timeout_fn is None or timeout_fn():
                    return
                waited_since = clock()
            sleep(poll)
        started = clock()
        last = step
        yield step
        remaining = min_interval_secs - (clock() - started)
        if remaining > 0:
            sleep(remaining)


def evaluation_loop(eval_step: EvalStep, make_batches: Callable[[], Iterable[Mapping[str, np.ndarray]]],
                    train_dir: str | os.PathLike, *, eval_interval_secs: float = 60.0, timeout: float | None = None,
                    max_number_of_evaluations: int | None = None, summary_writer: Any = None,
                    on_result: Callable[[int, dict[str, float]], None] | None = None
                    ) -> list[tuple[int, dict[str, float]]]:
    """Evaluates each new checkpoint of ``train_dir`` (slim's ``evaluation_loop``).

    Args:
      eval_step: the compiled eval step.
      make_batches: a fresh pass over the evaluation data.
      train_dir: the run to watch.
      eval_interval_secs: at least this long between evaluations.
      timeout: stop after this long without a new checkpoint.
      max_number_of_evaluations: stop after this many (None: no limit).
      summary_writer: writes ``eval/<name>`` at each checkpoint's step.
      on_result: called with ``(step, results)`` after each evaluation.

    Returns:
      ``[(step, results), ...]`` in order.
    """
    done = []
    if max_number_of_evaluations is not None and max_number_of_evaluations <= 0:
        return done
    for step in checkpoints_iterator(train_dir, eval_interval_secs, timeout):
        results = evaluate_once(eval_step, state_from_checkpoint(train_dir, step), make_batches(),
                                summary_writer=summary_writer)
        done.append((step, results))
        if on_result is not None:
            on_result(step, results)
        if max_number_of_evaluations is not None and len(done) >= max_number_of_evaluations:
            break
    return done
