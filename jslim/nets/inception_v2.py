"""Inception v2 (BN-Inception), as in research/slim ``nets/inception_v2.py``.

Ioffe & Szegedy, "Batch Normalization: Accelerating Deep Network Training by
Reducing Internal Covariate Shift" (arXiv:1502.03167).
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import flax.linen as nn
import jax

from jslim import layers
from jslim.nets.inception_utils import (
    AvgPool,
    Conv,
    Depth,
    InceptionClassifier,
    MaxPool,
    Mixed,
    build_end_points,
    depth_fn,
    inception_arg_scope,
    inception_spec,
    logits_head,
    reduced_avg_pool,
)
from jslim.scopes import arg_scope

__all__ = ["InceptionV2", "inception_v2_arg_scope", "inception_v2_base"]

inception_v2_arg_scope = inception_arg_scope


@dataclasses.dataclass(frozen=True)
class _SeparableStem:
    """Conv2d_1a_7x7 as ``separable_conv2d``: depthwise multiplier ``min(int(depth(64) / 3), 8)``.

    The multiplier keeps ``in_channels * multiplier <= out_channels`` (slim
    assumes 3 input channels). Not under the inception arg scope: biases, ReLU.
    """

    scope: str = "Conv2d_1a_7x7"

    def __call__(self, net: jax.Array, depth: Depth, channel_axis: int) -> jax.Array:
        del channel_axis
        return layers.separable_conv2d(
            net,
            depth(64),
            [7, 7],
            depth_multiplier=min(int(depth(64) / 3), 8),
            stride=2,
            padding="SAME",
            weights_initializer=layers.truncated_normal_initializer(0.0, 1.0),
            scope=self.scope,
        )


def _mixed(scope: str, b0: int, b1: tuple[int, int], b2: tuple[int, int], b3: int, pool: type = AvgPool) -> Mixed:
    """1x1 | 1x1 -> 3x3 | 1x1 -> 3x3 -> 3x3 | 3x3 pool -> 1x1, with these depths."""
    return Mixed(
        scope,
        (
            (Conv("Conv2d_0a_1x1", b0, 1),),
            (Conv("Conv2d_0a_1x1", b1[0], 1, stddev=0.09), Conv("Conv2d_0b_3x3", b1[1], 3)),
            (
                Conv("Conv2d_0a_1x1", b2[0], 1, stddev=0.09),
                Conv("Conv2d_0b_3x3", b2[1], 3),
                Conv("Conv2d_0c_3x3", b2[1], 3),
            ),
            (pool(f"{pool.__name__}_0a_3x3", 3), Conv("Conv2d_0b_1x1", b3, 1, stddev=0.1)),
        ),
    )


def _reduction(scope: str, b0: tuple[int, int], b1: tuple[int, int]) -> Mixed:
    """1x1 -> 3x3/2 | 1x1 -> 3x3 -> 3x3/2 | 3x3/2 max pool: halves the resolution."""
    return Mixed(
        scope,
        (
            (Conv("Conv2d_0a_1x1", b0[0], 1, stddev=0.09), Conv("Conv2d_1a_3x3", b0[1], 3, stride=2)),
            (
                Conv("Conv2d_0a_1x1", b1[0], 1, stddev=0.09),
                Conv("Conv2d_0b_3x3", b1[1], 3),
                Conv("Conv2d_1a_3x3", b1[1], 3, stride=2),
            ),
            (MaxPool("MaxPool_1a_3x3", 3, stride=2),),
        ),
    )


# After the stem (Conv2d_1a_7x7, which depends on use_separable_conv).
_ROOT_TAIL = (
    MaxPool("MaxPool_2a_3x3", 3, stride=2),
    Conv("Conv2d_2b_1x1", 64, 1, stddev=0.1),
    Conv("Conv2d_2c_3x3", 192, 3),
    MaxPool("MaxPool_3a_3x3", 3, stride=2),
)
_BLOCKS = (
    _mixed("Mixed_3b", 64, (64, 64), (64, 96), 32),
    _mixed("Mixed_3c", 64, (64, 96), (64, 96), 64),
    _reduction("Mixed_4a", (128, 160), (64, 96)),
    _mixed("Mixed_4b", 224, (64, 96), (96, 128), 128),
    _mixed("Mixed_4c", 192, (96, 128), (96, 128), 128),
    _mixed("Mixed_4d", 160, (128, 160), (128, 160), 96),
    _mixed("Mixed_4e", 96, (128, 192), (160, 192), 96),
    _reduction("Mixed_5a", (128, 192), (192, 256)),
    _mixed("Mixed_5b", 352, (192, 320), (160, 224), 128),
    _mixed("Mixed_5c", 352, (192, 320), (192, 224), 128, pool=MaxPool),
)


def inception_v2_base(
    inputs: jax.Array,
    final_endpoint: str = "Mixed_5c",
    min_depth: int = 16,
    depth_multiplier: float = 1.0,
    use_separable_conv: bool = True,
    data_format: str = "NHWC",
    include_root_block: bool = True,
    scope: str | None = None,
) -> tuple[jax.Array, dict[str, jax.Array]]:
    """Inception v2 up to ``final_endpoint``, like slim's ``inception_v2_base``.

    Call inside a Flax ``@nn.compact`` method. End points (224x224 input):
    Conv2d_1a_7x7 [112, 112, 64], MaxPool_2a_3x3 [56, 56, 64], Conv2d_2b_1x1
    [56, 56, 64], Conv2d_2c_3x3 [56, 56, 192], MaxPool_3a_3x3 [28, 28, 192],
    Mixed_3b [28, 28, 256], Mixed_3c [28, 28, 320], Mixed_4a..4e [14, 14, 576],
    Mixed_5a..5c [7, 7, 1024] (depths before ``depth_multiplier``).

    Args:
      inputs: ``[N, H, W, C]`` (``[N, C, H, W]`` with ``data_format='NCHW'``).
      final_endpoint: the last end point to build.
      min_depth: the smallest depth of any conv when ``depth_multiplier < 1``.
      depth_multiplier: scales every conv's depth; must be > 0.
      use_separable_conv: Conv2d_1a_7x7 as a separable conv (else a plain conv).
      data_format: ``'NHWC'`` or ``'NCHW'`` (the latter needs
        ``use_separable_conv=False``).
      include_root_block: build the five layers before Mixed_3b.
      scope: the variable scope (``None``: ``InceptionV2`` made unique).

    Returns:
      ``(output of final_endpoint, end_points)``.

    Raises:
      ValueError: ``depth_multiplier <= 0``, a bad ``data_format``, NCHW with a
        separable conv, or an unknown ``final_endpoint``.
    """
    depth = depth_fn(depth_multiplier, min_depth)
    if data_format not in ("NHWC", "NCHW"):
        raise ValueError(f"data_format must be either NHWC or NCHW, got {data_format!r}.")
    if data_format == "NCHW" and use_separable_conv:
        raise ValueError(
            "separable convolution only supports NHWC layout. NCHW data format can only be used when "
            "use_separable_conv is False."
        )
    stem = _SeparableStem() if use_separable_conv else Conv("Conv2d_1a_7x7", 64, 7, stride=2, stddev=1.0)
    body = ((stem, *_ROOT_TAIL) if include_root_block else ()) + _BLOCKS
    with layers.variable_scope(scope, default_name="InceptionV2"):
        with arg_scope(
            [layers.conv2d, layers.max_pool2d, layers.avg_pool2d], stride=1, padding="SAME", data_format=data_format
        ):
            return build_end_points(inputs, body, final_endpoint, depth, channel_axis=3 if data_format == "NHWC" else 1)


def _avg_pool_1a(net: jax.Array) -> jax.Array:
    return reduced_avg_pool(net, [7, 7])


class InceptionV2(InceptionClassifier):
    """Inception v2 for classification, like slim's ``inception_v2``.

    Variables: ``InceptionV2/<end point>/...`` (Conv2d_1a_7x7 is separable with
    biases; the other convs have ``weights`` and, under the default arg scope,
    ``BatchNorm/{beta,moving_mean,moving_variance}``) and
    ``InceptionV2/Logits/Conv2d_1c_1x1/{weights,biases}``. End points: those of
    :func:`inception_v2_base`, ``AvgPool_1a`` (or ``global_pool``), ``PreLogits``,
    ``Logits``, ``Predictions``.

    Options (keyword arguments): those of :class:`InceptionClassifier`
    (``num_classes``, ``dropout_keep_prob`` of ``Dropout_1b``, ``prediction_fn``,
    ``spatial_squeeze``, ``global_pool`` instead of the fixed 7x7 window, which
    shrinks for small inputs) and

    Attributes:
      min_depth: the smallest depth of any conv when ``depth_multiplier < 1``.
      depth_multiplier: scales every conv's depth; must be > 0.
    """

    min_depth: int = 16
    depth_multiplier: float = 1.0

    default_image_size: ClassVar[int] = 224

    @nn.compact
    def __call__(self, images: jax.Array, is_training: bool = False) -> tuple[jax.Array, dict[str, jax.Array]]:
        """``images [N, 224, 224, 3] -> (logits [N, num_classes], end_points)``."""
        with self.scoped(), arg_scope([layers.batch_norm, layers.dropout], is_training=is_training):
            net, end_points = inception_v2_base(
                images, min_depth=self.min_depth, depth_multiplier=self.depth_multiplier, scope="InceptionV2"
            )
            with layers.variable_scope("InceptionV2"):
                net = logits_head(net, end_points, self, pool=_avg_pool_1a, pool_end_point="AvgPool_1a")
        return net, end_points


REGISTRY = (inception_spec("inception_v2", InceptionV2, 224, inception_v2_arg_scope),)
