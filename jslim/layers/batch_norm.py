"""``batch_norm`` with TF-Slim's semantics, variable names and update rules.

Which of TF's implementations slim picks (:func:`tf_implementation`) decides two
observable details of a training call:

* the variance fed to ``moving_variance``: Bessel corrected (``var * n / (n -
  1)``, ``n`` values per channel) by the fused kernels (``fused=None``/``True``,
  no ``batch_weights``/``renorm``/``adjustment``, rank 2 or 4, or rank 5 without
  zero-debias), the biased variance otherwise;
* with ``trainable=False``, whether the moving averages are updated at all:
  Keras' layer (the usual path) adds no update ops, slim's own paths do.

The output always uses the biased batch variance. Moving averages follow
``assign_moving_average``: ``moving -= (1 - decay) * (moving - batch)``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import jax
import jax.numpy as jnp

from jslim.layers import initializers
from jslim.layers.conv import channels_last
from jslim.layers.variable_scope import (
    PARAMS,
    current_scope,
    is_initializing,
    model_variable,
    scope_path,
    state_variable,
    variable_scope,
)
from jslim.scopes import add_arg_scope

__all__ = [
    "BATCH_STATS",
    "batch_norm",
    "batch_normalization",
    "moments",
    "tf_implementation",
]

BATCH_STATS = "batch_stats"
_RENORM_CLIPPING_KEYS = ("rmax", "rmin", "dmax")

Initializer = Callable[..., jax.Array]


def _initial(init: Initializer, channels: int, sqrt: bool = False) -> Callable[[], jax.Array]:
    """A ``state_variable`` init function (random initializers draw from ``params``)."""

    def value():
        scope = current_scope()
        key = scope.make_rng(PARAMS) if scope.has_rng(PARAMS) else None
        v = jnp.asarray(init(key, (channels,), jnp.float32), jnp.float32)
        return jnp.sqrt(v) if sqrt else v

    return value


def tf_implementation(
    ndim: int,
    fused: bool | None,
    batch_weights: Any,
    renorm: bool,
    adjustment: Any,
    zero_debias_moving_mean: bool,
) -> str:
    """Which TF implementation ``slim.batch_norm`` runs for these arguments.

    * ``'slim_fused'``: slim's own fused kernel, for rank 2, and rank 4 with
      zero-debias (``fused`` None/True, no ``batch_weights``/``renorm``/``adjustment``);
    * ``'keras_fused'`` / ``'keras'``: Keras' ``BatchNormalization(fused=fused)``
      (no ``batch_weights``, no zero-debias), fused for rank 4 and 5 only;
    * ``'legacy'``: slim's own non-fused code (``batch_weights``, zero-debias).

    Fused kernels feed the Bessel-corrected variance to ``moving_variance``; a
    non-trainable Keras layer adds no update ops.
    """
    fusable = fused is not False and batch_weights is None and not renorm and adjustment is None
    if fusable and (ndim == 2 or (ndim == 4 and zero_debias_moving_mean)):
        return "slim_fused"
    if batch_weights is None and not zero_debias_moving_mean:
        return "keras_fused" if fusable and ndim in (4, 5) else "keras"
    return "legacy"


def moments(
    x: jax.Array, axes: tuple[int, ...], batch_weights: jax.Array | None = None, keepdims: bool = False
) -> tuple[jax.Array, jax.Array]:
    """Float32 mean and biased variance over ``axes``, like ``tf.nn.moments``.

    With ``batch_weights`` (``[batch]``), ``tf.nn.weighted_moments``: each
    example counts with its weight.
    """
    x = x.astype(jnp.float32)
    if batch_weights is None:
        mean = jnp.mean(x, axis=axes, keepdims=True)
        var = jnp.mean(jnp.square(x - mean), axis=axes, keepdims=keepdims)
        return (mean if keepdims else jnp.squeeze(mean, axes)), var
    w = jnp.asarray(batch_weights, jnp.float32)
    if w.shape != (x.shape[0],):
        raise ValueError(f"batch_norm: batch_weights must have shape [{x.shape[0]}], got {w.shape}.")
    w = jnp.broadcast_to(w.reshape((-1,) + (1,) * (x.ndim - 1)), x.shape)
    divisor = 1.0 / jnp.sum(w, axis=axes, keepdims=True)
    mean = jnp.sum(w * x, axis=axes, keepdims=True) * divisor
    var = jnp.sum(w * jnp.square(x - mean), axis=axes, keepdims=True) * divisor
    if keepdims:
        return mean, var
    return jnp.squeeze(mean, axes), jnp.squeeze(var, axes)


def batch_normalization(x: jax.Array, mean, variance, offset, scale, variance_epsilon: float) -> jax.Array:
    """``tf.nn.batch_normalization``: ``x * inv + (offset - mean * inv)``, ``inv = scale * rsqrt(var + eps)``.

    Statistics and parameters broadcast against ``x`` (``offset`` / ``scale`` may
    be None); computed in float32, returned in ``x``'s dtype.
    """
    inv = jax.lax.rsqrt(variance + variance_epsilon)
    if scale is not None:
        inv = inv * scale
    shift = -mean * inv
    if offset is not None:
        shift = shift + offset
    return (x.astype(jnp.float32) * inv + shift).astype(x.dtype)


def _update_average(var, value: jax.Array, decay: float) -> jax.Array:
    """``var -= (1 - decay) * (var - value)``, TF's ``assign_moving_average``; returns the new value."""
    var.value = var.value - (var.value - value) * jnp.float32(1.0 - decay)
    return var.value


