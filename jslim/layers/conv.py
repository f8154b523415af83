"""Convolution layers with TF-Slim's arguments, defaults and variable names.

Shared TF-Slim semantics (see ``convolution``):

* ``padding`` is TF's: ``'SAME'`` pads ``total = max((ceil(in/stride) - 1) *
  stride + (k - 1) * rate + 1 - in, 0)``, ``total // 2`` before; ``'VALID'`` none.
* ``activation_fn`` defaults to ReLU and ``weights_initializer`` to
  ``xavier_initializer()``; biases are created only when ``normalizer_fn`` is
  None and ``biases_initializer`` is not None; otherwise ``normalizer_fn(outputs,
  **normalizer_params)`` runs inside the layer's scope (``<scope>/BatchNorm/...``).
* Variables (float32) are ``<scope>/weights`` (HWIO: ``[*kernel_size, in,
  out]``) and ``<scope>/biases`` ``[out]``; the default scope is ``Conv``
  (``Conv``, ``Conv_1``, ...). Channels-last is the default ``data_format``;
  ``'NCHW'``-style formats are accepted with the same weight layout.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import jax

from jslim.layers import initializers
from jslim.layers.variable_scope import model_variable, variable_scope
from jslim.scopes import add_arg_scope

__all__ = [
    "conv1d",
    "conv2d",
    "conv2d_transpose",
    "conv3d",
    "convolution",
    "convolution1d",
    "convolution2d",
    "convolution2d_transpose",
    "convolution3d",
    "convolution3d_transpose",
    "conv3d_transpose",
]

Activation = Callable[[jax.Array], jax.Array] | None


def n_tuple(value: int | Sequence[int], n: int, name: str) -> tuple[int, ...]:
    """``value`` as an ``n``-tuple of ints (an int is repeated), like slim's ``n_positive_integers``."""
    if isinstance(value, int):
        values = (value,) * n
    else:
        values = tuple(int(v) for v in value)
        if len(values) == 1:
            values = values * n
    if len(values) != n or any(v <= 0 for v in values):
        raise ValueError(f"{name} must be a positive int or a sequence of {n} positive ints, got {value!r}.")
    return values


def channels_last(data_format: str | None, rank: int) -> bool:
    """Whether ``data_format`` (``None``, ``'NHWC'``, ``'NCHW'``, ``'NDHWC'``...) is channels-last."""
    if data_format is None:
        return True
    if data_format.startswith("NC"):
        return False
    if data_format.startswith("N") and data_format.endswith("C"):
        return True
    raise ValueError(f"data_format must be channels-last ('N...C') or channels-first ('NC...'), got {data_format!r}.")


def dimension_numbers(spatial: int, last: bool) -> jax.lax.ConvDimensionNumbers:
    if not 1 <= spatial <= 3:
        raise ValueError(f"Only 1-3 spatial dimensions are supported, got {spatial}.")
    letters = "DHW"[-spatial:]
    lhs = f"N{letters}C" if last else f"NC{letters}"
    return jax.lax.conv_dimension_numbers((1,) * (spatial + 2), (1,) * (spatial + 2), (lhs, f"{letters}IO", lhs))


def check_padding(padding: str) -> str:
    padding = padding.upper()
    if padding not in ("SAME", "VALID"):
        raise ValueError(f"padding must be 'SAME' or 'VALID', got {padding!r}.")
    return padding


def finish(
    outputs: jax.Array,
    *,
    channel_axis: int,
    normalizer_fn: Callable[..., jax.Array] | None,
    normalizer_params: Mapping[str, Any] | None,
    activation_fn: Activation,
    biases_initializer: Callable[..., jax.Array] | None,
    biases_regularizer: Callable[[jax.Array], jax.Array] | None,
    trainable: bool,
) -> jax.Array:
    """Slim's common tail: biases or ``normalizer_fn``, then ``activation_fn``."""
    if normalizer_fn is not None:
        outputs = normalizer_fn(outputs, **dict(normalizer_params or {}))
    elif biases_initializer is not None:
        n = outputs.shape[channel_axis]
        biases = model_variable(
            "biases", [n], biases_initializer, regularizer=biases_regularizer, trainable=trainable
        )
        shape = [1] * outputs.ndim
        shape[channel_axis] = n
        outputs = outputs + biases.astype(outputs.dtype).reshape(shape)
    if activation_fn is not None:
        outputs = activation_fn(outputs)
    return outputs


