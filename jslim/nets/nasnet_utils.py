"""NASNet-A cells and their helpers, as in research/slim ``nets/nasnet/nasnet_utils.py``.

A cell is data: ten operation strings (``'separable_5x5_2'``: two stacked 5x5
separable convs; ``'avg_pool_3x3'``; ``'max_pool_3x3'``; ``'none'``), which
hidden states each of its five pairwise combinations reads, and which states
were consumed (the unused ones are concatenated into the cell's output). Cells
are plain objects called inside a Flax ``@nn.compact`` method; their variables
land under the cell's scope with TF-Slim's names (``cell_0/comb_iter_0/left/
separable_5x5_1/depthwise_weights``...).

Functions that slim decorates with ``add_arg_scope`` are arg-scoped here too; the
nets set ``data_format`` on them (and ``is_training`` on :func:`drop_path`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp

from jslim import layers
from jslim.scopes import add_arg_scope

__all__ = [
    "CLIP_BY_VALUE_CAP",
    "DATA_FORMAT_NCHW",
    "DATA_FORMAT_NHWC",
    "FixedNasNetCell",
    "INVALID",
    "NasNetABaseCell",
    "NasNetANormalCell",
    "NasNetAReductionCell",
    "calc_reduction_layers",
    "drop_path",
    "factorized_reduction",
    "get_channel_dim",
    "get_channel_index",
    "global_avg_pool",
]

DATA_FORMAT_NCHW = "NCHW"
DATA_FORMAT_NHWC = "NHWC"
INVALID = "null"
# The cap of the clipping that follows bounded-activation ops (most activations
# fall in [-6, 6]).
CLIP_BY_VALUE_CAP = 6


def calc_reduction_layers(num_cells: int, num_reduction_layers: int) -> list[int]:
    """The cell indices that get a reduction: evenly spaced, e.g. ``(18, 2) -> [6, 12]``."""
    return [int(pool_num / (num_reduction_layers + 1) * num_cells) for pool_num in range(1, num_reduction_layers + 1)]


def _check_data_format(data_format: str, where: str) -> str:
    if data_format not in (DATA_FORMAT_NHWC, DATA_FORMAT_NCHW):
        raise ValueError(
            f"{where}: data_format must be 'NHWC' or 'NCHW' (the nets set it with arg_scope), got {data_format!r}."
        )
    return data_format


@add_arg_scope
def get_channel_index(data_format: str = INVALID) -> int:
    """The channel axis: 3 for ``'NHWC'``, 1 for ``'NCHW'``."""
    return 3 if _check_data_format(data_format, "get_channel_index") == DATA_FORMAT_NHWC else 1


@add_arg_scope
def get_channel_dim(shape: Sequence[int], data_format: str = INVALID) -> int:
    """The number of channels of a 4-D ``shape``."""
    _check_data_format(data_format, "get_channel_dim")
    if len(shape) != 4:
        raise ValueError(f"get_channel_dim: expected a 4-D shape, got {tuple(shape)}.")
    return int(shape[3] if data_format == DATA_FORMAT_NHWC else shape[1])


@add_arg_scope
def global_avg_pool(x: jax.Array, data_format: str = INVALID) -> jax.Array:
    """Averages away the spatial axes: ``[N, H, W, C] -> [N, C]`` (or from NCHW)."""
    _check_data_format(data_format, "global_avg_pool")
    if x.ndim != 4:
        raise ValueError(f"global_avg_pool: expected a 4-D input, got shape {x.shape}.")
    return jnp.mean(x, axis=(1, 2) if data_format == DATA_FORMAT_NHWC else (2, 3))


def _spatial_stride(x: jax.Array, stride: int, data_format: str) -> jax.Array:
    """TF's ``avg_pool(x, 1x1, stride, 'VALID')``: every ``stride``-th row and column."""
    if data_format == DATA_FORMAT_NHWC:
        return x[:, ::stride, ::stride, :]
    return x[:, :, ::stride, ::stride]


def _shift_up_left(x: jax.Array, data_format: str) -> jax.Array:
    """``pad(x, bottom/right by 1)[1:, 1:]``: the grid shifted by one pixel."""
    if data_format == DATA_FORMAT_NHWC:
        return jnp.pad(x, ((0, 0), (0, 1), (0, 1), (0, 0)))[:, 1:, 1:, :]
    return jnp.pad(x, ((0, 0), (0, 0), (0, 1), (0, 1)))[:, :, 1:, 1:]