def _zero_debias_variables(channels: int):
    """TF's zero-debias state, named as TF names it.

    ``assign_moving_average(zero_debias=True)`` opens a variable scope named after
    the variable *inside* the current scope, so under ``net/bn`` TF creates
    ``net/bn/net/bn/moving_mean/biased`` and ``.../local_step``; so does this.
    """
    with variable_scope(f"{scope_path()}/moving_mean"):
        biased = state_variable(BATCH_STATS, "biased", [channels], lambda: jnp.zeros((channels,), jnp.float32))
        step = state_variable(BATCH_STATS, "local_step", [], lambda: jnp.zeros((), jnp.float32))
    return biased, step


def _zero_debiased_update(moving_mean, debias, mean: jax.Array, decay: float) -> None:
    """TF's ``assign_moving_average(..., zero_debias=True)``, in TF's float32 arithmetic.

    With ``d = float32(1 - decay)``: ``biased -= (biased - mean) * d``;
    ``local_step += 1``; ``moving_mean = biased / (1 - (1 - d) ** local_step)``.
    """
    biased, step = debias
    d = jnp.float32(1.0 - decay)
    biased.value = biased.value - (biased.value - mean) * d
    step.value = step.value + 1.0
    moving_mean.value = biased.value / (1.0 - jnp.power(1.0 - d, step.value))


def _check_renorm(renorm: bool, renorm_clipping, batch_weights, zero_debias: bool) -> dict[str, float]:
    if not renorm:
        return {}
    if batch_weights is not None or zero_debias:
        raise ValueError("renorm is not supported with batch_weights, updates_collections or zero_debias_moving_mean")
    clipping = dict(renorm_clipping or {})
    unknown = sorted(set(clipping) - set(_RENORM_CLIPPING_KEYS))
    if unknown:
        raise ValueError(f"batch_norm: invalid renorm_clipping keys {unknown}; supported: {list(_RENORM_CLIPPING_KEYS)}.")
    return clipping


class _Renorm:
    """Batch renormalization state: ``moving_stddev``, ``renorm_mean``, ``renorm_stddev``.

    Keras' ``BatchNormalization(renorm=True)``: with ``s = sqrt(var + eps)``,
    ``r = s / max(renorm_stddev, sqrt(eps))`` clipped to ``[rmin, rmax]`` and ``d =
    (mean - renorm_mean) / max(renorm_stddev, sqrt(eps))`` clipped to ``[-dmax,
    dmax]`` scale and shift the normalized value; ``renorm_mean`` / ``renorm_stddev``
    track ``mean`` / ``s`` with ``renorm_decay``; ``moving_stddev`` tracks ``s``
    with ``decay`` and ``moving_variance = relu(moving_stddev**2 - eps)``.
    """

    def __init__(self, channels: int, mm_init: Initializer, mv_init: Initializer, clipping: Mapping[str, float]):
        self.moving_stddev = state_variable(BATCH_STATS, "moving_stddev", [channels], _initial(mv_init, channels, True))
        self.mean = state_variable(BATCH_STATS, "renorm_mean", [channels], _initial(mm_init, channels))
        self.stddev = state_variable(BATCH_STATS, "renorm_stddev", [channels], _initial(mv_init, channels, True))
        self.clipping = clipping

    def correction(self, mean: jax.Array, var: jax.Array, epsilon: float) -> tuple[jax.Array, jax.Array]:
        """``(r, d)`` from the pre-update renorm statistics."""
        stddev = jnp.sqrt(var + epsilon)
        renorm_stddev = jnp.maximum(self.stddev.value, jnp.sqrt(jnp.float32(epsilon)))
        r = stddev / renorm_stddev
        d = (mean - self.mean.value) / renorm_stddev
        if "rmin" in self.clipping:
            r = jnp.maximum(r, self.clipping["rmin"])
        if "rmax" in self.clipping:
            r = jnp.minimum(r, self.clipping["rmax"])
        if "dmax" in self.clipping:
            d = jnp.clip(d, -self.clipping["dmax"], self.clipping["dmax"])
        return jax.lax.stop_gradient(r), jax.lax.stop_gradient(d)

    def update(self, moving_var, mean, var, epsilon: float, decay: float, renorm_decay: float) -> None:
        stddev = jnp.sqrt(var + epsilon)
        _update_average(self.mean, mean, renorm_decay)
        _update_average(self.stddev, stddev, renorm_decay)
        new_stddev = _update_average(self.moving_stddev, stddev, decay)
        moving_var.value = jax.nn.relu(new_stddev * new_stddev - epsilon)


