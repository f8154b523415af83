"""Inception v3, as in research/slim ``nets/inception_v3.py``.

Szegedy et al., "Rethinking the Inception Architecture for Computer Vision"
(arXiv:1512.00567). Slim's end point names differ from the paper's (conv0 is
Conv2d_1a_3x3, mixed_35x35x256a is Mixed_5b, ..., mixed_8x8x2048b is Mixed_7c).
"""

from __future__ import annotations

from typing import ClassVar

import flax.linen as nn
import jax
import jax.numpy as jnp

from jslim import layers
from jslim.nets.inception_utils import (
    AvgPool,
    Concat,
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
    reduced_kernel_size_for_small_input,
)
from jslim.scopes import arg_scope

__all__ = ["InceptionV3", "inception_v3_arg_scope", "inception_v3_base"]

inception_v3_arg_scope = inception_arg_scope


def _mixed_5(scope: str, pool_depth: int, b1: tuple[str, str] = ("Conv2d_0a_1x1", "Conv2d_0b_5x5")) -> Mixed:
    """35x35: 1x1 | 1x1 -> 5x5 | 1x1 -> 3x3 -> 3x3 | avg pool -> 1x1 (``b1``: branch 1's scopes)."""
    return Mixed(
        scope,
        (
            (Conv("Conv2d_0a_1x1", 64, 1),),
            (Conv(b1[0], 48, 1), Conv(b1[1], 64, 5)),
            (Conv("Conv2d_0a_1x1", 64, 1), Conv("Conv2d_0b_3x3", 96, 3), Conv("Conv2d_0c_3x3", 96, 3)),
            (AvgPool("AvgPool_0a_3x3", 3), Conv("Conv2d_0b_1x1", pool_depth, 1)),
        ),
    )


def _mixed_6(scope: str, n: int) -> Mixed:
    """17x17: 1x1 | 1x1 -> 1x7 -> 7x1 | 1x1 -> (7x1 -> 1x7) x 2 | avg pool -> 1x1; ``n``: inner depth."""
    return Mixed(
        scope,
        (
            (Conv("Conv2d_0a_1x1", 192, 1),),
            (Conv("Conv2d_0a_1x1", n, 1), Conv("Conv2d_0b_1x7", n, (1, 7)), Conv("Conv2d_0c_7x1", 192, (7, 1))),
            (
                Conv("Conv2d_0a_1x1", n, 1),
                Conv("Conv2d_0b_7x1", n, (7, 1)),
                Conv("Conv2d_0c_1x7", n, (1, 7)),
                Conv("Conv2d_0d_7x1", n, (7, 1)),
                Conv("Conv2d_0e_1x7", 192, (1, 7)),
            ),
            (AvgPool("AvgPool_0a_3x3", 3), Conv("Conv2d_0b_1x1", 192, 1)),
        ),
    )


def _mixed_7(scope: str, b1_3x1: str) -> Mixed:
    """8x8: 1x1 | 1x1 -> (1x3 | 3x1) | 1x1 -> 3x3 -> (1x3 | 3x1) | avg pool -> 1x1."""
    return Mixed(
        scope,
        (
            (Conv("Conv2d_0a_1x1", 320, 1),),
            (
                Conv("Conv2d_0a_1x1", 384, 1),
                Concat((Conv("Conv2d_0b_1x3", 384, (1, 3)), Conv(b1_3x1, 384, (3, 1)))),
            ),
            (
                Conv("Conv2d_0a_1x1", 448, 1),
                Conv("Conv2d_0b_3x3", 384, 3),
                Concat((Conv("Conv2d_0c_1x3", 384, (1, 3)), Conv("Conv2d_0d_3x1", 384, (3, 1)))),
            ),
            (AvgPool("AvgPool_0a_3x3", 3), Conv("Conv2d_0b_1x1", 192, 1)),
        ),
    )