@add_arg_scope
def factorized_reduction(net: jax.Array, output_filters: int, stride: int, data_format: str = INVALID) -> jax.Array:
    """Reduces ``net`` spatially by ``stride`` without losing pixels to striding.

    ``stride == 1``: a 1x1 conv (``path_conv``) and batch norm (``path_bn``).
    Otherwise two strided 1x1 paths, the second shifted by one pixel, each with
    half the filters (the second gets the extra one when ``output_filters`` is
    odd), concatenated and batch-normed (``path1_conv``, ``path2_conv``,
    ``final_path_bn``).

    Args:
      net: ``[N, H, W, C]`` (or NCHW).
      output_filters: output channels.
      stride: spatial reduction.
      data_format: ``'NHWC'`` or ``'NCHW'``.

    Returns:
      ``[N, ceil(H / stride), ceil(W / stride), output_filters]``.
    """
    _check_data_format(data_format, "factorized_reduction")
    if stride == 1:
        net = layers.conv2d(net, output_filters, 1, scope="path_conv")
        return layers.batch_norm(net, scope="path_bn")
    path1 = _spatial_stride(net, stride, data_format)
    path1 = layers.conv2d(path1, int(output_filters / 2), 1, scope="path1_conv")
    path2 = _spatial_stride(_shift_up_left(net, data_format), stride, data_format)
    path2 = layers.conv2d(path2, int(output_filters / 2) + int(output_filters % 2), 1, scope="path2_conv")
    final_path = jnp.concatenate([path1, path2], axis=get_channel_index(data_format=data_format))
    return layers.batch_norm(final_path, scope="final_path_bn")


@add_arg_scope
def drop_path(net: jax.Array, keep_prob: float | jax.Array, is_training: bool = True) -> jax.Array:
    """Drops whole examples of ``net`` with probability ``1 - keep_prob`` (scaling the kept ones).

    Uses the ``'dropout'`` RNG stream; identity when not training.

    Args:
      net: ``[N, ...]``.
      keep_prob: a float or a traced scalar (the scheduled keep probability).
      is_training: apply drop path.

    Returns:
      ``net * floor(keep_prob + U[0, 1)) / keep_prob`` with one draw per example.
    """
    if not is_training:
        return net
    key = layers.current_scope().make_rng("dropout")
    noise = jax.random.uniform(key, (net.shape[0],) + (1,) * (net.ndim - 1), dtype=jnp.float32)
    binary = jnp.floor(keep_prob + noise).astype(net.dtype)
    keep_prob_inv = jnp.asarray(1.0 / keep_prob, net.dtype)
    return net * keep_prob_inv * binary


def _operation_to_info(operation: str) -> tuple[int, int]:
    """``'separable_3x3_4' -> (4, 3)`` (number of layers, kernel size); ``'separable_5x5' -> (1, 5)``."""
    parts = operation.split("_")
    num_layers = 1 if "x" in parts[-1] else int(parts[-1])
    sides = operation.split("x")
    if int(sides[0][-1]) != int(sides[1][0]):
        raise ValueError(f"Rectangular filters are not supported: {operation!r}.")
    return num_layers, int(sides[0][-1])


def _operation_to_pooling_info(operation: str) -> tuple[str, int]:
    """``'avg_pool_3x3' -> ('avg', 3)``."""
    parts = operation.split("_")
    if "x" not in parts[-1]:
        raise ValueError(f"A pooling operation ends with its window, e.g. 'avg_pool_3x3'; got {operation!r}.")
    height, width = parts[-1].split("x")
    if height != width:
        raise ValueError(f"Rectangular pooling windows are not supported: {operation!r}.")
    return parts[0], int(height)


