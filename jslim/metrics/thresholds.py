"""Confusion counts at fixed thresholds and what is read off them: the ``*_at_thresholds``
metrics, ``auc``, ``curve_points``, ``f1_score`` and the operating-point metrics
(``sensitivity_at_specificity``, ``precision_at_recall``, ...)."""

from __future__ import annotations

from typing import Callable, Optional, Sequence

import jax.numpy as jnp
import numpy as np
from jax import Array

from jslim import weights_broadcast as wb
from jslim.metrics.base import (_EPSILON, Metric, _additive, _div_no_nan, _f32, _squeeze_all,
                                _zeros)
from jslim.metrics.confusion import ConfusionCounts, _empty_counts


def _threshold_counts(thresholds: np.ndarray, predictions, labels,
                      weights=None) -> ConfusionCounts:
    """Counts with ``predictions > thresholds[i]`` as positive, for every threshold.

    Each prediction is bucketed by how many (sorted) thresholds it exceeds; cumulative sums
    of the bucket weights give the counts in O(N log T + T) instead of O(N * T).
    """
    predictions, labels, weights = _squeeze_all(_f32(predictions), jnp.asarray(labels, bool),
                                                weights)
    if weights is None:
        weights = jnp.ones(predictions.shape, jnp.float32)
    else:
        weights = wb.broadcast_weights(weights, predictions)
    order = np.argsort(thresholds, kind="stable")
    sorted_thresholds = jnp.asarray(thresholds[order])
    flat = predictions.reshape(-1)
    exceeded = jnp.searchsorted(sorted_thresholds, flat, side="left")
    exceeded = jnp.where(jnp.isnan(flat), 0, exceeded)
    num = len(thresholds)
    positive = jnp.where(labels.reshape(-1), weights.reshape(-1), 0.0)
    negative = jnp.where(labels.reshape(-1), 0.0, weights.reshape(-1))
    pos_hist = _zeros((num + 1,)).at[exceeded].add(positive)
    neg_hist = _zeros((num + 1,)).at[exceeded].add(negative)

    def above(hist):  # sum of hist[j] for j > i
        return jnp.cumsum(hist[::-1])[::-1][1:]

    def at_or_below(hist):  # sum of hist[j] for j <= i
        return jnp.cumsum(hist)[:-1]

    inverse = np.argsort(order, kind="stable")
    return ConfusionCounts(tp=above(pos_hist)[inverse], fn=at_or_below(pos_hist)[inverse],
                           tn=at_or_below(neg_hist)[inverse], fp=above(neg_hist)[inverse])


def _threshold_metric(thresholds: Sequence[float],
                      compute: Callable[[ConfusionCounts], Array]) -> Metric:
    thresholds = np.asarray(thresholds, np.float32).reshape(-1)
    return _additive(lambda: _empty_counts(len(thresholds)),
                     lambda *a, **kw: _threshold_counts(thresholds, *a, **kw), compute)


def _even_thresholds(num_thresholds: int, upper: float = 1.0 + _EPSILON) -> np.ndarray:
    """TF's ``[-eps, 1/(n-1), ..., (n-2)/(n-1), upper]``."""
    inner = [(i + 1) * 1.0 / (num_thresholds - 1) for i in range(num_thresholds - 2)]
    return np.asarray([0.0 - _EPSILON] + inner + [upper], np.float32)


def true_positives_at_thresholds(thresholds: Sequence[float]) -> Metric:
    """Weighted true positives of ``predictions > t`` for each ``t``: ``[len(thresholds)]``.

    ``update(state, predictions, labels, weights=None)`` with predictions in [0, 1].
    """
    return _threshold_metric(thresholds, lambda c: c.tp)


def false_negatives_at_thresholds(thresholds: Sequence[float]) -> Metric:
    """Weighted false negatives per threshold; as :func:`true_positives_at_thresholds`."""
    return _threshold_metric(thresholds, lambda c: c.fn)


def true_negatives_at_thresholds(thresholds: Sequence[float]) -> Metric:
    """Weighted true negatives per threshold; as :func:`true_positives_at_thresholds`."""
    return _threshold_metric(thresholds, lambda c: c.tn)


def false_positives_at_thresholds(thresholds: Sequence[float]) -> Metric:
    """Weighted false positives per threshold; as :func:`true_positives_at_thresholds`."""
    return _threshold_metric(thresholds, lambda c: c.fp)


def precision_at_thresholds(thresholds: Sequence[float]) -> Metric:
    """``tp / (tp + fp + 1e-7)`` per threshold; as :func:`true_positives_at_thresholds`."""
    return _threshold_metric(thresholds, lambda c: c.tp / (_EPSILON + c.tp + c.fp))


