"""What every metric module shares: the :class:`Metric` tuple of pure functions and the
small array helpers (sums of states, float32 casts, safe division, TF's squeezing)."""

from __future__ import annotations

from typing import Any, Callable, NamedTuple, Optional, Sequence

import jax
import jax.numpy as jnp
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
