"""What I3D and S3D-G share, as in research/slim ``nets/i3d_utils.py``.

* :func:`conv3d_spatiotemporal`: a 3-D convolution, or a separable pair (spatial
  ``[1, k, k]`` then temporal ``[t, 1, 1]``, the latter under ``<scope>/temporal``
  with biases and a :class:`center_initializer`).
* :func:`inception_block_v1_3d`: the 3-D Inception v1 block (``Branch_0..3``
  concatenated on the channel axis), with optional self-gating.
* :func:`reduced_kernel_size_3d`: slim's kernel clipping for small inputs.
* :func:`video_logits_head` and :class:`VideoNet`: the ``Logits`` scope of
  ``i3d`` / ``s3dg`` (slim writes it twice; here it is written once).
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

import jax
import jax.numpy as jnp
import numpy as np

from jslim import layers
from jslim.nets.base import SlimNet
from jslim.scopes import add_arg_scope, arg_scope

__all__ = [
    "VideoNet",
    "center_initializer",
    "conv3d_spatiotemporal",
    "inception_block_v1_3d",
    "reduced_kernel_size_3d",
    "video_arg_scope",
    "video_logits_head",
]

Activation = Callable[[jax.Array], jax.Array] | None


@dataclasses.dataclass(frozen=True)
class center_initializer:  # pylint: disable=invalid-name
    """slim's ``center_initializer()``: an identity temporal kernel ``[t, 1, 1, c, c]``.

    ``weights[t // 2, 0, 0, i, i] = 1``, zeros elsewhere, so a separable temporal
    convolution starts as the identity.

    Raises (when called):
      ValueError: a dtype other than float32/bfloat16, a shape that is not 5-D,
        different in/out channels, spatial sizes other than 1, an even ``t``.
    """

    def __call__(self, key: jax.Array, shape: Sequence[int], dtype: Any = jnp.float32) -> jax.Array:
        del key
        if jnp.dtype(dtype) not in (jnp.dtype(jnp.float32), jnp.dtype(jnp.bfloat16)):
            raise ValueError("Input tensor data type has to be tf.float32 or tf.bfloat16.")
        if len(shape) != 5:
            raise ValueError("Input tensor has to be 5-D.")
        if shape[3] != shape[4]:
            raise ValueError("Input and output channel dimensions must be the same.")
        if shape[1] != 1 or shape[2] != 1:
            raise ValueError("Spatial kernel sizes must be 1 (pointwise conv).")
        if shape[0] % 2 == 0:
            raise ValueError("Temporal kernel size has to be odd.")
        init = np.zeros(tuple(shape), np.float32)
        channels = np.arange(shape[3])
        init[shape[0] // 2, 0, 0, channels, channels] = 1.0
        return jnp.asarray(init, dtype)


@add_arg_scope
def conv3d_spatiotemporal(
    inputs: jax.Array,
    num_outputs: int,
    kernel_size: Sequence[int],
    stride: int | Sequence[int] = 1,
    padding: str = "SAME",
    activation_fn: Activation = None,
    normalizer_fn: Callable[..., jax.Array] | None = None,
    normalizer_params: dict[str, Any] | None = None,
    weights_regularizer: Callable[[jax.Array], jax.Array] | None = None,
    separable: bool = False,
    data_format: str = "NDHWC",
    scope: str = "",
) -> jax.Array:
    """A 3-D convolution, separable in space and time when asked, like slim's.

    With ``separable`` and ``kernel_size[0] != 1``: ``conv3d`` ``[1, kh, kw]``
    (stride ``[1, sh, sw]``, normalizer and activation) under ``scope``, then
    ``conv3d`` ``[kt, 1, 1]`` (stride ``[st, 1, 1]``, biases, the same
    activation, :class:`center_initializer`) under ``<scope>/temporal``.
    Otherwise one ``conv3d``. Unlike ``layers.conv3d``, the activation and
    normalizer default to None.

    Args:
      inputs: ``[N, D, H, W, C]`` (``'NDHWC'``) or ``[N, C, D, H, W]`` (``'NCDHW'``).
      num_outputs: output channels.
      kernel_size: ``[kt, kh, kw]``.
      stride: an int or ``[st, sh, sw]``.
      padding, activation_fn, normalizer_fn, normalizer_params,
        weights_regularizer, data_format, scope: as in ``layers.conv3d``.
      separable: split the kernel into spatial and temporal convolutions.

    Returns:
      The convolved ``[N, D', H', W', num_outputs]`` (or channels-first).
    """
    if len(kernel_size) != 3:
        raise ValueError(f"conv3d_spatiotemporal: kernel_size must have 3 entries [t, h, w], got {kernel_size!r}.")
    common = {"padding": padding, "activation_fn": activation_fn, "data_format": data_format}
    if separable and kernel_size[0] != 1:
        if isinstance(stride, (list, tuple)) and len(stride) == 3:
            spatial_stride, temporal_stride = [1, stride[1], stride[2]], [stride[0], 1, 1]
        else:
            spatial_stride, temporal_stride = [1, stride, stride], [stride, 1, 1]
        net = layers.conv3d(
            inputs, num_outputs, [1, kernel_size[1], kernel_size[2]], stride=spatial_stride,
            normalizer_fn=normalizer_fn, normalizer_params=normalizer_params,
            weights_regularizer=weights_regularizer, scope=scope, **common,
        )
        return layers.conv3d(
            net, num_outputs, [kernel_size[0], 1, 1], stride=temporal_stride, scope=scope + "/temporal",
            normalizer_fn=None, weights_initializer=center_initializer(), **common,
        )
    return layers.conv3d(
        inputs, num_outputs, kernel_size, stride=stride, normalizer_fn=normalizer_fn,
        normalizer_params=normalizer_params, weights_regularizer=weights_regularizer, scope=scope, **common,
    )


@add_arg_scope
def inception_block_v1_3d(
    inputs: jax.Array,
    num_outputs_0_0a: int,
    num_outputs_1_0a: int,
    num_outputs_1_0b: int,
    num_outputs_2_0a: int,
    num_outputs_2_0b: int,
    num_outputs_3_0b: int,
    temporal_kernel_size: int = 3,
    self_gating_fn: Callable[..., jax.Array] | None = None,
    data_format: str = "NDHWC",
    scope: str = "",
) -> jax.Array:
    """A 3-D Inception v1 block, like slim's ``inception_block_v1_3d``.

    Under ``scope``: ``Branch_0/Conv2d_0a_1x1``; ``Branch_1/Conv2d_0a_1x1`` ->
    ``Branch_1/Conv2d_0b_3x3`` (:func:`conv3d_spatiotemporal`, kernel
    ``[temporal_kernel_size, 3, 3]``); the same in ``Branch_2``;
    ``Branch_3/MaxPool_0a_3x3`` (3x3x3) -> ``Branch_3/Conv2d_0b_1x1``. Each
    branch output passes through ``self_gating_fn(x, scope=<last conv name>)``
    when given. Strides, padding and data format come from the enclosing
    ``arg_scope`` (as in slim); ``data_format`` picks the concat axis.

    Args:
      inputs: ``[N, D, H, W, C]`` (or ``[N, C, D, H, W]``).
      num_outputs_*: the depth of each branch convolution.
      temporal_kernel_size: ``t`` of the two 3x3 convolutions.
      self_gating_fn: ``fn(inputs, scope) -> same shape``, or None.
      data_format: ``'NDHWC'`` or ``'NCDHW'``.
      scope: the block's variable scope.

    Returns:
      The four branches concatenated: ``num_outputs_0_0a + num_outputs_1_0b +
      num_outputs_2_0b + num_outputs_3_0b`` channels.
    """

    def gate(net: jax.Array, name: str) -> jax.Array:
        return self_gating_fn(net, scope=name) if self_gating_fn is not None else net

    with layers.variable_scope(scope):
        with layers.variable_scope("Branch_0"):
            branch_0 = gate(layers.conv3d(inputs, num_outputs_0_0a, [1, 1, 1], scope="Conv2d_0a_1x1"), "Conv2d_0a_1x1")
        branches_12 = []
        for branch, (depth_a, depth_b) in (("Branch_1", (num_outputs_1_0a, num_outputs_1_0b)),
                                           ("Branch_2", (num_outputs_2_0a, num_outputs_2_0b))):
            with layers.variable_scope(branch):
                net = layers.conv3d(inputs, depth_a, [1, 1, 1], scope="Conv2d_0a_1x1")
                net = conv3d_spatiotemporal(net, depth_b, [temporal_kernel_size, 3, 3], scope="Conv2d_0b_3x3")
                branches_12.append(gate(net, "Conv2d_0b_3x3"))
        with layers.variable_scope("Branch_3"):
            branch_3 = layers.max_pool3d(inputs, [3, 3, 3], scope="MaxPool_0a_3x3")
            branch_3 = layers.conv3d(branch_3, num_outputs_3_0b, [1, 1, 1], scope="Conv2d_0b_1x1")
            branch_3 = gate(branch_3, "Conv2d_0b_1x1")
        index_c = data_format.index("C")
        if not 1 <= index_c <= 4:
            raise ValueError(f"Cannot identify channel dimension of data_format {data_format!r}.")
        return jnp.concatenate([branch_0, *branches_12, branch_3], axis=index_c)


@contextlib.contextmanager
def video_arg_scope(
    weight_decay: float, batch_norm_decay: float, batch_norm_epsilon: float, use_renorm: bool, separable: bool
):
    """The arg scope of ``i3d_arg_scope`` / ``s3dg_arg_scope`` (slim writes it twice).

    ``conv3d`` and :func:`conv3d_spatiotemporal`: l2 ``weight_decay``, ReLU, and
    ``batch_norm`` (``decay``, ``epsilon``, ``fused=False``, ``renorm``; no
    ``gamma``); :func:`conv3d_spatiotemporal` also ``separable``.
    """
    batch_norm_params = {
        "decay": batch_norm_decay, "epsilon": batch_norm_epsilon, "fused": False, "renorm": use_renorm,
    }
    with arg_scope(
        [layers.conv3d, conv3d_spatiotemporal],
        weights_regularizer=layers.l2_regularizer(weight_decay),
        activation_fn=jax.nn.relu,
        normalizer_fn=layers.batch_norm,
        normalizer_params=batch_norm_params,
    ):
        with arg_scope([conv3d_spatiotemporal], separable=separable) as sc:
            yield sc


def reduced_kernel_size_3d(input_tensor: jax.Array, kernel_size: Sequence[int]) -> list[int]:
    """``[min(D, kt), min(H, kh), min(W, kw)]`` for an ``[N, D, H, W, C]`` input, like slim's."""
    if len(kernel_size) != 3 or input_tensor.ndim != 5:
        raise ValueError(
            f"reduced_kernel_size_3d needs a 3-entry kernel and a 5-D input, got {kernel_size!r} and "
            f"shape {input_tensor.shape}."
        )
    return [min(int(s), int(k)) for s, k in zip(input_tensor.shape[1:4], kernel_size)]


def video_logits_head(
    net: jax.Array,
    end_points: dict[str, jax.Array],
    num_classes: int,
    dropout_keep_prob: float,
    prediction_fn: Callable[[jax.Array], jax.Array],
    spatial_squeeze: bool,
    data_format: str = "NDHWC",
) -> jax.Array:
    """The ``Logits`` scope of slim's ``i3d`` / ``s3dg`` (call inside the net's scope).

    ``AvgPool_0a_7x7`` (VALID, :func:`reduced_kernel_size_3d` of ``[2, 7, 7]``),
    ``Dropout_0b``, ``Conv2d_0c_1x1`` (``[1, 1, 1]``, biases, no activation),
    the mean over time, then ``[N, 1, 1, classes] -> [N, classes]`` when
    ``spatial_squeeze``. Sets ``end_points['Logits']`` and ``['Predictions']``.

    Args:
      net: the base's output, ``[N, D, H, W, C]`` (``'NCDHW'`` is transposed first).
      end_points: updated in place.
      num_classes: logits size.
      dropout_keep_prob: keep probability of ``Dropout_0b`` (training only).
      prediction_fn: logits -> predictions.
      spatial_squeeze: drop the two spatial axes of the logits.
      data_format: the layout of ``net``.

    Returns:
      ``[N, num_classes]`` (or ``[N, H', W', num_classes]`` without squeeze).
    """
    if not num_classes:
        raise ValueError(
            f"num_classes must be a positive int (slim's i3d/s3dg always build logits), got {num_classes!r}; "
            "use i3d_base / s3dg_base for features."
        )
    with layers.variable_scope("Logits"):
        if data_format.startswith("NC"):
            net = jnp.transpose(net, (0, 2, 3, 4, 1))
        kernel_size = reduced_kernel_size_3d(net, [2, 7, 7])
        net = layers.avg_pool3d(net, kernel_size, stride=1, data_format="NDHWC", scope="AvgPool_0a_7x7")
        net = layers.dropout(net, dropout_keep_prob, scope="Dropout_0b")
        logits = layers.conv3d(
            net, num_classes, [1, 1, 1], activation_fn=None, normalizer_fn=None, data_format="NDHWC",
            scope="Conv2d_0c_1x1",
        )
        logits = jnp.mean(logits, axis=1)
        if spatial_squeeze:
            if logits.shape[1:3] != (1, 1):
                raise ValueError(
                    f"spatial_squeeze needs 1x1 logits, got spatial size {tuple(logits.shape[1:3])} (the final "
                    "feature map is larger than the 7x7 pool, i.e. the input larger than 224x224); pass "
                    "spatial_squeeze=False."
                )
            logits = logits[:, 0, 0, :]
    end_points["Logits"] = logits
    end_points["Predictions"] = prediction_fn(logits)
    return logits


class VideoNet(SlimNet):
    """A :class:`SlimNet` over video clips ``[batch, frames, size, size, channels]``."""

    default_image_size: ClassVar[int] = 224
    default_num_frames: ClassVar[int] = 64

    def example_input(self, batch_size: int = 1) -> jnp.ndarray:
        """Zeros ``[batch_size, 64, 224, 224, 3]`` (slim's test clips; channels second for ``'NCDHW'``)."""
        size, frames, channels = self.default_image_size, self.default_num_frames, self.input_channels
        if getattr(self, "data_format", "NDHWC") == "NCDHW":
            return jnp.zeros((batch_size, channels, frames, size, size), jnp.float32)
        return jnp.zeros((batch_size, frames, size, size, channels), jnp.float32)
