"""Core layers: fully connected, dropout, flatten, bias_add, softmax, repeat, stack."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp

from jslim.layers import initializers
from jslim.layers.conv import channels_last, finish
from jslim.layers.variable_scope import current_scope, model_variable, variable_scope
from jslim.scopes import add_arg_scope

__all__ = [
    "bias_add",
    "dropout",
    "flatten",
    "fully_connected",
    "images_to_sequence",
    "linear",
    "maxout",
    "one_hot_encoding",
    "relu",
    "relu6",
    "repeat",
    "scale_gradient",
    "sequence_to_images",
    "softmax",
    "stack",
]


@add_arg_scope
def fully_connected(
    inputs: jax.Array,
    num_outputs: int,
    activation_fn: Callable[[jax.Array], jax.Array] | None = jax.nn.relu,
    normalizer_fn: Callable[..., jax.Array] | None = None,
    normalizer_params: Mapping[str, Any] | None = None,
    weights_initializer: Callable[..., jax.Array] = initializers.xavier_initializer(),
    weights_regularizer: Callable[[jax.Array], jax.Array] | None = None,
    biases_initializer: Callable[..., jax.Array] | None = initializers.zeros_initializer(),
    biases_regularizer: Callable[[jax.Array], jax.Array] | None = None,
    trainable: bool = True,
    scope: str | None = None,
) -> jax.Array:
    """A dense layer on the last axis, like ``slim.fully_connected``.

    Variables ``<scope>/weights`` ``[in, num_outputs]`` and ``<scope>/biases``
    ``[num_outputs]`` (none when ``normalizer_fn`` is given); ReLU and xavier by
    default; default scope ``fully_connected``.

    Args:
      inputs: ``[batch, ..., in]``.
      num_outputs: output units.
      Others: as in ``jslim.layers.convolution``.

    Returns:
      ``[batch, ..., num_outputs]``.
    """
    if inputs.ndim < 2:
        raise ValueError(f"fully_connected: inputs must have rank >= 2, got shape {inputs.shape}.")
    with variable_scope(scope, default_name="fully_connected"):
        weights = model_variable(
            "weights", [inputs.shape[-1], num_outputs], weights_initializer,
            regularizer=weights_regularizer, trainable=trainable,
        )
        outputs = jnp.matmul(inputs, weights.astype(inputs.dtype))
        return finish(
            outputs,
            channel_axis=-1,
            normalizer_fn=normalizer_fn,
            normalizer_params=normalizer_params,
            activation_fn=activation_fn,
            biases_initializer=biases_initializer,
            biases_regularizer=biases_regularizer,
            trainable=trainable,
        )


linear = functools.partial(fully_connected, activation_fn=None)
relu = functools.partial(fully_connected, activation_fn=jax.nn.relu)
relu6 = functools.partial(fully_connected, activation_fn=jax.nn.relu6)


@add_arg_scope
def dropout(
    inputs: jax.Array,
    keep_prob: float = 0.5,
    noise_shape: Sequence[int] | None = None,
    is_training: bool = True,
    scope: str | None = None,
    seed: int | None = None,
) -> jax.Array:
    """Dropout with TF's ``keep_prob``: keeps with probability ``keep_prob``, scales by ``1/keep_prob``.

    Identity when ``is_training`` is False or ``keep_prob == 1``. Needs the
    ``'dropout'`` RNG stream (``model.apply(..., rngs={'dropout': key})``).

    Args:
      inputs: any shape.
      keep_prob: the probability to keep each element.
      noise_shape: shape of the keep mask, broadcast against ``inputs``.
      is_training: apply dropout.
      scope, seed: unused (names only; JAX randomness comes from the RNG stream).
    """
    del scope, seed
    if not is_training or keep_prob == 1:
        return inputs
    if not 0.0 < keep_prob <= 1.0:
        raise ValueError(f"dropout: keep_prob must be in (0, 1], got {keep_prob}.")
    shape = tuple(noise_shape) if noise_shape is not None else inputs.shape
    key = current_scope().make_rng("dropout")
    keep = jax.random.bernoulli(key, keep_prob, shape)
    return jnp.where(keep, inputs / jnp.asarray(keep_prob, inputs.dtype), jnp.zeros((), inputs.dtype))


@add_arg_scope
def flatten(inputs: jax.Array, scope: str | None = None) -> jax.Array:
    """``[batch, ...] -> [batch, k]``, like ``slim.flatten``."""
    del scope
    if inputs.ndim < 2:
        raise ValueError(f"flatten: inputs must have rank >= 2, got shape {inputs.shape}.")
    return inputs.reshape(inputs.shape[0], -1)


@add_arg_scope
def bias_add(
    inputs: jax.Array,
    activation_fn: Callable[[jax.Array], jax.Array] | None = None,
    initializer: Callable[..., jax.Array] = initializers.zeros_initializer(),
    regularizer: Callable[[jax.Array], jax.Array] | None = None,
    trainable: bool = True,
    data_format: str = "NHWC",
    scope: str | None = None,
) -> jax.Array:
    """Adds ``<scope>/biases`` on the channel axis, like ``slim.bias_add`` (scope ``BiasAdd``).

    Args:
      inputs: ``[batch, ..., channels]``, or ``[batch, channels, h, w]`` with
        ``data_format='NCHW'`` (4-D only, as in slim).
      activation_fn: applied last.
      initializer, regularizer: for ``biases``.
      trainable: whether ``biases`` is trainable.
      data_format: ``'NHWC'`` or ``'NCHW'``.
      scope: the variable scope.
    """
    if data_format not in ("NHWC", "NCHW"):
        raise ValueError("data_format has to be either NCHW or NHWC.")
    if data_format == "NCHW" and inputs.ndim != 4:
        raise ValueError("Data format NCHW only supports 4D Tensor")
    channel_axis = 1 if data_format == "NCHW" else -1
    with variable_scope(scope, default_name="BiasAdd"):
        return finish(
            inputs,
            channel_axis=channel_axis,
            normalizer_fn=None,
            normalizer_params=None,
            activation_fn=activation_fn,
            biases_initializer=initializer,
            biases_regularizer=regularizer,
            trainable=trainable,
        )


@add_arg_scope
def softmax(logits: jax.Array, scope: str | None = None) -> jax.Array:
    """Softmax over the last axis (any rank), like ``slim.softmax``."""
    del scope
    return jax.nn.softmax(logits, axis=-1)


@add_arg_scope
def one_hot_encoding(
    labels: jax.Array,
    num_classes: int,
    on_value: float = 1.0,
    off_value: float = 0.0,
    scope: str | None = None,
) -> jax.Array:
    """Integer labels ``[...]`` -> float32 one-hot ``[..., num_classes]``."""
    del scope
    hot = jax.nn.one_hot(labels, num_classes, dtype=jnp.float32)
    return hot * (on_value - off_value) + off_value


def _layer_name(layer: Callable[..., Any]) -> str:
    if hasattr(layer, "__name__"):
        return layer.__name__
    if hasattr(layer, "func"):
        return layer.func.__name__
    return "repeat"


def repeat(inputs: jax.Array, repetitions: int, layer: Callable[..., jax.Array], *args: Any, **kwargs: Any) -> jax.Array:
    """Applies ``layer`` ``repetitions`` times, like ``slim.repeat``.

    Scopes follow slim: ``repeat(x, 2, conv2d, 64, [3, 3], scope='conv1')``
    creates ``conv1/conv1_1`` and ``conv1/conv1_2``.
    """
    scope = kwargs.pop("scope", None)
    with variable_scope(scope, default_name="Repeat"):
        base = scope.split("/")[-1] if scope else _layer_name(layer)
        outputs = inputs
        for i in range(repetitions):
            outputs = layer(outputs, *args, **kwargs, scope=f"{base}_{i + 1}")
        return outputs


def stack(inputs: jax.Array, layer: Callable[..., jax.Array], stack_args: Sequence[Any], **kwargs: Any) -> jax.Array:
    """Applies ``layer`` once per entry of ``stack_args``, like ``slim.stack``.

    ``stack(x, fully_connected, [32, 64], scope='fc')`` creates ``fc/fc_1`` and ``fc/fc_2``.
    """
    scope = kwargs.pop("scope", None)
    if not isinstance(stack_args, (list, tuple)):
        raise ValueError("stack_args must be a list or a tuple.")
    with variable_scope(scope, default_name="Stack"):
        base = scope.split("/")[-1] if scope else _layer_name(layer)
        outputs = inputs
        for i, arg in enumerate(stack_args):
            arg = arg if isinstance(arg, (list, tuple)) else [arg]
            outputs = layer(outputs, *arg, **kwargs, scope=f"{base}_{i + 1}")
        return outputs


@add_arg_scope
def maxout(inputs: jax.Array, num_units: int, axis: int = -1, scope: str | None = None) -> jax.Array:
    """Maxout (arXiv:1302.4389), like ``slim.maxout``.

    Reproduces slim's reshape exactly: ``shape[axis] = num_units``, a trailing
    dimension ``channels // num_units`` is appended and reduced by ``max``. For
    the last axis this takes the max over consecutive groups of channels; for
    another axis slim's reshape regroups the memory layout, and so does this.

    Args:
      inputs: any rank.
      num_units: output size on ``axis``; must divide ``inputs.shape[axis]``.
      axis: the pooled axis.
      scope: unused (slim's name scope).

    Returns:
      ``inputs`` with ``shape[axis] = num_units``.
    """
    del scope
    shape = list(inputs.shape)
    channels = shape[axis]
    if channels % num_units:
        raise ValueError(f"number of features({channels}) is not a multiple of num_units({num_units})")
    shape[axis] = num_units
    return jnp.max(inputs.reshape(*shape, channels // num_units), axis=-1)


@add_arg_scope
def images_to_sequence(inputs: jax.Array, data_format: str = "NHWC", scope: str | None = None) -> jax.Array:
    """``[N, H, W, C] -> [W, N * H, C]``: each image row becomes a sequence over the width.

    Like ``slim.images_to_sequence``; ``data_format='NCHW'`` inputs are transposed first.
    """
    del scope
    if not channels_last(data_format, inputs.ndim):
        inputs = jnp.transpose(inputs, (0, 2, 3, 1))
    batch, height, width, depth = inputs.shape
    return jnp.transpose(inputs, (2, 0, 1, 3)).reshape(width, batch * height, depth)


@add_arg_scope
def sequence_to_images(
    inputs: jax.Array, height: int, output_data_format: str = "channels_last", scope: str | None = None
) -> jax.Array:
    """``[W, N * height, C] -> [N, height, W, C]`` (or ``[N, C, height, W]``), like ``slim.sequence_to_images``.

    The inverse of :func:`images_to_sequence`.
    """
    del scope
    width, num_batches, depth = inputs.shape
    reshaped = inputs.reshape(width, num_batches // height, height, depth)
    order = (1, 3, 2, 0) if output_data_format == "channels_first" else (1, 2, 0, 3)
    return jnp.transpose(reshaped, order)


@functools.partial(jax.custom_vjp, nondiff_argnums=(1,))
def scale_gradient(inputs: jax.Array, gradient_multiplier: float) -> jax.Array:
    """The identity, whose gradient is multiplied by ``gradient_multiplier`` (``slim.scale_gradient``).

    ``gradient_multiplier`` is a Python float (static under ``jax.jit``).
    """
    return inputs


def _scale_gradient_fwd(inputs, gradient_multiplier):
    del gradient_multiplier
    return inputs, None


def _scale_gradient_bwd(gradient_multiplier, residual, grad):
    del residual
    return (grad * gradient_multiplier,)


scale_gradient.defvjp(_scale_gradient_fwd, _scale_gradient_bwd)
