"""Pooling layers with TF-Slim's defaults (stride 2, ``'VALID'``) and TF's padding.

``avg_pool*`` with ``'SAME'`` padding divides each window's sum by the number
of *valid* (non-padding) elements, as TF does; ``max_pool*`` pads with -inf.
"""

from __future__ import annotations

from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np

from jslim.layers.conv import channels_last, n_tuple
from jslim.scopes import add_arg_scope

__all__ = ["avg_pool2d", "avg_pool3d", "max_pool2d", "max_pool3d", "pool_window"]


def pool_window(inputs: jax.Array, kernel_size, stride, padding: str, data_format: str, spatial: int):
    """Window dims, strides and padding pairs for ``lax.reduce_window`` over an N-d input."""
    if inputs.ndim != spatial + 2:
        raise ValueError(f"expected a {spatial + 2}-D input, got shape {inputs.shape}.")
    kernel = n_tuple(kernel_size, spatial, "kernel_size")
    strides = n_tuple(stride, spatial, "stride")
    padding = padding.upper()
    if padding not in ("SAME", "VALID"):
        raise ValueError(f"padding must be 'SAME' or 'VALID', got {padding!r}.")
    sizes = inputs.shape[1:-1] if channels_last(data_format, inputs.ndim) else inputs.shape[2:]
    pads = jax.lax.padtype_to_pads(sizes, kernel, strides, padding)
    if channels_last(data_format, inputs.ndim):
        return (1, *kernel, 1), (1, *strides, 1), ((0, 0), *pads, (0, 0))
    return (1, 1, *kernel), (1, 1, *strides), ((0, 0), (0, 0), *pads)


def _max_pool(inputs, kernel_size, stride, padding, data_format, spatial):
    window, strides, pads = pool_window(inputs, kernel_size, stride, padding, data_format, spatial)
    # A Python-scalar identity lets JAX pick its differentiable max/add pooling primitives.
    return jax.lax.reduce_window(inputs, -jnp.inf, jax.lax.max, window, strides, pads)


def _avg_pool(inputs, kernel_size, stride, padding, data_format, spatial):
    window, strides, pads = pool_window(inputs, kernel_size, stride, padding, data_format, spatial)
    summed = jax.lax.reduce_window(inputs, 0.0, jax.lax.add, window, strides, pads)
    if all(lo == 0 and hi == 0 for lo, hi in pads):
        return summed / np.prod(window)
    # Count the valid elements of each window (a constant, folded by XLA).
    ones = jnp.ones((1, *inputs.shape[1:]), inputs.dtype)
    counts = jax.lax.reduce_window(ones, 0.0, jax.lax.add, window, strides, pads)
    return summed / counts


@add_arg_scope
def max_pool2d(
    inputs: jax.Array,
    kernel_size: int | Sequence[int],
    stride: int | Sequence[int] = 2,
    padding: str = "VALID",
    data_format: str = "NHWC",
    scope: str | None = None,
) -> jax.Array:
    """2-D max pooling, like ``slim.max_pool2d``: ``[N, H, W, C] -> [N, oh, ow, C]``."""
    del scope
    return _max_pool(inputs, kernel_size, stride, padding, data_format, 2)


@add_arg_scope
def avg_pool2d(
    inputs: jax.Array,
    kernel_size: int | Sequence[int],
    stride: int | Sequence[int] = 2,
    padding: str = "VALID",
    data_format: str = "NHWC",
    scope: str | None = None,
) -> jax.Array:
    """2-D average pooling, like ``slim.avg_pool2d`` (``'SAME'`` pads are not averaged)."""
    del scope
    return _avg_pool(inputs, kernel_size, stride, padding, data_format, 2)


@add_arg_scope
def max_pool3d(
    inputs: jax.Array,
    kernel_size: int | Sequence[int],
    stride: int | Sequence[int] = 2,
    padding: str = "VALID",
    data_format: str = "NDHWC",
    scope: str | None = None,
) -> jax.Array:
    """3-D max pooling, like ``slim.max_pool3d``: ``[N, D, H, W, C] -> [N, od, oh, ow, C]``."""
    del scope
    return _max_pool(inputs, kernel_size, stride, padding, data_format, 3)


@add_arg_scope
def avg_pool3d(
    inputs: jax.Array,
    kernel_size: int | Sequence[int],
    stride: int | Sequence[int] = 2,
    padding: str = "VALID",
    data_format: str = "NDHWC",
    scope: str | None = None,
) -> jax.Array:
    """3-D average pooling, like ``slim.avg_pool3d`` (``'SAME'`` pads are not averaged)."""
    del scope
    return _avg_pool(inputs, kernel_size, stride, padding, data_format, 3)
