"""Binary confusion counts (tp, fn, tn, fp) and the rates built on them."""

from __future__ import annotations

from typing import Callable, NamedTuple, Optional

import jax.numpy as jnp
from jax import Array

from jslim import weights_broadcast as wb
from jslim.metrics.base import Metric, _additive, _div_no_nan, _squeeze_all, _zeros


class ConfusionCounts(NamedTuple):
    """Weighted true/false positives/negatives: float32 scalars, or ``[num_thresholds]``."""

    tp: Array
    fn: Array
    tn: Array
    fp: Array


def _empty_counts(num: Optional[int] = None) -> ConfusionCounts:
    shape = () if num is None else (num,)
    return ConfusionCounts(*(_zeros(shape) for _ in range(4)))


def _binary_counts(predictions, labels, weights=None) -> ConfusionCounts:
    predictions, labels, weights = _squeeze_all(jnp.asarray(predictions, bool),
                                                jnp.asarray(labels, bool), weights)
    weights = jnp.float32(1.0) if weights is None else wb.broadcast_weights(weights, labels)

    def weighted(mask):
        return jnp.sum(mask.astype(jnp.float32) * weights)

    return ConfusionCounts(tp=weighted(labels & predictions), fn=weighted(labels & ~predictions),
                           tn=weighted(~labels & ~predictions), fp=weighted(~labels & predictions))


def _binary_metric(compute: Callable[[ConfusionCounts], Array]) -> Metric:
    return _additive(_empty_counts, _binary_counts, compute)


def _ratio_or_zero(num: Array, other: Array) -> Array:
    return _div_no_nan(num, num + other)


def true_positives() -> Metric:
    """Weighted count of ``labels & predictions`` (both cast to bool). ``update(state,
    predictions, labels, weights=None)``."""
    return _binary_metric(lambda c: c.tp)


def false_negatives() -> Metric:
    """Weighted count of ``labels & ~predictions``; arguments as :func:`true_positives`."""
    return _binary_metric(lambda c: c.fn)


def true_negatives() -> Metric:
    """Weighted count of ``~labels & ~predictions``; arguments as :func:`true_positives`."""
    return _binary_metric(lambda c: c.tn)


def false_positives() -> Metric:
    """Weighted count of ``~labels & predictions``; arguments as :func:`true_positives`."""
    return _binary_metric(lambda c: c.fp)


def precision() -> Metric:
    """``tp / (tp + fp)`` (0 when empty); arguments as :func:`true_positives`."""
    return _binary_metric(lambda c: _ratio_or_zero(c.tp, c.fp))


def recall() -> Metric:
    """``tp / (tp + fn)`` (0 when empty); arguments as :func:`true_positives`."""
    return _binary_metric(lambda c: _ratio_or_zero(c.tp, c.fn))


def false_positive_rate() -> Metric:
    """``fp / (fp + tn)`` (0 when empty); arguments as :func:`true_positives`."""
    return _binary_metric(lambda c: _ratio_or_zero(c.fp, c.tn))


def false_negative_rate() -> Metric:
    """``fn / (fn + tp)`` (0 when empty); arguments as :func:`true_positives`."""
    return _binary_metric(lambda c: _ratio_or_zero(c.fn, c.tp))