def _compose(scale, offset, then_scale, then_offset):
    """Keras' ``_compose_transforms``: ``(x * scale + offset) * then_scale + then_offset``."""
    if then_scale is not None:
        scale = scale * then_scale
        offset = offset * then_scale
    if then_offset is not None:
        offset = offset + then_offset
    return scale, offset


@add_arg_scope
def batch_norm(
    inputs: jax.Array,
    decay: float = 0.999,
    center: bool = True,
    scale: bool = False,
    epsilon: float = 0.001,
    activation_fn: Callable[[jax.Array], jax.Array] | None = None,
    param_initializers: Mapping[str, Initializer] | None = None,
    param_regularizers: Mapping[str, Callable[[jax.Array], jax.Array]] | None = None,
    is_training: bool = True,
    trainable: bool = True,
    batch_weights: jax.Array | None = None,
    fused: bool | None = None,
    data_format: str = "NHWC",
    zero_debias_moving_mean: bool = False,
    scope: str | None = None,
    renorm: bool = False,
    renorm_clipping: Mapping[str, float] | None = None,
    renorm_decay: float = 0.99,
    adjustment: Callable[[tuple[int, ...]], tuple[jax.Array, jax.Array]] | None = None,
) -> jax.Array:
    """Batch normalization, like ``slim.batch_norm`` (decay 0.999, eps 1e-3, no gamma).

    ``y = gamma * (x - mean) / sqrt(var + epsilon) + beta`` per channel (every axis
    but the channel axis is reduced). Training (``is_training=True``) normalizes
    by the batch's biased moments and, when ``batch_stats`` is mutable (not in
    ``init``), updates the moving averages (see the module docstring for the
    Bessel-corrected variance of the fused case). Inference uses
    ``moving_mean`` / ``moving_variance``. With ``trainable=False`` TF freezes
    the moving averages (while still normalizing by batch statistics in
    training) except on slim's own fused rank-2 and legacy paths; see
    :func:`tf_implementation`.

    Variables (TF-Slim names): ``<scope>/beta`` (if ``center``) and
    ``<scope>/gamma`` (if ``scale``) in ``params`` (``non_trainable`` if not
    ``trainable``); ``<scope>/moving_mean``, ``<scope>/moving_variance`` in
    ``batch_stats``; with ``renorm`` also ``moving_stddev``, ``renorm_mean``,
    ``renorm_stddev``; with ``zero_debias_moving_mean`` and ``is_training``
    ``<scope>/<scope>/moving_mean/{biased,local_step}`` (TF's doubled path; like
    TF, an inference call does not create them, so a model initialized with
    ``is_training=False`` gains them at its first training step).
    Default scope ``BatchNorm``.

    Args:
      inputs: ``[batch, ..., channels]`` (``data_format='NHWC'``) or
        ``[batch, channels, ...]`` (``'NCHW'``), rank >= 2.
      decay: moving-average decay.
      center: add ``beta``.
      scale: multiply by ``gamma``.
      epsilon: added to the variance.
      activation_fn: applied last.
      param_initializers: initializers by name (``beta``, ``gamma``,
        ``moving_mean``, ``moving_variance``).
      param_regularizers: regularizers for ``beta`` / ``gamma``.
      is_training: normalize by batch statistics and update the moving ones.
      trainable: whether ``beta`` / ``gamma`` are trainable.
      batch_weights: ``[batch]`` weights of each example in the moments.
      fused: ``None``/``True``: TF's fused kernel where slim would use one;
        ``False``: never (affects the moving variance only).
      data_format: ``'NHWC'`` (channels last) or ``'NCHW'`` (channels second).
      zero_debias_moving_mean: zero-debias ``moving_mean`` (TF's
        ``assign_moving_average(zero_debias=True)``).
      scope: the variable scope.
      renorm: batch renormalization (arXiv:1702.03275) in training; inference
        is unchanged.
      renorm_clipping: optional ``rmax``, ``rmin``, ``dmax`` bounds of ``(r, d)``.
      renorm_decay: decay of the renorm statistics.
      adjustment: ``fn(inputs.shape) -> (scale, bias)`` applied to the
        normalized value before ``gamma``/``beta``, in training only.

    Returns:
      The normalized tensor, same shape and dtype as ``inputs``.

    Raises:
      ValueError: ``renorm`` with ``batch_weights`` or zero-debias, unknown
        ``renorm_clipping`` keys, a rank < 2 input, or bad ``batch_weights``.
    """
    if inputs.ndim < 2:
        raise ValueError(f"batch_norm: inputs must have rank >= 2, got shape {inputs.shape}.")
    clipping = _check_renorm(renorm, renorm_clipping, batch_weights, zero_debias_moving_mean)
    channel_axis = inputs.ndim - 1 if channels_last(data_format, inputs.ndim) else 1
    channels = inputs.shape[channel_axis]
    axes = tuple(a for a in range(inputs.ndim) if a != channel_axis)
    inits = dict(param_initializers or {})
    regs = param_regularizers or {}
    mm_init = inits.get("moving_mean", initializers.zeros_initializer())
    mv_init = inits.get("moving_variance", initializers.ones_initializer())
    with variable_scope(scope, default_name="BatchNorm"):
        beta = gamma = None
        if center:
            beta = model_variable("beta", [channels], inits.get("beta", initializers.zeros_initializer()),
                                  regularizer=regs.get("beta"), trainable=trainable)
        if scale:
            gamma = model_variable("gamma", [channels], inits.get("gamma", initializers.ones_initializer()),
                                   regularizer=regs.get("gamma"), trainable=trainable)
        moving_mean = state_variable(BATCH_STATS, "moving_mean", [channels], _initial(mm_init, channels))
        moving_var = state_variable(BATCH_STATS, "moving_variance", [channels], _initial(mv_init, channels))
        renorm_state = _Renorm(channels, mm_init, mv_init, clipping) if renorm else None
        # TF creates the zero-debias variables with the update op, i.e. in training only.
        debias = _zero_debias_variables(channels) if zero_debias_moving_mean and is_training else None
        scale_, offset_ = gamma, beta
        if is_training:
            mean, var = moments(inputs, axes, batch_weights)
            if adjustment is not None:
                adj_scale, adj_bias = adjustment(tuple(inputs.shape))
                scale_, offset_ = _compose(jnp.asarray(adj_scale), jnp.asarray(adj_bias), scale_, offset_)
            if renorm_state is not None:
                r, d = renorm_state.correction(mean, var, epsilon)
                scale_, offset_ = _compose(r, d, scale_, offset_)
            implementation = tf_implementation(
                inputs.ndim, fused, batch_weights, renorm, adjustment, zero_debias_moving_mean)
            updates = trainable or implementation in ("slim_fused", "legacy")
            if updates and current_scope().is_mutable_collection(BATCH_STATS) and not is_initializing():
                if debias is not None:
                    _zero_debiased_update(moving_mean, debias, mean, decay)
                else:
                    _update_average(moving_mean, mean, decay)
                if renorm_state is not None:
                    renorm_state.update(moving_var, mean, var, epsilon, decay, renorm_decay)
                else:
                    n = inputs.size // channels
                    bessel = implementation in ("slim_fused", "keras_fused")
                    _update_average(moving_var, var * (n / max(n - 1, 1)) if bessel else var, decay)
        else:
            mean, var = moving_mean.value, moving_var.value
        shape = [1] * inputs.ndim
        shape[channel_axis] = channels
        bcast = lambda v: None if v is None else jnp.reshape(v, shape)  # noqa: E731
        outputs = batch_normalization(inputs, bcast(mean), bcast(var), bcast(offset_), bcast(scale_), epsilon)
        if activation_fn is not None:
            outputs = activation_fn(outputs)
        return outputs

