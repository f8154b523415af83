"""Inception-ResNet-v2, as in research/slim ``nets/inception_resnet_v2.py``.

Szegedy et al., arXiv:1602.07261: an Inception stem, then residual Inception
blocks: 10 x ``block35`` (35x35x320), ``Mixed_6a``, 20 x ``block17``
(17x17x1088), ``Mixed_7a``, 10 x ``block8`` (8x8x2080) and ``Conv2d_7b_1x1``
(8x8x1536). The body is data (:func:`inception_resnet_v2_body`); the residual
blocks are functions named as in slim, so ``layers.repeat`` scopes them
``Repeat/block35_1`` ... ``Repeat_2/block8_9`` like TF-Slim.

Variables: ``InceptionResnetV2/<layer>/...``, ``InceptionResnetV2/Repeat/block35_<i>/...``,
``InceptionResnetV2/Block8/...``, ``InceptionResnetV2/AuxLogits/...``,
``InceptionResnetV2/Logits/Logits/{weights,biases}``.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

import flax.linen as nn
import jax
import jax.numpy as jnp

from jslim import layers
from jslim.nets.base import SlimNet
from jslim.nets.inception_utils import AvgPool, Conv, MaxPool, Mixed, build_end_points
from jslim.nets.inception_v4 import aux_logits_head, pooled_logits_head
from jslim.nets.spec import NetSpec
from jslim.scopes import arg_scope

__all__ = [
    "InceptionResnetV2",
    "block17",
    "block35",
    "block8",
    "inception_resnet_v2_arg_scope",
    "inception_resnet_v2_base",
    "inception_resnet_v2_body",
]

EndPoints = dict[str, jax.Array]
Activation = Callable[[jax.Array], jax.Array] | None
# A tower: convs (depth, kernel, scope) applied in order.
Tower = Sequence[tuple[int, int | tuple[int, int], str]]


def inception_resnet_v2_arg_scope(
    weight_decay: float = 0.00004,
    batch_norm_decay: float = 0.9997,
    batch_norm_epsilon: float = 0.001,
    activation_fn: Callable[[jax.Array], jax.Array] = jax.nn.relu,
    batch_norm_scale: bool = False,
) -> contextlib.AbstractContextManager:
    """slim's ``inception_resnet_v2_arg_scope`` (minus ``batch_norm_updates_collections``).

    conv2d and fully_connected: l2 ``weight_decay`` on weights and biases;
    conv2d: ``activation_fn`` and batch norm (decay, epsilon, ``scale``).
    """
    with arg_scope(
        [layers.conv2d, layers.fully_connected],
        weights_regularizer=layers.l2_regularizer(weight_decay),
        biases_regularizer=layers.l2_regularizer(weight_decay),
    ):
        batch_norm_params = {
            "decay": batch_norm_decay,
            "epsilon": batch_norm_epsilon,
            "fused": None,
            "scale": batch_norm_scale,
        }
        with arg_scope(
            [layers.conv2d], activation_fn=activation_fn, normalizer_fn=layers.batch_norm,
            normalizer_params=batch_norm_params,
        ) as scope:
            return arg_scope(scope)


def _towers(net: jax.Array, towers: Sequence[Tower]) -> jax.Array:
    """Runs each tower in ``Branch_<i>`` and concatenates them on channels."""
    outputs = []
    for i, tower in enumerate(towers):
        with layers.variable_scope(f"Branch_{i}"):
            out = net
            for depth, kernel, scope in tower:
                out = layers.conv2d(out, depth, kernel, scope=scope)
            outputs.append(out)
    return jnp.concatenate(outputs, axis=3)


def _residual(net: jax.Array, towers: Sequence[Tower], scale: float, activation_fn: Activation) -> jax.Array:
    """``activation_fn(net + scale * Conv2d_1x1(concat(towers)))``; relu6 also clips the update to [-6, 6]."""
    mixed = _towers(net, towers)
    up = layers.conv2d(mixed, net.shape[3], 1, normalizer_fn=None, activation_fn=None, scope="Conv2d_1x1")
    scaled_up = up * scale
    if activation_fn is jax.nn.relu6:
        scaled_up = jnp.clip(scaled_up, -6.0, 6.0)
    net = net + scaled_up
    return activation_fn(net) if activation_fn else net


def block35(
    net: jax.Array, scale: float = 1.0, activation_fn: Activation = jax.nn.relu, scope: str | None = None
) -> jax.Array:
    """The 35x35 residual block (default scope ``Block35``): 1x1 | 1x1-3x3 | 1x1-3x3-3x3."""
    with layers.variable_scope(scope, default_name="Block35"):
        return _residual(net, (
            ((32, 1, "Conv2d_1x1"),),
            ((32, 1, "Conv2d_0a_1x1"), (32, 3, "Conv2d_0b_3x3")),
            ((32, 1, "Conv2d_0a_1x1"), (48, 3, "Conv2d_0b_3x3"), (64, 3, "Conv2d_0c_3x3")),
        ), scale, activation_fn)


def block17(
    net: jax.Array, scale: float = 1.0, activation_fn: Activation = jax.nn.relu, scope: str | None = None
) -> jax.Array:
    """The 17x17 residual block (default scope ``Block17``): 1x1 | 1x1-1x7-7x1."""
    with layers.variable_scope(scope, default_name="Block17"):
        return _residual(net, (
            ((192, 1, "Conv2d_1x1"),),
            ((128, 1, "Conv2d_0a_1x1"), (160, (1, 7), "Conv2d_0b_1x7"), (192, (7, 1), "Conv2d_0c_7x1")),
        ), scale, activation_fn)


def block8(
    net: jax.Array, scale: float = 1.0, activation_fn: Activation = jax.nn.relu, scope: str | None = None
) -> jax.Array:
    """The 8x8 residual block (default scope ``Block8``): 1x1 | 1x1-1x3-3x1."""
    with layers.variable_scope(scope, default_name="Block8"):
        return _residual(net, (
            ((192, 1, "Conv2d_1x1"),),
            ((192, 1, "Conv2d_0a_1x1"), (224, (1, 3), "Conv2d_0b_1x3"), (256, (3, 1), "Conv2d_0c_3x1")),
        ), scale, activation_fn)


@dataclasses.dataclass(frozen=True)
class _Residuals:
    """``repetitions`` residual blocks via ``layers.repeat`` (``None``: one call, default scope).

    ``rate``, when given, is set on every conv2d (``block17``: 2 for output_stride 8, else 1).
    """

    block: Callable[..., jax.Array]
    scale: float
    activation_fn: Activation
    repetitions: int | None = None
    rate: int | None = None

    def __call__(self, net: jax.Array, depth: Any, channel_axis: int) -> jax.Array:
        del depth, channel_axis
        rate = contextlib.nullcontext() if self.rate is None else arg_scope([layers.conv2d], rate=self.rate)
        with rate:
            if self.repetitions is None:
                return self.block(net, scale=self.scale, activation_fn=self.activation_fn)
            return layers.repeat(
                net, self.repetitions, self.block, scale=self.scale, activation_fn=self.activation_fn
            )


@dataclasses.dataclass(frozen=True)
class _EndPoint:
    """Layer definitions run in order and recorded as end point ``scope`` (no scope of their own)."""

    scope: str
    ops: tuple[Any, ...]

    def __call__(self, net: jax.Array, depth: Any, channel_axis: int) -> jax.Array:
        for op in self.ops:
            net = op(net, depth, channel_axis)
        return net


def inception_resnet_v2_body(
    output_stride: int = 16, align_feature_maps: bool = False, activation_fn: Activation = jax.nn.relu
) -> tuple[Any, ...]:
    """The layer definitions of :func:`inception_resnet_v2_base`, one per end point.

    ``align_feature_maps`` turns every VALID padding into SAME; ``output_stride=8``
    keeps ``Mixed_6a`` at stride 1 and makes ``block17`` atrous (rate 2).
    ``activation_fn`` is the residual blocks' activation.
    """
    padding = "SAME" if align_feature_maps else "VALID"
    atrous = output_stride == 8
    stride = 1 if atrous else 2
    return (
        Conv("Conv2d_1a_3x3", 32, 3, stride=2, padding=padding),  # 149 x 149 x 32
        Conv("Conv2d_2a_3x3", 32, 3, padding=padding),  # 147 x 147 x 32
        Conv("Conv2d_2b_3x3", 64, 3),  # 147 x 147 x 64
        MaxPool("MaxPool_3a_3x3", 3, stride=2, padding=padding),  # 73 x 73 x 64
        Conv("Conv2d_3b_1x1", 80, 1, padding=padding),  # 73 x 73 x 80
        Conv("Conv2d_4a_3x3", 192, 3, padding=padding),  # 71 x 71 x 192
        MaxPool("MaxPool_5a_3x3", 3, stride=2, padding=padding),  # 35 x 35 x 192
        Mixed("Mixed_5b", (  # 35 x 35 x 320
            (Conv("Conv2d_1x1", 96, 1),),
            (Conv("Conv2d_0a_1x1", 48, 1), Conv("Conv2d_0b_5x5", 64, 5)),
            (Conv("Conv2d_0a_1x1", 64, 1), Conv("Conv2d_0b_3x3", 96, 3), Conv("Conv2d_0c_3x3", 96, 3)),
            (AvgPool("AvgPool_0a_3x3", 3, stride=1, padding="SAME"), Conv("Conv2d_0b_1x1", 64, 1)),
        )),
        _EndPoint("Mixed_6a", (  # 17 x 17 x 1088 (33 x 33 with output_stride 8)
            _Residuals(block35, 0.17, activation_fn, repetitions=10),
            Mixed("Mixed_6a", (
                (Conv("Conv2d_1a_3x3", 384, 3, stride=stride, padding=padding),),
                (
                    Conv("Conv2d_0a_1x1", 256, 1),
                    Conv("Conv2d_0b_3x3", 256, 3),
                    Conv("Conv2d_1a_3x3", 384, 3, stride=stride, padding=padding),
                ),
                (MaxPool("MaxPool_1a_3x3", 3, stride=stride, padding=padding),),
            )),
        )),
        _EndPoint("PreAuxLogits", (_Residuals(block17, 0.10, activation_fn, repetitions=20, rate=2 if atrous else 1),)),
        Mixed("Mixed_7a", (  # 8 x 8 x 2080
            (Conv("Conv2d_0a_1x1", 256, 1), Conv("Conv2d_1a_3x3", 384, 3, stride=2, padding=padding)),
            (Conv("Conv2d_0a_1x1", 256, 1), Conv("Conv2d_1a_3x3", 288, 3, stride=2, padding=padding)),
            (
                Conv("Conv2d_0a_1x1", 256, 1),
                Conv("Conv2d_0b_3x3", 288, 3),
                Conv("Conv2d_1a_3x3", 320, 3, stride=2, padding=padding),
            ),
            (MaxPool("MaxPool_1a_3x3", 3, stride=2, padding=padding),),
        )),
        _EndPoint("Conv2d_7b_1x1", (  # 8 x 8 x 1536
            _Residuals(block8, 0.20, activation_fn, repetitions=9),
            _Residuals(block8, 1.0, None),
            Conv("Conv2d_7b_1x1", 1536, 1),
        )),
    )


def inception_resnet_v2_base(
    inputs: jax.Array,
    final_endpoint: str = "Conv2d_7b_1x1",
    output_stride: int = 16,
    align_feature_maps: bool = False,
    scope: str | None = None,
    activation_fn: Activation = jax.nn.relu,
) -> tuple[jax.Array, EndPoints]:
    """Inception-ResNet-v2 up to ``final_endpoint``, in scope ``scope`` (default ``InceptionResnetV2``).

    Args:
      inputs: ``[batch, h, w, c]`` (299x299 gives 8x8x1536 at Conv2d_7b_1x1).
      final_endpoint: one of ``Conv2d_1a_3x3, Conv2d_2a_3x3, Conv2d_2b_3x3,
        MaxPool_3a_3x3, Conv2d_3b_1x1, Conv2d_4a_3x3, MaxPool_5a_3x3, Mixed_5b,
        Mixed_6a, PreAuxLogits, Mixed_7a, Conv2d_7b_1x1``.
      output_stride: 16, or 8 (only up to ``PreAuxLogits``).
      align_feature_maps: SAME instead of VALID paddings (aligned feature maps).
      scope: the variable scope.
      activation_fn: activation of the residual blocks.

    Returns:
      ``(net, end_points)``: the final end point's output and every end point up to it.

    Raises:
      ValueError: ``output_stride`` is not 8 or 16, 8 is asked beyond
        ``PreAuxLogits``, or ``final_endpoint`` is unknown.
    """
    with layers.variable_scope(scope, default_name="InceptionResnetV2"):
        return _base(inputs, final_endpoint, output_stride, align_feature_maps, activation_fn)


def _base(inputs, final_endpoint, output_stride, align_feature_maps, activation_fn):
    if output_stride not in (8, 16):
        raise ValueError(f"output_stride must be 8 or 16, got {output_stride}.")
    body = inception_resnet_v2_body(output_stride, align_feature_maps, activation_fn)
    names = [op.scope for op in body]
    if output_stride == 8 and final_endpoint in names[names.index("PreAuxLogits") + 1:]:
        raise ValueError(
            f"output_stride==8 is only supported up to the PreAuxLogits end_point for now (asked {final_endpoint!r})."
        )
    with arg_scope([layers.conv2d, layers.max_pool2d, layers.avg_pool2d], stride=1, padding="SAME"):
        return build_end_points(inputs, body, final_endpoint)


class InceptionResnetV2(SlimNet):
    """Inception-ResNet-v2: ``images [N, 299, 299, 3] -> (logits [N, num_classes], end_points)``.

    End points: those of :func:`inception_resnet_v2_base`, then ``AuxLogits``
    (from ``PreAuxLogits``), ``global_pool``, ``PreLogitsFlatten``, ``Logits``,
    ``Predictions``.

    Attributes:
      num_classes: logits size; 0/None returns the pooled ``[N, 1, 1, 1536]`` features.
      dropout_keep_prob: keep probability before the logits, in training.
      create_aux_logits: build the auxiliary classifier.
      activation_fn: activation of the residual blocks (convs take the arg scope's).
    """

    num_classes: int | None = 1001
    dropout_keep_prob: float = 0.8
    create_aux_logits: bool = True
    activation_fn: Activation = jax.nn.relu

    default_image_size: ClassVar[int] = 299

    @nn.compact
    def __call__(self, images: jax.Array, is_training: bool = False) -> tuple[jax.Array, EndPoints]:
        """``images [N, H, W, 3] -> (logits, end_points)``."""
        with self.scoped(), arg_scope([layers.batch_norm, layers.dropout], is_training=is_training):
            with layers.variable_scope("InceptionResnetV2"):
                net, end_points = _base(images, "Conv2d_7b_1x1", 16, False, self.activation_fn)
                if self.create_aux_logits and self.num_classes:
                    with layers.variable_scope("AuxLogits"):
                        end_points["AuxLogits"] = aux_logits_head(
                            end_points["PreAuxLogits"], self.num_classes,
                            pool_scope="Conv2d_1a_3x3", conv_scope="Conv2d_2a_5x5", logits_scope="Logits",
                        )
                net = pooled_logits_head(
                    net, end_points, self.num_classes, self.dropout_keep_prob,
                    pool_scope="AvgPool_1a_8x8", dropout_scope="Dropout", dropout_first=False,
                )
        return net, end_points


REGISTRY = (
    NetSpec(
        name="inception_resnet_v2",
        constructor=InceptionResnetV2,
        arg_scope=inception_resnet_v2_arg_scope,
        default_image_size=InceptionResnetV2.default_image_size,
        num_classes=1001,
        label_offset=1,
        preprocessing="inception",
    ),
)
