"""MobileNet V2, as in research/slim ``nets/mobilenet/mobilenet_v2.py`` (arXiv:1801.04381).

``V2_DEF`` (conv 32, 17 inverted residuals, conv 1280) on the MobileNet framework
(:mod:`jslim.nets.mobilenet`). Factory names: ``mobilenet_v2`` (1.0),
``mobilenet_v2_140`` (``depth_multiplier=1.4``) and ``mobilenet_v2_035``
(``depth_multiplier=0.35`` with ``finegrain_classification_mode``, so the last
layer keeps 1280 channels); all 224x224, 1001 classes, :func:`training_scope`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import jax

from jslim import layers
from jslim.nets.mobilenet import conv_blocks as ops
from jslim.nets.mobilenet import framework as lib
from jslim.nets.mobilenet.framework import ConvDefs, op
from jslim.scopes import add_arg_scope, arg_scope

__all__ = [
    "V2_DEF",
    "MobilenetV2",
    "mobilenet",
    "mobilenet_base",
    "mobilenet_v2_035",
    "mobilenet_v2_050",
    "mobilenet_v2_140",
    "training_scope",
]

expand_input = ops.expand_input_by_factor
_CONV_OPS = (layers.conv2d, layers.fully_connected, layers.separable_conv2d)

V2_DEF = ConvDefs.create(
    defaults={
        # Batch-norm center/scale are part of the architecture (not the training scope).
        (layers.batch_norm,): {"center": True, "scale": True},
        _CONV_OPS: {"normalizer_fn": layers.batch_norm, "activation_fn": jax.nn.relu6},
        (ops.expanded_conv,): {
            "expansion_size": expand_input(6),
            "split_expansion": 1,
            "normalizer_fn": layers.batch_norm,
            "residual": True,
        },
        (layers.conv2d, layers.separable_conv2d): {"padding": "SAME"},
    },
    spec=[
        op(layers.conv2d, stride=2, num_outputs=32, kernel_size=(3, 3)),
        op(ops.expanded_conv, expansion_size=expand_input(1, divisible_by=1), num_outputs=16),
        op(ops.expanded_conv, stride=2, num_outputs=24),
        op(ops.expanded_conv, stride=1, num_outputs=24),
        op(ops.expanded_conv, stride=2, num_outputs=32),
        op(ops.expanded_conv, stride=1, num_outputs=32),
        op(ops.expanded_conv, stride=1, num_outputs=32),
        op(ops.expanded_conv, stride=2, num_outputs=64),
        op(ops.expanded_conv, stride=1, num_outputs=64),
        op(ops.expanded_conv, stride=1, num_outputs=64),
        op(ops.expanded_conv, stride=1, num_outputs=64),
        op(ops.expanded_conv, stride=1, num_outputs=96),
        op(ops.expanded_conv, stride=1, num_outputs=96),
        op(ops.expanded_conv, stride=1, num_outputs=96),
        op(ops.expanded_conv, stride=2, num_outputs=160),
        op(ops.expanded_conv, stride=1, num_outputs=160),
        op(ops.expanded_conv, stride=1, num_outputs=160),
        op(ops.expanded_conv, stride=1, num_outputs=320),
        op(layers.conv2d, stride=1, kernel_size=(1, 1), num_outputs=1280),
    ],
)


def _finegrain(conv_defs: ConvDefs, depth_multiplier: float) -> ConvDefs:
    """Divides the last layer's depth by ``depth_multiplier`` (< 1) so multiplying restores it."""
    if depth_multiplier >= 1:
        return conv_defs
    last = conv_defs.spec[-1]
    params = dict(last.params)
    params["num_outputs"] /= depth_multiplier
    return conv_defs._replace(spec=(*conv_defs.spec[:-1], last._replace(params=tuple(params.items()))))


