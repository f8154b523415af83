"""Inception V4, as in research/slim ``nets/inception_v4.py``.

Szegedy et al., "Inception-v4, Inception-ResNet and the Impact of Residual
Connections on Learning", arXiv:1602.07261. The body is data
(:data:`INCEPTION_V4_BODY`, built with :mod:`jslim.nets.inception_utils`): a stem,
4 Inception-A blocks (35x35x384), Reduction-A, 7 Inception-B blocks
(17x17x1024), Reduction-B and 3 Inception-C blocks (8x8x1536).

Variables: ``InceptionV4/<end point>/[Branch_<i>/]<layer>/...``,
``InceptionV4/AuxLogits/{Conv2d_1b_1x1,Conv2d_2a,Aux_logits}``,
``InceptionV4/Logits/Logits/{weights,biases}``.
"""

from __future__ import annotations

import contextlib
from typing import ClassVar

import flax.linen as nn
import jax

from jslim import layers
from jslim.nets.base import SlimNet
from jslim.nets.inception_utils import AvgPool, Concat, Conv, MaxPool, Mixed, build_end_points, inception_arg_scope
from jslim.nets.spec import NetSpec
from jslim.scopes import arg_scope

__all__ = [
    "INCEPTION_V4_BODY",
    "InceptionV4",
    "aux_logits_head",
    "block_inception_a",
    "block_inception_b",
    "block_inception_c",
    "block_reduction_a",
    "block_reduction_b",
    "inception_v4_arg_scope",
    "inception_v4_base",
    "pooled_logits_head",
]

EndPoints = dict[str, jax.Array]

inception_v4_arg_scope = inception_arg_scope

_REDUCE = {"stride": 2, "padding": "VALID"}


def block_inception_a(scope: str) -> Mixed:
    """Inception-A (35x35, 384 out): 1x1 | 1x1-3x3 | 1x1-3x3-3x3 | avgpool-1x1."""
    return Mixed(scope, (
        (Conv("Conv2d_0a_1x1", 96, 1),),
        (Conv("Conv2d_0a_1x1", 64, 1), Conv("Conv2d_0b_3x3", 96, 3)),
        (Conv("Conv2d_0a_1x1", 64, 1), Conv("Conv2d_0b_3x3", 96, 3), Conv("Conv2d_0c_3x3", 96, 3)),
        (AvgPool("AvgPool_0a_3x3", 3), Conv("Conv2d_0b_1x1", 96, 1)),
    ))


def block_reduction_a(scope: str) -> Mixed:
    """Reduction-A (35x35 -> 17x17, 1024 out): 3x3/2 | 1x1-3x3-3x3/2 | maxpool/2."""
    return Mixed(scope, (
        (Conv("Conv2d_1a_3x3", 384, 3, **_REDUCE),),
        (Conv("Conv2d_0a_1x1", 192, 1), Conv("Conv2d_0b_3x3", 224, 3), Conv("Conv2d_1a_3x3", 256, 3, **_REDUCE)),
        (MaxPool("MaxPool_1a_3x3", 3, **_REDUCE),),
    ))


def block_inception_b(scope: str) -> Mixed:
    """Inception-B (17x17, 1024 out): 1x1 | 1x1-1x7-7x1 | 1x1-7x1-1x7-7x1-1x7 | avgpool-1x1."""
    return Mixed(scope, (
        (Conv("Conv2d_0a_1x1", 384, 1),),
        (Conv("Conv2d_0a_1x1", 192, 1), Conv("Conv2d_0b_1x7", 224, (1, 7)), Conv("Conv2d_0c_7x1", 256, (7, 1))),
        (
            Conv("Conv2d_0a_1x1", 192, 1),
            Conv("Conv2d_0b_7x1", 192, (7, 1)),
            Conv("Conv2d_0c_1x7", 224, (1, 7)),
            Conv("Conv2d_0d_7x1", 224, (7, 1)),
            Conv("Conv2d_0e_1x7", 256, (1, 7)),
        ),
        (AvgPool("AvgPool_0a_3x3", 3), Conv("Conv2d_0b_1x1", 128, 1)),
    ))


def block_reduction_b(scope: str) -> Mixed:
    """Reduction-B (17x17 -> 8x8, 1536 out): 1x1-3x3/2 | 1x1-1x7-7x1-3x3/2 | maxpool/2."""
    return Mixed(scope, (
        (Conv("Conv2d_0a_1x1", 192, 1), Conv("Conv2d_1a_3x3", 192, 3, **_REDUCE)),
        (
            Conv("Conv2d_0a_1x1", 256, 1),
            Conv("Conv2d_0b_1x7", 256, (1, 7)),
            Conv("Conv2d_0c_7x1", 320, (7, 1)),
            Conv("Conv2d_1a_3x3", 320, 3, **_REDUCE),
        ),
        (MaxPool("MaxPool_1a_3x3", 3, **_REDUCE),),
    ))


