"""The convolution blocks of research/slim's MobileNet framework (``nets/mobilenet/conv_blocks.py``).

``expanded_conv`` (the inverted residual of MobileNet V2/V3: 1x1 expansion ->
depthwise -> 1x1 projection), ``squeeze_excite``, ``split_conv`` and
``split_separable_conv2d`` (the V1 block), with slim's arguments, defaults and
variable names. They are plain functions for Flax ``@nn.compact`` methods.

TF's ``tf.identity(net, name)`` tensors that ``mobilenet_base`` turns into end
points (``'layer_7/expansion_output'``, ``'layer_7/depthwise_output'``,
``'layer_7/output'``) are recorded here by :func:`named_output`; see
:func:`recording_named_outputs`.
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import functools
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jslim import layers
from jslim.scopes import add_arg_scope, arg_scope

__all__ = [
    "expand_input_by_factor",
    "expanded_conv",
    "fixed_padding",
    "make_divisible",
    "named_output",
    "recording_named_outputs",
    "split_conv",
    "split_divisible",
    "split_separable_conv2d",
    "squeeze_excite",
]

Activation = Callable[[jax.Array], jax.Array] | None

# (variable scope path, name, tensor) of every named output while recording.
_NAMED_OUTPUTS: contextvars.ContextVar[list[tuple[str, str, jax.Array]] | None] = contextvars.ContextVar(
    "jslim_mobilenet_named_outputs", default=None
)


def named_output(net: jax.Array, name: str) -> jax.Array:
    """``tf.identity(net, name)``: returns ``net``, recording it under ``<scope>/<name>``."""
    recorded = _NAMED_OUTPUTS.get()
    if recorded is not None:
        recorded.append((layers.scope_path(), name, net))
    return net


@contextlib.contextmanager
def recording_named_outputs() -> Iterator[list[tuple[str, str, jax.Array]]]:
    """Collects the ``(scope path, name, tensor)`` of each :func:`named_output` in the block."""
    recorded: list[tuple[str, str, jax.Array]] = []
    token = _NAMED_OUTPUTS.set(recorded)
    try:
        yield recorded
    finally:
        _NAMED_OUTPUTS.reset(token)


def fixed_padding(inputs: jax.Array, kernel_size: Sequence[int], rate: int = 1) -> jax.Array:
    """Pads H and W so that a ``'VALID'`` conv gives the ``'SAME'`` output size.

    Like slim, both dimensions use ``kernel_size[0]``: the effective kernel is
    ``k + (k - 1) * (rate - 1)``, padded ``(k_eff - 1) // 2`` before and the rest after.

    Args:
      inputs: ``[batch, height, width, channels]``.
      kernel_size: the kernel of the following conv or pool.
      rate: its atrous rate.

    Returns:
      ``[batch, height + k_eff - 1, width + k_eff - 1, channels]``.
    """
    effective = kernel_size[0] + (kernel_size[0] - 1) * (rate - 1)
    total = effective - 1
    begin = total // 2
    pads = (begin, total - begin)
    return jnp.pad(inputs, ((0, 0), pads, pads, (0, 0)))


def make_divisible(v: float, divisor: int, min_value: int | None = None) -> int:
    """``v`` rounded to a multiple of ``divisor`` (at least ``min_value``), never 10% below ``v``."""
    if min_value is None:
        min_value = divisor
    new_v = max(min_value, int(v + divisor / 2) // divisor * divisor)
    if new_v < 0.9 * v:
        new_v += divisor
    return int(new_v)


def split_divisible(num: int, num_ways: int, divisible_by: int = 8) -> list[int]:
    """Splits ``num`` into ``num_ways`` near-equal multiples of ``divisible_by``.

    Raises:
      ValueError: ``num`` is not a multiple of ``divisible_by`` or the parts would be too small.
    """
    if num % divisible_by or num / num_ways < divisible_by:
        raise ValueError(f"cannot split {num} {num_ways} ways into multiples of {divisible_by}.")
    base = num // num_ways // divisible_by * divisible_by
    result = []
    accumulated = 0
    for i in range(num_ways):
        r = base
        while accumulated + r < num * (i + 1) / num_ways:
            r += divisible_by
        result.append(r)
        accumulated += r
    return result


@dataclasses.dataclass(frozen=True)
class expand_input_by_factor:  # pylint: disable=invalid-name
    """``expansion_size`` of ``expanded_conv``: ``make_divisible(num_inputs * n, divisible_by)``.

    A frozen dataclass rather than slim's lambda, so conv defs stay hashable and comparable.
    """

    n: float
    divisible_by: int = 8

    def __call__(self, num_inputs: int, **unused: Any) -> int:
        return make_divisible(num_inputs * self.n, self.divisible_by)


def split_conv(
    input_tensor: jax.Array,
    num_outputs: int,
    num_ways: int,
    scope: str,
    divisible_by: int = 8,
    **kwargs: Any,
) -> jax.Array:
    """A 1x1 conv split into ``num_ways`` groups (group ``i`` of the input feeds group ``i`` of the output).

    A plain ``conv2d(..., [1, 1], scope=scope)`` when ``num_ways == 1`` or a group
    would get fewer than ``divisible_by`` channels on either side; otherwise
    convs ``<scope>_part_<i>``, concatenated on channels.

    Args:
      input_tensor: ``[batch, h, w, in]``.
      num_outputs: output channels.
      num_ways: number of groups.
      scope: the conv's scope (or the parts' prefix).
      divisible_by: each group's channels are a multiple of this.
      **kwargs: passed to ``conv2d``.

    Returns:
      ``[batch, h, w, num_outputs]``.
    """
    channels = input_tensor.shape[3]
    if num_ways == 1 or min(channels // num_ways, num_outputs // num_ways) < divisible_by:
        return layers.conv2d(input_tensor, num_outputs, [1, 1], scope=scope, **kwargs)
    input_splits = split_divisible(channels, num_ways, divisible_by=divisible_by)
    output_splits = split_divisible(num_outputs, num_ways, divisible_by=divisible_by)
    inputs = jnp.split(input_tensor, np.cumsum(input_splits)[:-1].tolist(), axis=3)
    outs = []
    for i, (part, out_size) in enumerate(zip(inputs, output_splits)):
        part_scope = f"{scope}_part_{i}"
        outs.append(named_output(layers.conv2d(part, out_size, [1, 1], scope=part_scope, **kwargs), part_scope + "_output"))
    return jnp.concatenate(outs, axis=3)


@contextlib.contextmanager
def _v1_compatible_scope_naming(scope: str | None) -> Iterator[str]:
    """A fresh ``separable`` scope when ``scope`` is None (prefix ``''``), else the prefix ``scope_``."""
    if scope is None:
        with layers.variable_scope(None, default_name="separable"):
            yield ""
    else:
        yield scope + "_"


@add_arg_scope
def split_separable_conv2d(
    input_tensor: jax.Array,
    num_outputs: int,
    scope: str | None = None,
    normalizer_fn: Callable[..., jax.Array] | None = None,
    stride: int = 1,
    rate: int = 1,
    endpoints: dict[str, jax.Array] | None = None,
    use_explicit_padding: bool = False,
) -> jax.Array:
    """The MobileNet V1 block: 3x3 depthwise (normalized, activated), then a 1x1 conv.

    Scopes ``<scope>_depthwise`` and ``<scope>_pointwise`` (V1 checkpoint names), or
    ``separable[_n]/depthwise`` and ``.../pointwise`` when ``scope`` is None.

    Args:
      input_tensor: ``[batch, h, w, in]``.
      num_outputs: pointwise output channels.
      scope: the name prefix.
      normalizer_fn: normalizer of both convs.
      stride, rate: of the depthwise conv.
      endpoints: if given, receives both outputs under their scope names.
      use_explicit_padding: pad explicitly and use ``'VALID'`` convs.

    Returns:
      ``[batch, h / stride, w / stride, num_outputs]``.
    """
    with _v1_compatible_scope_naming(scope) as prefix:
        dw_scope = prefix + "depthwise"
        endpoints = endpoints if endpoints is not None else {}
        kernel_size = [3, 3]
        padding = "SAME"
        if use_explicit_padding:
            padding = "VALID"
            input_tensor = fixed_padding(input_tensor, kernel_size, rate)
        net = layers.separable_conv2d(
            input_tensor, None, kernel_size, depth_multiplier=1, stride=stride, rate=rate,
            normalizer_fn=normalizer_fn, padding=padding, scope=dw_scope,
        )
        endpoints[dw_scope] = net
        pw_scope = prefix + "pointwise"
        net = layers.conv2d(net, num_outputs, [1, 1], stride=1, normalizer_fn=normalizer_fn, scope=pw_scope)
        endpoints[pw_scope] = net
    return net


_DEPTHWISE_LOCATIONS = (None, "input", "output", "expansion")


def _residual(residual: Any, stride: Any, input_tensor: jax.Array, net: jax.Array) -> jax.Array:
    """slim's residual rule: a callable, or ``net + input`` when stride is 1 and depths match."""
    if callable(residual):
        return residual(input_tensor=input_tensor, output_tensor=net)
    if residual and stride == 1 and net.shape[3] == input_tensor.shape[3]:
        return net + input_tensor
    return net


