"""Oxford VGG nets, as in research/slim ``nets/vgg.py``: ``vgg_a``, ``vgg_16``, ``vgg_19``.

Simonyan & Zisserman, "Very Deep Convolutional Networks For Large-Scale Image
Recognition" (arXiv:1409.1556). The three variants differ only in how many 3x3
convolutions each of the five blocks repeats (:attr:`VGG.conv_blocks`); the
fully connected layers are convolutions (fc6 7x7, fc7 and fc8 1x1), so larger
inputs give a map of logits (``spatial_squeeze=False``).
"""

from __future__ import annotations

import contextlib
from typing import ClassVar

import flax.linen as nn
import jax

from jslim import layers
from jslim.nets.base import SlimNet
from jslim.nets.fc_conv import collect, fc_conv_head
from jslim.nets.spec import NetSpec
from jslim.scopes import arg_scope

__all__ = ["VGG", "VGG16", "VGG19", "VGGA", "vgg_arg_scope"]


def vgg_arg_scope(weight_decay: float = 0.0005) -> contextlib.AbstractContextManager:
    """slim's ``vgg_arg_scope``: ReLU, l2 weight decay, zero biases; SAME conv padding."""
    with arg_scope(
        [layers.conv2d, layers.fully_connected],
        activation_fn=jax.nn.relu,
        weights_regularizer=layers.l2_regularizer(weight_decay),
        biases_initializer=layers.zeros_initializer(),
    ):
        with arg_scope([layers.conv2d], padding="SAME") as sc:
            return arg_scope(sc)


class VGG(SlimNet):
    """A VGG net; subclasses set ``conv_blocks`` and ``scope_name``.

    Variables: ``<scope_name>/conv<i>/conv<i>_<j>/{weights,biases}`` (3x3),
    ``<scope_name>/fc6`` (7x7x512x4096), ``fc7`` (1x1x4096x4096), ``fc8``
    (1x1x4096xnum_classes). End points: every conv and pool by full scope name
    (``'vgg_16/conv1/conv1_1'``, ``'vgg_16/pool1'``...), ``fc6``, ``fc7``,
    ``'global_pool'`` when pooling and ``'<scope_name>/fc8'`` (the logits).

    Attributes:
      num_classes: logits size; 0/None returns the fc7 features.
      dropout_keep_prob: keep probability of dropout6/dropout7 in training.
      spatial_squeeze: squeeze the logits to ``[N, num_classes]`` (needs a 1x1 map).
      fc_conv_padding: padding of fc6: ``'VALID'`` (a 224 input gives 1x1) or
        ``'SAME'`` (a map downsampled 32 times, for fully convolutional use).
      global_pool: average fc7 over space before the logits, for any input size.
    """

    num_classes: int | None = 1000
    dropout_keep_prob: float = 0.5
    spatial_squeeze: bool = True
    fc_conv_padding: str = "VALID"
    global_pool: bool = False

    # (repetitions, depth) of the 3x3 convolutions before each 2x2 max pool.
    conv_blocks: ClassVar[tuple[tuple[int, int], ...]] = ()
    scope_name: ClassVar[str] = "vgg"
    default_image_size: ClassVar[int] = 224

    @nn.compact
    def __call__(self, images: jax.Array, is_training: bool = False) -> tuple[jax.Array, dict[str, jax.Array]]:
        """``images [N, H, W, 3] -> (logits [N, num_classes], end_points)``."""
        end_points: dict[str, jax.Array] = {}
        with self.scoped(), layers.variable_scope(self.scope_name):
            net = images
            for i, (repetitions, depth) in enumerate(self.conv_blocks, start=1):
                net = layers.repeat(net, repetitions, collect(end_points, layers.conv2d), depth, [3, 3], scope=f"conv{i}")
                net = collect(end_points, layers.max_pool2d)(net, [2, 2], scope=f"pool{i}")
            net = fc_conv_head(
                net,
                end_points,
                self,
                is_training=is_training,
                fc6_depth=4096,
                fc6_kernel=(7, 7),
                fc6_padding=self.fc_conv_padding,
            )
        return net, end_points


class VGGA(VGG):
    """VGG 11-layer configuration A (slim's ``vgg_a``)."""

    conv_blocks: ClassVar[tuple[tuple[int, int], ...]] = ((1, 64), (1, 128), (2, 256), (2, 512), (2, 512))
    scope_name: ClassVar[str] = "vgg_a"


class VGG16(VGG):
    """VGG 16-layer configuration D (slim's ``vgg_16``, alias ``vgg_d``)."""

    conv_blocks: ClassVar[tuple[tuple[int, int], ...]] = ((2, 64), (2, 128), (3, 256), (3, 512), (3, 512))
    scope_name: ClassVar[str] = "vgg_16"


class VGG19(VGG):
    """VGG 19-layer configuration E (slim's ``vgg_19``, alias ``vgg_e``)."""

    conv_blocks: ClassVar[tuple[tuple[int, int], ...]] = ((2, 64), (2, 128), (4, 256), (4, 512), (4, 512))
    scope_name: ClassVar[str] = "vgg_19"


REGISTRY = tuple(
    NetSpec(
        name=net.scope_name,
        constructor=net,
        arg_scope=vgg_arg_scope,
        default_image_size=224,
        num_classes=1000,
        preprocessing="vgg",
    )
    for net in (VGGA, VGG16, VGG19)
)
