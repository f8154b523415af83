"""The plain TensorFlow ops the GAN nets (DCGAN, CycleGAN, pix2pix) call besides slim layers.

* :func:`leaky_relu`: ``tf.nn.leaky_relu`` (slope 0.2, TF's default).
* :func:`pad_spatial`: ``tf.pad`` of the two spatial axes of an NHWC tensor,
  modes ``'CONSTANT'``, ``'REFLECT'``, ``'SYMMETRIC'`` (case-insensitive, as in TF).
* :func:`resize_nearest`: ``tf.image.resize(..., NEAREST_NEIGHBOR)`` by integer
  factors (each output pixel ``i`` reads input ``i // factor`` in every TF
  convention).
* :func:`resize_bilinear`: ``tf.compat.v1.image.resize_bilinear`` (legacy
  coordinates ``i * in / out``, or ``align_corners``), with TF's interpolation order.
"""

from __future__ import annotations

from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["leaky_relu", "pad_spatial", "resize_bilinear", "resize_nearest"]

_PAD_MODES = {"CONSTANT": "constant", "REFLECT": "reflect", "SYMMETRIC": "symmetric"}


def leaky_relu(x: jax.Array) -> jax.Array:
    """``tf.nn.leaky_relu(x)``: ``max(x, 0.2 * x)``."""
    return jax.nn.leaky_relu(x, negative_slope=0.2)


def pad_spatial(x: jax.Array, pads: Sequence[Sequence[int]], mode: str = "CONSTANT") -> jax.Array:
    """``tf.pad(x, [[0, 0], pads[0], pads[1], [0, 0]], mode)`` for ``x`` ``[N, H, W, C]``.

    Raises:
      ValueError: an unknown mode, or a reflection wider than the input allows (TF's rules:
        ``REFLECT`` pads < size, ``SYMMETRIC`` pads <= size).
    """
    key = str(mode).upper()
    if key not in _PAD_MODES:
        raise ValueError(f"pad mode must be one of {sorted(_PAD_MODES)} (any case), got {mode!r}.")
    (top, bottom), (left, right) = ((int(a), int(b)) for a, b in pads)
    if min(top, bottom, left, right) < 0:
        raise ValueError(f"paddings must be non-negative, got {[list(p) for p in pads]}.")
    limit = {"REFLECT": 1, "SYMMETRIC": 0}.get(key)
    if limit is not None:
        height, width = x.shape[1:3]
        if max(top, bottom) > height - limit or max(left, right) > width - limit:
            raise ValueError(f"{key} padding {[list(p) for p in pads]} is too large for a {height}x{width} input.")
    return jnp.pad(x, ((0, 0), (top, bottom), (left, right), (0, 0)), mode=_PAD_MODES[key])


def resize_nearest(x: jax.Array, factors: Sequence[int]) -> jax.Array:
    """Nearest-neighbour upsampling of ``[N, H, W, C]`` by integer ``factors`` ``[fh, fw]``."""
    fh, fw = (int(f) for f in factors)
    if fh < 1 or fw < 1:
        raise ValueError(f"resize factors must be positive ints, got {list(factors)}.")
    return jnp.repeat(jnp.repeat(x, fh, axis=1), fw, axis=2)


def _bilinear_taps(in_size: int, out_size: int, align_corners: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """TF's legacy bilinear taps: (lower index, upper index, float32 lerp) per output index."""
    if align_corners and out_size > 1:
        scale = np.float32(in_size - 1) / np.float32(out_size - 1)
    else:
        scale = np.float32(in_size) / np.float32(out_size)
    src = np.arange(out_size, dtype=np.float32) * np.float32(scale)
    lower = np.floor(src)
    lerp = (src - lower).astype(np.float32)
    lower = lower.astype(np.int64)
    upper = np.minimum(lower + 1, in_size - 1)
    return lower, upper, lerp


def resize_bilinear(x: jax.Array, size: Sequence[int], align_corners: bool = False) -> jax.Array:
    """``tf.compat.v1.image.resize_bilinear(x, size, align_corners)`` for ``x`` ``[N, H, W, C]``.

    Source coordinate ``i * in / out`` (``i * (in - 1) / (out - 1)`` with
    ``align_corners``); ``top = tl + (tr - tl) * dx``, ``bottom = bl + (br - bl)
    * dx``, ``out = top + (bottom - top) * dy``, in float32.
    """
    out_h, out_w = (int(s) for s in size)
    y0, y1, dy = _bilinear_taps(x.shape[1], out_h, align_corners)
    x0, x1, dx = _bilinear_taps(x.shape[2], out_w, align_corners)
    x = x.astype(jnp.float32)
    top_rows, bottom_rows = x[:, y0], x[:, y1]
    dx = jnp.asarray(dx).reshape(1, 1, -1, 1)
    top = top_rows[:, :, x0] + (top_rows[:, :, x1] - top_rows[:, :, x0]) * dx
    bottom = bottom_rows[:, :, x0] + (bottom_rows[:, :, x1] - bottom_rows[:, :, x0]) * dx
    return top + (bottom - top) * jnp.asarray(dy).reshape(1, -1, 1, 1)
