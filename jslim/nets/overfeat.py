"""OverFeat, as in research/slim ``nets/overfeat.py`` (``overfeat``).

Sermanet et al., "OverFeat: Integrated Recognition, Localization and Detection
using Convolutional Networks" (arXiv:1312.6229), the fast model. The fully
connected layers are convolutions (fc6 6x6, fc7 and fc8 1x1), so larger inputs
give a map of logits (``spatial_squeeze=False``).
"""

from __future__ import annotations

import contextlib
from typing import ClassVar

import flax.linen as nn
import jax

from jslim import layers
from jslim.nets.base import SlimNet
from jslim.nets.fc_conv import collect, trunc_normal_fc_conv_head
from jslim.nets.spec import NetSpec
from jslim.scopes import arg_scope

__all__ = ["OverFeat", "overfeat_arg_scope"]


def overfeat_arg_scope(weight_decay: float = 0.0005) -> contextlib.AbstractContextManager:
    """slim's ``overfeat_arg_scope``: ReLU, l2 decay, zero biases; SAME convs, VALID pools."""
    with arg_scope(
        [layers.conv2d, layers.fully_connected],
        activation_fn=jax.nn.relu,
        weights_regularizer=layers.l2_regularizer(weight_decay),
        biases_initializer=layers.zeros_initializer(),
    ):
        with arg_scope([layers.conv2d], padding="SAME"):
            with arg_scope([layers.max_pool2d], padding="VALID") as sc:
                return arg_scope(sc)


class OverFeat(SlimNet):
    """OverFeat: five convs and three 2x2/2 max pools, then fc6-fc8 as convs.

    Variables: ``overfeat/{conv1..conv5,fc6,fc7,fc8}/{weights,biases}``
    (fc6 is 6x6x1024x3072). End points: ``'overfeat/conv1'`` ...
    ``'overfeat/pool5'``, ``fc6``, ``fc7`` (full scope names), ``'global_pool'``
    when pooling and ``'overfeat/fc8'`` (the logits).

    Attributes:
      num_classes: logits size; 0/None returns the fc7 features.
      dropout_keep_prob: keep probability of dropout6/dropout7 in training.
      spatial_squeeze: squeeze the logits to ``[N, num_classes]`` (needs a 1x1 map).
      global_pool: average fc7 over space before the logits, for any input size.
    """

    num_classes: int | None = 1000
    dropout_keep_prob: float = 0.5
    spatial_squeeze: bool = True
    global_pool: bool = False

    default_image_size: ClassVar[int] = 231

    @nn.compact
    def __call__(self, images: jax.Array, is_training: bool = False) -> tuple[jax.Array, dict[str, jax.Array]]:
        """``images [N, 231, 231, 3] -> (logits [N, num_classes], end_points)``."""
        end_points: dict[str, jax.Array] = {}
        conv = collect(end_points, layers.conv2d)
        pool = collect(end_points, layers.max_pool2d)
        with self.scoped(), layers.variable_scope("overfeat"):
            net = conv(images, 64, [11, 11], 4, padding="VALID", scope="conv1")
            net = pool(net, [2, 2], scope="pool1")
            net = conv(net, 256, [5, 5], padding="VALID", scope="conv2")
            net = pool(net, [2, 2], scope="pool2")
            net = conv(net, 512, [3, 3], scope="conv3")
            net = conv(net, 1024, [3, 3], scope="conv4")
            net = conv(net, 1024, [3, 3], scope="conv5")
            net = pool(net, [2, 2], scope="pool5")
            net = trunc_normal_fc_conv_head(
                net, end_points, self, is_training=is_training, fc6_depth=3072, fc6_kernel=(6, 6)
            )
        return net, end_points


REGISTRY = (
    NetSpec(
        name="overfeat",
        constructor=OverFeat,
        arg_scope=overfeat_arg_scope,
        default_image_size=231,
        num_classes=1000,
        preprocessing="vgg",
    ),
)