def _stacked_separable_conv(
    net: jax.Array, stride: int, operation: str, filter_size: int, use_bounded_activation: bool
) -> jax.Array:
    """``activation -> separable conv -> batch norm``, repeated; only the first is strided."""
    num_layers, kernel_size = _operation_to_info(operation)
    activation_fn = jax.nn.relu6 if use_bounded_activation else jax.nn.relu
    for layer_num in range(1, num_layers + 1):
        net = activation_fn(net)
        net = layers.separable_conv2d(
            net,
            filter_size,
            kernel_size,
            depth_multiplier=1,
            scope=f"separable_{kernel_size}x{kernel_size}_{layer_num}",
            stride=stride,
        )
        net = layers.batch_norm(net, scope=f"bn_sep_{kernel_size}x{kernel_size}_{layer_num}")
        stride = 1
    return net


def _pooling(net: jax.Array, stride: int, operation: str, use_bounded_activation: bool) -> jax.Array:
    """The ``'avg'``/``'max'`` pooling an operation names, ``'SAME'`` padded."""
    pooling_type, pooling_shape = _operation_to_pooling_info(operation)
    if use_bounded_activation:
        net = jax.nn.relu6(net)
    if pooling_type == "avg":
        return layers.avg_pool2d(net, pooling_shape, stride=stride, padding="SAME")
    if pooling_type == "max":
        return layers.max_pool2d(net, pooling_shape, stride=stride, padding="SAME")
    raise NotImplementedError(f"Unimplemented pooling type {pooling_type!r} in {operation!r}.")


def _clip(net: jax.Array) -> jax.Array:
    return jnp.clip(net, -CLIP_BY_VALUE_CAP, CLIP_BY_VALUE_CAP)


