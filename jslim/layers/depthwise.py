"""Depthwise convolutions: ``separable_conv2d`` (+ depthwise only) and ``conv2d_in_plane``.

TF-Slim semantics as in :mod:`jslim.layers.conv` (TF padding, ReLU and xavier
defaults, biases replaced by ``normalizer_fn``). TF's depthwise layout: weights
``[kh, kw, in, multiplier]``, output channel ``c * multiplier + m``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp

from jslim.layers import initializers
from jslim.layers.conv import Activation, channels_last, check_padding, dimension_numbers, finish, n_tuple
from jslim.layers.variable_scope import model_variable, variable_scope
from jslim.scopes import add_arg_scope

__all__ = [
    "conv2d_in_plane",
    "convolution2d_in_plane",
    "depthwise_conv2d",
    "separable_conv2d",
    "separable_convolution2d",
]


def _depthwise(inputs: jax.Array, weights: jax.Array, strides, padding, rates, last: bool) -> jax.Array:
    """TF's ``depthwise_conv2d``: weights ``[kh, kw, in, mult]``, output channel ``c * mult + m``."""
    kh, kw, cin, mult = weights.shape
    return jax.lax.conv_general_dilated(
        inputs,
        weights.reshape(kh, kw, 1, cin * mult).astype(inputs.dtype),
        window_strides=strides,
        padding=check_padding(padding),
        rhs_dilation=rates,
        dimension_numbers=dimension_numbers(2, last),
        feature_group_count=cin,
    )


@add_arg_scope
def separable_convolution2d(
    inputs: jax.Array,
    num_outputs: int | None,
    kernel_size: int | Sequence[int],
    depth_multiplier: int = 1,
    stride: int | Sequence[int] = 1,
    padding: str = "SAME",
    data_format: str = "NHWC",
    rate: int | Sequence[int] = 1,
    activation_fn: Activation = jax.nn.relu,
    normalizer_fn: Callable[..., jax.Array] | None = None,
    normalizer_params: Mapping[str, Any] | None = None,
    weights_initializer: Callable[..., jax.Array] = initializers.xavier_initializer(),
    pointwise_initializer: Callable[..., jax.Array] | None = None,
    weights_regularizer: Callable[[jax.Array], jax.Array] | None = None,
    biases_initializer: Callable[..., jax.Array] | None = initializers.zeros_initializer(),
    biases_regularizer: Callable[[jax.Array], jax.Array] | None = None,
    trainable: bool = True,
    scope: str | None = None,
) -> jax.Array:
    """A depthwise-separable 2-D convolution, like ``slim.separable_conv2d``.

    With ``num_outputs=None`` only the depthwise convolution is applied (the
    MobileNet form). Variables: ``<scope>/depthwise_weights`` ``[kh, kw, in,
    depth_multiplier]``, ``<scope>/pointwise_weights`` ``[1, 1, in *
    depth_multiplier, num_outputs]`` (initialized by ``pointwise_initializer``,
    default ``weights_initializer``; both regularized by ``weights_regularizer``)
    and ``<scope>/biases``. Default scope ``SeparableConv2d``.

    Args:
      inputs: ``[batch, h, w, in]`` (or NCHW).
      num_outputs: pointwise output channels, or ``None`` for depthwise only.
      kernel_size, stride, rate: ints or pairs; see :func:`convolution`.
      depth_multiplier: depthwise outputs per input channel.
      Others: as in :func:`convolution`.

    Returns:
      ``[batch, oh, ow, num_outputs or in * depth_multiplier]``.
    """
    last = channels_last(data_format, inputs.ndim)
    kernel = n_tuple(kernel_size, 2, "kernel_size")
    strides = n_tuple(stride, 2, "stride")
    rates = n_tuple(rate, 2, "rate")
    if any(r > 1 for r in rates) and any(s > 1 for s in strides):
        raise ValueError(f"separable_conv2d: stride {strides} > 1 is not supported together with rate {rates} > 1.")
    channel_axis = -1 if last else 1
    cin = inputs.shape[channel_axis]
    with variable_scope(scope, default_name="SeparableConv2d"):
        depthwise = model_variable(
            "depthwise_weights", [*kernel, cin, depth_multiplier], weights_initializer,
            regularizer=weights_regularizer, trainable=trainable,
        )
        outputs = _depthwise(inputs, depthwise, strides, padding, rates, last)
        if num_outputs is not None:
            pointwise = model_variable(
                "pointwise_weights", [1, 1, cin * depth_multiplier, num_outputs],
                pointwise_initializer or weights_initializer,
                regularizer=weights_regularizer, trainable=trainable,
            )
            outputs = jax.lax.conv_general_dilated(
                outputs, pointwise.astype(outputs.dtype), (1, 1), "VALID",
                dimension_numbers=dimension_numbers(2, last),
            )
        return finish(
            outputs,
            channel_axis=channel_axis,
            normalizer_fn=normalizer_fn,
            normalizer_params=normalizer_params,
            activation_fn=activation_fn,
            biases_initializer=biases_initializer,
            biases_regularizer=biases_regularizer,
            trainable=trainable,
        )


