"""``tf.train.ExponentialMovingAverage`` over a weights tree (slim's ``moving_average_decay``)."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

__all__ = ["ema_decay", "update_moving_averages"]


def ema_decay(decay: float, num_updates: jax.Array | int | None = None) -> jax.Array:
    """TF's effective decay: ``min(decay, (1 + num_updates) / (10 + num_updates))``."""
    decay = jnp.float32(decay)
    if num_updates is None:
        return decay
    n = jnp.asarray(num_updates, jnp.float32)
    return jnp.minimum(decay, (1.0 + n) / (10.0 + n))


def update_moving_averages(averages: Any, values: Any, decay: float, num_updates: jax.Array | int | None = None) -> Any:
    """``shadow -= (1 - d) * (shadow - value)`` for every leaf, ``d = ema_decay(decay, num_updates)``.

    The train step passes the incremented step as ``num_updates``, like an
    ``ExponentialMovingAverage(decay, num_updates=global_step).apply()`` run after the
    train op (the pattern of TF's docstring). Shadows start equal to the weights.
    """
    one_minus = 1.0 - ema_decay(decay, num_updates)
    return jax.tree.map(lambda s, v: s - (s - v) * one_minus.astype(s.dtype), averages, values)