class NasNetABaseCell:
    """A NASNet cell: five pairwise combinations of hidden states, then a concat.

    Args:
      num_conv_filters: filters of every convolution at ``filter_scaling=1``.
      operations: ten operation strings, a (left, right) pair per combination.
      used_hiddenstates: seven 0/1 flags (two inputs + five combinations); the
        states flagged 0 are concatenated into the output.
      hiddenstate_indices: ten indices, the (left, right) inputs of each combination.
      drop_path_keep_prob: keep probability of drop path (1.0 disables it).
      total_num_cells: cells in the net (scales drop path by depth).
      total_training_steps: steps over which drop path ramps up.
      use_bounded_activation: ReLU6 and clipping for quantization-friendly activations.
    """

    def __init__(
        self,
        num_conv_filters: int,
        operations: Sequence[str],
        used_hiddenstates: Sequence[int],
        hiddenstate_indices: Sequence[int],
        drop_path_keep_prob: float,
        total_num_cells: int,
        total_training_steps: int,
        use_bounded_activation: bool = False,
    ):
        if len(operations) != 10 or len(hiddenstate_indices) != 10 or len(used_hiddenstates) != 7:
            raise ValueError(
                "A NASNet cell has 10 operations, 10 hidden-state indices and 7 used flags; got "
                f"{len(operations)}, {len(hiddenstate_indices)}, {len(used_hiddenstates)}."
            )
        self._num_conv_filters = num_conv_filters
        self._operations = tuple(operations)
        self._used_hiddenstates = tuple(used_hiddenstates)
        self._hiddenstate_indices = tuple(hiddenstate_indices)
        self._drop_path_keep_prob = drop_path_keep_prob
        self._total_num_cells = total_num_cells
        self._total_training_steps = total_training_steps
        self._use_bounded_activation = use_bounded_activation

    def _activation(self, net: jax.Array) -> jax.Array:
        return jax.nn.relu6(net) if self._use_bounded_activation else jax.nn.relu(net)

    def _reduce_prev_layer(self, prev_layer: jax.Array | None, curr_layer: jax.Array, filter_size: int) -> jax.Array:
        """Matches ``prev_layer``'s size and filters to the current layer's."""
        if prev_layer is None:
            return curr_layer
        prev_num_filters = get_channel_dim(prev_layer.shape)
        if int(curr_layer.shape[2]) != int(prev_layer.shape[2]):
            return factorized_reduction(self._activation(prev_layer), filter_size, stride=2)
        if filter_size != prev_num_filters:
            prev_layer = layers.conv2d(self._activation(prev_layer), filter_size, 1, scope="prev_1x1")
            return layers.batch_norm(prev_layer, scope="prev_bn")
        return prev_layer

    def _cell_base(self, net: jax.Array, prev_layer: jax.Array | None, filter_size: int) -> list[jax.Array]:
        """The cell's two inputs: a 1x1 projection of ``net`` and the matched ``prev_layer``."""
        prev_layer = self._reduce_prev_layer(prev_layer, net, filter_size)
        net = layers.conv2d(self._activation(net), filter_size, 1, scope="1x1")
        net = layers.batch_norm(net, scope="beginning_bn")
        return [net, prev_layer]

    def __call__(
        self,
        net: jax.Array,
        scope: str | None = None,
        filter_scaling: float = 1,
        stride: int = 1,
        prev_layer: jax.Array | None = None,
        cell_num: int = -1,
        current_step: jax.Array | int | None = None,
    ) -> jax.Array:
        """Runs the cell on ``net`` (and the previous cell's output ``prev_layer``).

        Args:
          net: ``[N, H, W, C]`` (or NCHW).
          scope: the cell's variable scope, e.g. ``'cell_3'``.
          filter_scaling: multiplies ``num_conv_filters``.
          stride: stride of the operations reading the cell's inputs.
          prev_layer: the output of the cell before the previous one, or None.
          cell_num: position of the cell in the net (drop path depth scaling).
          current_step: training step for the drop path schedule (see
            :meth:`_apply_drop_path`).

        Returns:
          ``[N, H / stride, W / stride, filters * (number of unused states)]``.
        """
        filter_size = int(self._num_conv_filters * filter_scaling)
        with layers.variable_scope(scope, default_name="cell"):
            states = self._cell_base(net, prev_layer, filter_size)
            for iteration in range(5):
                with layers.variable_scope(f"comb_iter_{iteration}"):
                    combined = []
                    for side, i in (("left", 2 * iteration), ("right", 2 * iteration + 1)):
                        index = self._hiddenstate_indices[i]
                        with layers.variable_scope(side):
                            combined.append(
                                self._apply_conv_operation(
                                    states[index], self._operations[i], stride, index < 2,
                                    filter_size, cell_num, current_step,
                                )
                            )
                    h = combined[0] + combined[1]
                    if self._use_bounded_activation:
                        h = jax.nn.relu6(h)
                    states.append(h)
            with layers.variable_scope("cell_output"):
                return self._combine_unused_states(states)

    def _apply_conv_operation(
        self,
        net: jax.Array,
        operation: str,
        stride: int,
        is_from_original_input: bool,
        filter_size: int,
        cell_num: int,
        current_step: jax.Array | int | None,
    ) -> jax.Array:
        """Applies one operation string to a hidden state (strided only on the cell's inputs)."""
        if stride > 1 and not is_from_original_input:
            stride = 1
        input_filters = get_channel_dim(net.shape)
        bounded = self._use_bounded_activation
        if "separable" in operation:
            net = _stacked_separable_conv(net, stride, operation, filter_size, bounded)
            if bounded:
                net = _clip(net)
        elif operation == "none":
            if bounded:
                net = jax.nn.relu6(net)
            if stride > 1 or input_filters != filter_size:
                if not bounded:
                    net = jax.nn.relu(net)
                net = layers.conv2d(net, filter_size, 1, stride=stride, scope="1x1")
                net = layers.batch_norm(net, scope="bn_1")
                if bounded:
                    net = _clip(net)
        elif "pool" in operation:
            net = _pooling(net, stride, operation, bounded)
            if input_filters != filter_size:
                net = layers.conv2d(net, filter_size, 1, stride=1, scope="1x1")
                net = layers.batch_norm(net, scope="bn_1")
            if bounded:
                net = _clip(net)
        else:
            raise ValueError(f"Unimplemented operation {operation!r}.")
        if operation != "none":
            net = self._apply_drop_path(net, cell_num, current_step=current_step)
        return net

    def _combine_unused_states(self, net: list[jax.Array]) -> jax.Array:
        """Concatenates the unused states, first reducing those whose size or filters differ."""
        final_height = int(net[-1].shape[2])
        final_num_filters = get_channel_dim(net[-1].shape)
        for idx, used_h in enumerate(self._used_hiddenstates):
            curr_height = int(net[idx].shape[2])
            mismatch = final_num_filters != get_channel_dim(net[idx].shape) or final_height != curr_height
            if mismatch and not used_h:
                stride = 2 if final_height != curr_height else 1
                with layers.variable_scope(f"reduction_{idx}"):
                    net[idx] = factorized_reduction(net[idx], final_num_filters, stride)
        states_to_combine = [h for h, is_used in zip(net, self._used_hiddenstates) if not is_used]
        return jnp.concatenate(states_to_combine, axis=get_channel_index())

    @add_arg_scope
    def _apply_drop_path(
        self,
        net: jax.Array,
        cell_num: int,
        current_step: jax.Array | int | None = None,
        drop_connect_version: str = "v3",
    ) -> jax.Array:
        """Drop path with a keep probability scheduled by depth and training progress.

        With ``p = drop_path_keep_prob < 1``: ``'v2'`` and ``'v3'`` scale the drop
        rate by the cell's depth, ``1 - (cell_num + 1) / total_num_cells * (1 - p)``;
        ``'v1'`` and ``'v3'`` scale it by ``min(1, current_step /
        total_training_steps)``. TF-Slim reads the global step when
        ``current_step`` is None; jslim has none, so None means the ramp is over
        (ratio 1). Pass the train step's step to reproduce slim's burn-in.

        Args:
          net: the hidden state.
          cell_num: the cell's position (must not be -1 for ``'v2'``/``'v3'``).
          current_step: the training step (an int or a traced scalar), or None.
          drop_connect_version: ``'v1'``, ``'v2'`` or ``'v3'``.
        """
        drop_path_keep_prob: Any = self._drop_path_keep_prob
        if drop_path_keep_prob >= 1.0:
            return net
        if drop_connect_version not in ("v1", "v2", "v3"):
            raise ValueError(f"drop_connect_version must be 'v1', 'v2' or 'v3', got {drop_connect_version!r}.")
        if drop_connect_version in ("v2", "v3"):
            if cell_num == -1:
                raise ValueError("drop path scaled by depth needs the cell's cell_num.")
            layer_ratio = (cell_num + 1) / float(self._total_num_cells)
            drop_path_keep_prob = 1 - layer_ratio * (1 - drop_path_keep_prob)
        if drop_connect_version in ("v1", "v3") and current_step is not None:
            current_ratio = jnp.minimum(1.0, jnp.asarray(current_step, jnp.float32) / self._total_training_steps)
            drop_path_keep_prob = 1 - current_ratio * (1 - drop_path_keep_prob)
        return drop_path(net, drop_path_keep_prob)