def recall_at_thresholds(thresholds: Sequence[float]) -> Metric:
    """``tp / (tp + fn + 1e-7)`` per threshold; as :func:`true_positives_at_thresholds`."""
    return _threshold_metric(thresholds, lambda c: c.tp / (_EPSILON + c.tp + c.fn))


def false_positive_rate_at_thresholds(thresholds: Sequence[float]) -> Metric:
    """``fp / (fp + tn + 1e-7)`` per threshold; as :func:`true_positives_at_thresholds`."""
    return _threshold_metric(thresholds, lambda c: c.fp / (_EPSILON + c.fp + c.tn))


def false_negative_rate_at_thresholds(thresholds: Sequence[float]) -> Metric:
    """``fn / (fn + tp + 1e-7)`` per threshold; as :func:`true_positives_at_thresholds`."""
    return _threshold_metric(thresholds, lambda c: c.fn / (_EPSILON + c.fn + c.tp))


def _interpolate_pr_auc(c: ConfusionCounts) -> Array:
    """Davis & Goadrich's interpolation of the PR curve between thresholds (TF's formula)."""
    dtp = c.tp[:-1] - c.tp[1:]
    p = c.tp + c.fp
    prec_slope = _div_no_nan(dtp, jnp.maximum(p[:-1] - p[1:], 0))
    intercept = c.tp[1:] - prec_slope * p[1:]
    safe_p_ratio = jnp.where((p[:-1] > 0) & (p[1:] > 0),
                             _div_no_nan(p[:-1], jnp.maximum(p[1:], 0)), jnp.ones_like(p[1:]))
    return jnp.sum(_div_no_nan(prec_slope * (dtp + intercept * jnp.log(safe_p_ratio)),
                               jnp.maximum(c.tp[1:] + c.fn[1:], 0)))


def _curve(c: ConfusionCounts, curve: str) -> tuple[Array, Array]:
    """(x, y) points of the ROC (fpr, recall) or PR (recall, precision) curve."""
    epsilon = 1.0e-6
    rec = (c.tp + epsilon) / (c.tp + c.fn + epsilon)
    if curve == "ROC":
        return c.fp / (c.fp + c.tn + epsilon), rec
    return rec, (c.tp + epsilon) / (c.tp + c.fp + epsilon)


_SUMMATION = {
    "trapezoidal": lambda y0, y1: (y0 + y1) / 2.0,
    "careful_interpolation": lambda y0, y1: (y0 + y1) / 2.0,
    "minoring": jnp.minimum,
    "majoring": jnp.maximum,
}


def _check_curve(curve: str) -> None:
    if curve not in ("ROC", "PR"):
        raise ValueError(f"Curve must be either ROC or PR. Curve {curve} is unknown.")


def auc(num_thresholds: int = 200, curve: str = "ROC",
        summation_method: str = "trapezoidal",
        thresholds: Optional[Sequence[float]] = None) -> Metric:
    """Area under the ROC or PR curve from confusion counts at fixed thresholds.

    Args:
        num_thresholds: Evenly spaced thresholds in [0, 1] (with +-1e-7 end points).
        curve: ``'ROC'`` or ``'PR'``.
        summation_method: ``'trapezoidal'``, ``'careful_interpolation'`` (PR: Davis &
            Goadrich interpolation; ROC: trapezoidal), ``'minoring'`` or ``'majoring'``.
        thresholds: Explicit thresholds instead (sorted; end points added).

    Returns:
        Metric; ``update(state, predictions, labels, weights=None)`` with predictions in
        [0, 1]; ``compute`` gives a scalar.
    """
    _check_curve(curve)
    if summation_method not in _SUMMATION:
        raise ValueError(f"Invalid summation_method: {summation_method} summation_method "
                         f"should be one of {sorted(_SUMMATION)}.")
    if thresholds is not None:
        inner = sorted(float(t) for t in thresholds)
        thresholds = np.asarray([0.0 - _EPSILON] + inner + [1.0 + _EPSILON], np.float32)
    else:
        thresholds = _even_thresholds(num_thresholds)

    def compute(c: ConfusionCounts) -> Array:
        if curve == "PR" and summation_method == "careful_interpolation":
            return _interpolate_pr_auc(c)
        x, y = _curve(c, curve)
        return jnp.sum((x[:-1] - x[1:]) * _SUMMATION[summation_method](y[:-1], y[1:]))

    return _threshold_metric(thresholds, compute)


