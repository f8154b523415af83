"""Normalization layers other than ``batch_norm``, with TF-Slim's semantics and names.

``layer_norm``, ``group_norm``, ``instance_norm`` (``<scope>/beta``,
``<scope>/gamma`` in ``params``), ``unit_norm``, ``l2_normalize`` (no variables)
and ``gdn`` (``<name>/reparam_beta``, ``<name>/reparam_gamma``). Statistics are
computed in float32 and the result is cast back to the input dtype.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import jax
import jax.numpy as jnp

from jslim.layers import initializers
from jslim.layers.batch_norm import batch_norm, batch_normalization, moments
from jslim.layers.variable_scope import add_loss, model_variable, variable_scope
from jslim.scopes import add_arg_scope

# batch_norm lived here first; it stays importable from this module.
__all__ = [
    "batch_norm",
    "gdn",
    "group_norm",
    "instance_norm",
    "l2_normalize",
    "layer_norm",
    "poincare_normalize",
    "unit_norm",
]

Activation = Callable[[jax.Array], jax.Array] | None
Initializer = Callable[..., jax.Array]


def _beta_gamma(
    shape: Sequence[int],
    center: bool,
    scale: bool,
    trainable: bool,
    param_initializers: Mapping[str, Initializer] | None = None,
) -> tuple[jax.Array | None, jax.Array | None]:
    """The optional ``beta`` (zeros) and ``gamma`` (ones) of the current scope."""
    inits = param_initializers or {}
    beta = gamma = None
    if center:
        beta = model_variable("beta", shape, inits.get("beta", initializers.zeros_initializer()), trainable=trainable)
    if scale:
        gamma = model_variable("gamma", shape, inits.get("gamma", initializers.ones_initializer()), trainable=trainable)
    return beta, gamma


def _activate(outputs: jax.Array, activation_fn: Activation) -> jax.Array:
    return outputs if activation_fn is None else activation_fn(outputs)


@add_arg_scope
def layer_norm(
    inputs: jax.Array,
    center: bool = True,
    scale: bool = True,
    activation_fn: Activation = None,
    trainable: bool = True,
    begin_norm_axis: int = 1,
    begin_params_axis: int = -1,
    scope: str | None = None,
) -> jax.Array:
    """Layer normalization, like ``slim.layer_norm`` (default scope ``LayerNorm``).

    Moments over axes ``begin_norm_axis ... rank - 1``; ``beta`` / ``gamma`` of
    shape ``inputs.shape[begin_params_axis:]`` broadcast against the result.
    TF's variance epsilon: ``1e-12`` (``1e-3`` for float16 inputs).

    Args:
      inputs: a tensor of rank ``R``.
      center, scale: create ``beta`` / ``gamma``.
      activation_fn: applied last.
      trainable: whether ``beta`` / ``gamma`` are trainable.
      begin_norm_axis: first normalized axis (negative counts from the end).
      begin_params_axis: first axis of the parameters' shape.
      scope: the variable scope.

    Returns:
      Same shape and dtype as ``inputs``.
    """
    rank = inputs.ndim
    if begin_norm_axis < 0:
        begin_norm_axis += rank
    if begin_params_axis >= rank or begin_norm_axis >= rank:
        raise ValueError(
            f"begin_params_axis ({begin_params_axis}) and begin_norm_axis ({begin_norm_axis}) "
            f"must be < rank(inputs) ({rank})"
        )
    with variable_scope(scope, default_name="LayerNorm"):
        params_shape = inputs.shape[begin_params_axis:]
        beta, gamma = _beta_gamma(params_shape, center, scale, trainable)
        full = (1,) * (rank - len(params_shape)) + tuple(params_shape)
        beta = None if beta is None else beta.reshape(full)
        gamma = None if gamma is None else gamma.reshape(full)
        mean, var = moments(inputs, tuple(range(begin_norm_axis, rank)), keepdims=True)
        epsilon = 1e-3 if inputs.dtype == jnp.float16 else 1e-12
        return _activate(batch_normalization(inputs, mean, var, beta, gamma, epsilon), activation_fn)


def _group_norm_axes(ndim: int, channels_axis: int, reduction_axes: Sequence[int]) -> tuple[int, list[int]]:
    channels_axis = channels_axis + ndim if channels_axis < 0 else channels_axis
    if not 0 <= channels_axis < ndim:
        raise ValueError("Axis is out of bounds.")
    axes = [a + ndim if a < 0 else a for a in reduction_axes]
    for a in axes:
        if not 0 <= a < ndim:
            raise ValueError("Axis is out of bounds.")
        if a == channels_axis:
            raise ValueError("reduction_axis must be mutually exclusive with channels_axis")
    return channels_axis, axes


@add_arg_scope
def group_norm(
    inputs: jax.Array,
    groups: int = 32,
    channels_axis: int = -1,
    reduction_axes: Sequence[int] = (-3, -2),
    center: bool = True,
    scale: bool = True,
    epsilon: float = 1e-6,
    activation_fn: Activation = None,
    param_initializers: Mapping[str, Initializer] | None = None,
    trainable: bool = True,
    scope: str | None = None,
    mean_close_to_zero: bool = False,
) -> jax.Array:
    """Group normalization, like ``slim.group_norm`` (default scope ``GroupNorm``).

    The channel axis is split into ``[groups, channels // groups]`` (group major)
    and the moments are taken over the group's channels and ``reduction_axes``
    (NHWC: ``channels_axis=-1, reduction_axes=(-3, -2)``; NCHW: ``-3, (-2, -1)``).
    ``beta`` / ``gamma`` have shape ``[channels]``. ``mean_close_to_zero`` uses
    TF's one-pass ``E[x^2] - E[x]^2`` variance.

    Args:
      inputs: a tensor with a channel axis, rank >= 2.
      groups: number of groups; must divide the channel count.
      channels_axis: the channel axis.
      reduction_axes: other axes the statistics are taken over.
      center, scale, epsilon, activation_fn, param_initializers, trainable, scope:
        as in :func:`instance_norm`.
      mean_close_to_zero: one-pass variance (``tf.nn.sufficient_statistics``).

    Returns:
      Same shape and dtype as ``inputs``.
    """
    ndim = inputs.ndim
    channels_axis, axes = _group_norm_axes(ndim, channels_axis, reduction_axes)
    channels = inputs.shape[channels_axis]
    if groups > channels:
        raise ValueError(f"Invalid groups {groups} for {channels} channels.")
    if channels % groups:
        raise ValueError(f"{channels} channels is not commensurate with {groups} groups.")
    grouped_shape = (*inputs.shape[:channels_axis], groups, channels // groups, *inputs.shape[channels_axis + 1:])
    params_shape = [1] * (ndim + 1)
    params_shape[channels_axis:channels_axis + 2] = [groups, channels // groups]
    moments_axes = tuple(sorted([channels_axis + 1] + [a + 1 if a > channels_axis else a for a in axes]))
    x = inputs.reshape(grouped_shape).astype(jnp.float32)
    with variable_scope(scope, default_name="GroupNorm"):
        beta, gamma = _beta_gamma([channels], center, scale, trainable, param_initializers)
        if mean_close_to_zero:
            mean = jnp.mean(x, axis=moments_axes, keepdims=True)
            var = jnp.mean(jnp.square(x), axis=moments_axes, keepdims=True) - jnp.square(mean)
        else:
            mean, var = moments(x, moments_axes, keepdims=True)
        gain = jax.lax.rsqrt(var + epsilon)
        offset = -mean * gain
        if gamma is not None:
            gain = gain * gamma.reshape(params_shape)
            offset = offset * gamma.reshape(params_shape)
        if beta is not None:
            offset = offset + beta.reshape(params_shape)
        outputs = (x * gain + offset).reshape(inputs.shape).astype(inputs.dtype)
        return _activate(outputs, activation_fn)


@add_arg_scope
def instance_norm(
    inputs: jax.Array,
    center: bool = True,
    scale: bool = True,
    epsilon: float = 1e-6,
    activation_fn: Activation = None,
    param_initializers: Mapping[str, Initializer] | None = None,
    trainable: bool = True,
    data_format: str = "NHWC",
    scope: str | None = None,
) -> jax.Array:
    """Instance normalization, like ``slim.instance_norm`` (default scope ``InstanceNorm``).

    Moments per example and channel, over every other axis.

    Args:
      inputs: ``[batch, ..., channels]`` (``'NHWC'``) or ``[batch, channels, ...]``
        (``'NCHW'``), rank >= 3 to normalize anything.
      center: add ``beta`` (``[channels]``, zeros).
      scale: multiply by ``gamma`` (``[channels]``, ones).
      epsilon: added to the variance.
      activation_fn: applied last.
      param_initializers: optional ``beta`` / ``gamma`` initializers.
      trainable: whether ``beta`` / ``gamma`` are trainable.
      data_format: ``'NHWC'`` or ``'NCHW'``.
      scope: the variable scope.

    Returns:
      Same shape and dtype as ``inputs``.
    """
    if data_format not in ("NHWC", "NCHW"):
        raise ValueError("data_format has to be either NCHW or NHWC.")
    channel_axis = 1 if data_format == "NCHW" else inputs.ndim - 1
    shape = [1] * inputs.ndim
    shape[channel_axis] = inputs.shape[channel_axis]
    axes = tuple(a for a in range(1, inputs.ndim) if a != channel_axis)
    with variable_scope(scope, default_name="InstanceNorm"):
        beta, gamma = _beta_gamma([shape[channel_axis]], center, scale, trainable, param_initializers)
        mean, var = moments(inputs, axes, keepdims=True)
        beta = None if beta is None else beta.reshape(shape)
        gamma = None if gamma is None else gamma.reshape(shape)
        return _activate(batch_normalization(inputs, mean, var, beta, gamma, epsilon), activation_fn)


@add_arg_scope
def unit_norm(inputs: jax.Array, dim: int, epsilon: float = 1e-7, scope: str | None = None) -> jax.Array:
    """``x / sqrt(epsilon + sum(x**2, dim))``, like ``slim.unit_norm``.

    Args:
      inputs: any rank.
      dim: the axis normalized to unit length; ``0 <= dim < rank``.
      epsilon: added under the square root.
      scope: unused (slim's name scope).
    """
    del scope
    if dim < 0 or dim >= inputs.ndim:
        raise ValueError("dim must be positive but smaller than the input rank.")
    lengths = jnp.sqrt(epsilon + jnp.sum(jnp.square(inputs), axis=dim, keepdims=True))
    return inputs / lengths


def l2_normalize(
    x: jax.Array,
    axis: int | Sequence[int] | None = None,
    epsilon: float = 1e-12,
    name: str | None = None,
    dim: int | Sequence[int] | None = None,
) -> jax.Array:
    """``tf.nn.l2_normalize``: ``x * rsqrt(max(sum(x**2, axis), epsilon))``.

    Args:
      x: any rank.
      axis: axis or axes to normalize over; ``None`` normalizes over all axes.
      epsilon: lower bound of the squared norm.
      name: unused.
      dim: deprecated alias of ``axis``.
    """
    del name
    if dim is not None:
        if axis is not None:
            raise ValueError("l2_normalize: pass axis or its deprecated alias dim, not both.")
        axis = dim
    axes = tuple(axis) if isinstance(axis, (list, tuple)) else axis
    square_sum = jnp.sum(jnp.square(x), axis=axes, keepdims=True)
    return x * jax.lax.rsqrt(jnp.maximum(square_sum, jnp.asarray(epsilon, square_sum.dtype)))


def poincare_normalize(
    x: jax.Array, axis: int | Sequence[int] = 1, epsilon: float = 1e-5, name: str | None = None
) -> jax.Array:
    """Projects into the Poincare ball of norm ``<= 1 - epsilon``, like ``slim.poincare_normalize``.

    ``x * min((1 - epsilon) / ||x||, 1)`` with the norm over ``axis``.
    """
    del name
    axes = tuple(axis) if isinstance(axis, (list, tuple)) else axis
    inv_norm = jax.lax.rsqrt(jnp.sum(jnp.square(x), axis=axes, keepdims=True))
    return x * jnp.minimum((1.0 - epsilon) * inv_norm, 1.0)


@jax.custom_vjp
def _lower_bound(x: jax.Array, bound: jax.Array) -> jax.Array:
    """``max(x, bound)``; its gradient passes where ``x >= bound`` or the gradient pushes ``x`` up."""
    return jnp.maximum(x, bound)


def _lower_bound_fwd(x, bound):
    return jnp.maximum(x, bound), (x, bound)


def _lower_bound_bwd(res, g):
    x, bound = res
    pass_through = jnp.logical_or(x >= bound, g < 0)
    return g * pass_through.astype(g.dtype), jnp.zeros_like(bound)


_lower_bound.defvjp(_lower_bound_fwd, _lower_bound_bwd)


def gdn(
    inputs: jax.Array,
    inverse: bool = False,
    beta_min: float = 1e-6,
    gamma_init: float = 0.1,
    reparam_offset: float = 2**-18,
    data_format: str = "channels_last",
    activity_regularizer: Callable[[jax.Array], jax.Array] | None = None,
    trainable: bool = True,
    name: str | None = None,
) -> jax.Array:
    """Generalized divisive normalization, like ``slim.layers.gdn`` (default name ``gdn``).

    ``y[i] = x[i] / sqrt(beta[i] + sum_j gamma[j, i] * x[j]**2)`` over channels
    (``inverse=True``: multiplied instead). Parameters are reparameterized as in
    TF: with ``p = reparam_offset**2``, ``beta = max(reparam_beta, sqrt(beta_min +
    p))**2 - p`` and ``gamma = max(reparam_gamma, reparam_offset)**2 - p``; the
    bound passes gradients that push the value up (TF's ``GDNLowerBound``).
    Variables: ``<name>/reparam_beta`` ``[C]`` (init ``sqrt(1 + p)``) and
    ``<name>/reparam_gamma`` ``[C, C]`` (init ``sqrt(gamma_init * I + p)``).
    Unlike TF-Slim (whose rank-5 channels-first path fails), every rank 3-5
    works in both layouts.

    Args:
      inputs: rank 3 to 5, ``channels_last`` or ``channels_first``.
      inverse: compute IGDN.
      beta_min: lower bound of ``beta``.
      gamma_init: ``gamma`` starts as ``gamma_init * I``.
      reparam_offset: offset of the reparameterization.
      data_format: ``'channels_last'`` or ``'channels_first'``.
      activity_regularizer: ``fn(outputs) -> scalar``; Keras records
        ``fn(outputs) / batch`` as a regularization loss (``losses`` collection,
        name ``activity_regularizer``).
      trainable: whether the variables are trainable.
      name: the variable scope (slim's layer name).

    Returns:
      Same shape and dtype as ``inputs``.
    """
    axis = {"channels_first": 1, "channels_last": inputs.ndim - 1}.get(data_format)
    if axis is None:
        raise ValueError(f"Unsupported `data_format` for GDN layer: {data_format}.")
    if not 3 <= inputs.ndim <= 5:
        raise ValueError(f"gdn: inputs must have rank 3 to 5, got shape {inputs.shape}.")
    channels = inputs.shape[axis]
    pedestal = jnp.float32(reparam_offset**2)

    def beta_init(key, shape, dtype=jnp.float32):
        del key
        return jnp.sqrt(jnp.ones(shape, dtype) + pedestal)

    def gamma_init_fn(key, shape, dtype=jnp.float32):
        del key
        return jnp.sqrt(gamma_init * jnp.eye(shape[0], dtype=dtype) + pedestal)

    with variable_scope(name, default_name="gdn"):
        reparam_beta = model_variable("reparam_beta", [channels], beta_init, trainable=trainable)
        reparam_gamma = model_variable("reparam_gamma", [channels, channels], gamma_init_fn, trainable=trainable)
        beta = jnp.square(_lower_bound(reparam_beta, jnp.float32((beta_min + reparam_offset**2) ** 0.5))) - pedestal
        gamma = jnp.square(_lower_bound(reparam_gamma, jnp.float32(reparam_offset))) - pedestal
        x = jnp.moveaxis(inputs.astype(jnp.float32), axis, -1)
        norm_pool = jnp.sqrt(jnp.tensordot(jnp.square(x), gamma, axes=[[-1], [0]]) + beta.reshape((1,) * (x.ndim - 1) + (-1,)))
        outputs = x * norm_pool if inverse else x / norm_pool
        outputs = jnp.moveaxis(outputs, -1, axis).astype(inputs.dtype)
        if activity_regularizer is not None:
            add_loss("activity_regularizer", activity_regularizer(outputs) / outputs.shape[0])
        return outputs
