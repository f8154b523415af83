"""Pooling layers with TF-Slim's defaults (stride 2, ``'VALID'``) and TF's padding.

``avg_pool*`` with ``'SAME'`` padding divides each window's sum by the number
of *valid* (non-padding) elements, as TF does; ``max_pool*`` pads with -inf.
"""

from __future__ import annotations

from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np

from jslim.layers import initializers
from jslim.layers.conv import channels_last, n_tuple
from jslim.layers.variable_scope import model_variable, variable_scope
from jslim.scopes import add_arg_scope

__all__ = ["avg_pool2d", "avg_pool3d", "max_pool2d", "max_pool3d", "pool_window", "spatial_softmax"]


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
    for n, k, (lo, hi) in zip(sizes, kernel, pads):
        if n + lo + hi < k:
            raise ValueError(
                f"pooling window {kernel} is larger than the {padding}-padded input {tuple(sizes)} "
                f"(input shape {inputs.shape}); use a smaller kernel, 'SAME' padding or a larger input."
            )
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
    return summed / jnp.asarray(_valid_counts(inputs.shape, summed.shape, window, strides, pads), inputs.dtype)


def _valid_counts(in_shape, out_shape, window, strides, pads) -> np.ndarray:
    """Non-padding elements per output window, computed with numpy at trace time.

    The count is separable: per axis, ``min(start + k, n) - max(start, 0)``, and the
    window's count is their product. (A reduce_window over ones is folded by XLA
    too, but costs seconds of compile time per pooling layer.)
    """
    counts = np.ones((1,) * len(in_shape))
    for axis, (n, k, s, (lo, _), m) in enumerate(zip(in_shape, window, strides, pads, out_shape)):
        start = np.arange(m) * s - lo
        shape = [1] * len(in_shape)
        shape[axis] = m
        counts = counts * (np.minimum(start + k, n) - np.maximum(start, 0)).reshape(shape)
    return counts


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


@add_arg_scope
def spatial_softmax(
    features: jax.Array,
    temperature: float | None = None,
    name: str | None = None,
    trainable: bool = True,
    data_format: str = "NHWC",
) -> jax.Array:
    """Expected 2-D keypoint of each channel, like ``slim.spatial_softmax``.

    A softmax over each channel's ``H * W`` positions (logits divided by the
    variable ``<name>/temperature``, a scalar initialized to ``temperature`` or
    1; trainable unless ``trainable=False``, then in ``non_trainable``) weights
    the coordinates ``x = linspace(-1, 1, H)`` (rows) and ``y = linspace(-1, 1,
    W)`` (columns). Default name ``spatial_softmax``.

    Args:
      features: ``[N, H, W, C]`` (``'NHWC'``) or ``[N, C, H, W]`` (``'NCHW'``).
      temperature: initial temperature (default 1).
      name: the variable scope.
      trainable: whether the temperature is trainable.
      data_format: ``'NHWC'`` or ``'NCHW'``.

    Returns:
      ``[N, 2 * C]`` keypoints arranged ``[x1, y1, ..., xC, yC]``.
    """
    if data_format == "NHWC":
        _, height, width, channels = features.shape
        features = jnp.transpose(features, (0, 3, 1, 2))
    elif data_format == "NCHW":
        _, channels, height, width = features.shape
    else:
        raise ValueError("data_format has to be either NCHW or NHWC.")
    pos_x, pos_y = jnp.meshgrid(
        jnp.linspace(-1.0, 1.0, height, dtype=jnp.float32),
        jnp.linspace(-1.0, 1.0, width, dtype=jnp.float32),
        indexing="ij",
    )
    init = initializers.ones_initializer() if temperature is None else initializers.constant_initializer(temperature)
    with variable_scope(name, default_name="spatial_softmax"):
        temp = model_variable("temperature", (), init, trainable=trainable)
    attention = jax.nn.softmax(features.reshape(-1, height * width) / temp.astype(features.dtype), axis=-1)
    expected_x = jnp.sum(pos_x.reshape(1, -1) * attention, axis=1, keepdims=True)
    expected_y = jnp.sum(pos_y.reshape(1, -1) * attention, axis=1, keepdims=True)
    return jnp.concatenate([expected_x, expected_y], axis=1).reshape(-1, channels * 2)
