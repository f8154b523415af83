"""TF-Slim's streaming metrics as pure, mergeable states.

A metric is a :class:`Metric`: four pure functions over a *state*, a pytree of arrays
holding sufficient statistics (sums, counts, confusion counts)::

    metric = metrics.auc(num_thresholds=200)
    state = metric.empty()
    for batch in batches:                       # or inside a jitted eval step
        state = metric.update(state, predictions=batch.p, labels=batch.y)
    value = metric.compute(state)
    # on several devices/hosts: state = metric.merge(state_a, state_b)

``update(state, ...)`` equals ``merge(state, update(empty(), ...))``, ``merge`` is
associative with ``empty()`` as identity (most merges add; covariance uses the parallel
co-moment rule), and every function is jit-able with static shapes. Streaming any batches
gives TF-Slim's value up to float32 rounding (TF keeps a few statistics in float64).

Configuration (``k``, ``num_thresholds``, ``num_classes``, ...) goes to the factory; the
per-batch tensors go to ``update`` under slim's argument names and order (slim puts
``predictions`` before ``labels``; ``f1_score`` and ``cohen_kappa`` put ``labels`` first).
Pass them by keyword. ``weights`` follow TF's rules: ``None``, a scalar, or an array whose
rank matches the values (one more or one fewer trailing axis is fixed up as in TF) with
each dimension 1 or equal; anything else raises ``ValueError``.

Each factory has slim's name; ``streaming_<name>`` aliases exist where slim had them.
Not provided: metrics whose state grows with the data (``streaming_concat``,
``streaming_dynamic_auc``, ``auc_with_confidence_intervals``). TF's run-time assertions
(predictions in [0, 1], labels in range) cannot run under ``jit``; out-of-range class ids
are ignored by the confusion-matrix metrics.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, NamedTuple, Optional, Sequence, Union

import jax
import jax.numpy as jnp
import numpy as np
from jax import Array
from jax.typing import ArrayLike

from jslim import weights_broadcast as wb

_EPSILON = 1e-7


class Metric(NamedTuple):
    """A streaming metric: ``empty() -> state``, ``update(state, ...) -> state``,
    ``merge(state, state) -> state`` and ``compute(state) -> value``."""

    empty: Callable[[], Any]
    update: Callable[..., Any]
    merge: Callable[[Any, Any], Any]
    compute: Callable[[Any], Any]


def _add(a: Any, b: Any) -> Any:
    return jax.tree.map(jnp.add, a, b)


def _additive(empty: Callable[[], Any], batch: Callable[..., Any],
              compute: Callable[[Any], Any]) -> Metric:
    """A metric whose state is a sum of per-batch statistics ``batch(...)``."""
    return Metric(empty=empty, update=lambda state, *a, **kw: _add(state, batch(*a, **kw)),
                  merge=_add, compute=compute)


def _f32(x: ArrayLike) -> Array:
    return jnp.asarray(x, jnp.float32)


def _zeros(shape: Sequence[int] = ()) -> Array:
    return jnp.zeros(tuple(shape), jnp.float32)


def _div_no_nan(num: Array, den: Array) -> Array:
    safe = jnp.where(den == 0, 1.0, den)
    return jnp.where(den == 0, 0.0, num / safe)


def _squeeze_all(predictions: ArrayLike, labels: Optional[ArrayLike],
                 weights: Optional[ArrayLike]):
    """``metrics_impl._remove_squeezable_dimensions`` + same-shape check."""
    predictions = jnp.asarray(predictions)
    if labels is not None:
        labels, predictions = wb.squeeze_labels_predictions(jnp.asarray(labels), predictions)
        wb.assert_same_shape(labels, predictions)
    return predictions, labels, wb.match_weight_rank(weights, predictions.ndim)


# --- means ------------------------------------------------------------------------------


class MeanState(NamedTuple):
    """Weighted sum of values and sum of weights (float32 scalars, or arrays for
    ``mean_tensor``)."""

    total: Array
    count: Array


def _mean_stats(values: ArrayLike, weights: Optional[ArrayLike] = None) -> MeanState:
    values = _f32(values)
    if weights is None:
        return MeanState(jnp.sum(values), jnp.asarray(values.size, jnp.float32))
    weights = wb.broadcast_weights(wb.match_weight_rank(weights, values.ndim), values)
    return MeanState(jnp.sum(values * weights), jnp.sum(weights))


def _mean_value(state: MeanState) -> Array:
    return _div_no_nan(state.total, jnp.maximum(state.count, 0))


def _mean_metric(to_values: Callable[..., tuple[Array, Optional[ArrayLike]]],
                 finish: Callable[[Array], Array] = lambda m: m) -> Metric:
    """A weighted mean of ``to_values(...) -> (values, weights)``, then ``finish``."""
    return _additive(lambda: MeanState(_zeros(), _zeros()),
                     lambda *a, **kw: _mean_stats(*to_values(*a, **kw)),
                     lambda state: finish(_mean_value(state)))


def mean() -> Metric:
    """Weighted mean of ``values``. ``update(state, values, weights=None)``."""
    return _mean_metric(lambda values, weights=None: (values, weights))


def mean_tensor(shape: Sequence[int]) -> Metric:
    """Element-wise weighted mean of tensors of static ``shape``.

    ``update(state, values, weights=None)``; ``compute`` returns an array of ``shape``.
    """
    shape = tuple(shape)

    def batch(values, weights=None):
        values = _f32(values)
        if values.shape != shape:
            raise ValueError(f"mean_tensor expects values of shape {shape}, got {values.shape}.")
        if weights is None:
            return MeanState(values, jnp.ones_like(values))
        weights = wb.broadcast_weights(wb.match_weight_rank(weights, values.ndim), values)
        return MeanState(values * weights, weights)

    return _additive(lambda: MeanState(_zeros(shape), _zeros(shape)), batch, _mean_value)


def accuracy() -> Metric:
    """Fraction of ``predictions == labels``. ``update(state, predictions, labels,
    weights=None)``."""

    def to_values(predictions, labels, weights=None):
        predictions, labels, weights = _squeeze_all(predictions, labels, weights)
        return (predictions.astype(labels.dtype) == labels).astype(jnp.float32), weights

    return _mean_metric(to_values)


def mean_absolute_error() -> Metric:
    """Weighted mean of ``|predictions - labels|``. ``update(state, predictions, labels,
    weights=None)``."""

    def to_values(predictions, labels, weights=None):
        predictions, labels, weights = _squeeze_all(_f32(predictions), _f32(labels), weights)
        return jnp.abs(predictions - labels), weights

    return _mean_metric(to_values)


def _squared_errors(predictions, labels, weights=None):
    predictions, labels, weights = _squeeze_all(_f32(predictions), _f32(labels), weights)
    return jnp.square(labels - predictions), weights


def mean_squared_error() -> Metric:
    """Weighted mean of ``(predictions - labels) ** 2``. ``update(state, predictions,
    labels, weights=None)``."""
    return _mean_metric(_squared_errors)


def root_mean_squared_error() -> Metric:
    """Square root of :func:`mean_squared_error`."""
    return _mean_metric(_squared_errors, jnp.sqrt)


def mean_relative_error() -> Metric:
    """Weighted mean of ``|labels - predictions| / normalizer`` (0 where the normalizer is
    0). ``update(state, predictions, labels, normalizer, weights=None)``."""

    def to_values(predictions, labels, normalizer, weights=None):
        predictions, labels, weights = _squeeze_all(_f32(predictions), _f32(labels), weights)
        normalizer, predictions = wb.squeeze_labels_predictions(_f32(normalizer), predictions)
        wb.assert_same_shape(normalizer, predictions)
        safe = jnp.where(normalizer == 0, 1.0, normalizer)
        errors = jnp.where(normalizer == 0, 0.0, jnp.abs(labels - predictions) / safe)
        return errors, weights

    return _mean_metric(to_values)


def mean_cosine_distance(dim: int) -> Metric:
    """``1 -`` weighted mean of ``sum(predictions * labels, dim)`` (unit vectors along
    ``dim``). ``update(state, predictions, labels, weights=None)``; weights broadcast to the
    values with ``dim`` reduced to size 1."""

    def to_values(predictions, labels, weights=None):
        predictions, labels, weights = _squeeze_all(_f32(predictions), _f32(labels), weights)
        return jnp.sum(predictions * labels, axis=dim, keepdims=True), weights

    return _mean_metric(to_values, lambda m: 1.0 - m)


def percentage_less(threshold: float) -> Metric:
    """Weighted fraction of ``values < threshold``. ``update(state, values, weights=None)``."""
    return _mean_metric(
        lambda values, weights=None: ((_f32(values) < threshold).astype(jnp.float32), weights))


def recall_at_k(k: int) -> Metric:
    """Weighted fraction of examples whose label is in the top ``k`` predictions
    (``tf.nn.in_top_k``: ties at the boundary count as in; any non-finite score in a row
    counts as out). ``update(state, predictions[batch, classes], labels[batch],
    weights=None)``."""

    def to_values(predictions, labels, weights=None):
        predictions = _f32(predictions)
        labels = jnp.asarray(labels)
        num_classes = predictions.shape[-1]
        valid = (labels >= 0) & (labels < num_classes)
        safe = jnp.where(valid, labels, 0).astype(jnp.int32)
        target = jnp.take_along_axis(predictions, safe[:, None], axis=1)
        higher = jnp.sum(predictions > target, axis=1)
        finite = jnp.all(jnp.isfinite(predictions), axis=1)
        return (valid & finite & (higher < k)).astype(jnp.float32), weights

    return _mean_metric(to_values)


def count() -> Metric:
    """Number of values, or sum of their broadcast weights. ``update(state, values,
    weights=None)``."""
    return _additive(_zeros, lambda values, weights=None: _mean_stats(values, weights).count,
                     lambda state: state)


# --- binary confusion counts --------------------------------------------------------------


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


# --- confusion counts at thresholds -------------------------------------------------------


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


# --- multi-class confusion matrix ---------------------------------------------------------


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


# --- covariance and correlation -----------------------------------------------------------


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


# --- ranking metrics at k ---------------------------------------------------------------


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


# --- aggregation ------------------------------------------------------------------------

Args = Union[Sequence[Any], Mapping[str, Any]]


def _call_update(metric: Metric, state: Any, args: Args) -> Any:
    if isinstance(args, Mapping):
        return metric.update(state, **args)
    return metric.update(state, *args)


def aggregate_metric_map(names_to_metrics: Mapping[str, Metric]) -> Metric:
    """Bundles named metrics into one (slim's ``aggregate_metric_map``).

    The bundle's state is ``{name: state}``; ``update(states, names_to_args)`` takes, per
    name, the positional tuple or keyword dict for that metric's ``update``; ``compute``
    returns ``{name: value}`` (slim's ``names_to_values``)::

        bundle = aggregate_metric_map({"Accuracy": accuracy(), "Recall_5": recall_at_k(5)})
        states = bundle.update(bundle.empty(), {
            "Accuracy": dict(predictions=pred, labels=labels),
            "Recall_5": dict(predictions=logits, labels=labels)})

    Args:
        names_to_metrics: Metric per name.

    Returns:
        A :class:`Metric` over dicts of states.
    """
    names_to_metrics = dict(names_to_metrics)

    def update(states, names_to_args: Mapping[str, Args]):
        missing = set(names_to_metrics) - set(names_to_args)
        if missing:
            raise ValueError(f"No update arguments for metrics {sorted(missing)}.")
        return {name: _call_update(metric, states[name], names_to_args[name])
                for name, metric in names_to_metrics.items()}

    return Metric(
        empty=lambda: {name: m.empty() for name, m in names_to_metrics.items()},
        update=update,
        merge=lambda a, b: {name: m.merge(a[name], b[name])
                            for name, m in names_to_metrics.items()},
        compute=lambda states: {name: m.compute(states[name])
                                for name, m in names_to_metrics.items()})


# --- slim's streaming_* names -----------------------------------------------------------

streaming_accuracy = accuracy
streaming_auc = auc
streaming_covariance = covariance
streaming_curve_points = curve_points
streaming_false_negative_rate = false_negative_rate
streaming_false_negative_rate_at_thresholds = false_negative_rate_at_thresholds
streaming_false_negatives = false_negatives
streaming_false_negatives_at_thresholds = false_negatives_at_thresholds
streaming_false_positive_rate = false_positive_rate
streaming_false_positive_rate_at_thresholds = false_positive_rate_at_thresholds
streaming_false_positives = false_positives
streaming_false_positives_at_thresholds = false_positives_at_thresholds
streaming_mean = mean
streaming_mean_absolute_error = mean_absolute_error
streaming_mean_cosine_distance = mean_cosine_distance
streaming_mean_iou = mean_iou
streaming_mean_relative_error = mean_relative_error
streaming_mean_squared_error = mean_squared_error
streaming_mean_tensor = mean_tensor
streaming_pearson_correlation = pearson_correlation
streaming_percentage_less = percentage_less
streaming_precision = precision
streaming_precision_at_thresholds = precision_at_thresholds
streaming_recall = recall
streaming_recall_at_k = recall_at_k
streaming_recall_at_thresholds = recall_at_thresholds
streaming_root_mean_squared_error = root_mean_squared_error
streaming_sensitivity_at_specificity = sensitivity_at_specificity
streaming_sparse_average_precision_at_k = sparse_average_precision_at_k
streaming_sparse_average_precision_at_top_k = sparse_average_precision_at_top_k
streaming_sparse_precision_at_k = sparse_precision_at_k
streaming_sparse_precision_at_top_k = sparse_precision_at_top_k
streaming_sparse_recall_at_k = sparse_recall_at_k
streaming_specificity_at_sensitivity = specificity_at_sensitivity
streaming_true_negatives = true_negatives
streaming_true_negatives_at_thresholds = true_negatives_at_thresholds
streaming_true_positives = true_positives
streaming_true_positives_at_thresholds = true_positives_at_thresholds
