"""S3D-G (gated separable 3-D Inception v1), as in research/slim ``nets/s3dg.py``.

Xie et al., "Rethinking Spatiotemporal Feature Learning For Video
Understanding" (arXiv:1712.04851). Outside ``nets_factory`` (see
:mod:`jslim.nets.extra`). Variables keep Inception v1's names
(``InceptionV1/Mixed_3b/Branch_1/Conv2d_0b_3x3/weights``...), so image-trained
Inception v1 checkpoints map onto them.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import ClassVar

import flax.linen as nn
import jax

from jslim import layers
from jslim.nets.i3d_utils import (
    VideoNet,
    conv3d_spatiotemporal,
    inception_block_v1_3d,
    video_arg_scope,
    video_logits_head,
)
from jslim.scopes import arg_scope

__all__ = ["END_POINTS", "S3DG", "s3dg_arg_scope", "s3dg_base", "self_gating"]

# The end points of s3dg_base, in order.
END_POINTS = (
    "Conv2d_1a_7x7",
    "MaxPool_2a_3x3",
    "Conv2d_2b_1x1",
    "Conv2d_2c_3x3",
    "MaxPool_3a_3x3",
    "Mixed_3b",
    "Mixed_3c",
    "MaxPool_4a_3x3",
    "Mixed_4b",
    "Mixed_4c",
    "Mixed_4d",
    "Mixed_4e",
    "Mixed_4f",
    "MaxPool_5a_2x2",
    "Mixed_5b",
    "Mixed_5c",
)

# Max pools: (kernel, stride), both [t, h, w].
_POOLS = {
    "MaxPool_2a_3x3": ((1, 3, 3), (1, 2, 2)),
    "MaxPool_3a_3x3": ((1, 3, 3), (1, 2, 2)),
    "MaxPool_4a_3x3": ((3, 3, 3), (2, 2, 2)),
    "MaxPool_5a_2x2": ((2, 2, 2), (2, 2, 2)),
}

# Inception blocks: depths of Branch_0 1x1, Branch_1 1x1 / 3x3, Branch_2 1x1 / 3x3, Branch_3 1x1.
_MIXED = {
    "Mixed_3b": (64, 96, 128, 16, 32, 32),
    "Mixed_3c": (128, 128, 192, 32, 96, 64),
    "Mixed_4b": (192, 96, 208, 16, 48, 64),
    "Mixed_4c": (160, 112, 224, 24, 64, 64),
    "Mixed_4d": (128, 128, 256, 24, 64, 64),
    "Mixed_4e": (112, 144, 288, 32, 64, 64),
    "Mixed_4f": (256, 160, 320, 32, 128, 128),
    "Mixed_5b": (256, 160, 320, 32, 128, 128),
    "Mixed_5c": (384, 192, 384, 48, 128, 128),
}

# Where temporal_conv_startat / gating_startat take effect (slim checks no other names).
_SWITCH_POINTS = ("Conv2d_2c_3x3", *_MIXED)


def s3dg_arg_scope(
    weight_decay: float = 1e-7,
    batch_norm_decay: float = 0.999,
    batch_norm_epsilon: float = 0.001,
) -> contextlib.AbstractContextManager:
    """slim's ``s3dg_arg_scope``: :func:`video_arg_scope` with separable spatiotemporal convolutions."""
    return video_arg_scope(weight_decay, batch_norm_decay, batch_norm_epsilon, use_renorm=False, separable=True)


def self_gating(input_tensor: jax.Array, scope: str, data_format: str = "NDHWC") -> jax.Array:
    """S3D-G's feature gating: ``x * sigmoid(W @ mean(x))`` per example and channel.

    The mean over all frames and positions (``<scope>/self_gating/avg_pool3d``)
    goes through a ``[1, 1, 1]`` convolution without biases
    (``<scope>/self_gating/transformer_W/weights``, ``[C, C]``, truncated normal
    0.01) and a sigmoid, and scales every position.

    Args:
      input_tensor: ``[N, T, H, W, C]`` (``'NDHWC'``) or ``[N, C, T, H, W]``.
      scope: the scope the gating variables go under.
      data_format: ``'NDHWC'`` or ``'NCDHW'``.

    Returns:
      The gated tensor, same shape.

    Raises:
      ValueError: a non-square ``H != W`` (slim pools with the window ``[T, W, H]``,
        which only fits a square map).
    """
    shape = input_tensor.shape
    t, h, w = (shape[data_format.index(axis)] for axis in "DHW")
    num_channels = shape[data_format.index("C")]
    if h != w:
        raise ValueError(
            f"self_gating needs square feature maps (slim pools over [T, W, H] = {[t, w, h]}), got H={h}, W={w}."
        )
    pooled = layers.avg_pool3d(
        input_tensor, [t, w, h], stride=1, data_format=data_format, scope=scope + "/self_gating/avg_pool3d"
    )
    weights = layers.conv3d(
        pooled, num_channels, [1, 1, 1], activation_fn=None, normalizer_fn=None, biases_initializer=None,
        data_format=data_format, weights_initializer=layers.truncated_normal_initializer(0.0, 0.01),
        scope=scope + "/self_gating/transformer_W",
    )
    # slim tiles the [N, 1, 1, 1, C] weights to the input's shape; broadcasting is the same.
    return jax.nn.sigmoid(weights) * input_tensor


