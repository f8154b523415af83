"""TF-Slim's losses (``tf.compat.v1.losses``) as pure JAX functions.

Every loss takes TF's argument names and order (``labels`` first, then ``predictions`` or
``logits``), scales the per-element losses by ``weights`` and reduces them with TF's
``Reduction`` rules; the default ``SUM_BY_NONZERO_WEIGHTS`` divides the weighted sum by the
number of elements whose (broadcast) weight is non-zero. Nothing is added to a collection:
the caller sums what it needs with :func:`total_loss`.

These follow ``tf.compat.v1.losses``, which slim's own deprecated ``slim.losses.*`` point
to. Two behaviours of the deprecated ``tf_slim.losses.loss_ops`` are not reproduced: its
"prefix" weight broadcasting (``[batch]`` weights on ``[batch, d]`` losses; here they must
be ``[batch, 1]``, as in ``tf.losses``) and its ``n`` / ``n**2`` normalisation in
``mean_pairwise_squared_error`` (``tf.losses`` uses ``n - 1`` / ``n * (n - 1)``).

Metric-learning losses live in :mod:`jslim.metric_learning` and are re-exported here.
"""

from __future__ import annotations

from typing import Mapping, Optional, Sequence, Union

import jax
import jax.numpy as jnp
from jax import Array
from jax.typing import ArrayLike

from jslim import weights_broadcast
from jslim.metric_learning import (  # noqa: F401  (re-exported: slim.losses had them)
    cluster_loss,
    contrastive_loss,
    lifted_struct_loss,
    npairs_loss,
    npairs_loss_multilabel,
    pairwise_distance,
    triplet_semihard_loss,
)


class Reduction:
    """TF's ``tf.compat.v1.losses.Reduction`` keys (same string values)."""

    NONE = "none"
    SUM = "weighted_sum"
    SUM_OVER_BATCH_SIZE = "weighted_sum_over_batch_size"
    MEAN = "weighted_mean"
    SUM_BY_NONZERO_WEIGHTS = "weighted_sum_by_nonzero_weights"
    SUM_OVER_NONZERO_WEIGHTS = SUM_BY_NONZERO_WEIGHTS

    @classmethod
    def all(cls) -> tuple[str, ...]:
        """Returns every valid key."""
        return (cls.NONE, cls.SUM, cls.MEAN, cls.SUM_OVER_BATCH_SIZE,
                cls.SUM_OVER_NONZERO_WEIGHTS, cls.SUM_BY_NONZERO_WEIGHTS)

    @classmethod
    def validate(cls, key: str) -> None:
        """Raises ``ValueError`` for an unknown key."""
        if key not in cls.all():
            raise ValueError(f"Invalid Reduction Key {key!r}. Key should be one of {cls.all()}.")


def _f32(x: ArrayLike) -> Array:
    return jnp.asarray(x, jnp.float32)


def _div_no_nan(num: Array, den: Array) -> Array:
    safe = jnp.where(den == 0, 1.0, den)
    return jnp.where(den == 0, 0.0, num / safe)


def _num_present(losses: Array, weights: Array, per_batch: bool = False) -> Array:
    """Counts elements of ``losses`` whose broadcast weight is non-zero."""
    present = jnp.broadcast_to(jnp.where(weights == 0, 0.0, 1.0), losses.shape)
    if per_batch:
        return jnp.sum(present, axis=tuple(range(1, losses.ndim)), keepdims=True)
    return jnp.sum(present)


def compute_weighted_loss(losses: ArrayLike, weights: ArrayLike = 1.0,
                          reduction: str = Reduction.SUM_BY_NONZERO_WEIGHTS) -> Array:
    """Scales ``losses`` by ``weights`` and reduces them (``tf.losses.compute_weighted_loss``).

    Args:
        losses: Per-element losses, shape ``S``.
        weights: Scalar, or rank ``len(S)`` with each dimension 1 or equal to ``S``'s.
        reduction: A :class:`Reduction` key.

    Returns:
        Scalar in ``losses``' dtype, or the weighted losses of shape ``S`` for
        ``Reduction.NONE``.

    Raises:
        ValueError: Unknown reduction or weights that cannot broadcast to ``losses``.
    """
    Reduction.validate(reduction)
    losses = jnp.asarray(losses)
    input_dtype = losses.dtype
    weights_broadcast.assert_broadcastable(weights, losses.shape)
    losses = _f32(losses)
    weights = _f32(weights)
    weighted = losses * weights
    if reduction == Reduction.NONE:
        return weighted.astype(input_dtype)
    total = jnp.sum(weighted)
    if reduction == Reduction.MEAN:
        total = _div_no_nan(total, jnp.sum(jnp.ones_like(losses) * weights))
    elif reduction == Reduction.SUM_BY_NONZERO_WEIGHTS:
        total = _div_no_nan(total, _num_present(losses, weights))
    elif reduction == Reduction.SUM_OVER_BATCH_SIZE:
        total = _div_no_nan(total, jnp.asarray(losses.size, jnp.float32))
    return total.astype(input_dtype)


