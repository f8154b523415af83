"""MobileNet V3 and MobileNet-EdgeTPU, as in research/slim ``nets/mobilenet/mobilenet_v3.py``.

Conv defs on the MobileNet framework (:mod:`jslim.nets.mobilenet`): ``V3_LARGE``,
``V3_SMALL`` (hard-swish, squeeze-excite, 5x5 depthwise), their ``_MINIMALISTIC``
forms (none of the three) and ``V3_EDGETPU`` (fused 3x3 expansions instead of
depthwise in the early layers). Factory names (224x224, 1001 classes,
:func:`training_scope`): ``mobilenet_v3_small``, ``mobilenet_v3_large``,
``mobilenet_v3_small_minimalistic``, ``mobilenet_v3_large_minimalistic``,
``mobilenet_edgetpu`` and ``mobilenet_edgetpu_075`` (``depth_multiplier=0.75`` in
finegrain mode), the EdgeTPU ones under the scope ``MobilenetEdgeTPU``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import jax
import numpy as np

from jslim import layers
from jslim.nets.mobilenet import conv_blocks as ops
from jslim.nets.mobilenet import framework as lib
from jslim.nets.mobilenet.framework import ConvDefs, Op, op
from jslim.scopes import add_arg_scope, arg_scope

__all__ = [
    "V3_EDGETPU",
    "V3_LARGE",
    "V3_LARGE_DETECTION",
    "V3_LARGE_MINIMALISTIC",
    "V3_SMALL",
    "V3_SMALL_DETECTION",
    "V3_SMALL_MINIMALISTIC",
    "MobilenetV3",
    "edge_tpu",
    "edge_tpu_075",
    "hard_swish",
    "large",
    "large_minimalistic",
    "mbv3_fused",
    "mbv3_op",
    "mobilenet",
    "mobilenet_base",
    "reduce_to_1x1",
    "small",
    "small_minimalistic",
    "training_scope",
]

expand_input = ops.expand_input_by_factor


def hard_swish(x: jax.Array) -> jax.Array:
    """``x * relu6(x + 3) / 6`` (slim's float32 order: ``x * relu6(x + 3) * (1/6)``)."""
    return x * jax.nn.relu6(x + np.float32(3)) * np.float32(1.0 / 6.0)


def _hard_sigmoid_gate(x: jax.Array) -> jax.Array:
    """The squeeze-excite gate: ``relu6(x + 3) * 0.16667`` (slim's constant, not 1/6)."""
    return jax.nn.relu6(x + 3) * 0.16667


# Squeeze-excite with hard-sigmoid gating and ReLU inside.
squeeze_excite = functools.partial(
    ops.squeeze_excite, squeeze_factor=4, inner_activation_fn=jax.nn.relu, gating_fn=_hard_sigmoid_gate
)


def _se4(expansion_tensor: jax.Array, input_tensor: jax.Array) -> jax.Array:
    """``squeeze_excite`` as an ``expanded_conv`` expansion transform."""
    del input_tensor
    return squeeze_excite(expansion_tensor)


def reduce_to_1x1(input_tensor: jax.Array, default_size: int = 7, **kwargs: Any) -> jax.Array:
    """Average pool with an ``[h, h]`` window on square inputs (else ``default_size``)."""
    h, w = input_tensor.shape[1:3]
    k = [h, h] if w == h else [default_size, default_size]
    return layers.avg_pool2d(input_tensor, kernel_size=k, **kwargs)


def mbv3_op(ef: float, n: int, k: int, s: int = 1, act: Callable[[jax.Array], jax.Array] = jax.nn.relu,
            se: Callable[..., jax.Array] | None = None, **kwargs: Any) -> Op:
    """An ``expanded_conv`` op: expansion factor ``ef``, ``n`` outputs, ``k x k`` depthwise, stride ``s``."""
    return op(
        ops.expanded_conv,
        expansion_size=expand_input(ef),
        kernel_size=(k, k),
        stride=s,
        num_outputs=n,
        inner_activation_fn=act,
        expansion_transform=se,
        **kwargs,
    )


def mbv3_fused(ef: float, n: int, k: int, s: int = 1, **kwargs: Any) -> Op:
    """An ``expanded_conv`` op whose expansion is a ``k x k`` stride-``s`` conv (no depthwise)."""
    expansion_fn = functools.partial(layers.conv2d, kernel_size=k, stride=s)
    return mbv3_op(ef, n, k=1, s=s, depthwise_location=None, expansion_fn=expansion_fn, **kwargs)


mbv3_op_se = functools.partial(mbv3_op, se=_se4)

DEFAULTS = {
    (ops.expanded_conv,): {"normalizer_fn": layers.batch_norm, "residual": True},
    (layers.conv2d, layers.fully_connected, layers.separable_conv2d): {
        "normalizer_fn": layers.batch_norm,
        "activation_fn": jax.nn.relu,
    },
    (layers.batch_norm,): {"center": True, "scale": True},
}


def _head(last_depth: int, pool_depth: int, activation_fn: Callable[[jax.Array], jax.Array] | None) -> list[Op]:
    """1x1 conv to ``last_depth``, the 1x1 reduction, a 1x1 conv (no batch norm) to ``pool_depth``."""
    act = {} if activation_fn is None else {"activation_fn": activation_fn}
    return [
        op(layers.conv2d, stride=1, kernel_size=(1, 1), num_outputs=last_depth, **act),
        op(reduce_to_1x1, default_size=7, stride=1, padding="VALID"),
        op(layers.conv2d, stride=1, kernel_size=(1, 1), num_outputs=pool_depth, normalizer_fn=None, **act),
    ]


V3_LARGE = ConvDefs.create(
    defaults=DEFAULTS,
    spec=[
        op(layers.conv2d, stride=2, num_outputs=16, kernel_size=(3, 3), activation_fn=hard_swish),
        mbv3_op(ef=1, n=16, k=3),
        mbv3_op(ef=4, n=24, k=3, s=2),
        mbv3_op(ef=3, n=24, k=3, s=1),
        mbv3_op_se(ef=3, n=40, k=5, s=2),
        mbv3_op_se(ef=3, n=40, k=5, s=1),
        mbv3_op_se(ef=3, n=40, k=5, s=1),
        mbv3_op(ef=6, n=80, k=3, s=2, act=hard_swish),
        mbv3_op(ef=2.5, n=80, k=3, s=1, act=hard_swish),
        mbv3_op(ef=184 / 80.0, n=80, k=3, s=1, act=hard_swish),
        mbv3_op(ef=184 / 80.0, n=80, k=3, s=1, act=hard_swish),
        mbv3_op_se(ef=6, n=112, k=3, s=1, act=hard_swish),
        mbv3_op_se(ef=6, n=112, k=3, s=1, act=hard_swish),
        mbv3_op_se(ef=6, n=160, k=5, s=2, act=hard_swish),
        mbv3_op_se(ef=6, n=160, k=5, s=1, act=hard_swish),
        mbv3_op_se(ef=6, n=160, k=5, s=1, act=hard_swish),
        *_head(960, 1280, hard_swish),
    ],
)

V3_LARGE_MINIMALISTIC = ConvDefs.create(
    defaults=DEFAULTS,
    spec=[
        op(layers.conv2d, stride=2, num_outputs=16, kernel_size=(3, 3)),
        mbv3_op(ef=1, n=16, k=3),
        mbv3_op(ef=4, n=24, k=3, s=2),
        mbv3_op(ef=3, n=24, k=3, s=1),
        mbv3_op(ef=3, n=40, k=3, s=2),
        mbv3_op(ef=3, n=40, k=3, s=1),
        mbv3_op(ef=3, n=40, k=3, s=1),
        mbv3_op(ef=6, n=80, k=3, s=2),
        mbv3_op(ef=2.5, n=80, k=3, s=1),
        mbv3_op(ef=184 / 80.0, n=80, k=3, s=1),
        mbv3_op(ef=184 / 80.0, n=80, k=3, s=1),
        mbv3_op(ef=6, n=112, k=3, s=1),
        mbv3_op(ef=6, n=112, k=3, s=1),
        mbv3_op(ef=6, n=160, k=3, s=2),
        mbv3_op(ef=6, n=160, k=3, s=1),
        mbv3_op(ef=6, n=160, k=3, s=1),
        *_head(960, 1280, None),
    ],
)

V3_SMALL = ConvDefs.create(
    defaults=DEFAULTS,
    spec=[
        op(layers.conv2d, stride=2, num_outputs=16, kernel_size=(3, 3), activation_fn=hard_swish),
        mbv3_op_se(ef=1, n=16, k=3, s=2),
        mbv3_op(ef=72.0 / 16, n=24, k=3, s=2),
        mbv3_op(ef=88.0 / 24, n=24, k=3, s=1),
        mbv3_op_se(ef=4, n=40, k=5, s=2, act=hard_swish),
        mbv3_op_se(ef=6, n=40, k=5, s=1, act=hard_swish),
        mbv3_op_se(ef=6, n=40, k=5, s=1, act=hard_swish),
        mbv3_op_se(ef=3, n=48, k=5, s=1, act=hard_swish),
        mbv3_op_se(ef=3, n=48, k=5, s=1, act=hard_swish),
        mbv3_op_se(ef=6, n=96, k=5, s=2, act=hard_swish),
        mbv3_op_se(ef=6, n=96, k=5, s=1, act=hard_swish),
        mbv3_op_se(ef=6, n=96, k=5, s=1, act=hard_swish),
        *_head(576, 1024, hard_swish),
    ],
)

V3_SMALL_MINIMALISTIC = ConvDefs.create(
    defaults=DEFAULTS,
    spec=[
        op(layers.conv2d, stride=2, num_outputs=16, kernel_size=(3, 3)),
        mbv3_op(ef=1, n=16, k=3, s=2),
        mbv3_op(ef=72.0 / 16, n=24, k=3, s=2),
        mbv3_op(ef=88.0 / 24, n=24, k=3, s=1),
        mbv3_op(ef=4, n=40, k=3, s=2),
        mbv3_op(ef=6, n=40, k=3, s=1),
        mbv3_op(ef=6, n=40, k=3, s=1),
        mbv3_op(ef=3, n=48, k=3, s=1),
        mbv3_op(ef=3, n=48, k=3, s=1),
        mbv3_op(ef=6, n=96, k=3, s=2),
        mbv3_op(ef=6, n=96, k=3, s=1),
        mbv3_op(ef=6, n=96, k=3, s=1),
        *_head(576, 1024, None),
    ],
)

# EdgeTPU-friendly: fused (regular) convolutions instead of depthwise early on.
V3_EDGETPU = ConvDefs.create(
    defaults=DEFAULTS,
    spec=[
        op(layers.conv2d, stride=2, num_outputs=32, kernel_size=(3, 3)),
        mbv3_fused(k=3, s=1, ef=1, n=16),
        mbv3_fused(k=3, s=2, ef=8, n=32),
        mbv3_fused(k=3, s=1, ef=4, n=32),
        mbv3_fused(k=3, s=1, ef=4, n=32),
        mbv3_fused(k=3, s=1, ef=4, n=32),
        mbv3_fused(k=3, s=2, ef=8, n=48),
        mbv3_fused(k=3, s=1, ef=4, n=48),
        mbv3_fused(k=3, s=1, ef=4, n=48),
        mbv3_fused(k=3, s=1, ef=4, n=48),
        mbv3_op(k=3, s=2, ef=8, n=96),
        mbv3_op(k=3, s=1, ef=4, n=96),
        mbv3_op(k=3, s=1, ef=4, n=96),
        mbv3_op(k=3, s=1, ef=4, n=96),
        mbv3_op(k=3, s=1, ef=8, n=96, residual=False),
        mbv3_op(k=3, s=1, ef=4, n=96),
        mbv3_op(k=3, s=1, ef=4, n=96),
        mbv3_op(k=3, s=1, ef=4, n=96),
        mbv3_op(k=5, s=2, ef=8, n=160),
        mbv3_op(k=5, s=1, ef=4, n=160),
        mbv3_op(k=5, s=1, ef=4, n=160),
        mbv3_op(k=5, s=1, ef=4, n=160),
        mbv3_op(k=3, s=1, ef=8, n=192),
        op(layers.conv2d, stride=1, num_outputs=1280, kernel_size=(1, 1)),
    ],
)


def _keep_depth(params: dict[str, Any], multiplier: float) -> dict[str, Any]:
    """A ``multiplier_func`` that leaves the depth alone (finegrain classification mode)."""
    del multiplier
    return params


@add_arg_scope
def mobilenet(
    input_tensor: jax.Array,
    num_classes: int | None = 1001,
    depth_multiplier: float = 1.0,
    scope: str = "MobilenetV3",
    conv_defs: ConvDefs | None = None,
    finegrain_classification_mode: bool = False,
    **kwargs: Any,
) -> tuple[jax.Array, dict[str, jax.Array]]:
    """slim's ``mobilenet_v3.mobilenet``, for use inside a Flax ``@nn.compact`` method.

    Args:
      input_tensor: ``[batch, height, width, channels]``.
      num_classes: logits size; 0/None returns the pooled features.
      depth_multiplier: channel multiplier.
      scope: the variable scope.
      conv_defs: the architecture (default ``V3_LARGE``).
      finegrain_classification_mode: the last layer keeps its depth whatever the multiplier.
      **kwargs: :func:`jslim.nets.mobilenet.framework.mobilenet`'s.

    Returns:
      ``(logits, end_points)``.

    Raises:
      ValueError: ``multiplier`` is passed (use ``depth_multiplier``).
    """
    if conv_defs is None:
        conv_defs = V3_LARGE
    if "multiplier" in kwargs:
        raise ValueError('mobilenetv2 doesn\'t support generic multiplier parameter use "depth_multiplier" instead.')
    if finegrain_classification_mode:
        last = conv_defs.spec[-1]._replace(multiplier_func=_keep_depth)
        conv_defs = conv_defs._replace(spec=(*conv_defs.spec[:-1], last))
    with arg_scope([lib.depth_multiplier]):
        return lib.mobilenet(
            input_tensor, num_classes=num_classes, conv_defs=conv_defs, scope=scope, multiplier=depth_multiplier, **kwargs
        )


@add_arg_scope
def mobilenet_base(input_tensor: jax.Array, depth_multiplier: float = 1.0, **kwargs: Any):
    """The V3 feature extractor: :func:`mobilenet` with ``base_only=True`` -> ``(net, end_points)``."""
    return mobilenet(input_tensor, depth_multiplier=depth_multiplier, base_only=True, **kwargs)


training_scope = lib.training_scope

large = functools.partial(mobilenet, conv_defs=V3_LARGE)
small = functools.partial(mobilenet, conv_defs=V3_SMALL)
large_minimalistic = functools.partial(mobilenet, conv_defs=V3_LARGE_MINIMALISTIC)
small_minimalistic = functools.partial(mobilenet, conv_defs=V3_SMALL_MINIMALISTIC)
edge_tpu = functools.partial(mobilenet, scope="MobilenetEdgeTPU", conv_defs=V3_EDGETPU)
edge_tpu_075 = functools.partial(
    mobilenet, scope="MobilenetEdgeTPU", conv_defs=V3_EDGETPU, depth_multiplier=0.75,
    finegrain_classification_mode=True,
)


def _reduce_consecutive_layers(conv_defs: ConvDefs, start_id: int, end_id: int, multiplier: float = 0.5) -> ConvDefs:
    """``conv_defs`` with ``num_outputs`` of ops ``start_id..end_id`` (inclusive) scaled and rounded.

    Raises:
      KeyError: one of those ops has no ``num_outputs``.
    """
    spec = list(conv_defs.spec)
    for i in range(start_id, end_id + 1):
        params = dict(spec[i].params)
        params["num_outputs"] = int(np.round(params["num_outputs"] * multiplier))
        spec[i] = spec[i]._replace(params=tuple(params.items()))
    return conv_defs._replace(spec=tuple(spec))


V3_LARGE_DETECTION = _reduce_consecutive_layers(V3_LARGE, 13, 16)
V3_SMALL_DETECTION = _reduce_consecutive_layers(V3_SMALL, 9, 12)


class MobilenetV3(lib.Mobilenet):
    """MobileNet V3 / EdgeTPU as a Flax module (``conv_defs`` picks the variant).

    Attributes: those of :class:`jslim.nets.mobilenet.Mobilenet`; ``conv_defs``
    defaults to ``V3_LARGE`` and ``scope_name`` to ``MobilenetV3``.
    """

    scope_name: str = "MobilenetV3"

    def network(self, images: jax.Array, **kwargs: Any) -> tuple[jax.Array, dict[str, jax.Array]]:
        return mobilenet(images, **kwargs)


_spec = functools.partial(lib.net_spec, constructor=MobilenetV3, arg_scope=training_scope)

REGISTRY = (
    _spec("mobilenet_v3_small", conv_defs=V3_SMALL),
    _spec("mobilenet_v3_large", conv_defs=V3_LARGE),
    _spec("mobilenet_v3_small_minimalistic", conv_defs=V3_SMALL_MINIMALISTIC),
    _spec("mobilenet_v3_large_minimalistic", conv_defs=V3_LARGE_MINIMALISTIC),
    _spec("mobilenet_edgetpu", conv_defs=V3_EDGETPU, scope_name="MobilenetEdgeTPU"),
    _spec(
        "mobilenet_edgetpu_075", conv_defs=V3_EDGETPU, scope_name="MobilenetEdgeTPU", depth_multiplier=0.75,
        finegrain_classification_mode=True,
    ),
)