def block_inception_c(scope: str) -> Mixed:
    """Inception-C (8x8, 1536 out): 1x1 | 1x1-(1x3|3x1) | 1x1-3x1-1x3-(1x3|3x1) | avgpool-1x1."""
    return Mixed(scope, (
        (Conv("Conv2d_0a_1x1", 256, 1),),
        (
            Conv("Conv2d_0a_1x1", 384, 1),
            Concat((Conv("Conv2d_0b_1x3", 256, (1, 3)), Conv("Conv2d_0c_3x1", 256, (3, 1)))),
        ),
        (
            Conv("Conv2d_0a_1x1", 384, 1),
            Conv("Conv2d_0b_3x1", 448, (3, 1)),
            Conv("Conv2d_0c_1x3", 512, (1, 3)),
            Concat((Conv("Conv2d_0d_1x3", 256, (1, 3)), Conv("Conv2d_0e_3x1", 256, (3, 1)))),
        ),
        (AvgPool("AvgPool_0a_3x3", 3), Conv("Conv2d_0b_1x1", 256, 1)),
    ))


# Every layer runs under arg_scope(stride=1, padding='SAME') unless it says otherwise.
INCEPTION_V4_BODY = (
    Conv("Conv2d_1a_3x3", 32, 3, **_REDUCE),  # 149 x 149 x 32
    Conv("Conv2d_2a_3x3", 32, 3, padding="VALID"),  # 147 x 147 x 32
    Conv("Conv2d_2b_3x3", 64, 3),  # 147 x 147 x 64
    Mixed("Mixed_3a", (  # 73 x 73 x 160
        (MaxPool("MaxPool_0a_3x3", 3, **_REDUCE),),
        (Conv("Conv2d_0a_3x3", 96, 3, **_REDUCE),),
    )),
    Mixed("Mixed_4a", (  # 71 x 71 x 192
        (Conv("Conv2d_0a_1x1", 64, 1), Conv("Conv2d_1a_3x3", 96, 3, padding="VALID")),
        (
            Conv("Conv2d_0a_1x1", 64, 1),
            Conv("Conv2d_0b_1x7", 64, (1, 7)),
            Conv("Conv2d_0c_7x1", 64, (7, 1)),
            Conv("Conv2d_1a_3x3", 96, 3, padding="VALID"),
        ),
    )),
    Mixed("Mixed_5a", (  # 35 x 35 x 384
        (Conv("Conv2d_1a_3x3", 192, 3, **_REDUCE),),
        (MaxPool("MaxPool_1a_3x3", 3, **_REDUCE),),
    )),
    *(block_inception_a(f"Mixed_5{c}") for c in "bcde"),  # 35 x 35 x 384
    block_reduction_a("Mixed_6a"),  # 17 x 17 x 1024
    *(block_inception_b(f"Mixed_6{c}") for c in "bcdefgh"),  # 17 x 17 x 1024
    block_reduction_b("Mixed_7a"),  # 8 x 8 x 1536
    *(block_inception_c(f"Mixed_7{c}") for c in "bcd"),  # 8 x 8 x 1536
)


def _stride1_same() -> contextlib.AbstractContextManager:
    return arg_scope([layers.conv2d, layers.max_pool2d, layers.avg_pool2d], stride=1, padding="SAME")


def inception_v4_base(
    inputs: jax.Array, final_endpoint: str = "Mixed_7d", scope: str | None = None
) -> tuple[jax.Array, EndPoints]:
    """Inception V4 up to ``final_endpoint``, in scope ``scope`` (default ``InceptionV4``).

    Args:
      inputs: ``[batch, 299, 299, 3]`` (other sizes work; 150 gives 3x3 at Mixed_7d).
      final_endpoint: one of ``Conv2d_1a_3x3, Conv2d_2a_3x3, Conv2d_2b_3x3,
        Mixed_3a, Mixed_4a, Mixed_5a..Mixed_5e, Mixed_6a..Mixed_6h,
        Mixed_7a..Mixed_7d``.
      scope: the variable scope.

    Returns:
      ``(net, end_points)``: the final end point's output (``[batch, 8, 8, 1536]``
      for Mixed_7d at 299) and every end point up to it.

    Raises:
      ValueError: an unknown ``final_endpoint`` (the message lists the valid ones).
    """
    with layers.variable_scope(scope, default_name="InceptionV4"), _stride1_same():
        return build_end_points(inputs, INCEPTION_V4_BODY, final_endpoint)