def _float_pair(labels: ArrayLike, predictions: ArrayLike) -> tuple[Array, Array]:
    labels, predictions = _f32(labels), _f32(predictions)
    weights_broadcast.assert_same_shape(labels, predictions)
    return labels, predictions


def absolute_difference(labels: ArrayLike, predictions: ArrayLike, weights: ArrayLike = 1.0,
                        reduction: str = Reduction.SUM_BY_NONZERO_WEIGHTS) -> Array:
    """Weighted ``|predictions - labels|``.

    Args:
        labels: Ground truth, shape ``S``.
        predictions: Same shape ``S``.
        weights: Broadcastable to ``S`` (see :func:`compute_weighted_loss`).
        reduction: A :class:`Reduction` key.

    Returns:
        Scalar float32 loss (shape ``S`` for ``Reduction.NONE``).
    """
    labels, predictions = _float_pair(labels, predictions)
    return compute_weighted_loss(jnp.abs(predictions - labels), weights, reduction)


def mean_squared_error(labels: ArrayLike, predictions: ArrayLike, weights: ArrayLike = 1.0,
                       reduction: str = Reduction.SUM_BY_NONZERO_WEIGHTS) -> Array:
    """Weighted ``(predictions - labels) ** 2``; shapes as :func:`absolute_difference`."""
    labels, predictions = _float_pair(labels, predictions)
    return compute_weighted_loss(jnp.square(predictions - labels), weights, reduction)


def huber_loss(labels: ArrayLike, predictions: ArrayLike, weights: ArrayLike = 1.0,
               delta: float = 1.0,
               reduction: str = Reduction.SUM_BY_NONZERO_WEIGHTS) -> Array:
    """Weighted Huber loss: quadratic for ``|error| <= delta``, linear beyond.

    Args:
        labels: Ground truth, shape ``S``.
        predictions: Same shape ``S``.
        weights: Broadcastable to ``S``.
        delta: Point where the loss turns from quadratic to linear.
        reduction: A :class:`Reduction` key.

    Returns:
        Scalar float32 loss (shape ``S`` for ``Reduction.NONE``).
    """
    labels, predictions = _float_pair(labels, predictions)
    abs_error = jnp.abs(predictions - labels)
    quadratic = jnp.minimum(abs_error, delta)
    linear = abs_error - quadratic
    losses = 0.5 * (quadratic * quadratic) + delta * linear
    return compute_weighted_loss(losses, weights, reduction)


def log_loss(labels: ArrayLike, predictions: ArrayLike, weights: ArrayLike = 1.0,
             epsilon: float = 1e-7,
             reduction: str = Reduction.SUM_BY_NONZERO_WEIGHTS) -> Array:
    """Weighted binary log loss of probabilities ``predictions`` in [0, 1].

    Args:
        labels: 0/1 (or soft) targets, shape ``S``.
        predictions: Probabilities, shape ``S``.
        weights: Broadcastable to ``S``.
        epsilon: Added inside both logarithms.
        reduction: A :class:`Reduction` key.

    Returns:
        Scalar float32 loss (shape ``S`` for ``Reduction.NONE``).
    """
    labels, predictions = _float_pair(labels, predictions)
    losses = (-labels * jnp.log(predictions + epsilon)
              - (1 - labels) * jnp.log(1 - predictions + epsilon))
    return compute_weighted_loss(losses, weights, reduction)


