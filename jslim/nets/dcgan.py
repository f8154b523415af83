"""DCGAN generator and discriminator, as in research/slim ``nets/dcgan.py``.

Radford et al., "Unsupervised Representation Learning with Deep Convolutional
Generative Adversarial Networks" (arXiv:1511.06434). Outside ``nets_factory``
(see :mod:`jslim.nets.extra`). Both nets use batch norm with
``zero_debias_moving_mean=True``; slim builds them with ``is_training=True`` by
default, jslim takes ``is_training`` at call time (default False, like every
jslim net).
"""

from __future__ import annotations

import contextlib
from typing import ClassVar

import flax.linen as nn
import jax
import jax.numpy as jnp

from jslim import layers
from jslim.nets.base import SlimNet
from jslim.nets.gan_ops import leaky_relu
from jslim.scopes import arg_scope

__all__ = ["DCGANDiscriminator", "DCGANGenerator", "is_power_of_2"]


def is_power_of_2(n: int) -> bool:
    """Whether the positive int ``n`` is a power of two (slim: ``log(n, 2) == int(log(n, 2))``)."""
    return n > 0 and n & (n - 1) == 0


def _validate_image_inputs(inputs: jax.Array) -> None:
    """slim's checks: rank 4, square, a power-of-two side."""
    if inputs.ndim != 4:
        raise ValueError(f"Input tensor must have rank 4 [batch, height, width, channels], got shape {inputs.shape}.")
    if inputs.shape[1] != inputs.shape[2]:
        raise ValueError(f"Input tensor does not have equal width and height: {tuple(inputs.shape[1:3])}.")
    if not is_power_of_2(inputs.shape[1]):
        raise ValueError(f"Input tensor `width` is not a power of 2: {inputs.shape[1]}.")


def _batch_norm_scope(is_training: bool, fused_batch_norm: bool) -> contextlib.AbstractContextManager:
    return arg_scope(
        [layers.batch_norm], is_training=is_training, zero_debias_moving_mean=True, fused=fused_batch_norm
    )


class DCGANDiscriminator(SlimNet):
    """The DCGAN discriminator, like slim's ``dcgan.discriminator``.

    ``log2(size)`` stride-2 4x4 convolutions ``conv1..convK`` (depth ``depth *
    2**i``, leaky ReLU, batch norm from ``conv2`` on) down to 1x1, then a 1x1
    convolution to one logit (``Discriminator/Conv``, biases, no activation).

    Variables: ``Discriminator/conv1/{weights,biases}``,
    ``Discriminator/conv<i>/{weights,BatchNorm/{beta,moving_mean,moving_variance}}``,
    ``Discriminator/Conv/{weights,biases}``. End points: ``conv1..convK``, ``logits``.

    Attributes:
      depth: channels of the first convolution.
      fused_batch_norm: slim's ``fused`` argument of batch norm (only decides
        whether training updates use the Bessel-corrected variance).
    """

    depth: int = 64
    fused_batch_norm: bool = False

    default_image_size: ClassVar[int] = 32

    @nn.compact
    def __call__(self, images: jax.Array, is_training: bool = False) -> tuple[jax.Array, dict[str, jax.Array]]:
        """``images [N, S, S, C]`` (S a power of 2) ``-> (logits [N, 1], end_points)``."""
        _validate_image_inputs(images)
        end_points = {}
        with self.scoped(), layers.variable_scope("Discriminator"):
            with _batch_norm_scope(is_training, self.fused_batch_norm):
                with arg_scope([layers.conv2d], stride=2, kernel_size=4, activation_fn=leaky_relu):
                    net = images
                    for i in range(images.shape[1].bit_length() - 1):
                        scope = f"conv{i + 1}"
                        net = end_points[scope] = layers.conv2d(
                            net, self.depth * 2**i, normalizer_fn=None if i == 0 else layers.batch_norm,
                            scope=scope,
                        )
                    logits = layers.conv2d(
                        net, 1, kernel_size=1, stride=1, padding="VALID", normalizer_fn=None, activation_fn=None
                    )
        logits = end_points["logits"] = jnp.reshape(logits, (-1, 1))
        return logits, end_points


class DCGANGenerator(SlimNet):
    """The DCGAN generator, like slim's ``dcgan.generator``.

    ``n = log2(final_size) - 1`` 4x4 transposed convolutions: ``deconv1`` (1x1
    -> 4x4, VALID), ``deconv2..deconv{n-1}`` (stride 2, depth halving down to
    ``2 * depth``), all with batch norm and ReLU, then ``deconv{n}`` (``depth``
    channels, biases, no activation) and a 1x1 ``logits`` convolution to
    ``num_outputs`` channels.

    Variables: ``Generator/deconv<i>/{weights,BatchNorm/{beta,moving_mean,moving_variance}}``,
    ``Generator/deconv<n>/{weights,biases}``, ``Generator/logits/{weights,biases}``.
    End points: ``deconv1..deconv<n>``, ``logits``.

    Attributes:
      depth: channels of the last transposed convolution.
      final_size: output height and width, a power of 2, at least 8.
      num_outputs: output channels.
      fused_batch_norm: slim's ``fused`` argument of batch norm.
    """

    depth: int = 64
    final_size: int = 32
    num_outputs: int = 3
    fused_batch_norm: bool = False

    noise_dims: ClassVar[int] = 64

    def example_input(self, batch_size: int = 1) -> jnp.ndarray:
        """Zeros ``[batch_size, 64]`` (a noise batch as in slim's tests)."""
        return jnp.zeros((batch_size, self.noise_dims), jnp.float32)

    @nn.compact
    def __call__(self, inputs: jax.Array, is_training: bool = False) -> tuple[jax.Array, dict[str, jax.Array]]:
        """``inputs [N, noise] -> (images [N, final_size, final_size, num_outputs], end_points)``."""
        if inputs.ndim != 2:
            raise ValueError(f"inputs must have rank 2 [batch, noise], got shape {inputs.shape}.")
        if not is_power_of_2(self.final_size):
            raise ValueError(f"`final_size` ({self.final_size}) must be a power of 2.")
        if self.final_size < 8:
            raise ValueError(f"`final_size` ({self.final_size}) must be greater than 8.")
        num_layers = self.final_size.bit_length() - 2
        end_points = {}
        with self.scoped(), layers.variable_scope("Generator"):
            with _batch_norm_scope(is_training, self.fused_batch_norm):
                with arg_scope(
                    [layers.conv2d_transpose], normalizer_fn=layers.batch_norm, stride=2, kernel_size=4
                ):
                    net = inputs[:, None, None, :]
                    # The first upscaling takes the noise vector: 1x1 -> 4x4.
                    net = end_points["deconv1"] = layers.conv2d_transpose(
                        net, self.depth * 2 ** (num_layers - 1), stride=1, padding="VALID", scope="deconv1"
                    )
                    for i in range(2, num_layers):
                        scope = f"deconv{i}"
                        net = end_points[scope] = layers.conv2d_transpose(
                            net, self.depth * 2 ** (num_layers - i), scope=scope
                        )
                    scope = f"deconv{num_layers}"
                    net = end_points[scope] = layers.conv2d_transpose(
                        net, self.depth, normalizer_fn=None, activation_fn=None, scope=scope
                    )
                    logits = end_points["logits"] = layers.conv2d(
                        net, self.num_outputs, normalizer_fn=None, activation_fn=None, kernel_size=1, stride=1,
                        padding="VALID", scope="logits",
                    )
        return logits, end_points
