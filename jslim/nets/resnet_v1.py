"""ResNet v1 (batch norm after each convolution), as in research/slim ``nets/resnet_v1.py``.

He et al., "Deep Residual Learning for Image Recognition", arXiv:1512.03385, with
the bottleneck unit and projection shortcuts only where the depth changes.
Variables: ``resnet_v1_50/conv1/{weights,BatchNorm/...}``,
``resnet_v1_50/block1/unit_1/bottleneck_v1/{shortcut,conv1,conv2,conv3}/...``,
``resnet_v1_50/logits/{weights,biases}``.

End points (TF-Slim's keys): ``<scope>/conv1``, every unit conv
(``<scope>/block1/unit_1/bottleneck_v1/conv1``...), every unit
(``.../bottleneck_v1``), every block (``<scope>/block1``), ``global_pool``,
``<scope>/logits``, ``<scope>/spatial_squeeze``, ``predictions``.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

from jslim import layers
from jslim.nets import resnet_utils
from jslim.nets.resnet_utils import Block, EndPoints, ResNet, collect_named_outputs, resnet_arg_scope
from jslim.scopes import add_arg_scope

__all__ = [
    "ResNetV1",
    "bottleneck",
    "resnet_arg_scope",
    "resnet_v1_50",
    "resnet_v1_101",
    "resnet_v1_152",
    "resnet_v1_200",
    "resnet_v1_block",
]


@add_arg_scope
def bottleneck(
    inputs: jax.Array,
    depth: int,
    depth_bottleneck: int,
    stride: int,
    rate: int = 1,
    outputs_collections: EndPoints | None = None,
    scope: str | None = None,
    use_bounded_activations: bool = False,
) -> jax.Array:
    """The v1 bottleneck unit: 1x1, 3x3 (strided, atrous), 1x1 convs; BN after each.

    ``relu(shortcut + residual)``; the shortcut is a 1x1 strided conv (no
    activation) when the depth changes, else :func:`subsample` of the input.
    ``use_bounded_activations`` clips the residual to [-6, 6] and uses relu6.

    Args:
      inputs: ``[batch, h, w, c]``.
      depth: output channels.
      depth_bottleneck: channels of the bottleneck convs.
      stride: the unit's stride (on ``conv2`` and the shortcut).
      rate: the atrous rate of ``conv2``.
      outputs_collections: dict receiving the convs' and the unit's outputs.
      scope: default ``bottleneck_v1``.
      use_bounded_activations: relu6 / clipping for quantized inference.

    Returns:
      ``[batch, ceil(h / stride), ceil(w / stride), depth]``.
    """
    with layers.variable_scope(scope, default_name="bottleneck_v1") as sc:
        if depth == inputs.shape[-1]:
            shortcut = resnet_utils.subsample(inputs, stride, "shortcut")
        else:
            shortcut = layers.conv2d(
                inputs, depth, [1, 1], stride=stride,
                activation_fn=jax.nn.relu6 if use_bounded_activations else None, scope="shortcut",
            )
            collect_named_outputs(outputs_collections, f"{sc}/shortcut", shortcut)
        residual = layers.conv2d(inputs, depth_bottleneck, [1, 1], stride=1, scope="conv1")
        collect_named_outputs(outputs_collections, f"{sc}/conv1", residual)
        residual = resnet_utils.conv2d_same(residual, depth_bottleneck, 3, stride, rate=rate, scope="conv2")
        collect_named_outputs(outputs_collections, f"{sc}/conv2", residual)
        residual = layers.conv2d(residual, depth, [1, 1], stride=1, activation_fn=None, scope="conv3")
        collect_named_outputs(outputs_collections, f"{sc}/conv3", residual)
        if use_bounded_activations:
            output = jax.nn.relu6(shortcut + jnp.clip(residual, -6.0, 6.0))
        else:
            output = jax.nn.relu(shortcut + residual)
        return collect_named_outputs(outputs_collections, sc, output)


resnet_v1_block = functools.partial(resnet_utils.bottleneck_block, bottleneck)
resnet_v1_block.__doc__ = """``resnet_v1_block(scope, base_depth, num_units, stride)``: slim's v1 bottleneck.

A :class:`Block` of ``num_units`` units of depth ``4 * base_depth`` (bottleneck ``base_depth``), the
last one with ``stride``."""


class ResNetV1(ResNet):
    """slim's ``resnet_v1`` (default: ``resnet_v1_50``); see :class:`ResNet` for the options.

    Attributes:
      store_non_strided_activations: record each block's end point before its
        last stride (denser end points; same final output).
      min_base_depth: lower bound of the bottleneck depths.
      depth_multiplier: scales the bottleneck depths 64/128/256/512
        (``max(int(d * depth_multiplier), min_base_depth)``).
    """

    store_non_strided_activations: bool = False
    min_base_depth: int = 8
    depth_multiplier: float = 1.0
    scope_name: str = "resnet_v1_50"

    def resnet_blocks(self) -> tuple[Block, ...]:
        if self.blocks is not None:
            return self.blocks
        return resnet_utils.resnet_blocks(
            resnet_v1_block, self.num_units, lambda d: max(int(d * self.depth_multiplier), self.min_base_depth)
        )

    def stack(self, net: jax.Array, output_stride: int | None, end_points: EndPoints) -> jax.Array:
        return resnet_utils.stack_blocks_dense(
            net, self.resnet_blocks(), output_stride, self.store_non_strided_activations, end_points
        )


resnet_v1_50, resnet_v1_101, resnet_v1_152, resnet_v1_200 = resnet_utils.resnet_variants(ResNetV1, "resnet_v1")

REGISTRY = resnet_utils.resnet_registry(ResNetV1, "resnet_v1", num_classes=1000)
