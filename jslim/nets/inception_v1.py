"""Inception v1 (GoogLeNet), as in research/slim ``nets/inception_v1.py``.

Szegedy et al., "Going deeper with convolutions" (arXiv:1409.4842), with batch
norm from :func:`jslim.nets.inception_utils.inception_arg_scope`.
"""

from __future__ import annotations

from typing import ClassVar

import flax.linen as nn
import jax

from jslim import layers
from jslim.nets.inception_utils import (
    Conv,
    InceptionClassifier,
    MaxPool,
    Mixed,
    build_end_points,
    inception_arg_scope,
    inception_spec,
    logits_head,
)
from jslim.scopes import arg_scope

__all__ = ["InceptionV1", "inception_v1_arg_scope", "inception_v1_base"]

inception_v1_arg_scope = inception_arg_scope


def _mixed(scope: str, b0: int, b1: tuple[int, int], b2: tuple[int, int], b3: int, b2_3x3: str = "Conv2d_0b_3x3") -> Mixed:
    """1x1 | 1x1 -> 3x3 | 1x1 -> 3x3 | 3x3 max pool -> 1x1, with these depths."""
    return Mixed(
        scope,
        (
            (Conv("Conv2d_0a_1x1", b0, 1),),
            (Conv("Conv2d_0a_1x1", b1[0], 1), Conv("Conv2d_0b_3x3", b1[1], 3)),
            (Conv("Conv2d_0a_1x1", b2[0], 1), Conv(b2_3x3, b2[1], 3)),
            (MaxPool("MaxPool_0a_3x3", 3), Conv("Conv2d_0b_1x1", b3, 1)),
        ),
    )


# The first five entries are the root block.
_ROOT_BLOCK = 5
_BODY = (
    Conv("Conv2d_1a_7x7", 64, 7, stride=2),
    MaxPool("MaxPool_2a_3x3", 3, stride=2),
    Conv("Conv2d_2b_1x1", 64, 1),
    Conv("Conv2d_2c_3x3", 192, 3),
    MaxPool("MaxPool_3a_3x3", 3, stride=2),
    _mixed("Mixed_3b", 64, (96, 128), (16, 32), 32),
    _mixed("Mixed_3c", 128, (128, 192), (32, 96), 64),
    MaxPool("MaxPool_4a_3x3", 3, stride=2),
    _mixed("Mixed_4b", 192, (96, 208), (16, 48), 64),
    _mixed("Mixed_4c", 160, (112, 224), (24, 64), 64),
    _mixed("Mixed_4d", 128, (128, 256), (24, 64), 64),
    _mixed("Mixed_4e", 112, (144, 288), (32, 64), 64),
    _mixed("Mixed_4f", 256, (160, 320), (32, 128), 128),
    MaxPool("MaxPool_5a_2x2", 2, stride=2),
    _mixed("Mixed_5b", 256, (160, 320), (32, 128), 128, b2_3x3="Conv2d_0a_3x3"),  # slim's name, sic
    _mixed("Mixed_5c", 384, (192, 384), (48, 128), 128),
)


def inception_v1_base(
    inputs: jax.Array,
    final_endpoint: str = "Mixed_5c",
    include_root_block: bool = True,
    scope: str | None = "InceptionV1",
) -> tuple[jax.Array, dict[str, jax.Array]]:
    """Inception v1 up to ``final_endpoint``, like slim's ``inception_v1_base``.

    Call inside a Flax ``@nn.compact`` method. End points (224x224 input):
    Conv2d_1a_7x7 [112, 112, 64], MaxPool_2a_3x3 [56, 56, 64], Conv2d_2b_1x1,
    Conv2d_2c_3x3 [56, 56, 192], MaxPool_3a_3x3 [28, 28, 192], Mixed_3b [28, 28,
    256], Mixed_3c [28, 28, 480], MaxPool_4a_3x3 [14, 14, 480], Mixed_4b..4d
    [14, 14, 512], Mixed_4e [14, 14, 528], Mixed_4f [14, 14, 832],
    MaxPool_5a_2x2 [7, 7, 832], Mixed_5b [7, 7, 832], Mixed_5c [7, 7, 1024].

    Args:
      inputs: ``[N, H, W, C]``.
      final_endpoint: the last end point to build.
      include_root_block: build the five layers before Mixed_3b (else the input
        goes straight to Mixed_3b and those end points do not exist).
      scope: the variable scope (``None``: ``InceptionV1`` made unique).

    Returns:
      ``(output of final_endpoint, end_points)``.

    Raises:
      ValueError: an unknown ``final_endpoint`` (the message lists the valid ones).
    """
    body = _BODY if include_root_block else _BODY[_ROOT_BLOCK:]
    with layers.variable_scope(scope, default_name="InceptionV1"):
        with arg_scope(
            [layers.conv2d, layers.fully_connected], weights_initializer=layers.truncated_normal_initializer(0.0, 0.01)
        ):
            with arg_scope([layers.conv2d, layers.max_pool2d], stride=1, padding="SAME"):
                return build_end_points(inputs, body, final_endpoint)


def _avg_pool_0a_7x7(net: jax.Array) -> jax.Array:
    if min(net.shape[1:3]) < 7:
        raise ValueError(
            f"InceptionV1's AvgPool_0a_7x7 needs a Mixed_5c of at least 7x7 (a 224x224 input), got "
            f"{tuple(net.shape[1:3])}; use global_pool=True for smaller inputs."
        )
    return layers.avg_pool2d(net, [7, 7], stride=1, scope="AvgPool_0a_7x7")


class InceptionV1(InceptionClassifier):
    """Inception v1 for classification, like slim's ``inception_v1``.

    Variables: ``InceptionV1/<end point>/...`` (each conv has ``weights`` and,
    under the default arg scope, ``BatchNorm/{beta,moving_mean,moving_variance}``)
    and ``InceptionV1/Logits/Conv2d_0c_1x1/{weights,biases}``. End points: those
    of :func:`inception_v1_base`, ``AvgPool_0a_7x7`` (or ``global_pool``),
    ``Logits``, ``Predictions``.

    Options (keyword arguments) are those of :class:`InceptionClassifier`
    (``num_classes``, ``dropout_keep_prob`` of ``Dropout_0b``, ``prediction_fn``,
    ``spatial_squeeze``, ``global_pool`` instead of the fixed 7x7 window).
    """

    default_image_size: ClassVar[int] = 224

    @nn.compact
    def __call__(self, images: jax.Array, is_training: bool = False) -> tuple[jax.Array, dict[str, jax.Array]]:
        """``images [N, 224, 224, 3] -> (logits [N, num_classes], end_points)``."""
        with self.scoped(), arg_scope([layers.batch_norm, layers.dropout], is_training=is_training):
            net, end_points = inception_v1_base(images, scope="InceptionV1")
            with layers.variable_scope("InceptionV1"):
                net = logits_head(
                    net,
                    end_points,
                    self,
                    pool=_avg_pool_0a_7x7,
                    pool_end_point="AvgPool_0a_7x7",
                    dropout_scope="Dropout_0b",
                    logits_scope="Conv2d_0c_1x1",
                    pre_logits=False,
                )
        return net, end_points


REGISTRY = (inception_spec("inception_v1", InceptionV1, 224, inception_v1_arg_scope),)
