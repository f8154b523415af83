"""Building blocks of slim's ResNets, as in research/slim ``nets/resnet_utils.py``.

A ResNet is data: a tuple of :class:`Block` (a scope, a unit function and one
keyword dict per unit). :func:`stack_blocks_dense` runs the blocks under
``<block>/unit_<i>`` scopes and turns strides into atrous rates once the
requested ``output_stride`` is reached. The v1 and v2 families
(``jslim.nets.resnet_v1`` / ``resnet_v2``) share the root block, the head and
the arg scope defined here.

End points: TF-Slim gathers them through ``outputs_collections``; here a plain
``dict`` is passed down instead and :func:`collect_named_outputs` stores each
output under its full variable-scope name (``'resnet_v1_50/block1/unit_1/
bottleneck_v1/conv1'``), which is exactly TF-Slim's key.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, ClassVar

import flax.linen as nn
import jax
import jax.numpy as jnp
from flax.core import FrozenDict

from jslim import layers
from jslim.nets.base import SlimNet
from jslim.nets.spec import NetSpec
from jslim.scopes import add_arg_scope, arg_scope

__all__ = [
    "RESNET_UNITS",
    "Block",
    "ResNet",
    "check_output_stride",
    "collect_named_outputs",
    "conv2d_same",
    "resnet_arg_scope",
    "resnet_blocks",
    "resnet_logits",
    "resnet_root_block",
    "resnet_variants",
    "stack_blocks_dense",
    "subsample",
    "training_scope",
]

EndPoints = dict[str, jax.Array]

# Units per block of the published depths (identical for v1 and v2).
RESNET_UNITS: dict[int, tuple[int, int, int, int]] = {
    50: (3, 4, 6, 3),
    101: (3, 4, 23, 3),
    152: (3, 8, 36, 3),
    200: (3, 24, 36, 3),
}
# Bottleneck depth and stride (in the block's last unit) of the four blocks.
_BASE_DEPTHS = (64, 128, 256, 512)
_BLOCK_STRIDES = (2, 2, 2, 1)


@dataclasses.dataclass(frozen=True)
class Block:
    """A ResNet block, like slim's ``Block(scope, unit_fn, args)`` namedtuple.

    Attributes:
      scope: the block's variable scope, e.g. ``'block1'``.
      unit_fn: the residual unit, called as ``unit_fn(net, rate=..., outputs_collections=..., **unit)``.
      args: one keyword dict per unit (e.g. ``{'depth': 256, 'depth_bottleneck': 64,
        'stride': 1}``); stored as hashable ``FrozenDict`` so a net holding blocks
        can be a jit cache key.
    """

    scope: str
    unit_fn: Callable[..., jax.Array]
    args: Sequence[Mapping[str, Any]]

    def __post_init__(self):
        object.__setattr__(self, "args", tuple(FrozenDict(unit) for unit in self.args))


def bottleneck_block(
    unit_fn: Callable[..., jax.Array], scope: str, base_depth: int, num_units: int, stride: int
) -> Block:
    """``num_units`` bottleneck units of depth ``4 * base_depth``; ``stride`` in the last one."""
    unit = {"depth": base_depth * 4, "depth_bottleneck": base_depth}
    return Block(scope, unit_fn, [dict(unit, stride=1)] * (num_units - 1) + [dict(unit, stride=stride)])


def resnet_blocks(
    block_fn: Callable[..., Block], num_units: Sequence[int], depth_fn: Callable[[int], int] = lambda d: d
) -> tuple[Block, ...]:
    """The four blocks of slim's ``resnet_v*_{50,101,152,200}``.

    Args:
      block_fn: ``resnet_v1_block`` or ``resnet_v2_block``.
      num_units: units in ``block1..block4`` (a row of :data:`RESNET_UNITS`).
      depth_fn: maps the nominal bottleneck depths 64/128/256/512 to the used ones.
    """
    if len(num_units) != len(_BASE_DEPTHS):
        raise ValueError(f"num_units needs one count per block (4), got {tuple(num_units)}.")
    return tuple(
        block_fn(f"block{i + 1}", base_depth=depth_fn(depth), num_units=n, stride=stride)
        for i, (depth, n, stride) in enumerate(zip(_BASE_DEPTHS, num_units, _BLOCK_STRIDES))
    )


def collect_named_outputs(collection: EndPoints | None, alias: str, outputs: jax.Array) -> jax.Array:
    """``slim.utils.collect_named_outputs``: records ``outputs`` as ``collection[alias]``."""
    if collection is not None:
        collection[alias] = outputs
    return outputs


def subsample(inputs: jax.Array, factor: int, scope: str | None = None) -> jax.Array:
    """Keeps every ``factor``-th row and column (a 1x1 max pool of stride ``factor``).

    ``[batch, h, w, c] -> [batch, ceil(h / factor), ceil(w / factor), c]``.
    """
    if factor == 1:
        return inputs
    return layers.max_pool2d(inputs, [1, 1], stride=factor, scope=scope)


def conv2d_same(
    inputs: jax.Array, num_outputs: int, kernel_size: int, stride: int, rate: int = 1, scope: str | None = None
) -> jax.Array:
    """A strided 2-D convolution with input-size-independent 'SAME' padding.

    With ``stride > 1`` the input is zero-padded explicitly by
    ``k_eff - 1`` (``k_eff = k + (k - 1)(rate - 1)``; the smaller half before)
    and convolved 'VALID', so the result equals a stride-1 'SAME' convolution
    followed by :func:`subsample`, also for even sizes, where TF's own strided
    'SAME' padding would differ.

    Args:
      inputs: ``[batch, h, w, c]``.
      num_outputs: output channels.
      kernel_size: the (square) kernel size, an int.
      stride: the output stride.
      rate: the atrous rate.
      scope: the conv's variable scope.

    Returns:
      ``[batch, ceil(h / stride), ceil(w / stride), num_outputs]``.
    """
    if stride == 1:
        return layers.conv2d(inputs, num_outputs, kernel_size, stride=1, rate=rate, padding="SAME", scope=scope)
    pad_total = kernel_size + (kernel_size - 1) * (rate - 1) - 1
    pad_beg = pad_total // 2
    pads = (pad_beg, pad_total - pad_beg)
    inputs = jnp.pad(inputs, ((0, 0), pads, pads, (0, 0)))
    return layers.conv2d(inputs, num_outputs, kernel_size, stride=stride, rate=rate, padding="VALID", scope=scope)


def check_output_stride(output_stride: int | None, blocks: Sequence[Block], input_stride: int = 1) -> None:
    """Raises unless ``output_stride`` is ``input_stride`` times a product of the first unit strides.

    Raises:
      ValueError: an unreachable ``output_stride`` (the message lists the reachable ones).
    """
    if output_stride is None:
        return
    reachable = [input_stride]
    for block in blocks:
        for unit in block.args:
            reachable.append(reachable[-1] * unit.get("stride", 1))
    if output_stride not in reachable:
        valid = ", ".join(str(s) for s in sorted(set(reachable)))
        raise ValueError(f"The target output_stride {output_stride} cannot be reached; valid values: {valid} or None.")


def _reached(current_stride: int, output_stride: int | None) -> bool:
    return output_stride is not None and current_stride == output_stride


def _check_stride(current_stride: int, output_stride: int | None) -> None:
    if output_stride is not None and current_stride > output_stride:
        raise ValueError(
            f"The target output_stride {output_stride} cannot be reached (stride {current_stride} passed it)."
        )


@add_arg_scope
def stack_blocks_dense(
    net: jax.Array,
    blocks: Sequence[Block],
    output_stride: int | None = None,
    store_non_strided_activations: bool = False,
    outputs_collections: EndPoints | None = None,
) -> jax.Array:
    """Runs ``blocks`` under ``<block.scope>/unit_<i>``, with atrous rates past ``output_stride``.

    While the running stride is below ``output_stride`` the units run with their
    own strides; once it is reached, each further stride multiplies the atrous
    rate instead (stride 1), so the output keeps the requested density.

    Args:
      net: ``[batch, h, w, c]``.
      blocks: the blocks, in order.
      output_stride: the requested input/output resolution ratio, a product of
        unit strides from the start; ``None`` for the nominal stride.
      store_non_strided_activations: run each block's last unit at stride 1 and
        subsample after recording the block's end point (denser end points, 4x
        the cost of that unit).
      outputs_collections: a dict receiving each unit's and block's output under
        its scope name (slim's collection).

    Returns:
      ``[batch, h', w', depth]`` at ``output_stride`` (or the nominal stride).

    Raises:
      ValueError: ``output_stride`` cannot be reached with the blocks' strides.
    """
    current_stride = 1
    rate = 1
    for block in blocks:
        with layers.variable_scope(block.scope, default_name="block") as block_name:
            block_stride = 1
            for i, unit in enumerate(block.args):
                if store_non_strided_activations and i == len(block.args) - 1:
                    block_stride = unit.get("stride", 1)
                    unit = dict(unit, stride=1)
                with layers.variable_scope(f"unit_{i + 1}"):
                    if _reached(current_stride, output_stride):
                        dense = dict(unit, stride=1)
                        net = block.unit_fn(net, rate=rate, outputs_collections=outputs_collections, **dense)
                        rate *= unit.get("stride", 1)
                    else:
                        net = block.unit_fn(net, rate=1, outputs_collections=outputs_collections, **unit)
                        current_stride *= unit.get("stride", 1)
                        _check_stride(current_stride, output_stride)
            net = collect_named_outputs(outputs_collections, block_name, net)
            if _reached(current_stride, output_stride):
                rate *= block_stride
            else:
                net = subsample(net, block_stride)
                current_stride *= block_stride
                _check_stride(current_stride, output_stride)
    if output_stride is not None and current_stride != output_stride:
        raise ValueError(
            f"The target output_stride {output_stride} cannot be reached (the blocks give {current_stride})."
        )
    return net


def resnet_arg_scope(
    weight_decay: float = 0.0001,
    batch_norm_decay: float = 0.997,
    batch_norm_epsilon: float = 1e-5,
    batch_norm_scale: bool = True,
    activation_fn: Callable[[jax.Array], jax.Array] = jax.nn.relu,
    use_batch_norm: bool = True,
) -> contextlib.AbstractContextManager:
    """slim's ``resnet_arg_scope``: variance-scaling convs with l2 decay and batch norm.

    conv2d: ``weights_regularizer=l2(weight_decay)``, ``weights_initializer=
    variance_scaling_initializer()``, ``activation_fn``, ``normalizer_fn=batch_norm``
    (or none without ``use_batch_norm``); batch_norm: decay, epsilon, scale
    (``gamma``); max_pool2d: ``padding='SAME'`` (pool1 and :func:`subsample`).
    """
    batch_norm_params = {
        "decay": batch_norm_decay,
        "epsilon": batch_norm_epsilon,
        "scale": batch_norm_scale,
        "fused": None,
    }
    with arg_scope(
        [layers.conv2d],
        weights_regularizer=layers.l2_regularizer(weight_decay),
        weights_initializer=layers.variance_scaling_initializer(),
        activation_fn=activation_fn,
        normalizer_fn=layers.batch_norm if use_batch_norm else None,
        normalizer_params=batch_norm_params,
    ):
        with arg_scope([layers.batch_norm], **batch_norm_params):
            with arg_scope([layers.max_pool2d], padding="SAME") as scope:
                pass
    return arg_scope(scope)


@contextlib.contextmanager
def training_scope(is_training: bool | None) -> Iterator[None]:
    """Sets ``is_training`` of batch_norm and dropout; ``None`` leaves the ambient scope's."""
    if is_training is None:
        yield
        return
    with arg_scope([layers.batch_norm, layers.dropout], is_training=is_training):
        yield


def resnet_root_block(net: jax.Array, output_stride: int | None, end_points: EndPoints) -> tuple[jax.Array, int | None]:
    """``conv1`` (7x7/2, 64, :func:`conv2d_same`) and ``pool1`` (3x3/2 max pool): stride 4.

    Returns:
      ``(net [batch, h/4, w/4, 64], output_stride / 4)`` (``None`` stays ``None``).

    Raises:
      ValueError: ``output_stride`` is not a multiple of 4.
    """
    if output_stride is not None:
        if output_stride % 4 != 0:
            raise ValueError(f"The output_stride needs to be a multiple of 4, got {output_stride}.")
        output_stride //= 4
    net = conv2d_same(net, 64, 7, stride=2, scope="conv1")
    collect_named_outputs(end_points, f"{layers.scope_path()}/conv1", net)
    net = layers.max_pool2d(net, [3, 3], stride=2, scope="pool1")
    return net, output_stride


def resnet_logits(
    net: jax.Array,
    end_points: EndPoints,
    num_classes: int | None,
    global_pool: bool,
    spatial_squeeze: bool,
) -> jax.Array:
    """The head: optional global average pool, 1x1 ``logits`` conv, squeeze, softmax.

    Adds ``global_pool``, ``<scope>/logits``, ``<scope>/spatial_squeeze`` and
    ``predictions`` to ``end_points`` as slim does.

    Returns:
      ``[batch, num_classes]`` logits (``[batch, h, w, num_classes]`` without
      squeeze), or the features when ``num_classes`` is 0/None.
    """
    if global_pool:
        net = jnp.mean(net, axis=(1, 2), keepdims=True)
        end_points["global_pool"] = net
    if not num_classes:
        return net
    scope = layers.scope_path()
    net = layers.conv2d(net, num_classes, [1, 1], activation_fn=None, normalizer_fn=None, scope="logits")
    end_points[f"{scope}/logits"] = net
    if spatial_squeeze:
        if net.shape[1:3] != (1, 1):
            raise ValueError(
                f"spatial_squeeze needs 1x1 logits, got spatial shape {net.shape[1:3]}; "
                "set spatial_squeeze=False (or global_pool=True)."
            )
        net = jnp.squeeze(net, (1, 2))
        end_points[f"{scope}/spatial_squeeze"] = net
    end_points["predictions"] = layers.softmax(net, scope="predictions")
    return net


class ResNet(SlimNet):
    """slim's ``resnet_v1`` / ``resnet_v2`` generator; subclasses give the blocks.

    ``images [N, H, W, 3] -> (logits [N, num_classes], end_points)``. With the
    root block the nominal stride is 32 (224 -> 7x7 before pooling).

    Attributes:
      num_classes: logits size; 0/None returns the features (pooled when ``global_pool``).
      global_pool: average the last block spatially (``end_points['global_pool']``).
      output_stride: the requested input/output resolution ratio (a multiple of
        4 with the root block); strides beyond it become atrous rates.
      spatial_squeeze: squeeze the logits to ``[N, num_classes]``.
      include_root_block: the 7x7/2 ``conv1`` and ``pool1`` before the blocks.
      num_units: units per block (a row of :data:`RESNET_UNITS`).
      blocks: explicit blocks (slim's ``resnet_v*(inputs, blocks, ...)``); when
        given, ``num_units`` and depth options are not used.
      scope_name: the top variable scope (slim's ``scope``), e.g. ``'resnet_v1_50'``.
    """

    num_classes: int | None = None
    global_pool: bool = True
    output_stride: int | None = None
    spatial_squeeze: bool = True
    include_root_block: bool = True
    num_units: tuple[int, ...] = RESNET_UNITS[50]
    blocks: tuple[Block, ...] | None = None
    scope_name: str = "resnet"

    default_image_size: ClassVar[int] = 224
    # v2 (full pre-activation): conv1 without batch norm/activation, ``postnorm`` after the blocks.
    preactivation: ClassVar[bool] = False

    def resnet_blocks(self) -> tuple[Block, ...]:
        """The blocks this net stacks."""
        raise NotImplementedError

    def stack(self, net: jax.Array, output_stride: int | None, end_points: EndPoints) -> jax.Array:
        """Runs :meth:`resnet_blocks` through :func:`stack_blocks_dense`."""
        return stack_blocks_dense(net, self.resnet_blocks(), output_stride, outputs_collections=end_points)

    @nn.compact
    def __call__(self, images: jax.Array, is_training: bool | None = False) -> tuple[jax.Array, EndPoints]:
        """``images [N, H, W, C] -> (net, end_points)``; ``is_training=None`` keeps batch_norm's scoped value."""
        end_points: EndPoints = {}
        with self.scoped(), layers.variable_scope(self.scope_name), training_scope(is_training):
            net, output_stride = images, self.output_stride
            if self.include_root_block:
                plain = arg_scope([layers.conv2d], activation_fn=None, normalizer_fn=None)
                with plain if self.preactivation else contextlib.nullcontext():
                    net, output_stride = resnet_root_block(net, output_stride, end_points)
            check_output_stride(self.output_stride, self.resnet_blocks(), 4 if self.include_root_block else 1)
            net = self.stack(net, output_stride, end_points)
            if self.preactivation:
                net = layers.batch_norm(net, activation_fn=jax.nn.relu, scope="postnorm")
            net = resnet_logits(net, end_points, self.num_classes, self.global_pool, self.spatial_squeeze)
        return net, end_points


def resnet_variants(cls: type[ResNet], family: str) -> tuple[functools.partial, ...]:
    """``<family>_{50,101,152,200}``: ``cls`` with the published ``num_units`` and scope."""
    return tuple(
        functools.partial(cls, num_units=units, scope_name=f"{family}_{depth}") for depth, units in RESNET_UNITS.items()
    )


def resnet_registry(cls: type[ResNet], family: str, num_classes: int, label_offset: int = 0) -> tuple[NetSpec, ...]:
    """The registry records of ``<family>_{50,101,152,200}`` (224 pixels, slim's vgg preprocessing)."""
    return tuple(
        NetSpec(
            name=variant.keywords["scope_name"],
            constructor=cls,
            arg_scope=resnet_arg_scope,
            default_image_size=cls.default_image_size,
            num_classes=num_classes,
            label_offset=label_offset,
            preprocessing="vgg",
            defaults=dict(variant.keywords),
        )
        for variant in resnet_variants(cls, family)
    )
