"""CifarNet, as in research/slim ``nets/cifarnet.py`` (a CIFAR-10 model, 32x32 inputs)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import ClassVar

import flax.linen as nn
import jax
import jax.numpy as jnp

from jslim import layers
from jslim.nets.base import SlimNet
from jslim.nets.spec import NetSpec
from jslim.scopes import arg_scope

__all__ = ["CifarNet", "cifarnet_arg_scope", "local_response_normalization"]


def local_response_normalization(
    inputs: jax.Array, depth_radius: int = 5, bias: float = 1.0, alpha: float = 1.0, beta: float = 0.5
) -> jax.Array:
    """``tf.nn.lrn`` on the last axis: ``x / (bias + alpha * sum_window(x**2)) ** beta``.

    The window spans channels ``[c - depth_radius, c + depth_radius]`` (clipped at
    the edges); as in TF, ``alpha`` is not divided by the window size.

    Args:
      inputs: ``[..., C]``.

    Returns:
      The normalized tensor, same shape.
    """
    window = (1,) * (inputs.ndim - 1) + (2 * depth_radius + 1,)
    pads = ((0, 0),) * (inputs.ndim - 1) + ((depth_radius, depth_radius),)
    # A Python-scalar identity lets JAX pick its differentiable sum-pooling primitive.
    sums = jax.lax.reduce_window(jnp.square(inputs), 0.0, jax.lax.add, window, (1,) * inputs.ndim, pads)
    return inputs / (bias + alpha * sums) ** beta


def _norm(net: jax.Array) -> jax.Array:
    return local_response_normalization(net, 4, bias=1.0, alpha=0.001 / 9.0, beta=0.75)


def cifarnet_arg_scope(weight_decay: float = 0.004) -> contextlib.AbstractContextManager:
    """slim's ``cifarnet_arg_scope``.

    conv2d: truncated-normal(0.05) weights, ReLU. fully_connected: biases 0.1,
    truncated-normal(0.04) weights, l2 ``weight_decay``, ReLU.
    """
    with arg_scope(
        [layers.conv2d],
        weights_initializer=layers.truncated_normal_initializer(stddev=5e-2),
        activation_fn=jax.nn.relu,
    ):
        with arg_scope(
            [layers.fully_connected],
            biases_initializer=layers.constant_initializer(0.1),
            weights_initializer=layers.truncated_normal_initializer(stddev=0.04),
            weights_regularizer=layers.l2_regularizer(weight_decay),
            activation_fn=jax.nn.relu,
        ) as sc:
            return arg_scope(sc)


class CifarNet(SlimNet):
    """CifarNet: two 5x5 convs with max pools and LRN, fc 384, fc 192, logits.

    Variables: ``CifarNet/{conv1,conv2,fc3,fc4,logits}/{weights,biases}``.
    End points: conv1, pool1, conv2, pool2, Flatten, fc3, fc4, Logits, Predictions.

    Attributes:
      num_classes: logits size; 0/None returns the 192-d fc4 features.
      dropout_keep_prob: keep probability of ``dropout3`` in training.
      prediction_fn: maps logits to ``end_points['Predictions']``.
    """

    num_classes: int | None = 10
    dropout_keep_prob: float = 0.5
    prediction_fn: Callable[[jax.Array], jax.Array] = layers.softmax

    default_image_size: ClassVar[int] = 32

    @nn.compact
    def __call__(self, images: jax.Array, is_training: bool = False) -> tuple[jax.Array, dict[str, jax.Array]]:
        """``images [N, 32, 32, 3] -> (logits [N, num_classes], end_points)``."""
        end_points = {}
        with self.scoped(), layers.variable_scope("CifarNet"):
            net = end_points["conv1"] = layers.conv2d(images, 64, [5, 5], scope="conv1")
            net = end_points["pool1"] = layers.max_pool2d(net, [2, 2], 2, scope="pool1")
            net = _norm(net)
            net = end_points["conv2"] = layers.conv2d(net, 64, [5, 5], scope="conv2")
            net = _norm(net)
            net = end_points["pool2"] = layers.max_pool2d(net, [2, 2], 2, scope="pool2")
            net = end_points["Flatten"] = layers.flatten(net)
            net = end_points["fc3"] = layers.fully_connected(net, 384, scope="fc3")
            net = layers.dropout(net, self.dropout_keep_prob, is_training=is_training, scope="dropout3")
            net = end_points["fc4"] = layers.fully_connected(net, 192, scope="fc4")
            if not self.num_classes:
                return net, end_points
            logits = end_points["Logits"] = layers.fully_connected(
                net,
                self.num_classes,
                biases_initializer=layers.zeros_initializer(),
                weights_initializer=layers.truncated_normal_initializer(stddev=1 / 192.0),
                weights_regularizer=None,
                activation_fn=None,
                scope="logits",
            )
        end_points["Predictions"] = self.prediction_fn(logits)
        return logits, end_points


REGISTRY = (
    NetSpec(
        name="cifarnet",
        constructor=CifarNet,
        arg_scope=cifarnet_arg_scope,
        default_image_size=32,
        num_classes=10,
        preprocessing="cifarnet",
    ),
)