def _check_options(final_endpoint: str, first_temporal_kernel_size: int, depth_multiplier: float, data_format: str):
    if final_endpoint not in END_POINTS:
        raise ValueError(f"Unknown final endpoint {final_endpoint!r}; valid: {', '.join(END_POINTS)}.")
    if first_temporal_kernel_size not in (1, 3, 5, 7):
        raise ValueError(f"first_temporal_kernel_size can only be 1, 3, 5 or 7, got {first_temporal_kernel_size!r}.")
    if depth_multiplier <= 0:
        raise ValueError(f"depth_multiplier is not greater than zero: {depth_multiplier!r}.")
    if data_format not in ("NDHWC", "NCDHW"):
        raise ValueError(f"data_format must be 'NDHWC' or 'NCDHW', got {data_format!r}.")


def s3dg_base(
    inputs: jax.Array,
    first_temporal_kernel_size: int = 3,
    temporal_conv_startat: str | None = "Conv2d_2c_3x3",
    gating_startat: str | None = "Conv2d_2c_3x3",
    final_endpoint: str = "Mixed_5c",
    min_depth: int = 16,
    depth_multiplier: float = 1.0,
    data_format: str = "NDHWC",
    scope: str | None = "InceptionV1",
) -> tuple[jax.Array, dict[str, jax.Array]]:
    """The I3D / S3D-G base up to ``final_endpoint``, like slim's ``s3dg_base``.

    Call inside a Flax ``@nn.compact`` method. ``Conv2d_1a_7x7`` is a full 3-D
    convolution ``[first_temporal_kernel_size, 7, 7]`` stride 2;
    ``Conv2d_2c_3x3`` and the ``Mixed`` blocks use temporal kernel 1 (2-D
    convolutions as ``[1, k, k]``) until ``temporal_conv_startat``, 3 from
    there on (separable under :func:`s3dg_arg_scope`), and :func:`self_gating`
    from ``gating_startat`` on (a name other than ``Conv2d_2c_3x3``/``Mixed_*``,
    e.g. None, never switches, as in slim). End points for a ``[N, 64, 224,
    224, 3]`` clip: Conv2d_1a_7x7 [N, 32, 112, 112, 64], MaxPool_2a_3x3 [.., 32,
    56, 56, 64], Conv2d_2b_1x1 [.., 64], Conv2d_2c_3x3 [.., 192], MaxPool_3a_3x3
    [N, 32, 28, 28, 192], Mixed_3b [.., 256], Mixed_3c [.., 480], MaxPool_4a_3x3
    [N, 16, 14, 14, 480], Mixed_4b..4d [.., 512], Mixed_4e [.., 528], Mixed_4f
    [.., 832], MaxPool_5a_2x2 [N, 8, 7, 7, 832], Mixed_5b [.., 832], Mixed_5c
    [N, 8, 7, 7, 1024].

    Note (slim's behaviour, kept): with ``'NCDHW'`` the batch norm that
    ``normalizer_fn`` applies still normalizes the *last* axis (W), since
    slim's ``batch_norm`` defaults to channels-last and the convolution does
    not pass ``data_format`` on.

    Args:
      inputs: ``[N, T, H, W, C]`` (``'NDHWC'``) or ``[N, C, T, H, W]`` (``'NCDHW'``).
      first_temporal_kernel_size: 1, 3, 5 or 7.
      temporal_conv_startat: the first block with a temporal kernel of 3.
      gating_startat: the first block with self-gating.
      final_endpoint: the last end point built.
      min_depth: the smallest depth any convolution gets.
      depth_multiplier: scales every depth: ``max(int(d * m), min_depth)``.
      data_format: ``'NDHWC'`` or ``'NCDHW'``.
      scope: the variable scope.

    Returns:
      ``(output of final_endpoint, end_points)``.

    Raises:
      ValueError: an unknown ``final_endpoint`` (the message lists the valid
        ones), a bad ``first_temporal_kernel_size``, ``depth_multiplier <= 0``,
        a bad ``data_format``.
    """
    _check_options(final_endpoint, first_temporal_kernel_size, depth_multiplier, data_format)

    def depth(d: int) -> int:
        return max(int(d * depth_multiplier), min_depth)

    def gating_fn(net: jax.Array, scope: str) -> jax.Array:
        return self_gating(net, scope, data_format=data_format)

    end_points: dict[str, jax.Array] = {}
    t, gating, net = 1, None, inputs
    with layers.variable_scope(scope, default_name="InceptionV1"):
        with arg_scope([layers.conv3d], weights_initializer=layers.truncated_normal_initializer(0.0, 0.01)):
            with arg_scope(
                [layers.conv3d, layers.max_pool3d, conv3d_spatiotemporal],
                stride=1, data_format=data_format, padding="SAME",
            ):
                for end_point in END_POINTS:
                    if end_point in _SWITCH_POINTS:
                        t = 3 if end_point == temporal_conv_startat else t
                        gating = gating_fn if end_point == gating_startat else gating
                    if end_point == "Conv2d_1a_7x7":
                        # Separable conv is slow when used at the first conv layer.
                        net = conv3d_spatiotemporal(
                            net, depth(64), [first_temporal_kernel_size, 7, 7], stride=2, separable=False,
                            scope=end_point,
                        )
                    elif end_point == "Conv2d_2b_1x1":
                        net = layers.conv3d(net, depth(64), [1, 1, 1], scope=end_point)
                    elif end_point == "Conv2d_2c_3x3":
                        net = conv3d_spatiotemporal(net, depth(192), [t, 3, 3], scope=end_point)
                        net = gating(net, end_point) if gating is not None else net
                    elif end_point in _POOLS:
                        kernel, stride = _POOLS[end_point]
                        net = layers.max_pool3d(net, kernel, stride=stride, scope=end_point)
                    else:
                        net = inception_block_v1_3d(
                            net, *(depth(d) for d in _MIXED[end_point]), temporal_kernel_size=t,
                            self_gating_fn=gating, data_format=data_format, scope=end_point,
                        )
                    end_points[end_point] = net
                    if end_point == final_endpoint:
                        break
    return net, end_points


