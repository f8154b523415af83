"""Metrics over a multi-class confusion matrix: ``mean_iou`` and ``cohen_kappa``."""

from __future__ import annotations

from typing import NamedTuple

import jax.numpy as jnp
from jax import Array

from jslim import weights_broadcast as wb
from jslim.metrics.base import Metric, _additive, _div_no_nan, _squeeze_all, _zeros


def _confusion_matrix(labels, predictions, num_classes: int, weights=None) -> Array:
    """``[num_classes, num_classes]`` weighted counts, rows = labels; out-of-range ids
    contribute nothing."""
    labels = jnp.asarray(labels).reshape(-1)
    predictions = jnp.asarray(predictions).reshape(-1)
    if labels.shape != predictions.shape:
        raise ValueError(f"labels ({labels.shape}) and predictions ({predictions.shape}) "
                         "must have the same number of elements.")
    if weights is None:
        weights = jnp.ones(labels.shape, jnp.float32)
    else:
        weights = jnp.asarray(weights, jnp.float32)
        weights = weights.reshape(-1) if weights.ndim > 1 else weights
        weights = wb.broadcast_weights(weights, labels)
    valid = (labels >= 0) & (labels < num_classes) & (predictions >= 0) & (
        predictions < num_classes)
    rows = jnp.where(valid, labels, 0).astype(jnp.int32)
    cols = jnp.where(valid, predictions, 0).astype(jnp.int32)
    return _zeros((num_classes, num_classes)).at[rows, cols].add(jnp.where(valid, weights, 0.0))


def mean_iou(num_classes: int) -> Metric:
    """Mean intersection-over-union over classes present in labels or predictions.

    ``update(state, predictions, labels, weights=None)`` with integer class ids of equal
    shape; the state is the ``[num_classes, num_classes]`` confusion matrix.
    """

    def batch(predictions, labels, weights=None):
        wb.assert_same_shape(jnp.asarray(labels), jnp.asarray(predictions))
        return _confusion_matrix(labels, predictions, num_classes, weights)

    def compute(cm: Array) -> Array:
        diag = jnp.diagonal(cm)
        denominator = jnp.sum(cm, 0) + jnp.sum(cm, 1) - diag
        num_valid = jnp.sum((denominator != 0).astype(jnp.float32))
        iou = diag / jnp.where(denominator > 0, denominator, 1.0)
        return jnp.where(num_valid > 0, jnp.sum(iou) / jnp.maximum(num_valid, 1.0), 0.0)

    return _additive(lambda: _zeros((num_classes, num_classes)), batch, compute)


class KappaState(NamedTuple):
    """Per class: agreements ``po``, predicted totals ``pe_row``, label totals ``pe_col``."""

    po: Array
    pe_row: Array
    pe_col: Array


def cohen_kappa(num_classes: int) -> Metric:
    """Cohen's kappa between labels and predicted class ids.

    ``update(state, labels, predictions_idx, weights=None)`` - labels first, as in slim.
    """
    if num_classes < 2:
        raise ValueError(f"`num_classes` must be >= 2.Found: {num_classes}")

    def batch(labels, predictions_idx, weights=None):
        labels = jnp.asarray(labels)
        if labels.ndim > 2:
            raise ValueError(f"labels must have rank at most 2, got shape {labels.shape}.")
        if labels.ndim == 2:
            labels = jnp.squeeze(labels, -1)
        predictions_idx, labels, weights = _squeeze_all(predictions_idx, labels, weights)
        cm = _confusion_matrix(labels, predictions_idx, num_classes, weights)
        return KappaState(jnp.diagonal(cm), jnp.sum(cm, 0), jnp.sum(cm, 1))

    def compute(s: KappaState) -> Array:
        total = jnp.sum(s.pe_row)
        pe_sum = jnp.sum(_div_no_nan(s.pe_row * s.pe_col, total))
        return _div_no_nan(jnp.sum(s.po) - pe_sum, total - pe_sum)

    empty = lambda: KappaState(_zeros((num_classes,)), _zeros((num_classes,)),
                               _zeros((num_classes,)))
    return _additive(empty, batch, compute)
