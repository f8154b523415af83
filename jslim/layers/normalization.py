"""Normalization layers with TF-Slim's semantics and variable names."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import jax
import jax.numpy as jnp

from jslim.layers import initializers
from jslim.layers.conv import channels_last
from jslim.layers.variable_scope import current_scope, is_initializing, model_variable, state_variable, variable_scope
from jslim.scopes import add_arg_scope

__all__ = ["batch_norm"]

BATCH_STATS = "batch_stats"


def _param_init(param_initializers: Mapping[str, Any] | None, name: str, default: Callable[..., jax.Array]):
    return (param_initializers or {}).get(name, default)


def _moments(x: jax.Array, axes: tuple[int, ...], batch_weights: jax.Array | None, channel_axis: int):
    """Biased mean and variance over ``axes`` (weighted like ``tf.nn.weighted_moments``)."""
    x = x.astype(jnp.float32)
    if batch_weights is None:
        mean = jnp.mean(x, axis=axes)
        var = jnp.mean(jnp.square(x - jnp.expand_dims(mean, axes)), axis=axes)
        return mean, var
    w = jnp.asarray(batch_weights, jnp.float32).reshape((-1,) + (1,) * (x.ndim - 1))
    w = jnp.broadcast_to(w, x.shape)
    total = jnp.sum(w, axis=axes)
    mean = jnp.sum(w * x, axis=axes) / total
    var = jnp.sum(w * jnp.square(x - jnp.expand_dims(mean, axes)), axis=axes) / total
    return mean, var


def _update_average(var, value: jax.Array, decay: float) -> None:
    """``var -= (1 - decay) * (var - value)``, TF's ``assign_moving_average``."""
    var.value = var.value - (1.0 - decay) * (var.value - value)