@add_arg_scope
def expanded_conv(
    input_tensor: jax.Array,
    num_outputs: int,
    expansion_size: int | Callable[..., int] = expand_input_by_factor(6),
    stride: int = 1,
    rate: int = 1,
    kernel_size: Sequence[int] = (3, 3),
    residual: bool | Callable[..., jax.Array] = True,
    normalizer_fn: Callable[..., jax.Array] | None = None,
    split_projection: int = 1,
    split_expansion: int = 1,
    split_divisible_by: int = 8,
    expansion_transform: Callable[..., jax.Array] | None = None,
    depthwise_location: str | None = "expansion",
    depthwise_channel_multiplier: int = 1,
    endpoints: dict[str, jax.Array] | None = None,
    use_explicit_padding: bool = False,
    padding: str = "SAME",
    inner_activation_fn: Activation = None,
    depthwise_activation_fn: Activation = None,
    project_activation_fn: Activation = None,
    depthwise_fn: Callable[..., jax.Array] = layers.separable_conv2d,
    expansion_fn: Callable[..., jax.Array] = split_conv,
    projection_fn: Callable[..., jax.Array] = split_conv,
    scope: str | None = None,
) -> jax.Array:
    """The inverted-residual block: expansion (1x1) -> depthwise -> projection (1x1).

    Variables under ``<scope>`` (default ``expanded_conv``, ``expanded_conv_1``...):
    ``expand/`` (only when the expansion is wider than the input), ``depthwise/``
    (``depthwise_weights``), optional transform (e.g. ``squeeze_excite/``) and
    ``project/``. Named outputs ``expansion_output``, ``depthwise_output`` and
    ``output`` are recorded for ``mobilenet_base``.

    Args:
      input_tensor: ``[batch, h, w, in]``.
      num_outputs: channels of the projection.
      expansion_size: inner channels, or ``fn(num_inputs=in) -> channels``.
      stride, rate, kernel_size: of the depthwise conv.
      residual: add the input when the stride is 1 and depths match, or a
        callable ``fn(input_tensor=, output_tensor=)``.
      normalizer_fn: of every conv in the block.
      split_projection, split_expansion, split_divisible_by: ``split_conv`` groups.
      expansion_transform: ``fn(expansion_tensor=, input_tensor=)`` applied after the depthwise.
      depthwise_location: ``'expansion'`` (default), ``'input'``, ``'output'`` or None.
      depthwise_channel_multiplier: depthwise outputs per channel.
      endpoints: if given, receives ``expansion_output``, ``depthwise_output``
        and ``projection_output``.
      use_explicit_padding: pad explicitly before the depthwise, which then uses ``'VALID'``.
      padding: depthwise padding when not explicit.
      inner_activation_fn: activation of the expansion and depthwise convs
        (default: the arg scope's).
      depthwise_activation_fn: activation of the depthwise only (wins over the inner one).
      project_activation_fn: activation of the projection (slim's ``tf.identity``: none).
      depthwise_fn, expansion_fn, projection_fn: the convs (custom ones skip the splits).
      scope: the variable scope.

    Returns:
      ``[batch, h / stride, w / stride, num_outputs]``.

    Raises:
      TypeError: an unknown ``depthwise_location``, or explicit padding with ``padding != 'SAME'``.
    """
    conv_defaults: dict[str, Any] = {}
    dw_defaults: dict[str, Any] = {}
    if inner_activation_fn is not None:
        conv_defaults["activation_fn"] = inner_activation_fn
        dw_defaults["activation_fn"] = inner_activation_fn
    if depthwise_activation_fn is not None:
        dw_defaults["activation_fn"] = depthwise_activation_fn
    with (
        layers.variable_scope(scope, default_name="expanded_conv"),
        arg_scope([layers.conv2d], **conv_defaults),
        arg_scope([layers.separable_conv2d], **dw_defaults),
    ):
        prev_depth = input_tensor.shape[3]
        if depthwise_location not in _DEPTHWISE_LOCATIONS:
            raise TypeError(f"{depthwise_location!r} is unknown value for depthwise_location; use one of {_DEPTHWISE_LOCATIONS}.")
        if use_explicit_padding:
            if padding != "SAME":
                raise TypeError('`use_explicit_padding` should only be used with "SAME" padding.')
            padding = "VALID"
        depthwise_func = functools.partial(
            depthwise_fn, num_outputs=None, kernel_size=kernel_size, depth_multiplier=depthwise_channel_multiplier,
            stride=stride, rate=rate, normalizer_fn=normalizer_fn, padding=padding, scope="depthwise",
        )

        def depthwise(net: jax.Array, **kwargs: Any) -> jax.Array:
            if use_explicit_padding:
                net = fixed_padding(net, kernel_size, rate)
            net = named_output(depthwise_func(net, **kwargs), "depthwise_output")
            if endpoints is not None:
                endpoints["depthwise_output"] = net
            return net

        net = input_tensor
        if depthwise_location == "input":
            net = depthwise(net, activation_fn=None)
        inner_size = expansion_size(num_inputs=prev_depth) if callable(expansion_size) else expansion_size
        if inner_size > net.shape[3]:
            if expansion_fn == split_conv:
                expansion_fn = functools.partial(split_conv, num_ways=split_expansion, divisible_by=split_divisible_by, stride=1)
            net = named_output(expansion_fn(net, inner_size, scope="expand", normalizer_fn=normalizer_fn), "expansion_output")
            if endpoints is not None:
                endpoints["expansion_output"] = net
        if depthwise_location == "expansion":
            net = depthwise(net)
        if expansion_transform:
            net = expansion_transform(expansion_tensor=net, input_tensor=input_tensor)
        if projection_fn == split_conv:
            projection_fn = functools.partial(split_conv, num_ways=split_projection, divisible_by=split_divisible_by, stride=1)
        net = projection_fn(net, num_outputs, scope="project", normalizer_fn=normalizer_fn, activation_fn=project_activation_fn)
        if endpoints is not None:
            endpoints["projection_output"] = net
        if depthwise_location == "output":
            net = depthwise(net, activation_fn=None)
        return named_output(_residual(residual, stride, input_tensor, net), "output")


