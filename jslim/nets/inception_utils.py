"""What the Inception nets share (research/slim ``nets/inception_utils.py`` and more).

* :func:`inception_arg_scope`: slim's default arg scope of every Inception net.
* Architecture as data: a net's body is a tuple of layer definitions
  (:class:`Conv`, :class:`MaxPool`, :class:`AvgPool`, :class:`Mixed`, ...),
  each named by its end point; :func:`build_end_points` runs them in order up
  to a ``final_endpoint``, like the ``*_base`` functions of slim. A
  :class:`Mixed` block runs its branches in ``Branch_0``, ``Branch_1``... scopes
  and concatenates them on the channel axis::

      Mixed("Mixed_3b", (
          (Conv("Conv2d_0a_1x1", 64, 1),),
          (Conv("Conv2d_0a_1x1", 96, 1), Conv("Conv2d_0b_3x3", 128, 3)),
          (MaxPool("MaxPool_0a_3x3", 3), Conv("Conv2d_0b_1x1", 32, 1)),
      ))

  Depths go through the net's ``depth`` function (``depth_multiplier`` /
  ``min_depth``); strides and paddings left ``None`` come from the enclosing
  ``arg_scope``, as in slim.
* :func:`logits_head`: the ``Logits`` scope (average pool, dropout, 1x1 conv
  logits, ``Predictions``) of inception v1/v2/v3.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

import jax
import jax.numpy as jnp

from jslim import layers
from jslim.nets.base import SlimNet
from jslim.nets.spec import NetSpec
from jslim.scopes import arg_scope

__all__ = [
    "AvgPool",
    "Concat",
    "Conv",
    "InceptionClassifier",
    "MaxPool",
    "Mixed",
    "build_end_points",
    "depth_fn",
    "inception_arg_scope",
    "inception_spec",
    "logits_head",
    "reduced_avg_pool",
    "reduced_kernel_size_for_small_input",
]

Depth = Callable[[int], int]


def inception_arg_scope(
    weight_decay: float = 0.00004,
    use_batch_norm: bool = True,
    batch_norm_decay: float = 0.9997,
    batch_norm_epsilon: float = 0.001,
    activation_fn: Callable[[jax.Array], jax.Array] | None = jax.nn.relu,
    batch_norm_scale: bool = False,
) -> contextlib.AbstractContextManager:
    """slim's ``inception_arg_scope`` (minus ``batch_norm_updates_collections``).

    conv2d and fully_connected: l2 ``weight_decay``. conv2d: slim's
    ``variance_scaling_initializer()``, ``activation_fn``, and batch norm
    (``decay``, ``epsilon``, ``scale=batch_norm_scale``) unless ``use_batch_norm``
    is False (then biases).

    Args:
      weight_decay: l2 regularization scale of the weights.
      use_batch_norm: batch norm after each convolution.
      batch_norm_decay: decay of the moving averages.
      batch_norm_epsilon: added to the variance.
      activation_fn: activation of conv2d.
      batch_norm_scale: learn a ``gamma`` multiplier in batch norm.

    Returns:
      A context manager entering the scope.
    """
    if use_batch_norm:
        normalizer_fn = layers.batch_norm
        normalizer_params = {
            "decay": batch_norm_decay,
            "epsilon": batch_norm_epsilon,
            "fused": None,
            "scale": batch_norm_scale,
        }
    else:
        normalizer_fn, normalizer_params = None, {}
    with arg_scope([layers.conv2d, layers.fully_connected], weights_regularizer=layers.l2_regularizer(weight_decay)):
        with arg_scope(
            [layers.conv2d],
            weights_initializer=layers.variance_scaling_initializer(),
            activation_fn=activation_fn,
            normalizer_fn=normalizer_fn,
            normalizer_params=normalizer_params,
        ) as sc:
            return arg_scope(sc)


def depth_fn(depth_multiplier: float = 1.0, min_depth: int = 16) -> Depth:
    """slim's ``depth = lambda d: max(int(d * depth_multiplier), min_depth)``.

    Raises:
      ValueError: ``depth_multiplier <= 0``.
    """
    if depth_multiplier <= 0:
        raise ValueError(f"depth_multiplier is not greater than zero (got {depth_multiplier}).")
    return lambda d: max(int(d * depth_multiplier), min_depth)


def reduced_kernel_size_for_small_input(inputs: jax.Array, kernel_size: Sequence[int]) -> list[int]:
    """slim's ``_reduced_kernel_size_for_small_input``: ``kernel_size`` clipped to ``inputs``' H, W.

    Args:
      inputs: ``[N, H, W, C]``.
      kernel_size: the desired ``[kh, kw]``.

    Returns:
      ``[min(H, kh), min(W, kw)]``.
    """
    return [min(inputs.shape[1], kernel_size[0]), min(inputs.shape[2], kernel_size[1])]


def _pair(kernel: int | tuple[int, int]) -> list[int]:
    return [kernel, kernel] if isinstance(kernel, int) else list(kernel)


def _given(**options: Any) -> dict[str, Any]:
    """The options that are set (``None`` leaves them to the arg scope)."""
    return {k: v for k, v in options.items() if v is not None}


@dataclasses.dataclass(frozen=True)
class Conv:
    """``conv2d(net, depth(depth), kernel, scope=scope)``.

    ``stride``/``padding`` default to the arg scope's; ``stddev`` sets a
    truncated-normal ``weights_initializer`` (slim's ``trunc_normal(stddev)``).
    """

    scope: str
    depth: int
    kernel: int | tuple[int, int]
    stride: int | None = None
    padding: str | None = None
    stddev: float | None = None

    def __call__(self, net: jax.Array, depth: Depth, channel_axis: int) -> jax.Array:
        del channel_axis
        init = None if self.stddev is None else layers.truncated_normal_initializer(0.0, self.stddev)
        options = _given(stride=self.stride, padding=self.padding, weights_initializer=init)
        return layers.conv2d(net, depth(self.depth), _pair(self.kernel), scope=self.scope, **options)


@dataclasses.dataclass(frozen=True)
class _Pool:
    """``layer(net, kernel, scope=scope)``; stride/padding default to the arg scope's."""

    scope: str
    kernel: int | tuple[int, int]
    stride: int | None = None
    padding: str | None = None

    layer: ClassVar[Callable[..., jax.Array]]

    def __call__(self, net: jax.Array, depth: Depth, channel_axis: int) -> jax.Array:
        del depth, channel_axis
        options = _given(stride=self.stride, padding=self.padding)
        return type(self).layer(net, _pair(self.kernel), scope=self.scope, **options)


class MaxPool(_Pool):
    """``max_pool2d(net, kernel, scope=scope)``; stride/padding default to the arg scope's."""

    layer = staticmethod(layers.max_pool2d)


class AvgPool(_Pool):
    """``avg_pool2d(net, kernel, scope=scope)``; stride/padding default to the arg scope's."""

    layer = staticmethod(layers.avg_pool2d)


@dataclasses.dataclass(frozen=True)
class Concat:
    """``concat([part(net) for part in parts])`` on the channel axis (inception_v3's 1x3|3x1 splits)."""

    parts: tuple[Any, ...]

    def __call__(self, net: jax.Array, depth: Depth, channel_axis: int) -> jax.Array:
        return jnp.concatenate([part(net, depth, channel_axis) for part in self.parts], axis=channel_axis)


@dataclasses.dataclass(frozen=True)
class Mixed:
    """An inception block: ``branches[i]`` runs in scope ``<scope>/Branch_<i>``, outputs concatenated."""

    scope: str
    branches: tuple[tuple[Any, ...], ...]

    def __call__(self, net: jax.Array, depth: Depth, channel_axis: int) -> jax.Array:
        outputs = []
        with layers.variable_scope(self.scope):
            for i, branch in enumerate(self.branches):
                with layers.variable_scope(f"Branch_{i}"):
                    out = net
                    for op in branch:
                        out = op(out, depth, channel_axis)
                    outputs.append(out)
        return jnp.concatenate(outputs, axis=channel_axis)


def build_end_points(
    inputs: jax.Array,
    body: Sequence[Any],
    final_endpoint: str,
    depth: Depth = lambda d: d,
    channel_axis: int = 3,
) -> tuple[jax.Array, dict[str, jax.Array]]:
    """Runs the layer definitions of ``body`` in order up to ``final_endpoint``.

    Each definition's ``scope`` is its end point name.

    Args:
      inputs: the body's input.
      body: layer definitions (:class:`Conv`, :class:`Mixed`...).
      final_endpoint: the last end point to build.
      depth: maps a definition's nominal depth to the built one.
      channel_axis: the concat axis of :class:`Mixed` blocks (3 for NHWC).

    Returns:
      ``(output of final_endpoint, {end point: output})``.

    Raises:
      ValueError: ``final_endpoint`` is not an end point of ``body``.
    """
    names = [op.scope for op in body]
    if final_endpoint not in names:
        raise ValueError(f"Unknown final endpoint {final_endpoint!r}; valid end points: {', '.join(names)}.")
    end_points = {}
    net = inputs
    for op in body:
        net = end_points[op.scope] = op(net, depth, channel_axis)
        if op.scope == final_endpoint:
            break
    return net, end_points


class InceptionClassifier(SlimNet):
    """The options inception v1, v2 and v3 share (keyword arguments), read by :func:`logits_head`.

    Attributes:
      num_classes: logits size; 0/None returns the pooled features (before dropout).
      dropout_keep_prob: keep probability of the dropout before the logits, in training.
      prediction_fn: maps logits to ``end_points['Predictions']``.
      spatial_squeeze: squeeze the logits to ``[N, num_classes]`` (needs a 1x1 map).
      global_pool: average over all positions instead of the fixed pooling window.
    """

    num_classes: int | None = 1000
    dropout_keep_prob: float = 0.8
    prediction_fn: Callable[[jax.Array], jax.Array] = layers.softmax
    spatial_squeeze: bool = True
    global_pool: bool = False


def logits_head(
    net: jax.Array,
    end_points: dict[str, jax.Array],
    options: InceptionClassifier,
    *,
    pool: Callable[[jax.Array], jax.Array],
    pool_end_point: str,
    dropout_scope: str = "Dropout_1b",
    logits_scope: str = "Conv2d_1c_1x1",
    pre_logits: bool = True,
) -> jax.Array:
    """The ``Logits`` scope of inception v1/v2/v3 (opened here, under the current scope).

    ``global_pool`` averages over space (end point ``'global_pool'``), else
    ``pool`` (end point ``pool_end_point``). Without ``num_classes`` the pooled
    features are returned. Otherwise: dropout (``'PreLogits'`` when
    ``pre_logits``), a linear 1x1 conv without normalizer, the optional spatial
    squeeze, and end points ``'Logits'`` and ``'Predictions'``. Dropout reads
    ``is_training`` from the arg scope, like slim.

    Args:
      net: ``[N, H, W, C]`` features.
      end_points: updated in place.
      options: the net (its ``num_classes``, ``dropout_keep_prob``, ``spatial_squeeze``,
        ``global_pool`` and ``prediction_fn``).
      pool: the fixed-window pooling.
      pool_end_point: its end point name.
      dropout_scope, logits_scope: layer names.
      pre_logits: record the dropout output as ``'PreLogits'``.

    Returns:
      Logits ``[N, num_classes]`` (``[N, h, w, num_classes]`` without squeeze), or
      the pooled features ``[N, h, w, C]`` without ``num_classes``.
    """
    with layers.variable_scope("Logits"):
        if options.global_pool:
            net = end_points["global_pool"] = jnp.mean(net, axis=(1, 2), keepdims=True)
        else:
            net = end_points[pool_end_point] = pool(net)
        if not options.num_classes:
            return net
        net = layers.dropout(net, options.dropout_keep_prob, scope=dropout_scope)
        if pre_logits:
            end_points["PreLogits"] = net
        logits = layers.conv2d(
            net, options.num_classes, [1, 1], activation_fn=None, normalizer_fn=None, scope=logits_scope
        )
        if options.spatial_squeeze:
            logits = jnp.squeeze(logits, (1, 2))
    end_points["Logits"] = logits
    end_points["Predictions"] = options.prediction_fn(logits)
    return logits


def reduced_avg_pool(net: jax.Array, kernel_size: Sequence[int]) -> jax.Array:
    """inception v2/v3's ``AvgPool_1a_<h>x<w>``: VALID ``avg_pool2d`` (stride 2) of the reduced kernel."""
    kernel = reduced_kernel_size_for_small_input(net, kernel_size)
    return layers.avg_pool2d(net, kernel, padding="VALID", scope="AvgPool_1a_{}x{}".format(*kernel))


def inception_spec(
    name: str, constructor: Callable[..., Any], default_image_size: int, arg_scope: Callable[..., Any] = inception_arg_scope
) -> NetSpec:
    """The registry record of a published Inception checkpoint.

    Its head has 1001 classes (background first: label offset 1) and it uses
    slim's ``inception`` preprocessing.
    """
    return NetSpec(
        name=name,
        constructor=constructor,
        arg_scope=arg_scope,
        default_image_size=default_image_size,
        num_classes=1001,
        label_offset=1,
        preprocessing="inception",
    )
