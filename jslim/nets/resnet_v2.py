"""ResNet v2 (full pre-activation), as in research/slim ``nets/resnet_v2.py``.

He et al., "Identity Mappings in Deep Residual Networks", arXiv:1603.05027:
batch norm and ReLU before every weight layer (``preact``), a plain ``conv1``
(biases, no batch norm) and a final ``postnorm``. Variables:
``resnet_v2_50/conv1/{weights,biases}``,
``resnet_v2_50/block1/unit_1/bottleneck_v2/{preact,shortcut,conv1,conv2,conv3}/...``,
``resnet_v2_50/postnorm/...``, ``resnet_v2_50/logits/{weights,biases}``.

End points: as for v1 with ``bottleneck_v2`` (see :mod:`jslim.nets.resnet_v1`).
"""

from __future__ import annotations

import functools
from typing import ClassVar

import jax

from jslim import layers
from jslim.nets import resnet_utils
from jslim.nets.resnet_utils import Block, EndPoints, ResNet, collect_named_outputs, resnet_arg_scope
from jslim.scopes import add_arg_scope

__all__ = [
    "ResNetV2",
    "bottleneck",
    "resnet_arg_scope",
    "resnet_v2_50",
    "resnet_v2_101",
    "resnet_v2_152",
    "resnet_v2_200",
    "resnet_v2_block",
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
) -> jax.Array:
    """The v2 bottleneck unit: ``preact`` BN+ReLU, then 1x1, 3x3 (strided, atrous), 1x1 convs.

    ``shortcut + residual`` with no activation after; ``conv3`` and the
    projection ``shortcut`` (a 1x1 strided conv of ``preact``, only when the
    depth changes; else :func:`subsample` of the input) have biases and no
    batch norm.

    Args:
      inputs: ``[batch, h, w, c]``.
      depth: output channels.
      depth_bottleneck: channels of the bottleneck convs.
      stride: the unit's stride (on ``conv2`` and the shortcut).
      rate: the atrous rate of ``conv2``.
      outputs_collections: dict receiving the convs' and the unit's outputs.
      scope: default ``bottleneck_v2``.

    Returns:
      ``[batch, ceil(h / stride), ceil(w / stride), depth]``.
    """
    with layers.variable_scope(scope, default_name="bottleneck_v2") as sc:
        preact = layers.batch_norm(inputs, activation_fn=jax.nn.relu, scope="preact")
        if depth == inputs.shape[-1]:
            shortcut = resnet_utils.subsample(inputs, stride, "shortcut")
        else:
            shortcut = layers.conv2d(
                preact, depth, [1, 1], stride=stride, normalizer_fn=None, activation_fn=None, scope="shortcut"
            )
            collect_named_outputs(outputs_collections, f"{sc}/shortcut", shortcut)
        residual = layers.conv2d(preact, depth_bottleneck, [1, 1], stride=1, scope="conv1")
        collect_named_outputs(outputs_collections, f"{sc}/conv1", residual)
        residual = resnet_utils.conv2d_same(residual, depth_bottleneck, 3, stride, rate=rate, scope="conv2")
        collect_named_outputs(outputs_collections, f"{sc}/conv2", residual)
        residual = layers.conv2d(
            residual, depth, [1, 1], stride=1, normalizer_fn=None, activation_fn=None, scope="conv3"
        )
        collect_named_outputs(outputs_collections, f"{sc}/conv3", residual)
        return collect_named_outputs(outputs_collections, sc, shortcut + residual)


resnet_v2_block = functools.partial(resnet_utils.bottleneck_block, bottleneck)
resnet_v2_block.__doc__ = """``resnet_v2_block(scope, base_depth, num_units, stride)``: slim's v2 bottleneck.

A :class:`Block` of ``num_units`` units of depth ``4 * base_depth`` (bottleneck ``base_depth``), the
last one with ``stride``."""


class ResNetV2(ResNet):
    """slim's ``resnet_v2`` (default: ``resnet_v2_50``); see :class:`ResNet` for the options.

    Without the root block, the input should be the output of an activation-less
    convolution (the first unit normalizes it).
    """

    scope_name: str = "resnet_v2_50"
    preactivation: ClassVar[bool] = True

    def resnet_blocks(self) -> tuple[Block, ...]:
        if self.blocks is not None:
            return self.blocks
        return resnet_utils.resnet_blocks(resnet_v2_block, self.num_units)


resnet_v2_50, resnet_v2_101, resnet_v2_152, resnet_v2_200 = resnet_utils.resnet_variants(ResNetV2, "resnet_v2")

# slim's preprocessing_factory maps resnet_v2_* to vgg preprocessing at 224
# (the published v2 checkpoints were trained with inception preprocessing at 299).
REGISTRY = resnet_utils.resnet_registry(ResNetV2, "resnet_v2", num_classes=1001, label_offset=1)
