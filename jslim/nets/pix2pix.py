"""The pix2pix U-Net generator and PatchGAN discriminator, as in research/slim ``nets/pix2pix.py``.

Isola et al., "Image-to-Image Translation with Conditional Adversarial
Networks" (arXiv:1611.07004), following phillipi/pix2pix ``models.lua``.
Outside ``nets_factory`` (see :mod:`jslim.nets.extra`). Neither net opens a
top-level scope: variables are ``encoder/Conv*``, ``decoder/Conv*`` (or
``decoder/Conv2d_transpose*``), ``output/Conv`` and ``conv<i>``, as in slim.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from typing import ClassVar, NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp

from jslim import layers
from jslim.nets.base import SlimNet
from jslim.nets.gan_ops import leaky_relu, pad_spatial, resize_nearest
from jslim.scopes import arg_scope

__all__ = [
    "DEFAULT_GENERATOR_BLOCKS",
    "UPSAMPLE_METHODS",
    "Block",
    "Pix2PixDiscriminator",
    "Pix2PixGenerator",
    "pix2pix_arg_scope",
    "upsample",
]

UPSAMPLE_METHODS = ("nn_upsample_conv", "conv2d_transpose")


def pix2pix_arg_scope() -> contextlib.AbstractContextManager:
    """slim's ``pix2pix_arg_scope``: conv2d and conv2d_transpose with instance norm
    (center, scale, epsilon 1e-5) and N(0, 0.02) weights."""
    return arg_scope(
        [layers.conv2d, layers.conv2d_transpose],
        normalizer_fn=layers.instance_norm,
        normalizer_params={"center": True, "scale": True, "epsilon": 0.00001},
        weights_initializer=layers.random_normal_initializer(0.0, 0.02),
    )


def upsample(
    net: jax.Array, num_outputs: int, kernel_size: Sequence[int], method: str = "nn_upsample_conv"
) -> jax.Array:
    """Upsamples ``net`` by the factors ``kernel_size``, like slim's ``pix2pix.upsample``.

    ``'nn_upsample_conv'``: nearest-neighbour resize then a 4x4 SAME ``conv2d``;
    ``'conv2d_transpose'``: a 4x4 SAME ``conv2d_transpose`` with stride
    ``kernel_size``. Both without activation (the normalizer comes from the arg scope).

    Raises:
      ValueError: an unknown ``method``.
    """
    if method == "nn_upsample_conv":
        return layers.conv2d(resize_nearest(net, kernel_size), num_outputs, [4, 4], activation_fn=None)
    if method == "conv2d_transpose":
        return layers.conv2d_transpose(net, num_outputs, [4, 4], stride=kernel_size, activation_fn=None)
    raise ValueError(f"Unknown method: [{method}]; valid: {', '.join(UPSAMPLE_METHODS)}.")


class Block(NamedTuple):
    """One encoder convolution and its mirrored decoder step.

    Attributes:
      num_filters: depth of the encoder conv and of the decoder upsampling.
      decoder_keep_prob: keep probability of the decoder's dropout (0: no dropout).
    """

    num_filters: int
    decoder_keep_prob: float


DEFAULT_GENERATOR_BLOCKS = (
    Block(64, 0.5),
    Block(128, 0.5),
    Block(256, 0.5),
    Block(512, 0),
    Block(512, 0),
    Block(512, 0),
    Block(512, 0),
)


class Pix2PixGenerator(SlimNet):
    """The pix2pix U-Net, like slim's ``pix2pix_generator``.

    Encoder: one 4x4 stride-2 ``conv2d`` per block (leaky ReLU; the first has no
    normalizer, the last neither normalizer nor activation). Decoder, blocks
    reversed: concat the mirrored encoder output (from the second step on),
    ReLU, :func:`upsample` x2, dropout with ``decoder_keep_prob`` when > 0 —
    *also at inference*, as in the paper and slim (``apply`` then needs a
    ``'dropout'`` RNG). Output: a 4x4 ``conv2d`` to ``num_outputs`` (biases, no
    activation or normalizer). Input height and width must be divisible by
    ``2 ** len(blocks)`` (slim says square; any such shape works).

    Returns ``(logits, end_points)``; end points ``encoder<i>``, ``decoder<i>``,
    ``logits``, ``predictions`` (``tanh``).

    Attributes:
      num_outputs: output channels per pixel.
      blocks: :class:`Block` tuple; None/empty: :data:`DEFAULT_GENERATOR_BLOCKS`.
      upsample_method: one of :data:`UPSAMPLE_METHODS`.
    """

    num_outputs: int
    blocks: tuple[Block, ...] | None = None
    upsample_method: str = "nn_upsample_conv"

    default_image_size: ClassVar[int] = 256

    @nn.compact
    def __call__(self, images: jax.Array, is_training: bool = False) -> tuple[jax.Array, dict[str, jax.Array]]:
        """``images [N, S, S, C] -> (logits [N, S, S, num_outputs], end_points)``.

        ``is_training`` is unused (slim's decoder dropout always runs).
        """
        del is_training
        if self.upsample_method not in UPSAMPLE_METHODS:
            raise ValueError(f"Unknown method: [{self.upsample_method}]; valid: {', '.join(UPSAMPLE_METHODS)}.")
        blocks = tuple(self.blocks or DEFAULT_GENERATOR_BLOCKS)
        if images.shape[1] % 2 ** len(blocks) or images.shape[2] % 2 ** len(blocks):
            raise ValueError(
                f"pix2pix_generator: the U-Net's skip connections need a height and width divisible by "
                f"2**len(blocks) = {2 ** len(blocks)}, got {tuple(images.shape[1:3])}."
            )
        output_shape = (*images.shape[:3], self.num_outputs)
        end_points, encoder_activations = {}, []
        net = images
        with self.scoped():
            with layers.variable_scope("encoder"), arg_scope(
                [layers.conv2d], kernel_size=[4, 4], stride=2, activation_fn=leaky_relu
            ):
                for block_id, block in enumerate(blocks):
                    if block_id == 0:  # no normalizer on the first layer ('Image-to-Image', 5.1.1)
                        net = layers.conv2d(net, block.num_filters, normalizer_fn=None)
                    elif block_id < len(blocks) - 1:
                        net = layers.conv2d(net, block.num_filters)
                    else:
                        net = layers.conv2d(net, block.num_filters, activation_fn=None, normalizer_fn=None)
                    encoder_activations.append(net)
                    end_points[f"encoder{block_id}"] = net
            # Dropout at train and test time ('Image-to-Image', 2.1).
            with layers.variable_scope("decoder"), arg_scope([layers.dropout], is_training=True):
                for block_id, block in enumerate(reversed(blocks)):
                    if block_id > 0:
                        net = jnp.concatenate([net, encoder_activations[-block_id - 1]], axis=3)
                    net = upsample(jax.nn.relu(net), block.num_filters, [2, 2], method=self.upsample_method)
                    if block.decoder_keep_prob > 0:
                        net = layers.dropout(net, keep_prob=block.decoder_keep_prob)
                    end_points[f"decoder{block_id}"] = net
            with layers.variable_scope("output"):
                logits = layers.conv2d(net, self.num_outputs, [4, 4], activation_fn=None, normalizer_fn=None)
        logits = end_points["logits"] = jnp.reshape(logits, output_shape)
        end_points["predictions"] = jnp.tanh(logits)
        return logits, end_points


class Pix2PixDiscriminator(SlimNet):
    """The pix2pix PatchGAN discriminator, like slim's ``pix2pix_discriminator``.

    Before each 4x4 VALID ``conv2d``, a ``pad_mode`` pad of ``padding``:
    ``conv0`` (stride 2, no normalizer, biases), ``conv1..conv{n-2}`` (stride
    2), ``conv{n-1}`` (stride 1), all with ``activation_fn``; then
    ``conv{n}``: one logit per patch (stride 1, biases, no activation or
    normalizer). Returns ``(logits [N, P, P, 1], end_points)``; end points
    ``conv0..conv{n-1}``, ``logits``, ``predictions`` (sigmoid).

    Attributes:
      num_filters: depth of each layer; its length ``n`` sets the layer count.
      padding: pad before each convolution (0: none).
      pad_mode: ``'CONSTANT'``, ``'REFLECT'`` or ``'SYMMETRIC'``.
      activation_fn: activation of the hidden layers (``tf.nn.leaky_relu``).
    """

    num_filters: tuple[int, ...]
    padding: int = 2
    pad_mode: str = "REFLECT"
    activation_fn: Callable[[jax.Array], jax.Array] | None = leaky_relu

    default_image_size: ClassVar[int] = 256

    @nn.compact
    def __call__(self, images: jax.Array, is_training: bool = False) -> tuple[jax.Array, dict[str, jax.Array]]:
        """``images [N, H, W, C] -> (logits [N, P, P', 1], end_points)``; ``is_training`` is unused."""
        del is_training
        if not isinstance(self.padding, int) or isinstance(self.padding, bool):
            raise TypeError(f"padding must be an int, got {self.padding!r}.")
        if self.padding < 0:
            raise ValueError(f"padding must be non-negative, got {self.padding}.")
        if len(self.num_filters) < 2:
            raise ValueError(
                "num_filters must list at least two depths (slim builds conv0 twice otherwise), "
                f"got {self.num_filters!r}."
            )
        num_layers = len(self.num_filters)

        def padded(net: jax.Array) -> jax.Array:
            pad = [[self.padding] * 2] * 2
            return pad_spatial(net, pad, self.pad_mode) if self.padding else net

        end_points = {}
        with self.scoped(), arg_scope(
            [layers.conv2d], kernel_size=[4, 4], stride=2, padding="valid", activation_fn=self.activation_fn
        ):
            net = end_points["conv0"] = layers.conv2d(
                padded(images), self.num_filters[0], normalizer_fn=None, scope="conv0"
            )
            for i in range(1, num_layers - 1):
                net = end_points[f"conv{i}"] = layers.conv2d(padded(net), self.num_filters[i], scope=f"conv{i}")
            last = f"conv{num_layers - 1}"
            net = end_points[last] = layers.conv2d(padded(net), self.num_filters[-1], stride=1, scope=last)
            logits = end_points["logits"] = layers.conv2d(
                padded(net), 1, stride=1, activation_fn=None, normalizer_fn=None, scope=f"conv{num_layers}"
            )
        end_points["predictions"] = jax.nn.sigmoid(logits)
        return logits, end_points
