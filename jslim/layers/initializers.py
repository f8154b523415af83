"""TF-Slim's initializers with TF's exact distributions.

Each initializer is a frozen dataclass (hashable, so it can sit in an
``arg_scope``) called as ``init(key, shape, dtype) -> array``, the Flax
convention. Random draws use JAX's PRNG, so values differ from TF's while the
distributions are TF's: truncated normals are cut at two standard deviations and
``variance_scaling_initializer`` uses TF-Slim's ``1.3`` correction for them.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp

__all__ = [
    "constant_initializer",
    "ones_initializer",
    "random_normal_initializer",
    "random_uniform_initializer",
    "truncated_normal_initializer",
    "variance_scaling_initializer",
    "xavier_initializer",
    "xavier_initializer_conv2d",
    "zeros_initializer",
]


def _fans(shape: Sequence[int]) -> tuple[float, float]:
    """TF-Slim's fan computation: receptive field times in/out channels."""
    if not shape:
        return 1.0, 1.0
    fan_in = float(shape[-2]) if len(shape) > 1 else float(shape[-1])
    fan_out = float(shape[-1])
    for dim in shape[:-2]:
        fan_in *= dim
        fan_out *= dim
    return fan_in, fan_out


def _truncated_normal(key: jax.Array, shape: Sequence[int], dtype: Any, mean: float, stddev: float) -> jax.Array:
    """TF's truncated normal: a normal resampled outside ``mean +- 2 stddev``."""
    draw = jax.random.truncated_normal(key, -2.0, 2.0, tuple(shape), jnp.float32)
    return (draw * stddev + mean).astype(dtype)


@dataclasses.dataclass(frozen=True)
class constant_initializer:  # pylint: disable=invalid-name
    """Fills with ``value`` (a scalar)."""

    value: float = 0.0

    def __call__(self, key: jax.Array, shape: Sequence[int], dtype: Any = jnp.float32) -> jax.Array:
        del key
        return jnp.full(tuple(shape), self.value, dtype)


def zeros_initializer() -> constant_initializer:
    """``tf.zeros_initializer()``."""
    return constant_initializer(0.0)


def ones_initializer() -> constant_initializer:
    """``tf.ones_initializer()``."""
    return constant_initializer(1.0)


@dataclasses.dataclass(frozen=True)
class truncated_normal_initializer:  # pylint: disable=invalid-name
    """``tf.truncated_normal_initializer(mean, stddev)``: cut at 2 stddev."""

    mean: float = 0.0
    stddev: float = 1.0
    seed: int | None = None

    def __call__(self, key: jax.Array, shape: Sequence[int], dtype: Any = jnp.float32) -> jax.Array:
        return _truncated_normal(key, shape, dtype, self.mean, self.stddev)


@dataclasses.dataclass(frozen=True)
class random_normal_initializer:  # pylint: disable=invalid-name
    """``tf.random_normal_initializer(mean, stddev)``."""

    mean: float = 0.0
    stddev: float = 1.0
    seed: int | None = None

    def __call__(self, key: jax.Array, shape: Sequence[int], dtype: Any = jnp.float32) -> jax.Array:
        return (jax.random.normal(key, tuple(shape), jnp.float32) * self.stddev + self.mean).astype(dtype)


@dataclasses.dataclass(frozen=True)
class random_uniform_initializer:  # pylint: disable=invalid-name
    """``tf.random_uniform_initializer(minval, maxval)``."""

    minval: float = -0.05
    maxval: float = 0.05
    seed: int | None = None

    def __call__(self, key: jax.Array, shape: Sequence[int], dtype: Any = jnp.float32) -> jax.Array:
        return jax.random.uniform(key, tuple(shape), jnp.float32, self.minval, self.maxval).astype(dtype)


@dataclasses.dataclass(frozen=True)
class variance_scaling_initializer:  # pylint: disable=invalid-name
    """TF-Slim's ``variance_scaling_initializer(factor=2.0, mode='FAN_IN', uniform=False)``.

    ``seed`` is accepted for slim compatibility and ignored (draws come from the
    Flax RNG key); ``dtype`` must be floating (the dtype passed at call time wins).
    With ``n`` the fan of ``mode`` (``FAN_AVG`` averages in and out): uniform in
    ``[-sqrt(3 factor / n), +sqrt(3 factor / n)]``, else a truncated normal with
    stddev ``sqrt(1.3 factor / n)``. Fans multiply the receptive field (every
    dimension but the last two) into the in/out channel counts.
    """

    factor: float = 2.0
    mode: str = "FAN_IN"
    uniform: bool = False
    seed: int | None = None
    dtype: Any = jnp.float32

    def __post_init__(self):
        if not jnp.issubdtype(self.dtype, jnp.floating):
            raise TypeError("Cannot create initializer for non-floating point type.")
        if self.mode not in ("FAN_IN", "FAN_OUT", "FAN_AVG"):
            raise TypeError(f"variance_scaling_initializer: unknown mode {self.mode!r}; use FAN_IN, FAN_OUT or FAN_AVG.")

    def fan(self, shape: Sequence[int]) -> float:
        """The ``n`` of the formula for a variable of ``shape``."""
        fan_in, fan_out = _fans(shape)
        return {"FAN_IN": fan_in, "FAN_OUT": fan_out, "FAN_AVG": (fan_in + fan_out) / 2.0}[self.mode]

    def __call__(self, key: jax.Array, shape: Sequence[int], dtype: Any = jnp.float32) -> jax.Array:
        n = self.fan(shape)
        if self.uniform:
            limit = math.sqrt(3.0 * self.factor / n)
            return jax.random.uniform(key, tuple(shape), jnp.float32, -limit, limit).astype(dtype)
        return _truncated_normal(key, shape, dtype, 0.0, math.sqrt(1.3 * self.factor / n))


def xavier_initializer(
    uniform: bool = True, seed: int | None = None, dtype: Any = jnp.float32
) -> variance_scaling_initializer:
    """Glorot/Xavier: ``variance_scaling_initializer(1.0, 'FAN_AVG', uniform)``."""
    return variance_scaling_initializer(factor=1.0, mode="FAN_AVG", uniform=uniform, seed=seed, dtype=dtype)


xavier_initializer_conv2d = xavier_initializer
