"""Ranking metrics over the top ``k`` class ids against label sets: sparse recall,
precision and average precision at ``k``."""

from __future__ import annotations

from typing import Callable, NamedTuple, Optional

import jax
import jax.numpy as jnp
from jax import Array
from jax.typing import ArrayLike

from jslim import weights_broadcast as wb
from jslim.metrics.base import Metric, _additive, _div_no_nan, _f32, _zeros
from jslim.metrics.means import MeanState


def _first_occurrence(ids: Array) -> Array:
    """True where ``ids[..., j]`` differs from every ``ids[..., i]``, ``i < j``."""
    same = ids[..., :, None] == ids[..., None, :]
    earlier = jnp.broadcast_to(jnp.tril(jnp.ones(same.shape[-2:], bool), k=-1), same.shape)
    return ~jnp.any(same & earlier, axis=-1)


def _contains(sets: Array, ids: Array) -> Array:
    """``[..., n]`` mask: ``ids[..., j]`` is one of ``sets[..., :]``."""
    return jnp.any(ids[..., :, None] == sets[..., None, :], axis=-1)


def _expand_labels(labels: ArrayLike, predictions_idx: Array) -> Array:
    labels = jnp.asarray(labels)
    if labels.ndim == predictions_idx.ndim - 1:
        return labels[..., None]
    if labels.ndim != predictions_idx.ndim:
        raise ValueError(f"Unexpected labels shape {labels.shape} for predictions shape "
                         f"{predictions_idx.shape}. Predictions rank should be the same rank "
                         "as labels rank or labels rank plus one .")
    return labels


class TopKCounts(NamedTuple):
    """Weighted set sizes: ``tp`` = |top-k ∩ labels|, ``fp`` = |top-k \\ labels|,
    ``fn`` = |labels \\ top-k| (TF's dense-label set semantics: every distinct value of a
    label row counts, padding such as -1 included)."""

    tp: Array
    fp: Array
    fn: Array


def _top_k_counts(labels, predictions_idx, class_id: Optional[int],
                  weights=None) -> TopKCounts:
    predictions_idx = jnp.asarray(predictions_idx)
    labels = _expand_labels(labels, predictions_idx).astype(predictions_idx.dtype)
    if class_id is None:
        unique_pred = _first_occurrence(predictions_idx)
        unique_label = _first_occurrence(labels)
        pred_hit = _contains(labels, predictions_idx)
        label_hit = _contains(predictions_idx, labels)
        tp = jnp.sum(unique_pred & pred_hit, -1)
        fp = jnp.sum(unique_pred & ~pred_hit, -1)
        fn = jnp.sum(unique_label & ~label_hit, -1)
    else:
        in_pred = jnp.any(predictions_idx == class_id, -1)
        in_label = jnp.any(labels == class_id, -1)
        tp, fp, fn = in_pred & in_label, in_pred & ~in_label, in_label & ~in_pred
    counts = [x.astype(jnp.float32) for x in (tp, fp, fn)]
    if weights is not None:
        wb.assert_broadcastable(weights, counts[0].shape)
        counts = [x * _f32(weights) for x in counts]
    return TopKCounts(*(jnp.sum(x) for x in counts))


def _top_k_metric(compute: Callable[[TopKCounts], Array], class_id: Optional[int],
                  k: Optional[int]) -> Metric:
    """Counts over the top ``k`` of ``predictions``, or over given ``top_k_predictions``
    when ``k`` is None."""

    def batch(predictions, labels, weights=None):
        idx = jax.lax.top_k(_f32(predictions), k)[1]
        return _top_k_counts(labels, idx, class_id, weights)

    def batch_top_k(top_k_predictions, labels, weights=None):
        return _top_k_counts(labels, top_k_predictions, class_id, weights)

    return _additive(lambda: TopKCounts(_zeros(), _zeros(), _zeros()),
                     batch_top_k if k is None else batch, compute)


def _check_k(k: int) -> None:
    if k < 1:
        raise ValueError(f"Invalid k={k}. `k` should be >= 1.")