class S3DG(VideoNet):
    """S3D-G for video classification, like slim's ``s3dg``.

    Variables: ``InceptionV1/<end point>/...`` (under :func:`s3dg_arg_scope`:
    ``weights`` + ``BatchNorm/{beta,moving_mean,moving_variance}``; separable
    convolutions add ``<name>/temporal/{weights,biases}``; gating adds
    ``<name>/self_gating/transformer_W/weights``) and
    ``InceptionV1/Logits/Conv2d_0c_1x1/{weights,biases}``. End points: those of
    :func:`s3dg_base`, ``Logits``, ``Predictions``.

    Attributes:
      num_classes: logits size (slim always builds logits; use :func:`s3dg_base`
        for features).
      first_temporal_kernel_size, temporal_conv_startat, gating_startat,
        final_endpoint, min_depth, depth_multiplier, data_format: as in
        :func:`s3dg_base`.
      dropout_keep_prob: keep probability of ``Logits/Dropout_0b`` in training.
      prediction_fn: logits -> ``end_points['Predictions']``.
      spatial_squeeze: logits ``[N, classes]`` instead of ``[N, 1, 1, classes]``.
    """

    num_classes: int = 1000
    first_temporal_kernel_size: int = 3
    temporal_conv_startat: str | None = "Conv2d_2c_3x3"
    gating_startat: str | None = "Conv2d_2c_3x3"
    final_endpoint: str = "Mixed_5c"
    min_depth: int = 16
    depth_multiplier: float = 1.0
    dropout_keep_prob: float = 0.8
    prediction_fn: Callable[[jax.Array], jax.Array] = layers.softmax
    spatial_squeeze: bool = True
    data_format: str = "NDHWC"

    default_image_size: ClassVar[int] = 224

    @nn.compact
    def __call__(self, clips: jax.Array, is_training: bool = False) -> tuple[jax.Array, dict[str, jax.Array]]:
        """``clips [N, T, 224, 224, 3] -> (logits [N, num_classes], end_points)``."""
        with self.scoped(), arg_scope([layers.batch_norm, layers.dropout], is_training=is_training):
            net, end_points = s3dg_base(
                clips,
                first_temporal_kernel_size=self.first_temporal_kernel_size,
                temporal_conv_startat=self.temporal_conv_startat,
                gating_startat=self.gating_startat,
                final_endpoint=self.final_endpoint,
                min_depth=self.min_depth,
                depth_multiplier=self.depth_multiplier,
                data_format=self.data_format,
                scope="InceptionV1",
            )
            with layers.variable_scope("InceptionV1"):
                logits = video_logits_head(
                    net, end_points, self.num_classes, self.dropout_keep_prob, self.prediction_fn,
                    self.spatial_squeeze, data_format=self.data_format,
                )
        return logits, end_points
