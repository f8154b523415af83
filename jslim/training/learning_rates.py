"""Learning-rate schedules of ``train_image_classifier._configure_learning_rate``.

A schedule maps the global step (the number of updates applied so far, as TF's
``global_step`` read by the train op) to the learning rate, and works on ints and
traced int arrays alike.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import jax
import jax.numpy as jnp

__all__ = ["DECAY_TYPES", "LearningRateFlags", "configure_learning_rate", "exponential_decay", "polynomial_decay"]

Schedule = Callable[[jax.Array | int], jax.Array]
DECAY_TYPES = ("exponential", "fixed", "polynomial")


def exponential_decay(learning_rate: float, decay_steps: int, decay_rate: float, staircase: bool = False) -> Schedule:
    """``tf.train.exponential_decay``: ``lr * decay_rate ** (step / decay_steps)`` (floored if staircase)."""
    if decay_steps <= 0:
        raise ValueError(f"exponential_decay: decay_steps must be positive, got {decay_steps}.")

    def schedule(step):
        p = jnp.asarray(step, jnp.float32) / decay_steps
        return learning_rate * jnp.power(jnp.float32(decay_rate), jnp.floor(p) if staircase else p)

    return schedule


def polynomial_decay(learning_rate: float, decay_steps: int, end_learning_rate: float = 0.0001,
                     power: float = 1.0) -> Schedule:
    """``tf.train.polynomial_decay`` (``cycle=False``): from ``learning_rate`` to
    ``end_learning_rate`` over ``decay_steps``, then constant."""
    if decay_steps <= 0:
        raise ValueError(f"polynomial_decay: decay_steps must be positive, got {decay_steps}.")

    def schedule(step):
        p = jnp.minimum(jnp.asarray(step, jnp.float32), decay_steps) / decay_steps
        return (learning_rate - end_learning_rate) * jnp.power(1 - p, power) + end_learning_rate

    return schedule


def _fixed(learning_rate: float) -> Schedule:
    return lambda step: jnp.full((), learning_rate, jnp.float32)


@dataclasses.dataclass(frozen=True)
class LearningRateFlags:
    """The learning-rate flags of ``train_image_classifier.py``, with slim's defaults."""

    learning_rate: float = 0.01
    learning_rate_decay_type: str = "exponential"
    learning_rate_decay_factor: float = 0.94
    num_epochs_per_decay: float = 2.0
    end_learning_rate: float = 0.0001
    warmup_epochs: float = 0.0


def configure_learning_rate(flags: LearningRateFlags, num_samples_per_epoch: int, batch_size: int) -> Schedule:
    """slim's ``_configure_learning_rate``.

    ``decay_steps = int(num_samples_per_epoch / batch_size * num_epochs_per_decay)``;
    ``exponential`` is staircase; ``polynomial`` has power 1; a positive
    ``warmup_epochs`` caps the rate by ``lr * step / (steps_per_epoch * warmup_epochs)``.

    Raises:
      ValueError: an unknown ``learning_rate_decay_type`` (named in the message).
    """
    steps_per_epoch = num_samples_per_epoch / batch_size
    decay_steps = max(int(steps_per_epoch * flags.num_epochs_per_decay), 1)
    if flags.learning_rate_decay_type == "exponential":
        schedule = exponential_decay(flags.learning_rate, decay_steps, flags.learning_rate_decay_factor, staircase=True)
    elif flags.learning_rate_decay_type == "fixed":
        schedule = _fixed(flags.learning_rate)
    elif flags.learning_rate_decay_type == "polynomial":
        schedule = polynomial_decay(flags.learning_rate, decay_steps, flags.end_learning_rate, power=1.0)
    else:
        raise ValueError(f"learning_rate_decay_type [{flags.learning_rate_decay_type}] was not recognized; "
                         f"valid: {', '.join(DECAY_TYPES)}.")
    if not flags.warmup_epochs:
        return schedule
    warmup_steps = steps_per_epoch * flags.warmup_epochs
    return lambda step: jnp.minimum(flags.learning_rate * jnp.asarray(step, jnp.float32) / warmup_steps, schedule(step))
