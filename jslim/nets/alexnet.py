"""AlexNet v2, as in research/slim ``nets/alexnet.py`` (``alexnet_v2``).

The "One weird trick" AlexNet (Krizhevsky, 2014, arXiv:1404.5997) without the
LRN layers; the fully connected layers are convolutions (fc6 5x5, fc7 and fc8
1x1), so larger inputs give a map of logits (``spatial_squeeze=False``).
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

__all__ = ["AlexNetV2", "alexnet_v2_arg_scope"]


def alexnet_v2_arg_scope(weight_decay: float = 0.0005) -> contextlib.AbstractContextManager:
    """slim's ``alexnet_v2_arg_scope``: ReLU, biases 0.1, l2 decay; SAME convs, VALID pools."""
    with arg_scope(
        [layers.conv2d, layers.fully_connected],
        activation_fn=jax.nn.relu,
        biases_initializer=layers.constant_initializer(0.1),
        weights_regularizer=layers.l2_regularizer(weight_decay),
    ):
        with arg_scope([layers.conv2d], padding="SAME"):
            with arg_scope([layers.max_pool2d], padding="VALID") as sc:
                return arg_scope(sc)


class AlexNetV2(SlimNet):
    """AlexNet v2: five convs and three 3x3/2 max pools, then fc6-fc8 as convs.

    Variables: ``alexnet_v2/{conv1..conv5,fc6,fc7,fc8}/{weights,biases}``.
    End points: ``'alexnet_v2/conv1'`` ... ``'alexnet_v2/pool5'``, ``fc6``,
    ``fc7`` (full scope names), ``'global_pool'`` when pooling and
    ``'alexnet_v2/fc8'`` (the logits).

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

    default_image_size: ClassVar[int] = 224

    @nn.compact
    def __call__(self, images: jax.Array, is_training: bool = False) -> tuple[jax.Array, dict[str, jax.Array]]:
        """``images [N, 224, 224, 3] -> (logits [N, num_classes], end_points)``."""
        end_points: dict[str, jax.Array] = {}
        conv = collect(end_points, layers.conv2d)
        pool = collect(end_points, layers.max_pool2d)
        with self.scoped(), layers.variable_scope("alexnet_v2"):
            net = conv(images, 64, [11, 11], 4, padding="VALID", scope="conv1")
            net = pool(net, [3, 3], 2, scope="pool1")
            net = conv(net, 192, [5, 5], scope="conv2")
            net = pool(net, [3, 3], 2, scope="pool2")
            net = conv(net, 384, [3, 3], scope="conv3")
            net = conv(net, 384, [3, 3], scope="conv4")
            net = conv(net, 256, [3, 3], scope="conv5")
            net = pool(net, [3, 3], 2, scope="pool5")
            net = trunc_normal_fc_conv_head(
                net, end_points, self, is_training=is_training, fc6_depth=4096, fc6_kernel=(5, 5)
            )
        return net, end_points


REGISTRY = (
    NetSpec(
        name="alexnet_v2",
        constructor=AlexNetV2,
        arg_scope=alexnet_v2_arg_scope,
        default_image_size=224,
        num_classes=1000,
        preprocessing="vgg",
    ),
)