def aux_logits_head(
    net: jax.Array, num_classes: int, *, pool_scope: str, conv_scope: str, logits_scope: str
) -> jax.Array:
    """The auxiliary classifier (in the current scope, slim's ``AuxLogits``).

    5x5/3 VALID average pool, 1x1 conv to 128 (``Conv2d_1b_1x1``), a VALID conv
    to 768 covering the whole map, flatten, linear ``fully_connected``.

    Returns:
      ``[batch, num_classes]``.

    Raises:
      ValueError: ``net`` is smaller than the 5x5 pooling window.
    """
    if net.shape[1] < 5 or net.shape[2] < 5:
        raise ValueError(
            f"AuxLogits needs a feature map of at least 5x5, got {net.shape[1]}x{net.shape[2]} "
            "(inception_v4 and inception_resnet_v2 need inputs of at least 107x107); "
            "use larger images or create_aux_logits=False."
        )
    net = layers.avg_pool2d(net, [5, 5], stride=3, padding="VALID", scope=pool_scope)
    net = layers.conv2d(net, 128, [1, 1], scope="Conv2d_1b_1x1")
    net = layers.conv2d(net, 768, list(net.shape[1:3]), padding="VALID", scope=conv_scope)
    net = layers.flatten(net)
    return layers.fully_connected(net, num_classes, activation_fn=None, scope=logits_scope)


def pooled_logits_head(
    net: jax.Array,
    end_points: EndPoints,
    num_classes: int | None,
    dropout_keep_prob: float,
    *,
    pool_scope: str,
    dropout_scope: str,
    dropout_first: bool,
) -> jax.Array:
    """The ``Logits`` scope of inception_v4 / inception_resnet_v2 (opened here).

    A VALID average pool over the whole map (end point ``global_pool``); without
    ``num_classes`` that is returned. Else dropout and flatten (in that order when
    ``dropout_first``; end point ``PreLogitsFlatten`` after both), the linear
    ``Logits`` layer and softmax (end points ``Logits``, ``Predictions``).

    Returns:
      ``[batch, num_classes]``, or the pooled ``[batch, 1, 1, C]`` features.
    """
    with layers.variable_scope("Logits"):
        net = layers.avg_pool2d(net, list(net.shape[1:3]), padding="VALID", scope=pool_scope)
        end_points["global_pool"] = net
        if not num_classes:
            return net
        if dropout_first:
            net = layers.flatten(layers.dropout(net, dropout_keep_prob, scope=dropout_scope), scope="PreLogitsFlatten")
        else:
            net = layers.dropout(layers.flatten(net), dropout_keep_prob, scope=dropout_scope)
        end_points["PreLogitsFlatten"] = net
        logits = end_points["Logits"] = layers.fully_connected(net, num_classes, activation_fn=None, scope="Logits")
        end_points["Predictions"] = layers.softmax(logits, scope="Predictions")
    return logits


class InceptionV4(SlimNet):
    """Inception V4: ``images [N, 299, 299, 3] -> (logits [N, num_classes], end_points)``.

    End points: those of :func:`inception_v4_base` (up to ``Mixed_7d``), then
    ``AuxLogits`` (from ``Mixed_6h``), ``global_pool``, ``PreLogitsFlatten``,
    ``Logits``, ``Predictions``.

    Attributes:
      num_classes: logits size; 0/None returns the pooled ``[N, 1, 1, 1536]`` features.
      dropout_keep_prob: keep probability before the logits, in training.
      create_aux_logits: build the auxiliary classifier.
    """

    num_classes: int | None = 1001
    dropout_keep_prob: float = 0.8
    create_aux_logits: bool = True

    default_image_size: ClassVar[int] = 299

    @nn.compact
    def __call__(self, images: jax.Array, is_training: bool = False) -> tuple[jax.Array, EndPoints]:
        """``images [N, H, W, 3] -> (logits, end_points)``."""
        with self.scoped(), arg_scope([layers.batch_norm, layers.dropout], is_training=is_training):
            with layers.variable_scope("InceptionV4"), _stride1_same():
                net, end_points = build_end_points(images, INCEPTION_V4_BODY, "Mixed_7d")
                if self.create_aux_logits and self.num_classes:
                    with layers.variable_scope("AuxLogits"):
                        end_points["AuxLogits"] = aux_logits_head(
                            end_points["Mixed_6h"], self.num_classes,
                            pool_scope="AvgPool_1a_5x5", conv_scope="Conv2d_2a", logits_scope="Aux_logits",
                        )
                net = pooled_logits_head(
                    net, end_points, self.num_classes, self.dropout_keep_prob,
                    pool_scope="AvgPool_1a", dropout_scope="Dropout_1b", dropout_first=True,
                )
        return net, end_points


REGISTRY = (
    NetSpec(
        name="inception_v4",
        constructor=InceptionV4,
        arg_scope=inception_v4_arg_scope,
        default_image_size=InceptionV4.default_image_size,
        num_classes=1001,
        label_offset=1,
        preprocessing="inception",
    ),
)
