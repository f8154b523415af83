"""LeNet, as in research/slim ``nets/lenet.py`` (28x28 grayscale digits)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import ClassVar

import flax.linen as nn
import jax

from jslim import layers
from jslim.nets.base import SlimNet
from jslim.nets.spec import NetSpec
from jslim.scopes import arg_scope

__all__ = ["LeNet", "lenet_arg_scope"]


def lenet_arg_scope(weight_decay: float = 0.0) -> contextlib.AbstractContextManager:
    """slim's ``lenet_arg_scope``: l2 weight decay, truncated-normal(0.1) init, ReLU."""
    return arg_scope(
        [layers.conv2d, layers.fully_connected],
        weights_regularizer=layers.l2_regularizer(weight_decay),
        weights_initializer=layers.truncated_normal_initializer(stddev=0.1),
        activation_fn=jax.nn.relu,
    )


class LeNet(SlimNet):
    """LeNet: two 5x5 convs with 2x2 max pools, fc 1024, dropout, logits.

    Variables: ``LeNet/{conv1,conv2,fc3,fc4}/{weights,biases}``.

    Attributes:
      num_classes: logits size; 0/None returns the 1024-d pre-dropout features.
      dropout_keep_prob: keep probability of ``dropout3`` in training.
      prediction_fn: maps logits to ``end_points['Predictions']``.
    """

    num_classes: int | None = 10
    dropout_keep_prob: float = 0.5
    prediction_fn: Callable[[jax.Array], jax.Array] = layers.softmax

    default_image_size: ClassVar[int] = 28
    input_channels: ClassVar[int] = 1

    @nn.compact
    def __call__(self, images: jax.Array, is_training: bool = False) -> tuple[jax.Array, dict[str, jax.Array]]:
        """``images [N, 28, 28, 1] -> (logits [N, num_classes], end_points)``."""
        end_points = {}
        with self.scoped(), layers.variable_scope("LeNet"):
            net = end_points["conv1"] = layers.conv2d(images, 32, [5, 5], scope="conv1")
            net = end_points["pool1"] = layers.max_pool2d(net, [2, 2], 2, scope="pool1")
            net = end_points["conv2"] = layers.conv2d(net, 64, [5, 5], scope="conv2")
            net = end_points["pool2"] = layers.max_pool2d(net, [2, 2], 2, scope="pool2")
            net = layers.flatten(net)
            end_points["Flatten"] = net
            net = end_points["fc3"] = layers.fully_connected(net, 1024, scope="fc3")
            if not self.num_classes:
                return net, end_points
            net = end_points["dropout3"] = layers.dropout(
                net, self.dropout_keep_prob, is_training=is_training, scope="dropout3"
            )
            logits = end_points["Logits"] = layers.fully_connected(
                net, self.num_classes, activation_fn=None, scope="fc4"
            )
        end_points["Predictions"] = self.prediction_fn(logits)
        return logits, end_points


REGISTRY = (
    NetSpec(
        name="lenet",
        constructor=LeNet,
        arg_scope=lenet_arg_scope,
        default_image_size=28,
        num_classes=10,
        preprocessing="lenet",
        input_channels=1,
    ),
)