def sparse_recall_at_k(k: int, class_id: Optional[int] = None) -> Metric:
    """``tp / (tp + fn)`` of the top-``k`` class ids against each row's label set.

    ``update(state, predictions[..., classes], labels[..., n] or [...], weights=None)``;
    weights are scalar or one per row. With ``class_id``, only that class counts. NaN while
    nothing has been counted (as TF).
    """
    _check_k(k)
    return _top_k_metric(lambda c: c.tp / (c.tp + c.fn), class_id, k)


def sparse_precision_at_k(k: int, class_id: Optional[int] = None) -> Metric:
    """``tp / (tp + fp)`` of the top-``k`` class ids; arguments as
    :func:`sparse_recall_at_k`."""
    _check_k(k)
    return _top_k_metric(lambda c: c.tp / (c.tp + c.fp), class_id, k)


def sparse_recall_at_top_k(class_id: Optional[int] = None) -> Metric:
    """:func:`sparse_recall_at_k` on given top-k ids: ``update(state, labels,
    top_k_predictions, weights=None)`` - labels first, as in slim."""
    metric = _top_k_metric(lambda c: c.tp / (c.tp + c.fn), class_id, None)

    def update(state, labels, top_k_predictions, weights=None):
        return metric.update(state, top_k_predictions, labels, weights)

    return metric._replace(update=update)


def sparse_precision_at_top_k(class_id: Optional[int] = None) -> Metric:
    """:func:`sparse_precision_at_k` on given top-k ids: ``update(state, top_k_predictions,
    labels, weights=None)``."""
    return _top_k_metric(lambda c: c.tp / (c.tp + c.fp), class_id, None)


def _average_precision_rows(labels: Array, predictions_idx: Array) -> Array:
    """Per-row average precision of ``predictions_idx`` (ranked ids) against ``labels``."""
    k = predictions_idx.shape[-1]
    labels = _expand_labels(labels, predictions_idx).astype(predictions_idx.dtype)
    relevant = _contains(labels, predictions_idx).astype(jnp.float32)
    ranks = jnp.broadcast_to(jnp.arange(1, k + 1, dtype=jnp.float32), relevant.shape)
    precision_per_k = jnp.cumsum(relevant, -1) / ranks
    num_relevant = jnp.minimum(jnp.sum(labels >= 0, -1), k).astype(jnp.float32)
    return jnp.sum(precision_per_k * relevant, -1) / num_relevant


def _average_precision_stats(labels, predictions_idx, weights) -> MeanState:
    average_precision = _average_precision_rows(labels, jnp.asarray(predictions_idx))
    if weights is None:
        return MeanState(jnp.sum(average_precision),
                         jnp.asarray(average_precision.size, jnp.float32))
    weights = wb.broadcast_weights(weights, average_precision)
    return MeanState(jnp.sum(average_precision * weights), jnp.sum(weights))


def _average_precision_metric(batch: Callable[..., MeanState]) -> Metric:
    return _additive(lambda: MeanState(_zeros(), _zeros()), batch,
                     lambda s: _div_no_nan(s.total, s.count))


def sparse_average_precision_at_k(k: int) -> Metric:
    """Mean over rows of the average precision of the top ``k`` ids.

    ``update(state, predictions[..., classes], labels[..., n] or [...], weights=None)``;
    labels >= ``classes`` are ignored, -1 pads. A row without labels gives NaN (as TF).
    """
    _check_k(k)

    def batch(predictions, labels, weights=None):
        predictions = _f32(predictions)
        labels = jnp.asarray(labels)
        labels = jnp.where(labels >= predictions.shape[-1], -1, labels)
        return _average_precision_stats(labels, jax.lax.top_k(predictions, k)[1], weights)

    return _average_precision_metric(batch)


def sparse_average_precision_at_top_k() -> Metric:
    """:func:`sparse_average_precision_at_k` on given ranked ids: ``update(state,
    top_k_predictions, labels, weights=None)``."""

    def batch(top_k_predictions, labels, weights=None):
        return _average_precision_stats(labels, top_k_predictions, weights)

    return _average_precision_metric(batch)
