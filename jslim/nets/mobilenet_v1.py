"""MobileNet V1, as in research/slim ``nets/mobilenet_v1.py`` (arXiv:1704.04861).

A 3x3 conv then 13 depthwise-separable blocks (``MOBILENETV1_CONV_DEFS``), average
pool and 1x1-conv logits. Factory names ``mobilenet_v1``, ``mobilenet_v1_075``,
``mobilenet_v1_050`` and ``mobilenet_v1_025`` (``depth_multiplier`` 1, 0.75,
0.5, 0.25), all 224x224 with 1001 classes under :func:`mobilenet_v1_arg_scope`.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Sequence
from typing import Any, ClassVar, NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp

from jslim import layers
from jslim.nets.base import SlimNet
from jslim.nets.mobilenet.conv_blocks import fixed_padding
from jslim.nets.mobilenet.framework import net_spec
from jslim.scopes import arg_scope

__all__ = [
    "MOBILENETV1_CONV_DEFS",
    "Conv",
    "DepthSepConv",
    "MobilenetV1",
    "mobilenet_v1_025",
    "mobilenet_v1_050",
    "mobilenet_v1_075",
    "mobilenet_v1_arg_scope",
    "mobilenet_v1_base",
]


class Conv(NamedTuple):
    """A regular convolution layer (``Conv2d_<i>``)."""

    kernel: tuple[int, int]
    stride: int
    depth: int


class DepthSepConv(NamedTuple):
    """A depthwise conv (``Conv2d_<i>_depthwise``) then a 1x1 conv (``Conv2d_<i>_pointwise``)."""

    kernel: tuple[int, int]
    stride: int
    depth: int


MOBILENETV1_CONV_DEFS = (
    Conv(kernel=(3, 3), stride=2, depth=32),
    DepthSepConv(kernel=(3, 3), stride=1, depth=64),
    DepthSepConv(kernel=(3, 3), stride=2, depth=128),
    DepthSepConv(kernel=(3, 3), stride=1, depth=128),
    DepthSepConv(kernel=(3, 3), stride=2, depth=256),
    DepthSepConv(kernel=(3, 3), stride=1, depth=256),
    DepthSepConv(kernel=(3, 3), stride=2, depth=512),
    DepthSepConv(kernel=(3, 3), stride=1, depth=512),
    DepthSepConv(kernel=(3, 3), stride=1, depth=512),
    DepthSepConv(kernel=(3, 3), stride=1, depth=512),
    DepthSepConv(kernel=(3, 3), stride=1, depth=512),
    DepthSepConv(kernel=(3, 3), stride=1, depth=512),
    DepthSepConv(kernel=(3, 3), stride=2, depth=1024),
    DepthSepConv(kernel=(3, 3), stride=1, depth=1024),
)


def _end_point_names(conv_defs: Sequence[Conv | DepthSepConv]) -> list[str]:
    names = []
    for i, conv_def in enumerate(conv_defs):
        names += [f"Conv2d_{i}"] if isinstance(conv_def, Conv) else [f"Conv2d_{i}_depthwise", f"Conv2d_{i}_pointwise"]
    return names


def mobilenet_v1_base(
    inputs: jax.Array,
    final_endpoint: str = "Conv2d_13_pointwise",
    min_depth: int = 8,
    depth_multiplier: float = 1.0,
    conv_defs: Sequence[Conv | DepthSepConv] | None = None,
    output_stride: int | None = None,
    use_explicit_padding: bool = False,
    scope: str | None = None,
) -> tuple[jax.Array, dict[str, jax.Array]]:
    """MobileNet V1 from ``inputs`` to ``final_endpoint``, for a Flax ``@nn.compact`` method.

    Depths are ``max(int(depth * depth_multiplier), min_depth)``. Convs and
    depthwise convs take their activation, normalizer and initializers from the
    arg scope (:func:`mobilenet_v1_arg_scope`).

    Args:
      inputs: ``[batch, height, width, channels]``.
      final_endpoint: ``'Conv2d_0'``, ``'Conv2d_<i>_depthwise'`` or ``'Conv2d_<i>_pointwise'``.
      min_depth: minimum channels of every conv (active when ``depth_multiplier < 1``).
      depth_multiplier: channel multiplier (> 0).
      conv_defs: the layers (default ``MOBILENETV1_CONV_DEFS``).
      output_stride: None, 8, 16 or 32: past it, depthwise strides become atrous rates.
      use_explicit_padding: ``'VALID'`` convs on explicitly padded inputs.
      scope: the variable scope (default ``MobilenetV1``).

    Returns:
      ``(net, end_points)``; at 224x224, ``Conv2d_13_pointwise`` is ``[N, 7, 7, 1024]``.

    Raises:
      ValueError: ``depth_multiplier <= 0``, a bad ``output_stride`` or an unknown ``final_endpoint``.
    """
    if depth_multiplier <= 0:
        raise ValueError("depth_multiplier is not greater than zero.")
    if conv_defs is None:
        conv_defs = MOBILENETV1_CONV_DEFS
    if output_stride is not None and output_stride not in (8, 16, 32):
        raise ValueError(f"Only allowed output_stride values are 8, 16, 32 (got {output_stride}).")
    valid = _end_point_names(conv_defs)
    if final_endpoint not in valid:
        raise ValueError(f"Unknown final endpoint {final_endpoint!r}; valid end points: {', '.join(valid)}.")

    def depth(d: int) -> int:
        return max(int(d * depth_multiplier), min_depth)

    end_points: dict[str, jax.Array] = {}
    padding = "VALID" if use_explicit_padding else "SAME"
    with (
        layers.variable_scope(scope, default_name="MobilenetV1"),
        arg_scope([layers.conv2d, layers.separable_conv2d], padding=padding),
    ):
        # current_stride: the output stride so far; past output_stride, strides become rates.
        current_stride, rate = 1, 1
        net = inputs
        for i, conv_def in enumerate(conv_defs):
            if output_stride is not None and current_stride == output_stride:
                layer_stride, layer_rate = 1, rate
                rate *= conv_def.stride
            else:
                layer_stride, layer_rate = conv_def.stride, 1
                current_stride *= conv_def.stride
            if isinstance(conv_def, Conv):
                if use_explicit_padding:
                    net = fixed_padding(net, conv_def.kernel)
                # slim's Conv layer keeps conv_def.stride (not layer_stride).
                net = end_points[f"Conv2d_{i}"] = layers.conv2d(
                    net, depth(conv_def.depth), conv_def.kernel, stride=conv_def.stride, scope=f"Conv2d_{i}"
                )
            elif isinstance(conv_def, DepthSepConv):
                if use_explicit_padding:
                    net = fixed_padding(net, conv_def.kernel, layer_rate)
                net = end_points[f"Conv2d_{i}_depthwise"] = layers.separable_conv2d(
                    net, None, conv_def.kernel, depth_multiplier=1, stride=layer_stride, rate=layer_rate,
                    scope=f"Conv2d_{i}_depthwise",
                )
                if final_endpoint == f"Conv2d_{i}_depthwise":
                    return net, end_points
                net = end_points[f"Conv2d_{i}_pointwise"] = layers.conv2d(
                    net, depth(conv_def.depth), [1, 1], stride=1, scope=f"Conv2d_{i}_pointwise"
                )
            else:
                raise ValueError(f"Unknown convolution type {type(conv_def).__name__} for layer {i}.")
            if final_endpoint in end_points:
                return net, end_points
    raise AssertionError("unreachable: final_endpoint was validated")


def _reduced_kernel_size_for_small_input(input_tensor: jax.Array, kernel_size: Sequence[int]) -> list[int]:
    """``kernel_size`` capped by the input's height and width."""
    return [min(input_tensor.shape[1], kernel_size[0]), min(input_tensor.shape[2], kernel_size[1])]