@add_arg_scope
def mobilenet(
    input_tensor: jax.Array,
    num_classes: int | None = 1001,
    depth_multiplier: float = 1.0,
    scope: str = "MobilenetV2",
    conv_defs: ConvDefs | None = None,
    finegrain_classification_mode: bool = False,
    min_depth: int | None = None,
    divisible_by: int | None = None,
    activation_fn: Callable[[jax.Array], jax.Array] | None = None,
    **kwargs: Any,
) -> tuple[jax.Array, dict[str, jax.Array]]:
    """slim's ``mobilenet_v2.mobilenet``, for use inside a Flax ``@nn.compact`` method.

    Args:
      input_tensor: ``[batch, height, width, channels]``.
      num_classes: logits size; 0/None returns the pooled features.
      depth_multiplier: channel multiplier.
      scope: the variable scope.
      conv_defs: the architecture (default ``V2_DEF``).
      finegrain_classification_mode: keep the last layer's 1280 channels when
        ``depth_multiplier < 1``.
      min_depth, divisible_by: given to ``depth_multiplier`` (default 8 and 8).
      activation_fn: replaces ReLU6 in every conv.
      **kwargs: :func:`jslim.nets.mobilenet.framework.mobilenet`'s (``prediction_fn``,
        ``base_only``, ``final_endpoint``, ``output_stride``, ``is_training``...).

    Returns:
      ``(logits, end_points)``.

    Raises:
      ValueError: ``multiplier`` is passed (use ``depth_multiplier``).
    """
    if conv_defs is None:
        conv_defs = V2_DEF
    if "multiplier" in kwargs:
        raise ValueError('mobilenetv2 doesn\'t support generic multiplier parameter use "depth_multiplier" instead.')
    if finegrain_classification_mode:
        conv_defs = _finegrain(conv_defs, depth_multiplier)
    if activation_fn:
        conv_defs = conv_defs.update("defaults", _CONV_OPS, activation_fn=activation_fn)
    depth_args = {}
    # Only set what is given, so an outer arg_scope on depth_multiplier still applies.
    if min_depth is not None:
        depth_args["min_depth"] = min_depth
    if divisible_by is not None:
        depth_args["divisible_by"] = divisible_by
    with arg_scope([lib.depth_multiplier], **depth_args):
        return lib.mobilenet(
            input_tensor, num_classes=num_classes, conv_defs=conv_defs, scope=scope, multiplier=depth_multiplier, **kwargs
        )


mobilenet_v2_140 = functools.partial(mobilenet, depth_multiplier=1.4)
mobilenet_v2_050 = functools.partial(mobilenet, depth_multiplier=0.50, finegrain_classification_mode=True)
mobilenet_v2_035 = functools.partial(mobilenet, depth_multiplier=0.35, finegrain_classification_mode=True)


@add_arg_scope
def mobilenet_base(input_tensor: jax.Array, depth_multiplier: float = 1.0, **kwargs: Any):
    """The V2 feature extractor: :func:`mobilenet` with ``base_only=True`` -> ``(net, end_points)``."""
    return mobilenet(input_tensor, depth_multiplier=depth_multiplier, base_only=True, **kwargs)


def training_scope(**kwargs: Any):
    """:func:`jslim.nets.mobilenet.framework.training_scope` (``weight_decay``, ``stddev``,
    ``dropout_keep_prob``, ``bn_decay``, ``is_training``)."""
    return lib.training_scope(**kwargs)


class MobilenetV2(lib.Mobilenet):
    """MobileNet V2 as a Flax module (variables under ``MobilenetV2/``).

    Attributes (beyond :class:`jslim.nets.mobilenet.Mobilenet`'s):
      min_depth: minimum channels after the multiplier (slim default 8).
      divisible_by: channels are multiples of this (slim default 8).
      activation_fn: replaces ReLU6.
    """

    scope_name: str = "MobilenetV2"
    min_depth: int | None = None
    divisible_by: int | None = None
    activation_fn: Callable[[jax.Array], jax.Array] | None = None

    def network(self, images: jax.Array, **kwargs: Any) -> tuple[jax.Array, dict[str, jax.Array]]:
        return mobilenet(
            images, min_depth=self.min_depth, divisible_by=self.divisible_by, activation_fn=self.activation_fn, **kwargs
        )


_spec = functools.partial(lib.net_spec, constructor=MobilenetV2, arg_scope=training_scope)

REGISTRY = (
    _spec("mobilenet_v2"),
    _spec("mobilenet_v2_140", depth_multiplier=1.4),
    _spec("mobilenet_v2_035", depth_multiplier=0.35, finegrain_classification_mode=True),
)