def curve_points(num_thresholds: int = 200, curve: str = "ROC") -> Metric:
    """The ``[num_thresholds, 2]`` points of the ROC (fpr, recall) or PR (recall,
    precision) curve, as ``streaming_curve_points``; arguments as :func:`auc`."""
    _check_curve(curve)
    return _threshold_metric(_even_thresholds(num_thresholds),
                             lambda c: jnp.stack(_curve(c, curve), axis=1))


def f1_score(num_thresholds: int = 200) -> Metric:
    """Best F1 over ``num_thresholds`` thresholds (slim's ``f1_score``).

    ``update(state, labels, predictions, weights=None)`` - labels first, as in slim.
    """
    thresholds = _even_thresholds(num_thresholds)

    def compute(c: ConfusionCounts) -> Array:
        prec = c.tp / (_EPSILON + c.tp + c.fp)
        rec = c.tp / (_EPSILON + c.tp + c.fn)
        return jnp.max(2.0 * prec * rec / (prec + rec + _EPSILON))

    metric = _threshold_metric(thresholds, compute)

    def update(state, labels, predictions, weights=None):
        return metric.update(state, predictions, labels, weights)

    return metric._replace(update=update)


def _check_unit(name: str, value: float) -> None:
    if not 0 <= value <= 1:
        raise ValueError(f"`{name}` must be in the range [0, 1]. Currently, `{name}` is {value}.")


def sensitivity_at_specificity(specificity: float, num_thresholds: int = 200) -> Metric:
    """Recall at the threshold whose specificity is closest to ``specificity``.

    ``update(state, predictions, labels, weights=None)`` with predictions in [0, 1].
    """
    _check_unit("specificity", specificity)

    def compute(c: ConfusionCounts) -> Array:
        specificities = c.tn / (c.tn + c.fp + _EPSILON)
        index = jnp.argmin(jnp.abs(specificities - specificity))
        return c.tp[index] / (c.tp[index] + c.fn[index] + _EPSILON)

    return _threshold_metric(_even_thresholds(num_thresholds), compute)


def specificity_at_sensitivity(sensitivity: float, num_thresholds: int = 200) -> Metric:
    """Specificity at the (last) threshold whose recall is closest to ``sensitivity``.

    TF's quirk is kept: its top threshold is ``1 - 1e-7``. Arguments as
    :func:`sensitivity_at_specificity`.
    """
    _check_unit("sensitivity", sensitivity)

    def compute(c: ConfusionCounts) -> Array:
        gaps = jnp.abs(c.tp / (c.tp + c.fn + _EPSILON) - sensitivity)
        index = len(gaps) - 1 - jnp.argmin(gaps[::-1])
        return c.tn[index] / (c.tn[index] + c.fp[index] + _EPSILON)

    return _threshold_metric(_even_thresholds(num_thresholds, 1.0 - _EPSILON), compute)


def precision_at_recall(target_recall: float, num_thresholds: int = 200) -> Metric:
    """Precision at the largest threshold whose recall is at least ``target_recall``.

    Arguments as :func:`sensitivity_at_specificity`.
    """
    _check_unit("target_recall", target_recall)

    def compute(c: ConfusionCounts) -> Array:
        recalls = c.tp / (c.tp + c.fn + _EPSILON)
        index = jnp.sum(recalls >= target_recall) - 1
        tp, fp = jnp.take(c.tp, index, mode="wrap"), jnp.take(c.fp, index, mode="wrap")
        return (tp + _EPSILON) / (tp + fp + _EPSILON)

    return _threshold_metric(_even_thresholds(num_thresholds), compute)


def recall_at_precision(precision: float, num_thresholds: int = 200,
                        strict_mode: bool = False) -> Metric:
    """Recall at the threshold whose precision is closest to ``precision``; with
    ``strict_mode``, at the lowest precision not below it (0 if none).

    Arguments as :func:`sensitivity_at_specificity`.
    """
    _check_unit("precision", precision)

    def compute(c: ConfusionCounts) -> Array:
        precisions = c.tp / (c.tp + c.fp + _EPSILON)
        if strict_mode:
            index = jnp.argmax(1.0 / (precisions - precision + _EPSILON))
        else:
            index = jnp.argmin(jnp.abs(precisions - precision))
        value = c.tp[index] / (c.tp[index] + c.fn[index] + _EPSILON)
        return jnp.where(precisions[index] >= precision, value, 0.0) if strict_mode else value

    return _threshold_metric(_even_thresholds(num_thresholds), compute)