class MobilenetV1(SlimNet):
    """MobileNet V1 for classification (variables under ``MobilenetV1/``).

    Attributes:
      num_classes: logits size; 0/None returns the pooled features ``[N, 1, 1, C]``
        (before dropout).
      dropout_keep_prob: keep probability of ``Dropout_1b`` in training.
      min_depth: minimum channels of every conv.
      depth_multiplier: channel multiplier (> 0).
      conv_defs: the layers (default ``MOBILENETV1_CONV_DEFS``).
      prediction_fn: maps logits to ``end_points['Predictions']``.
      spatial_squeeze: logits ``[N, num_classes]`` instead of ``[N, 1, 1, num_classes]``.
      scope_name: the top variable scope (slim's ``scope``).
      global_pool: average over the whole feature map (end point ``global_pool``)
        instead of slim's fixed 7x7 stride-2 ``AvgPool_1a``.
    """

    num_classes: int | None = 1000
    dropout_keep_prob: float = 0.999
    min_depth: int = 8
    depth_multiplier: float = 1.0
    conv_defs: tuple[Conv | DepthSepConv, ...] | None = None
    prediction_fn: Callable[[jax.Array], jax.Array] | None = layers.softmax
    spatial_squeeze: bool = True
    scope_name: str = "MobilenetV1"
    global_pool: bool = False

    default_image_size: ClassVar[int] = 224

    @nn.compact
    def __call__(self, images: jax.Array, is_training: bool = False) -> tuple[jax.Array, dict[str, jax.Array]]:
        """``images [N, H, W, 3] -> (logits [N, num_classes], end_points)``."""
        if images.ndim != 4:
            raise ValueError(f"Invalid input tensor rank, expected 4, was: {images.ndim}")
        with self.scoped(), arg_scope([layers.batch_norm, layers.dropout], is_training=is_training):
            net, end_points = mobilenet_v1_base(
                images, scope=self.scope_name, min_depth=self.min_depth, depth_multiplier=self.depth_multiplier,
                conv_defs=self.conv_defs,
            )
            with layers.variable_scope(f"{self.scope_name}/Logits"):
                if self.global_pool:
                    net = end_points["global_pool"] = jnp.mean(net, axis=(1, 2), keepdims=True)
                else:
                    kernel_size = _reduced_kernel_size_for_small_input(net, [7, 7])
                    net = end_points["AvgPool_1a"] = layers.avg_pool2d(
                        net, kernel_size, padding="VALID", scope="AvgPool_1a"
                    )
                if not self.num_classes:
                    return net, end_points
                net = layers.dropout(net, keep_prob=self.dropout_keep_prob, scope="Dropout_1b")
                logits = layers.conv2d(
                    net, self.num_classes, [1, 1], activation_fn=None, normalizer_fn=None, scope="Conv2d_1c_1x1"
                )
                if self.spatial_squeeze:
                    logits = jnp.squeeze(logits, (1, 2))
            end_points["Logits"] = logits
            if self.prediction_fn:
                end_points["Predictions"] = self.prediction_fn(logits)
        return logits, end_points