def hinge_loss(labels: ArrayLike, logits: ArrayLike, weights: ArrayLike = 1.0,
               reduction: str = Reduction.SUM_BY_NONZERO_WEIGHTS) -> Array:
    """Weighted hinge loss ``max(0, 1 - (2 * labels - 1) * logits)``.

    Args:
        labels: 0/1 targets, shape ``S``.
        logits: Shape ``S``.
        weights: Broadcastable to ``S``.
        reduction: A :class:`Reduction` key.

    Returns:
        Scalar float32 loss (shape ``S`` for ``Reduction.NONE``).
    """
    labels, logits = _float_pair(labels, logits)
    signs = 2 * labels - 1
    return compute_weighted_loss(jax.nn.relu(1 - signs * logits), weights, reduction)


def cosine_distance(labels: ArrayLike, predictions: ArrayLike, axis: Optional[int] = None,
                    weights: ArrayLike = 1.0,
                    reduction: str = Reduction.SUM_BY_NONZERO_WEIGHTS,
                    dim: Optional[int] = None) -> Array:
    """Weighted ``1 - sum(labels * predictions, axis)`` of unit-normalised inputs.

    Args:
        labels: Unit vectors along ``axis``, shape ``S``.
        predictions: Same shape ``S``.
        axis: Axis of the vectors (required; ``dim`` is its deprecated alias).
        weights: Broadcastable to ``S`` with ``S[axis]`` replaced by 1.
        reduction: A :class:`Reduction` key.
        dim: Deprecated alias of ``axis``.

    Returns:
        Scalar float32 loss (``S`` with ``S[axis] = 1`` for ``Reduction.NONE``).
    """
    if axis is not None and dim is not None:
        raise ValueError("Cannot specify both 'axis' and 'dim'.")
    axis = dim if axis is None else axis
    if axis is None:
        raise ValueError("You must specify argument `axis`.")
    labels, predictions = _float_pair(labels, predictions)
    losses = 1 - jnp.sum(predictions * labels, axis=axis, keepdims=True)
    return compute_weighted_loss(losses, weights, reduction)


def mean_pairwise_squared_error(labels: ArrayLike, predictions: ArrayLike,
                                weights: ArrayLike = 1.0) -> Array:
    """Mean over all pairs within each example of squared differences of differences.

    For each example ``i`` with ``n`` present elements and ``d = predictions - labels``:
    ``2 * sum(d**2) / (n - 1) - 2 * sum(d)**2 / (n * (n - 1))``, scaled by the example's
    weight and summed over the batch (TF has no ``reduction`` argument here).

    Args:
        labels: Shape ``[batch, ...]``.
        predictions: Same shape.
        weights: Broadcastable to ``labels`` (e.g. scalar or ``[batch, 1, ...]``).

    Returns:
        Scalar float32 loss.
    """
    weights = _f32(weights)
    labels = _f32(labels)
    weights_broadcast.assert_broadcastable(weights, labels.shape)
    labels, predictions = _float_pair(labels, predictions)
    diffs = predictions - labels
    axes = tuple(range(1, diffs.ndim))
    sum_squares = jnp.sum(jnp.square(diffs), axis=axes, keepdims=True)
    num_present = _num_present(diffs, weights, per_batch=True)
    term1 = 2.0 * _div_no_nan(sum_squares, jnp.maximum(num_present - 1, 0))
    sum_diff = jnp.sum(diffs, axis=axes, keepdims=True)
    term2 = 2.0 * _div_no_nan(jnp.square(sum_diff),
                              jnp.maximum(num_present * (num_present - 1), 0))
    loss = jnp.sum((term1 - term2) * weights)
    return jnp.where(jnp.sum(num_present) > 0, loss, jnp.zeros_like(loss))


def sigmoid_cross_entropy(multi_class_labels: ArrayLike, logits: ArrayLike,
                          weights: ArrayLike = 1.0, label_smoothing: float = 0.0,
                          reduction: str = Reduction.SUM_BY_NONZERO_WEIGHTS) -> Array:
    """Weighted element-wise sigmoid cross entropy.

    Args:
        multi_class_labels: 0/1 targets, shape ``[batch, num_classes]`` (any shape ``S``).
        logits: Shape ``S``.
        weights: Broadcastable to ``S``.
        label_smoothing: If > 0, targets become ``t * (1 - s) + 0.5 * s``.
        reduction: A :class:`Reduction` key.

    Returns:
        Scalar loss in ``logits``' dtype (shape ``S`` for ``Reduction.NONE``).
    """
    logits = jnp.asarray(logits)
    labels = jnp.asarray(multi_class_labels, logits.dtype)
    weights_broadcast.assert_same_shape(labels, logits)
    if label_smoothing > 0:
        labels = labels * (1 - label_smoothing) + 0.5 * label_smoothing
    losses = (jax.nn.relu(logits) - logits * labels
              + jnp.log1p(jnp.exp(-jnp.abs(logits))))
    return compute_weighted_loss(losses, weights, reduction)