@add_arg_scope
def convolution(
    inputs: jax.Array,
    num_outputs: int,
    kernel_size: int | Sequence[int],
    stride: int | Sequence[int] = 1,
    padding: str = "SAME",
    data_format: str | None = None,
    rate: int | Sequence[int] = 1,
    activation_fn: Activation = jax.nn.relu,
    normalizer_fn: Callable[..., jax.Array] | None = None,
    normalizer_params: Mapping[str, Any] | None = None,
    weights_initializer: Callable[..., jax.Array] = initializers.xavier_initializer(),
    weights_regularizer: Callable[[jax.Array], jax.Array] | None = None,
    biases_initializer: Callable[..., jax.Array] | None = initializers.zeros_initializer(),
    biases_regularizer: Callable[[jax.Array], jax.Array] | None = None,
    trainable: bool = True,
    scope: str | None = None,
    conv_dims: int | None = None,
) -> jax.Array:
    """An N-d convolution (N = 1, 2, 3 from the input rank), like ``slim.convolution``.

    Args:
      inputs: ``[batch, *spatial, in]`` (or ``[batch, in, *spatial]`` channels-first).
      num_outputs: output channels.
      kernel_size: an int or one int per spatial dimension.
      stride: an int or one int per spatial dimension.
      padding: ``'SAME'`` or ``'VALID'`` (TF semantics).
      data_format: ``None``/``'NHWC'``-style (channels-last) or ``'NCHW'``-style.
      rate: atrous (dilation) rate; must be 1 where the stride is > 1.
      activation_fn: applied last; ``None`` for linear.
      normalizer_fn: e.g. ``batch_norm``; replaces the biases.
      normalizer_params: keyword arguments of ``normalizer_fn``.
      weights_initializer, weights_regularizer: for ``weights``.
      biases_initializer, biases_regularizer: for ``biases`` (``None``: no biases).
      trainable: whether the variables are trainable (``params``) or not.
      scope: the variable scope; default ``Conv`` made unique.
      conv_dims: expected number of spatial dimensions (checked against the input).

    Returns:
      ``[batch, *out_spatial, num_outputs]`` in the input's layout and dtype.
    """
    spatial = inputs.ndim - 2
    if conv_dims is not None and conv_dims != spatial:
        raise ValueError(f"convolution: expected a {conv_dims + 2}-D input for conv{conv_dims}d, got shape {inputs.shape}.")
    last = channels_last(data_format, inputs.ndim)
    kernel = n_tuple(kernel_size, spatial, "kernel_size")
    strides = n_tuple(stride, spatial, "stride")
    rates = n_tuple(rate, spatial, "rate")
    if any(r > 1 for r in rates) and any(s > 1 for s in strides):
        raise ValueError(f"convolution: stride {strides} > 1 is not supported together with rate {rates} > 1.")
    channel_axis = -1 if last else 1
    with variable_scope(scope, default_name="Conv"):
        weights = model_variable(
            "weights",
            [*kernel, inputs.shape[channel_axis], num_outputs],
            weights_initializer,
            regularizer=weights_regularizer,
            trainable=trainable,
        )
        outputs = jax.lax.conv_general_dilated(
            inputs,
            weights.astype(inputs.dtype),
            window_strides=strides,
            padding=check_padding(padding),
            rhs_dilation=rates,
            dimension_numbers=dimension_numbers(spatial, last),
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


def _fixed_dims(dims: int, name: str) -> Callable[..., jax.Array]:
    def conv(inputs, num_outputs, kernel_size, stride=1, padding="SAME", data_format=None, rate=1,
             activation_fn=jax.nn.relu, normalizer_fn=None, normalizer_params=None,
             weights_initializer=initializers.xavier_initializer(), weights_regularizer=None,
             biases_initializer=initializers.zeros_initializer(), biases_regularizer=None,
             trainable=True, scope=None):
        return convolution.__wrapped__(
            inputs, num_outputs, kernel_size, stride=stride, padding=padding, data_format=data_format,
            rate=rate, activation_fn=activation_fn, normalizer_fn=normalizer_fn,
            normalizer_params=normalizer_params, weights_initializer=weights_initializer,
            weights_regularizer=weights_regularizer, biases_initializer=biases_initializer,
            biases_regularizer=biases_regularizer, trainable=trainable, scope=scope, conv_dims=dims)

    conv.__name__ = conv.__qualname__ = name
    conv.__doc__ = f"``slim.{name}``: :func:`convolution` on a {dims + 2}-D input (same arguments)."
    return add_arg_scope(conv)


convolution1d = _fixed_dims(1, "convolution1d")
convolution2d = _fixed_dims(2, "convolution2d")
convolution3d = _fixed_dims(3, "convolution3d")
conv1d = convolution1d
conv2d = convolution2d
conv3d = convolution3d


def _transpose(
    inputs: jax.Array,
    num_outputs: int,
    kernel_size: int | Sequence[int],
    stride: int | Sequence[int],
    padding: str,
    data_format: str,
    default_name: str,
    spatial: int,
    **tail: Any,
) -> jax.Array:
    """The N-d transposed convolution shared by ``conv2d_transpose`` / ``conv3d_transpose``."""
    if inputs.ndim != spatial + 2:
        raise ValueError(f"{default_name}: expected a {spatial + 2}-D input, got shape {inputs.shape}.")
    last = channels_last(data_format, inputs.ndim)
    kernel = n_tuple(kernel_size, spatial, "kernel_size")
    strides = n_tuple(stride, spatial, "stride")
    channel_axis = -1 if last else 1
    trainable = tail["trainable"]
    with variable_scope(tail.pop("scope"), default_name=default_name):
        weights = model_variable(
            "weights", [*kernel, num_outputs, inputs.shape[channel_axis]], tail.pop("weights_initializer"),
            regularizer=tail.pop("weights_regularizer"), trainable=trainable,
        )
        outputs = jax.lax.conv_transpose(
            inputs, weights.astype(inputs.dtype), strides, check_padding(padding),
            dimension_numbers=dimension_numbers(spatial, last), transpose_kernel=True,
        )
        return finish(outputs, channel_axis=channel_axis, **tail)


@add_arg_scope
def convolution2d_transpose(
    inputs: jax.Array,
    num_outputs: int,
    kernel_size: int | Sequence[int],
    stride: int | Sequence[int] = 1,
    padding: str = "SAME",
    data_format: str = "NHWC",
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
    """A transposed 2-D convolution, like ``slim.conv2d_transpose``.

    Output size per spatial dim: ``in * stride`` for ``'SAME'``, ``in * stride +
    max(k - stride, 0)`` for ``'VALID'`` (TF's). ``<scope>/weights`` is
    ``[kh, kw, num_outputs, in]`` (TF's transpose layout); default scope
    ``Conv2d_transpose``.

    Args:
      inputs: ``[batch, h, w, in]`` (or NCHW).
      Others: as in :func:`convolution`.

    Returns:
      ``[batch, oh, ow, num_outputs]``.
    """
    return _transpose(
        inputs, num_outputs, kernel_size, stride, padding, data_format, "Conv2d_transpose", 2,
        activation_fn=activation_fn, normalizer_fn=normalizer_fn, normalizer_params=normalizer_params,
        weights_initializer=weights_initializer, weights_regularizer=weights_regularizer,
        biases_initializer=biases_initializer, biases_regularizer=biases_regularizer,
        trainable=trainable, scope=scope,
    )


@add_arg_scope
def convolution3d_transpose(
    inputs: jax.Array,
    num_outputs: int,
    kernel_size: int | Sequence[int],
    stride: int | Sequence[int] = 1,
    padding: str = "SAME",
    data_format: str = "NDHWC",
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
    """A transposed 3-D convolution, like ``slim.conv3d_transpose``.

    As :func:`convolution2d_transpose` with one more spatial dimension:
    ``<scope>/weights`` ``[kd, kh, kw, num_outputs, in]``, default scope
    ``Conv3d_transpose``, ``data_format`` ``'NDHWC'`` or ``'NCDHW'``.

    Returns:
      ``[batch, od, oh, ow, num_outputs]``.
    """
    return _transpose(
        inputs, num_outputs, kernel_size, stride, padding, data_format, "Conv3d_transpose", 3,
        activation_fn=activation_fn, normalizer_fn=normalizer_fn, normalizer_params=normalizer_params,
        weights_initializer=weights_initializer, weights_regularizer=weights_regularizer,
        biases_initializer=biases_initializer, biases_regularizer=biases_regularizer,
        trainable=trainable, scope=scope,
    )


conv2d_transpose = convolution2d_transpose
conv3d_transpose = convolution3d_transpose