def _resize_bilinear_align_corners(x: jax.Array, size: Sequence[int]) -> jax.Array:
    """TF's ``resize_images(..., align_corners=True)`` (bilinear) on ``[N, H, W, C]``."""
    for axis, out in zip((1, 2), size):
        n = x.shape[axis]
        pos = np.linspace(0.0, n - 1.0, out) if out > 1 else np.zeros(1)
        lo = np.floor(pos).astype(np.int32)
        hi = np.minimum(lo + 1, n - 1)
        frac = jnp.asarray(pos - lo, x.dtype).reshape([-1 if a == axis else 1 for a in range(x.ndim)])
        x = jnp.take(x, lo, axis=axis) * (1 - frac) + jnp.take(x, hi, axis=axis) * frac
    return x


@add_arg_scope
def squeeze_excite(
    input_tensor: jax.Array,
    divisible_by: int = 8,
    squeeze_factor: float = 3,
    inner_activation_fn: Activation = jax.nn.relu,
    gating_fn: Activation = jax.nn.sigmoid,
    squeeze_input_tensor: jax.Array | None = None,
    pool: int | None = None,
) -> jax.Array:
    """Squeeze-and-excite (MobileNet V3): ``input * gate(conv(act(conv(mean(input)))))``.

    Variables ``squeeze_excite/Conv`` (``in -> make_divisible(in / squeeze_factor)``)
    and ``squeeze_excite/Conv_1`` (back to the input's channels), both with biases.

    Args:
      input_tensor: ``[batch, h, w, c]``.
      divisible_by: the squeeze width is a multiple of this.
      squeeze_factor: squeeze width divisor.
      inner_activation_fn: activation of the squeeze conv.
      gating_fn: activation of the excite conv.
      squeeze_input_tensor: the tensor the gate is computed from (default ``input_tensor``).
      pool: if set (and not larger than the input), average-pool with this
        window and stride instead of a global mean, then resize the gate back
        bilinearly (align_corners).

    Returns:
      The gated ``input_tensor``.
    """
    with layers.variable_scope("squeeze_excite"):
        if squeeze_input_tensor is None:
            squeeze_input_tensor = input_tensor
        input_size = input_tensor.shape[1:3]
        pool_height, pool_width = squeeze_input_tensor.shape[1:3]
        stride = 1
        if pool is not None and pool_height >= pool:
            pool_height, pool_width, stride = pool, pool, pool
        squeeze_channels = make_divisible(squeeze_input_tensor.shape[3] / squeeze_factor, divisor=divisible_by)
        if pool is None:
            pooled = jnp.mean(squeeze_input_tensor, axis=(1, 2), keepdims=True)
        else:
            pooled = layers.avg_pool2d(squeeze_input_tensor, (pool_height, pool_width), stride=stride, padding="VALID")
        squeeze = layers.conv2d(
            pooled, num_outputs=squeeze_channels, kernel_size=(1, 1), normalizer_fn=None, activation_fn=inner_activation_fn
        )
        excite = layers.conv2d(
            squeeze, num_outputs=input_tensor.shape[3], kernel_size=[1, 1], normalizer_fn=None, activation_fn=gating_fn
        )
        if pool is not None:
            excite = _resize_bilinear_align_corners(excite, input_size)
        return input_tensor * excite
