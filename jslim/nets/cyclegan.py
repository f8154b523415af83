"""The CycleGAN ResNet generator, as in research/slim ``nets/cyclegan.py``.

Zhu et al., "Unpaired Image-to-Image Translation using Cycle-Consistent
Adversarial Networks" (arXiv:1703.10593), following
junyanz/CycleGAN ``models/architectures.lua``. Outside ``nets_factory`` (see
:mod:`jslim.nets.extra`). The generator has no top-level scope: its variables
are ``input/Conv/...``, ``encoder/Conv{,_1}/...``,
``residual_blocks/block_<i>/Conv{,_1}/...``, ``decoder/decoder{1,2}/upconv/...``
and ``output/Conv/...``, as in slim.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from typing import ClassVar

import flax.linen as nn
import jax
import jax.numpy as jnp

from jslim import layers
from jslim.nets.base import SlimNet
from jslim.nets.gan_ops import pad_spatial, resize_bilinear, resize_nearest
from jslim.scopes import arg_scope

__all__ = ["UPSAMPLE_METHODS", "CycleGANGenerator", "cyclegan_arg_scope", "cyclegan_upsample"]

UPSAMPLE_METHODS = ("nn_upsample_conv", "bilinear_upsample_conv", "conv2d_transpose")


def cyclegan_arg_scope(
    instance_norm_center: bool = True,
    instance_norm_scale: bool = True,
    instance_norm_epsilon: float = 0.001,
    weights_init_stddev: float = 0.02,
    weight_decay: float = 0.0,
) -> contextlib.AbstractContextManager:
    """slim's ``cyclegan_arg_scope``: conv2d with instance norm and N(0, stddev) weights.

    Args:
      instance_norm_center: instance norm adds ``beta``.
      instance_norm_scale: instance norm multiplies by ``gamma``.
      instance_norm_epsilon: added to the variance.
      weights_init_stddev: stddev of the normal weight initializer.
      weight_decay: l2 scale of the conv weights (no regularizer when 0).
    """
    params = {"center": instance_norm_center, "scale": instance_norm_scale, "epsilon": instance_norm_epsilon}
    return arg_scope(
        [layers.conv2d],
        normalizer_fn=layers.instance_norm,
        normalizer_params=params,
        weights_initializer=layers.random_normal_initializer(0.0, weights_init_stddev),
        weights_regularizer=layers.l2_regularizer(weight_decay) if weight_decay and weight_decay > 0.0 else None,
    )


def cyclegan_upsample(
    net: jax.Array,
    num_outputs: int,
    stride: Sequence[int],
    method: str = "conv2d_transpose",
    pad_mode: str = "REFLECT",
    align_corners: bool = False,
) -> jax.Array:
    """Upsamples ``net`` by ``stride`` under scope ``upconv``, like slim's ``cyclegan_upsample``.

    * ``'nn_upsample_conv'``: nearest-neighbour resize, ``pad_mode`` pad by 1, 3x3
      VALID ``conv2d`` (scope ``Conv``; the enclosing arg scope's normalizer and
      activation).
    * ``'bilinear_upsample_conv'``: the same after a bilinear resize (``align_corners``).
    * ``'conv2d_transpose'``: a 3x3 VALID ``conv2d_transpose`` (``Conv2d_transpose``,
      biases, ReLU) with the first row and column dropped.

    Args:
      net: ``[N, H, W, C]``.
      num_outputs: output channels.
      stride: ``[sh, sw]`` integer scale factors.
      method: one of :data:`UPSAMPLE_METHODS`.
      pad_mode: ``tf.pad`` mode of the resize methods.
      align_corners: for ``'bilinear_upsample_conv'``.

    Returns:
      ``[N, sh * H, sw * W, num_outputs]``.

    Raises:
      ValueError: an unknown ``method``.
    """
    if method not in UPSAMPLE_METHODS:
        raise ValueError(f"Unknown method: [{method}]; valid: {', '.join(UPSAMPLE_METHODS)}.")
    with layers.variable_scope("upconv"):
        if method == "conv2d_transpose":
            # Drops the first row/column: conv2d is left aligned, conv2d_transpose right aligned.
            net = layers.conv2d_transpose(net, num_outputs, kernel_size=[3, 3], stride=stride, padding="valid")
            return net[:, 1:, 1:, :]
        if method == "nn_upsample_conv":
            net = resize_nearest(net, stride)
        else:
            size = (stride[0] * net.shape[1], stride[1] * net.shape[2])
            net = resize_bilinear(net, size, align_corners=align_corners)
        net = pad_spatial(net, [[1, 1], [1, 1]], pad_mode)
        return layers.conv2d(net, num_outputs, kernel_size=[3, 3], padding="valid")


class CycleGANGenerator(SlimNet):
    """The CycleGAN ResNet generator, like slim's ``cyclegan_generator_resnet``.

    ``input`` (reflect pad 3, 7x7 conv, ``num_filters``), ``encoder`` (two
    stride-2 convs to 2x and 4x ``num_filters``, ReLU), ``num_resnet_blocks``
    residual blocks (two reflect-padded convs each), ``decoder`` (two
    ``upsample_fn`` steps), ``output`` (reflect pad 3, 7x7 conv with biases).
    Everything runs under ``arg_scope_fn()`` (instance norm by default).

    The module returns ``(predictions, end_points)`` like slim:
    ``predictions = tanh(logits) + tanh_linear_slope * logits``. End points:
    ``encoder_0..2``, ``resnet_block_<i>``, ``decoder1``, ``decoder2``,
    ``logits``, ``predictions``.

    Attributes:
      arg_scope_fn: returns the arg scope the net runs under.
      num_resnet_blocks: residual blocks in the middle.
      num_filters: filters of the first layer.
      upsample_fn: ``fn(net, num_outputs=, stride=)``, e.g.
        ``functools.partial(cyclegan_upsample, method='nn_upsample_conv')``.
      kernel_size: int or ``[h, w]`` kernel of the inner layers.
      tanh_linear_slope: slope of the linear term added to ``tanh``.
    """

    arg_scope_fn: Callable[[], contextlib.AbstractContextManager] = cyclegan_arg_scope
    num_resnet_blocks: int = 6
    num_filters: int = 64
    upsample_fn: Callable[..., jax.Array] = cyclegan_upsample
    kernel_size: int | tuple[int, int] = 3
    tanh_linear_slope: float = 0.0

    default_image_size: ClassVar[int] = 256

    @nn.compact
    def __call__(self, images: jax.Array, is_training: bool = False) -> tuple[jax.Array, dict[str, jax.Array]]:
        """``images [N, H, W, C]`` (H, W multiples of 4) ``-> (predictions [N, H, W, C], end_points)``.

        ``is_training`` is unused (no dropout or batch norm), as in slim.
        """
        del is_training
        height, width = images.shape[1:3]
        if height % 4 != 0:
            raise ValueError("The input height must be a multiple of 4.")
        if width % 4 != 0:
            raise ValueError("The input width must be a multiple of 4.")
        num_outputs = images.shape[3]
        kh, kw = (self.kernel_size, self.kernel_size) if isinstance(self.kernel_size, int) else self.kernel_size
        pads = [[(kh - 1) // 2, kh // 2], [(kw - 1) // 2, kw // 2]]
        inner = {"kernel_size": [kh, kw], "activation_fn": jax.nn.relu}
        end_points = {}
        with self.scoped(), self.arg_scope_fn():
            with layers.variable_scope("input"):
                net = pad_spatial(images, [[3, 3], [3, 3]], "REFLECT")
                net = layers.conv2d(net, self.num_filters, kernel_size=[7, 7], padding="VALID")
                end_points["encoder_0"] = net
            with layers.variable_scope("encoder"), arg_scope([layers.conv2d], stride=2, padding="VALID", **inner):
                for i, multiple in ((1, 2), (2, 4)):
                    net = pad_spatial(net, pads, "REFLECT")
                    net = end_points[f"encoder_{i}"] = layers.conv2d(net, self.num_filters * multiple)
            with layers.variable_scope("residual_blocks"), arg_scope(
                [layers.conv2d], stride=1, padding="VALID", **inner
            ):
                for block_id in range(self.num_resnet_blocks):
                    with layers.variable_scope(f"block_{block_id}"):
                        res_net = layers.conv2d(pad_spatial(net, pads, "REFLECT"), self.num_filters * 4)
                        res_net = pad_spatial(res_net, pads, "REFLECT")
                        res_net = layers.conv2d(res_net, self.num_filters * 4, activation_fn=None)
                        net = end_points[f"resnet_block_{block_id}"] = net + res_net
            with layers.variable_scope("decoder"), arg_scope([layers.conv2d], stride=1, **inner):
                for name, filters in (("decoder1", self.num_filters * 2), ("decoder2", self.num_filters)):
                    with layers.variable_scope(name):
                        net = end_points[name] = self.upsample_fn(net, num_outputs=filters, stride=[2, 2])
            with layers.variable_scope("output"):
                net = pad_spatial(net, [[3, 3], [3, 3]], "REFLECT")
                logits = layers.conv2d(
                    net, num_outputs, [7, 7], activation_fn=None, normalizer_fn=None, padding="valid"
                )
        logits = end_points["logits"] = jnp.reshape(logits, images.shape)
        predictions = end_points["predictions"] = jnp.tanh(logits) + logits * self.tanh_linear_slope
        return predictions, end_points