separable_conv2d = separable_convolution2d


def depthwise_conv2d(
    inputs: jax.Array,
    kernel_size: int | Sequence[int],
    depth_multiplier: int = 1,
    **kwargs: Any,
) -> jax.Array:
    """``separable_conv2d(inputs, None, kernel_size, depth_multiplier, ...)``."""
    return separable_convolution2d(inputs, None, kernel_size, depth_multiplier=depth_multiplier, **kwargs)


@add_arg_scope
def convolution2d_in_plane(
    inputs: jax.Array,
    kernel_size: int | Sequence[int],
    stride: int | Sequence[int] = 1,
    padding: str = "SAME",
    activation_fn: Activation = jax.nn.relu,
    normalizer_fn: Callable[..., jax.Array] | None = None,
    normalizer_params: Mapping[str, Any] | None = None,
    weights_initializer: Callable[..., jax.Array] = initializers.xavier_initializer(),
    weights_regularizer: Callable[[jax.Array], jax.Array] | None = None,
    biases_initializer: Callable[..., jax.Array] | None = initializers.zeros_initializer(),
    biases_regularizer: Callable[[jax.Array], jax.Array] | None = None,
    trainable: bool = True,
    scope: str | None = None,
) -> jax.Array:
    """The same 2-D kernel on every channel, like ``slim.conv2d_in_plane``.

    One ``<scope>/weights`` ``[kh, kw, 1, 1]`` is tiled over the channels and
    applied as a depthwise convolution; ``<scope>/biases`` has one entry per
    channel. Default scope ``ConvInPlane``; NHWC only (as in slim).

    Args:
      inputs: ``[batch, h, w, channels]``.
      kernel_size: an int or ``[kh, kw]``.
      stride: an int or ``[sh, sw]``.
      padding: ``'SAME'`` or ``'VALID'``.
      Others: as in :func:`jslim.layers.convolution`.

    Returns:
      ``[batch, oh, ow, channels]``.
    """
    if inputs.ndim != 4:
        raise ValueError(f"conv2d_in_plane: expected a 4-D NHWC input, got shape {inputs.shape}.")
    kernel = n_tuple(kernel_size, 2, "kernel_size")
    strides = n_tuple(stride, 2, "stride")
    channels = inputs.shape[-1]
    with variable_scope(scope, default_name="ConvInPlane"):
        weights = model_variable("weights", [*kernel, 1, 1], weights_initializer,
                                 regularizer=weights_regularizer, trainable=trainable)
        outputs = _depthwise(inputs, jnp.tile(weights, (1, 1, channels, 1)), strides, padding, (1, 1), True)
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


conv2d_in_plane = convolution2d_in_plane