mobilenet_v1_075 = functools.partial(MobilenetV1, depth_multiplier=0.75)
mobilenet_v1_050 = functools.partial(MobilenetV1, depth_multiplier=0.50)
mobilenet_v1_025 = functools.partial(MobilenetV1, depth_multiplier=0.25)


def mobilenet_v1_arg_scope(
    is_training: bool | None = True,
    weight_decay: float = 0.00004,
    stddev: float = 0.09,
    regularize_depthwise: bool = False,
    batch_norm_decay: float = 0.9997,
    batch_norm_epsilon: float = 0.001,
    normalizer_fn: Callable[..., jax.Array] | None = layers.batch_norm,
) -> contextlib.AbstractContextManager:
    """slim's ``mobilenet_v1_arg_scope``.

    conv2d and separable_conv2d: truncated-normal(``stddev``) weights, ReLU6,
    ``normalizer_fn`` (batch norm with ``center`` and ``scale``, ``decay``,
    ``epsilon`` and, unless None, ``is_training``); l2(``weight_decay``) on conv2d
    weights, and on depthwise weights only with ``regularize_depthwise``.
    """
    batch_norm_params: dict[str, Any] = {
        "center": True,
        "scale": True,
        "decay": batch_norm_decay,
        "epsilon": batch_norm_epsilon,
    }
    if is_training is not None:
        batch_norm_params["is_training"] = is_training
    regularizer = layers.l2_regularizer(weight_decay)
    depthwise_regularizer = regularizer if regularize_depthwise else None
    with (
        arg_scope(
            [layers.conv2d, layers.separable_conv2d],
            weights_initializer=layers.truncated_normal_initializer(stddev=stddev),
            activation_fn=jax.nn.relu6,
            normalizer_fn=normalizer_fn,
        ),
        arg_scope([layers.batch_norm], **batch_norm_params),
        arg_scope([layers.conv2d], weights_regularizer=regularizer),
        arg_scope([layers.separable_conv2d], weights_regularizer=depthwise_regularizer) as scope,
    ):
        pass
    return arg_scope(scope)


_spec = functools.partial(net_spec, constructor=MobilenetV1, arg_scope=mobilenet_v1_arg_scope)

REGISTRY = (
    _spec("mobilenet_v1"),
    _spec("mobilenet_v1_075", depth_multiplier=0.75),
    _spec("mobilenet_v1_050", depth_multiplier=0.50),
    _spec("mobilenet_v1_025", depth_multiplier=0.25),
)
