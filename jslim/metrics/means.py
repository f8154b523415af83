"""Weighted means: ``mean``, ``accuracy``, the error means, ``recall_at_k``, ``count``."""

from __future__ import annotations

from typing import Callable, NamedTuple, Optional, Sequence

import jax.numpy as jnp
from jax import Array
from jax.typing import ArrayLike

from jslim import weights_broadcast as wb
from jslim.metrics.base import Metric, _additive, _div_no_nan, _f32, _squeeze_all, _zeros


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
