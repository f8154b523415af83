"""TF's weight-broadcasting rules for losses and metrics (``weights_broadcast_ops``).

TF accepts ``weights`` for a tensor of ``values`` when the weights are a scalar, or have the
same rank as the values with every dimension either 1 or equal to the values' dimension.
Anything else raises. Shapes are static in JAX, so every check here happens at trace time
and raises a ``ValueError`` that names both shapes.

The metrics additionally follow ``metrics_impl._remove_squeezable_dimensions``: weights
one rank above the predictions lose a trailing dimension of size 1, and weights one rank
below gain one.
"""

from __future__ import annotations

from typing import Optional, Sequence

import jax.numpy as jnp
from jax import Array
from jax.typing import ArrayLike

_PREFIX = "weights can not be broadcast to values."


def assert_broadcastable(weights: ArrayLike, values_shape: Sequence[int]) -> None:
    """Raises like TF's ``assert_broadcastable`` when ``weights`` cannot scale ``values``.

    Args:
        weights: Scalar, or an array of the same rank as the values whose every
            dimension is 1 or the values' dimension.
        values_shape: Static shape of the values.

    Raises:
        ValueError: Rank mismatch or a dimension that is neither 1 nor the values' size.
    """
    weights_shape = tuple(jnp.shape(weights))
    values_shape = tuple(values_shape)
    if not weights_shape:
        return
    if len(weights_shape) != len(values_shape):
        raise ValueError(
            f"{_PREFIX} values.rank={len(values_shape)}. weights.rank={len(weights_shape)}. "
            f"values.shape={values_shape}. weights.shape={weights_shape}. TF (and jslim) "
            "does not add leading or trailing dimensions: reshape the weights, e.g. "
            "weights[:, None] for per-example weights on [batch, d] values.")
    for i, (w, v) in enumerate(zip(weights_shape, values_shape)):
        if w not in (1, v):
            raise ValueError(
                f"{_PREFIX} Mismatch at dim {i}. values.shape={values_shape}, "
                f"weights.shape={weights_shape}.")


def broadcast_weights(weights: ArrayLike, values: Array) -> Array:
    """Returns ``weights`` broadcast to ``values``' shape, as float32, after checking it.

    Args:
        weights: Weights accepted by :func:`assert_broadcastable`.
        values: The array the weights scale, shape ``S``.

    Returns:
        float32 array of shape ``S``.
    """
    assert_broadcastable(weights, jnp.shape(values))
    return jnp.broadcast_to(jnp.asarray(weights, jnp.float32), jnp.shape(values))


def match_weight_rank(weights: Optional[ArrayLike], predictions_rank: int) -> Optional[Array]:
    """``_remove_squeezable_dimensions`` for weights: +-1 rank relative to the predictions.

    Args:
        weights: ``None``, a scalar, or an array of rank ``predictions_rank`` +- 1.
        predictions_rank: Rank of the (already squeezed) predictions.

    Returns:
        ``None`` or the weights with a trailing size-1 axis removed (rank + 1) or added
        (rank - 1); other ranks are returned unchanged for the broadcast check to judge.
    """
    if weights is None:
        return None
    weights = jnp.asarray(weights)
    rank = weights.ndim
    if rank == 0:
        return weights
    if rank - predictions_rank == 1:
        if weights.shape[-1] != 1:
            raise ValueError(
                f"Can not squeeze dim[{rank - 1}], expected a dimension of 1 for weights "
                f"of shape {weights.shape} against predictions of rank {predictions_rank}.")
        return jnp.squeeze(weights, -1)
    if predictions_rank - rank == 1:
        return weights[..., None]
    return weights


def squeeze_labels_predictions(labels: Array, predictions: Array,
                               expected_rank_diff: int = 0) -> tuple[Array, Array]:
    """``confusion_matrix.remove_squeezable_dimensions``: drop a trailing size-1 axis.

    Args:
        labels: Label array.
        predictions: Prediction array.
        expected_rank_diff: Expected ``rank(predictions) - rank(labels)``.

    Returns:
        ``(labels, predictions)``; the one whose rank exceeds the expectation by one loses
        its last axis when that axis has size 1.
    """
    rank_diff = predictions.ndim - labels.ndim
    if rank_diff == expected_rank_diff + 1 and predictions.shape[-1] == 1:
        predictions = jnp.squeeze(predictions, -1)
    elif rank_diff == expected_rank_diff - 1 and labels.shape[-1] == 1:
        labels = jnp.squeeze(labels, -1)
    return labels, predictions


def assert_same_shape(labels: Array, predictions: Array) -> None:
    """Raises when ``labels`` and ``predictions`` differ in shape (TF's compatibility check)."""
    if jnp.shape(labels) != jnp.shape(predictions):
        raise ValueError(
            f"Shapes {jnp.shape(predictions)} (predictions) and {jnp.shape(labels)} (labels) "
            "are incompatible.")