class FixedNasNetCell(NasNetABaseCell):
    """A cell whose operations and wiring are class data (``OPERATIONS``...), like slim's subclasses."""

    OPERATIONS: tuple[str, ...] = ()
    USED_HIDDENSTATES: tuple[int, ...] = ()
    HIDDENSTATE_INDICES: tuple[int, ...] = ()

    def __init__(
        self,
        num_conv_filters: int,
        drop_path_keep_prob: float,
        total_num_cells: int,
        total_training_steps: int,
        use_bounded_activation: bool = False,
    ):
        super().__init__(
            num_conv_filters, self.OPERATIONS, self.USED_HIDDENSTATES, self.HIDDENSTATE_INDICES,
            drop_path_keep_prob, total_num_cells, total_training_steps, use_bounded_activation,
        )


class NasNetANormalCell(FixedNasNetCell):
    """The NASNet-A normal cell (keeps the spatial size)."""

    OPERATIONS = (
        "separable_5x5_2", "separable_3x3_2",
        "separable_5x5_2", "separable_3x3_2",
        "avg_pool_3x3", "none",
        "avg_pool_3x3", "avg_pool_3x3",
        "separable_3x3_2", "none",
    )
    USED_HIDDENSTATES = (1, 0, 0, 0, 0, 0, 0)
    HIDDENSTATE_INDICES = (0, 1, 1, 1, 0, 1, 1, 1, 0, 0)


class NasNetAReductionCell(FixedNasNetCell):
    """The NASNet-A reduction cell (run with stride 2)."""

    OPERATIONS = (
        "separable_5x5_2", "separable_7x7_2",
        "max_pool_3x3", "separable_7x7_2",
        "avg_pool_3x3", "separable_5x5_2",
        "none", "avg_pool_3x3",
        "separable_3x3_2", "max_pool_3x3",
    )
    USED_HIDDENSTATES = (1, 1, 1, 0, 0, 0, 0)
    HIDDENSTATE_INDICES = (0, 1, 0, 1, 0, 1, 3, 2, 2, 0)