# Slim builds the root block under padding='VALID' and the Mixed blocks under
# padding='SAME' (both stride 1); the root block's VALID is spelled out here.
_BODY = (
    Conv("Conv2d_1a_3x3", 32, 3, stride=2, padding="VALID"),
    Conv("Conv2d_2a_3x3", 32, 3, padding="VALID"),
    Conv("Conv2d_2b_3x3", 64, 3, padding="SAME"),
    MaxPool("MaxPool_3a_3x3", 3, stride=2, padding="VALID"),
    Conv("Conv2d_3b_1x1", 80, 1, padding="VALID"),
    Conv("Conv2d_4a_3x3", 192, 3, padding="VALID"),
    MaxPool("MaxPool_5a_3x3", 3, stride=2, padding="VALID"),
    _mixed_5("Mixed_5b", 32),
    _mixed_5("Mixed_5c", 64, b1=("Conv2d_0b_1x1", "Conv_1_0c_5x5")),  # slim's names, sic
    _mixed_5("Mixed_5d", 64),
    Mixed(
        "Mixed_6a",
        (
            (Conv("Conv2d_1a_1x1", 384, 3, stride=2, padding="VALID"),),  # a 3x3 conv, slim's name
            (
                Conv("Conv2d_0a_1x1", 64, 1),
                Conv("Conv2d_0b_3x3", 96, 3),
                Conv("Conv2d_1a_1x1", 96, 3, stride=2, padding="VALID"),
            ),
            (MaxPool("MaxPool_1a_3x3", 3, stride=2, padding="VALID"),),
        ),
    ),
    _mixed_6("Mixed_6b", 128),
    _mixed_6("Mixed_6c", 160),
    _mixed_6("Mixed_6d", 160),
    _mixed_6("Mixed_6e", 192),
    Mixed(
        "Mixed_7a",
        (
            (Conv("Conv2d_0a_1x1", 192, 1), Conv("Conv2d_1a_3x3", 320, 3, stride=2, padding="VALID")),
            (
                Conv("Conv2d_0a_1x1", 192, 1),
                Conv("Conv2d_0b_1x7", 192, (1, 7)),
                Conv("Conv2d_0c_7x1", 192, (7, 1)),
                Conv("Conv2d_1a_3x3", 192, 3, stride=2, padding="VALID"),
            ),
            (MaxPool("MaxPool_1a_3x3", 3, stride=2, padding="VALID"),),
        ),
    ),
    _mixed_7("Mixed_7b", b1_3x1="Conv2d_0b_3x1"),
    _mixed_7("Mixed_7c", b1_3x1="Conv2d_0c_3x1"),
)


def inception_v3_base(
    inputs: jax.Array,
    final_endpoint: str = "Mixed_7c",
    min_depth: int = 16,
    depth_multiplier: float = 1.0,
    scope: str | None = None,
) -> tuple[jax.Array, dict[str, jax.Array]]:
    """Inception v3 up to ``final_endpoint``, like slim's ``inception_v3_base``.

    Call inside a Flax ``@nn.compact`` method. End points (299x299 input):
    Conv2d_1a_3x3 [149, 149, 32], Conv2d_2a_3x3 [147, 147, 32], Conv2d_2b_3x3
    [147, 147, 64], MaxPool_3a_3x3 [73, 73, 64], Conv2d_3b_1x1 [73, 73, 80],
    Conv2d_4a_3x3 [71, 71, 192], MaxPool_5a_3x3 [35, 35, 192], Mixed_5b [35, 35,
    256], Mixed_5c/5d [35, 35, 288], Mixed_6a..6e [17, 17, 768], Mixed_7a [8, 8,
    1280], Mixed_7b/7c [8, 8, 2048] (depths before ``depth_multiplier``).

    Args:
      inputs: ``[N, H, W, C]``.
      final_endpoint: the last end point to build.
      min_depth: the smallest depth of any conv when ``depth_multiplier < 1``.
      depth_multiplier: scales every conv's depth; must be > 0.
      scope: the variable scope (``None``: ``InceptionV3`` made unique).

    Returns:
      ``(output of final_endpoint, end_points)``.

    Raises:
      ValueError: ``depth_multiplier <= 0`` or an unknown ``final_endpoint``.
    """
    depth = depth_fn(depth_multiplier, min_depth)
    with layers.variable_scope(scope, default_name="InceptionV3"):
        with arg_scope([layers.conv2d, layers.max_pool2d, layers.avg_pool2d], stride=1, padding="SAME"):
            return build_end_points(inputs, _BODY, final_endpoint, depth)


