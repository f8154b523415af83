"""Streaming covariance (Chan et al.'s mergeable co-moments) and Pearson correlation."""

from __future__ import annotations

from typing import NamedTuple, Optional

import jax.numpy as jnp
from jax import Array

from jslim import weights_broadcast as wb
from jslim.metrics.base import Metric, _div_no_nan, _f32, _squeeze_all, _zeros


class CovarianceState(NamedTuple):
    """Weight total, weighted means and co-moment ``sum w (x - mx)(y - my)``."""

    count: Array
    mean_prediction: Array
    mean_label: Array
    comoment: Array


def _merge_covariance(a: CovarianceState, b: CovarianceState) -> CovarianceState:
    """Chan et al.'s pairwise update (TF applies it with ``b`` = the new batch)."""
    count = a.count + b.count
    mean_prediction = a.mean_prediction + _div_no_nan(
        (b.mean_prediction - a.mean_prediction) * b.count, count)
    mean_label = a.mean_label + _div_no_nan((b.mean_label - a.mean_label) * b.count, count)
    cross = (a.mean_prediction - b.mean_prediction) * (a.mean_label - b.mean_label)
    comoment = a.comoment + (b.comoment + cross * _div_no_nan(a.count * b.count, count))
    return CovarianceState(count, mean_prediction, mean_label, comoment)


def _covariance_batch(predictions: Array, labels: Array,
                      weights: Optional[Array]) -> CovarianceState:
    if weights is None:
        count = jnp.asarray(labels.size, jnp.float32)
        weighted_p, weighted_l = predictions, labels
    else:
        weights = wb.broadcast_weights(weights, labels)
        count = jnp.sum(weights)
        weighted_p, weighted_l = predictions * weights, labels * weights
    mean_p = _div_no_nan(jnp.sum(weighted_p), count)
    mean_l = _div_no_nan(jnp.sum(weighted_l), count)
    residuals = (predictions - mean_p) * (labels - mean_l)
    comoment = jnp.sum(residuals if weights is None else residuals * weights)
    return CovarianceState(count, mean_p, mean_l, comoment)


def _empty_covariance() -> CovarianceState:
    return CovarianceState(*(_zeros() for _ in range(4)))


def _covariance_value(s: CovarianceState) -> Array:
    return jnp.where(s.count <= 1.0, jnp.nan, s.comoment / (s.count - 1))


def _prepared(predictions, labels, weights):
    return _squeeze_all(_f32(predictions), _f32(labels), weights)


def covariance() -> Metric:
    """Unbiased weighted covariance ``comoment / (sum(weights) - 1)`` (NaN until the
    weights sum above 1). ``update(state, predictions, labels, weights=None)``."""

    def update(state, predictions, labels, weights=None):
        return _merge_covariance(state, _covariance_batch(*_prepared(predictions, labels,
                                                                     weights)))

    return Metric(_empty_covariance, update, _merge_covariance, _covariance_value)


class PearsonState(NamedTuple):
    """Covariance states of (predictions, labels), (predictions, predictions) and
    (labels, labels)."""

    covariance: CovarianceState
    variance_predictions: CovarianceState
    variance_labels: CovarianceState


def pearson_correlation() -> Metric:
    """Pearson's r from three streaming covariances. ``update(state, predictions, labels,
    weights=None)``."""

    def update(state, predictions, labels, weights=None):
        predictions, labels, weights = _prepared(predictions, labels, weights)
        if weights is not None:
            weights = wb.broadcast_weights(weights, labels)
        batch = PearsonState(_covariance_batch(predictions, labels, weights),
                             _covariance_batch(predictions, predictions, weights),
                             _covariance_batch(labels, labels, weights))
        return merge(state, batch)

    def merge(a, b):
        return PearsonState(*(_merge_covariance(x, y) for x, y in zip(a, b)))

    def compute(s: PearsonState) -> Array:
        return _covariance_value(s.covariance) / (
            jnp.sqrt(_covariance_value(s.variance_predictions))
            * jnp.sqrt(_covariance_value(s.variance_labels)))

    empty = lambda: PearsonState(_empty_covariance(), _empty_covariance(), _empty_covariance())
    return Metric(empty, update, merge, compute)