@add_arg_scope
def batch_norm(
    inputs: jax.Array,
    decay: float = 0.999,
    center: bool = True,
    scale: bool = False,
    epsilon: float = 0.001,
    activation_fn: Callable[[jax.Array], jax.Array] | None = None,
    param_initializers: Mapping[str, Callable[..., jax.Array]] | None = None,
    param_regularizers: Mapping[str, Callable[[jax.Array], jax.Array]] | None = None,
    is_training: bool = True,
    trainable: bool = True,
    batch_weights: jax.Array | None = None,
    fused: bool | None = None,
    data_format: str = "NHWC",
    zero_debias_moving_mean: bool = False,
    scope: str | None = None,
) -> jax.Array:
    """Batch normalization, like ``slim.batch_norm`` (decay 0.999, eps 1e-3, no gamma).

    ``y = gamma * (x - mean) / sqrt(var + epsilon) + beta`` over every axis but
    the channel axis. Training (``is_training=True``) normalizes by the batch's
    biased moments; when the ``batch_stats`` collection is mutable the moving
    averages are updated as ``moving -= (1 - decay) * (moving - batch)``. Like
    TF's fused kernel (slim's default for 2-D and 4-D inputs without
    ``batch_weights``), the variance fed to ``moving_variance`` is Bessel
    corrected (``n / (n - 1)``); the non-fused path (other ranks,
    ``batch_weights`` or ``fused=False``) feeds the biased variance. Inference
    normalizes by ``moving_mean`` / ``moving_variance``.

    Variables: ``<scope>/beta`` (if ``center``), ``<scope>/gamma`` (if
    ``scale``) in ``params``; ``<scope>/moving_mean``, ``<scope>/moving_variance``
    in ``batch_stats``. Default scope ``BatchNorm``.

    Args:
      inputs: ``[batch, ..., channels]`` (or channels-first with ``data_format='NCHW'``).
      decay: moving-average decay.
      center: add ``beta``.
      scale: multiply by ``gamma``.
      epsilon: added to the variance.
      activation_fn: applied last.
      param_initializers: optional initializers by name (``beta``, ``gamma``,
        ``moving_mean``, ``moving_variance``).
      param_regularizers: optional regularizers for ``beta`` / ``gamma``.
      is_training: use batch statistics (and update the moving ones).
      trainable: whether ``beta``/``gamma`` are trainable.
      batch_weights: ``[batch]`` weights for weighted moments (non-fused path).
      fused: ``None``/``True`` use the fused semantics where TF could; ``False`` never.
      data_format: ``'NHWC'`` (channels last) or ``'NCHW'``.
      zero_debias_moving_mean: zero-debias ``moving_mean`` (extra variables
        ``moving_mean/biased`` and ``moving_mean/local_step`` in ``batch_stats``).
      scope: the variable scope.

    Returns:
      The normalized tensor, same shape and dtype as ``inputs``.
    """
    last = channels_last(data_format, inputs.ndim)
    channel_axis = inputs.ndim - 1 if last else 1
    channels = inputs.shape[channel_axis]
    axes = tuple(a for a in range(inputs.ndim) if a != channel_axis)
    fused_semantics = fused is not False and batch_weights is None and inputs.ndim in (2, 4)
    regs = param_regularizers or {}
    with variable_scope(scope, default_name="BatchNorm"):
        beta = gamma = None
        if center:
            beta = model_variable(
                "beta", [channels], _param_init(param_initializers, "beta", initializers.zeros_initializer()),
                regularizer=regs.get("beta"), trainable=trainable,
            )
        if scale:
            gamma = model_variable(
                "gamma", [channels], _param_init(param_initializers, "gamma", initializers.ones_initializer()),
                regularizer=regs.get("gamma"), trainable=trainable,
            )
        mm_init = _param_init(param_initializers, "moving_mean", initializers.zeros_initializer())
        mv_init = _param_init(param_initializers, "moving_variance", initializers.ones_initializer())
        moving_mean = state_variable(BATCH_STATS, "moving_mean", [channels], lambda: mm_init(None, (channels,), jnp.float32))
        moving_var = state_variable(BATCH_STATS, "moving_variance", [channels], lambda: mv_init(None, (channels,), jnp.float32))
        debias = _debias_variables(channels) if zero_debias_moving_mean else None
        if is_training:
            mean, var = _moments(inputs, axes, batch_weights, channel_axis)
            if current_scope().is_mutable_collection(BATCH_STATS) and not is_initializing():
                n = inputs.size // channels
                update_var = var * (n / max(n - 1, 1)) if fused_semantics else var
                if debias is not None:
                    _zero_debiased_update(moving_mean, debias, mean, decay)
                else:
                    _update_average(moving_mean, mean, decay)
                _update_average(moving_var, update_var, decay)
        else:
            mean, var = moving_mean.value, moving_var.value
        inv = jax.lax.rsqrt(var + epsilon)
        if gamma is not None:
            inv = inv * gamma
        offset = -mean * inv
        if beta is not None:
            offset = offset + beta
        shape = [1] * inputs.ndim
        shape[channel_axis] = channels
        outputs = inputs * inv.reshape(shape).astype(inputs.dtype) + offset.reshape(shape).astype(inputs.dtype)
        if activation_fn is not None:
            outputs = activation_fn(outputs)
        return outputs


def _debias_variables(channels: int):
    """TF's zero-debias state: ``moving_mean/biased`` and ``moving_mean/local_step``."""
    biased = state_variable(BATCH_STATS, "moving_mean/biased", [channels], lambda: jnp.zeros((channels,), jnp.float32))
    step = state_variable(BATCH_STATS, "moving_mean/local_step", [], lambda: jnp.zeros((), jnp.float32))
    return biased, step


def _zero_debiased_update(moving_mean, debias, mean: jax.Array, decay: float) -> None:
    """TF's ``assign_moving_average(..., zero_debias=True)``.

    ``biased -= (1 - decay) * (biased - mean)``; ``local_step += 1``;
    ``moving_mean = biased / (1 - decay ** local_step)``.
    """
    biased, step = debias
    _update_average(biased, mean, decay)
    step.value = step.value + 1.0
    moving_mean.value = biased.value / (1.0 - decay**step.value)
