"""Small slim-style nets for fast training tests (seconds to compile on 2 CPU cores)."""

from __future__ import annotations

import flax.linen as nn
import numpy as np

from jslim import layers
from jslim.data import Dataset
from jslim.nets.base import SlimNet
from jslim.scopes import arg_scope


class TinyNet(SlimNet):
    """tools/make_train_fixtures.py's ``_tiny_net``: conv1 (3x3, 3 maps, batch_norm with
    gamma, no biases) + logits (5 classes). Input ``[N, 6, 6, 2]``."""

    @nn.compact
    def __call__(self, images, is_training=False):
        with self.scoped(), layers.variable_scope("TinyNet"):
            net = layers.conv2d(images, 3, [3, 3], normalizer_fn=layers.batch_norm,
                                normalizer_params={"scale": True, "is_training": is_training}, scope="conv1")
            logits = layers.fully_connected(layers.flatten(net), 5, activation_fn=None, scope="logits")
        return logits, {"Logits": logits}


class WideNet(SlimNet):
    """conv1 (batch_norm) + fc2 (64, big enough to be FSDP-sharded) + dropout + logits.
    Input ``[N, 6, 6, 2]``; ``num_classes`` logits."""

    num_classes: int = 5

    @nn.compact
    def __call__(self, images, is_training=False):
        end_points = {}
        with self.scoped(), layers.variable_scope("WideNet"):
            net = layers.conv2d(images, 8, [3, 3], normalizer_fn=layers.batch_norm,
                                normalizer_params={"is_training": is_training}, scope="conv1")
            net = layers.fully_connected(layers.flatten(net), 64, scope="fc2")
            net = layers.dropout(net, 0.8, is_training=is_training, scope="dropout2")
            logits = end_points["Logits"] = layers.fully_connected(net, self.num_classes, activation_fn=None,
                                                                   scope="logits")
        return logits, end_points


def build(cls=TinyNet, weight_decay: float = 0.01, **kwargs):
    """``cls`` under slim's l2 weight decay on conv and fully_connected weights."""
    with arg_scope([layers.conv2d, layers.fully_connected], weights_regularizer=layers.l2_regularizer(weight_decay)):
        return cls(**kwargs)


def random_dataset(num_samples: int = 64, num_classes: int = 5, seed: int = 0, split: str = "train") -> Dataset:
    """Random ``[N, 6, 6, 2]`` images in [0, 255] with random labels."""
    rng = np.random.default_rng(seed)
    images = rng.uniform(0, 255, (num_samples, 6, 6, 2)).astype(np.float32)
    labels = rng.integers(0, num_classes, num_samples).astype(np.int32)
    return Dataset("random", split, images, labels, num_classes)


def scale(images, height, width, is_training=False, rng=None):
    """A preprocessing function: ``x / 255``."""
    del height, width, is_training, rng
    return np.asarray(images, np.float32) / 255.0