def _aux_logits(net: jax.Array, num_classes: int, depth: Depth, spatial_squeeze: bool) -> jax.Array:
    """The auxiliary head on Mixed_6e (scope ``AuxLogits``): ``[N, num_classes]``."""
    if min(net.shape[1:3]) < 5:
        raise ValueError(
            f"InceptionV3's AuxLogits need a Mixed_6e of at least 5x5 (an input of at least 107x107), got "
            f"{tuple(net.shape[1:3])}; use create_aux_logits=False for smaller inputs."
        )
    with arg_scope([layers.conv2d, layers.max_pool2d, layers.avg_pool2d], stride=1, padding="SAME"):
        with layers.variable_scope("AuxLogits"):
            net = layers.avg_pool2d(net, [5, 5], stride=3, padding="VALID", scope="AvgPool_1a_5x5")
            net = layers.conv2d(net, depth(128), [1, 1], scope="Conv2d_1b_1x1")
            kernel = reduced_kernel_size_for_small_input(net, [5, 5])
            net = layers.conv2d(
                net,
                depth(768),
                kernel,
                weights_initializer=layers.truncated_normal_initializer(0.0, 0.01),
                padding="VALID",
                scope="Conv2d_2a_{}x{}".format(*kernel),
            )
            net = layers.conv2d(
                net,
                num_classes,
                [1, 1],
                activation_fn=None,
                normalizer_fn=None,
                weights_initializer=layers.truncated_normal_initializer(0.0, 0.001),
                scope="Conv2d_2b_1x1",
            )
            return jnp.squeeze(net, (1, 2)) if spatial_squeeze else net


def _avg_pool_1a(net: jax.Array) -> jax.Array:
    return reduced_avg_pool(net, [8, 8])


class InceptionV3(InceptionClassifier):
    """Inception v3 for classification, like slim's ``inception_v3``.

    Variables: ``InceptionV3/<end point>/...`` (each conv has ``weights`` and,
    under the default arg scope, ``BatchNorm/{beta,moving_mean,moving_variance}``),
    ``InceptionV3/AuxLogits/...`` and ``InceptionV3/Logits/Conv2d_1c_1x1``.
    End points: those of :func:`inception_v3_base`, ``AuxLogits``, ``AvgPool_1a``
    (or ``global_pool``), ``PreLogits``, ``Logits``, ``Predictions``.

    Options (keyword arguments): those of :class:`InceptionClassifier`
    (``num_classes``, ``dropout_keep_prob`` of ``Dropout_1b``, ``prediction_fn``,
    ``spatial_squeeze``, ``global_pool`` instead of the fixed 8x8 window, which
    shrinks for small inputs) and

    Attributes:
      min_depth: the smallest depth of any conv when ``depth_multiplier < 1``.
      depth_multiplier: scales every conv's depth; must be > 0.
      create_aux_logits: build the auxiliary head on Mixed_6e.
    """

    min_depth: int = 16
    depth_multiplier: float = 1.0
    create_aux_logits: bool = True

    default_image_size: ClassVar[int] = 299

    @nn.compact
    def __call__(self, images: jax.Array, is_training: bool = False) -> tuple[jax.Array, dict[str, jax.Array]]:
        """``images [N, 299, 299, 3] -> (logits [N, num_classes], end_points)``."""
        depth = depth_fn(self.depth_multiplier, self.min_depth)
        with self.scoped(), arg_scope([layers.batch_norm, layers.dropout], is_training=is_training):
            net, end_points = inception_v3_base(
                images, min_depth=self.min_depth, depth_multiplier=self.depth_multiplier, scope="InceptionV3"
            )
            with layers.variable_scope("InceptionV3"):
                if self.create_aux_logits and self.num_classes:
                    end_points["AuxLogits"] = _aux_logits(
                        end_points["Mixed_6e"], self.num_classes, depth, self.spatial_squeeze
                    )
                net = logits_head(net, end_points, self, pool=_avg_pool_1a, pool_end_point="AvgPool_1a")
        return net, end_points


REGISTRY = (inception_spec("inception_v3", InceptionV3, 299, inception_v3_arg_scope),)