def softmax_cross_entropy(onehot_labels: ArrayLike, logits: ArrayLike,
                          weights: ArrayLike = 1.0, label_smoothing: float = 0.0,
                          reduction: str = Reduction.SUM_BY_NONZERO_WEIGHTS) -> Array:
    """Weighted softmax cross entropy over the last axis.

    Args:
        onehot_labels: One-hot (or soft) targets, shape ``[batch, num_classes]``.
        logits: Shape ``[batch, num_classes]``.
        weights: Scalar or ``[batch]``-broadcastable (rank 1).
        label_smoothing: If > 0, targets become ``t * (1 - s) + s / num_classes``.
        reduction: A :class:`Reduction` key.

    Returns:
        Scalar loss in ``logits``' dtype (``[batch]`` for ``Reduction.NONE``). No gradient
        flows into the labels.
    """
    logits = jnp.asarray(logits)
    labels = jnp.asarray(onehot_labels, logits.dtype)
    weights_broadcast.assert_same_shape(labels, logits)
    if label_smoothing > 0:
        num_classes = labels.shape[-1]
        labels = labels * (1.0 - label_smoothing) + label_smoothing / num_classes
    labels = jax.lax.stop_gradient(labels)
    losses = -jnp.sum(labels * jax.nn.log_softmax(logits, axis=-1), axis=-1)
    return compute_weighted_loss(losses, weights, reduction)


def sparse_softmax_cross_entropy(labels: ArrayLike, logits: ArrayLike,
                                 weights: ArrayLike = 1.0,
                                 reduction: str = Reduction.SUM_BY_NONZERO_WEIGHTS) -> Array:
    """Weighted softmax cross entropy with integer class labels.

    Args:
        labels: Class ids in ``[0, num_classes)``, shape ``[batch]`` (or ``[batch, 1]``).
        logits: Shape ``[batch, num_classes]``.
        weights: Scalar, ``[batch]`` or ``[batch, 1]``.
        reduction: A :class:`Reduction` key.

    Returns:
        Scalar loss in ``logits``' dtype (``[batch]`` for ``Reduction.NONE``). A label
        outside ``[0, num_classes)`` gives NaN (TF raises on CPU and gives NaN on GPU).
    """
    logits = jnp.asarray(logits)
    labels = jnp.asarray(labels)
    labels, logits = weights_broadcast.squeeze_labels_predictions(labels, logits, 1)
    weights = jnp.asarray(weights)
    if weights.ndim - labels.ndim == 1 and weights.shape[-1] == 1:
        weights = jnp.squeeze(weights, -1)
    if labels.shape != logits.shape[:-1]:
        raise ValueError(f"labels shape {labels.shape} must equal logits shape "
                         f"{logits.shape} without its last axis.")
    num_classes = logits.shape[-1]
    valid = (labels >= 0) & (labels < num_classes)
    safe = jnp.where(valid, labels, 0).astype(jnp.int32)
    log_probs = jax.nn.log_softmax(logits, axis=-1)
    picked = jnp.take_along_axis(log_probs, safe[..., None], axis=-1)[..., 0]
    losses = jnp.where(valid, -picked, jnp.nan)
    return compute_weighted_loss(losses, weights, reduction)


def total_loss(losses: Union[Sequence[ArrayLike], Mapping[str, ArrayLike]],
               regularization_loss: ArrayLike = 0.0) -> Array:
    """Sum of scalar ``losses`` plus ``regularization_loss`` (slim's ``get_total_loss``).

    Args:
        losses: Scalar losses, as a sequence or a name -> loss mapping.
        regularization_loss: Scalar, e.g. from ``get_regularization_loss``.

    Returns:
        Scalar float32 total.
    """
    values = list(losses.values()) if isinstance(losses, Mapping) else list(losses)
    total = jnp.asarray(regularization_loss, jnp.float32)
    for value in values:
        total = total + jnp.asarray(value, jnp.float32)
    return total


# --- Regularization: recorded by the layers (the `losses` collection), summed here. ------
# Re-exported so that `jslim.losses.get_regularization_loss` is where slim users look.
from jslim.layers.regularizers import get_regularization_loss, get_regularization_losses  # noqa: E402,F401
