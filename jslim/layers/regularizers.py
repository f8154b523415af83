"""TF-Slim's weight regularizers and the model's total regularization loss.

A regularizer is ``fn(weights) -> scalar`` (hashable frozen dataclasses here, so
they can sit in an ``arg_scope``). Layers take them as ``weights_regularizer`` /
``biases_regularizer``; during ``apply`` with a mutable ``losses`` collection,
each regularized variable records its loss at its own path in ``losses``,
replacing TF's ``REGULARIZATION_LOSSES`` graph collection.
"""

from __future__ import annotations

import dataclasses
import functools
import numbers
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp

from jslim.layers.variable_scope import LOSSES

__all__ = [
    "apply_regularization",
    "get_regularization_loss",
    "get_regularization_losses",
    "l1_l2_regularizer",
    "l1_regularizer",
    "l2_regularizer",
    "sum_regularizer",
]

Regularizer = Callable[[jax.Array], jax.Array]


def _check_scale(scale: Any, fn: str) -> float:
    if isinstance(scale, numbers.Integral) and not isinstance(scale, bool):
        raise ValueError(f"{fn}: scale cannot be an integer: {scale}")
    if not isinstance(scale, numbers.Real):
        raise TypeError(f"{fn}: scale must be a float, got {type(scale).__name__}.")
    if scale < 0.0:
        raise ValueError(f"{fn}: setting a scale less than 0 on a regularizer: {scale}.")
    return float(scale)


@dataclasses.dataclass(frozen=True)
class _L1L2:
    """``l1 * sum(|w|) + l2 * sum(w**2) / 2`` (TF's ``l2_loss`` halves the square)."""

    l1: float = 0.0
    l2: float = 0.0

    def __call__(self, weights: jax.Array) -> jax.Array:
        w = jnp.asarray(weights, jnp.float32)
        total = jnp.zeros((), jnp.float32)
        if self.l1:
            total = total + self.l1 * jnp.sum(jnp.abs(w))
        if self.l2:
            total = total + self.l2 * (jnp.sum(jnp.square(w)) / 2.0)
        return total


def _none(weights: jax.Array) -> None:
    del weights


def l1_regularizer(scale: float, scope: str | None = None) -> Regularizer:
    """``scale * sum(|w|)``; a scale of 0 gives a regularizer returning ``None``."""
    del scope
    scale = _check_scale(scale, "l1_regularizer")
    return _L1L2(l1=scale) if scale else _none


def l2_regularizer(scale: float, scope: str | None = None) -> Regularizer:
    """``scale * sum(w**2) / 2``; a scale of 0 gives a regularizer returning ``None``."""
    del scope
    scale = _check_scale(scale, "l2_regularizer")
    return _L1L2(l2=scale) if scale else _none


def l1_l2_regularizer(scale_l1: float = 1.0, scale_l2: float = 1.0, scope: str | None = None) -> Regularizer:
    """The sum of ``l1_regularizer(scale_l1)`` and ``l2_regularizer(scale_l2)``."""
    del scope
    parts = tuple(r for r in (l1_regularizer(scale_l1), l2_regularizer(scale_l2)) if r is not _none)
    return _Sum(parts) if parts else _none


@dataclasses.dataclass(frozen=True)
class _Sum:
    parts: tuple[Regularizer, ...]

    def __call__(self, weights: jax.Array) -> jax.Array | None:
        values = [v for v in (r(weights) for r in self.parts) if v is not None]
        return sum(values[1:], values[0]) if values else None


def sum_regularizer(regularizer_list: Sequence[Regularizer | None], scope: str | None = None) -> Regularizer | None:
    """A regularizer returning the sum of the non-``None`` results of the list.

    Like slim: ``None`` entries are dropped and an empty list gives ``None``;
    zero-scale regularizers contribute nothing.
    """
    del scope
    regularizers = [r for r in regularizer_list if r is not None]
    if not regularizers:
        return None
    parts = tuple(r for r in regularizers if r is not _none)
    return _Sum(parts) if parts else _none


def apply_regularization(regularizer: Regularizer, weights_list: Iterable[jax.Array] | None = None) -> jax.Array:
    """Sums ``regularizer`` over ``weights_list``, like ``slim.apply_regularization``.

    A ``None`` penalty (zero-scale regularizer) counts as 0. TF's default list
    (the ``WEIGHTS`` graph collection) does not exist here: pass the weights.

    Raises:
      ValueError: ``weights_list`` is empty or missing, or a penalty is not a scalar.
    """
    weights_list = list(weights_list or [])
    if not weights_list:
        raise ValueError("No weights to regularize.")
    penalties = [jnp.zeros((), jnp.float32) if p is None else jnp.asarray(p) for p in map(regularizer, weights_list)]
    for p in penalties:
        if p.ndim:
            raise ValueError(f"regularizer must return a scalar Tensor instead of a Tensor with rank {p.ndim}.")
    return sum(penalties[1:], penalties[0])


def _flatten(tree: Mapping[str, Any], prefix: str = "") -> dict[str, jax.Array]:
    out = {}
    for key, value in tree.items():
        path = f"{prefix}/{key}" if prefix else str(key)
        out.update(_flatten(value, path) if isinstance(value, Mapping) else {path: value})
    return out


# Top-level keys that mark a Flax variables dict rather than a `losses` collection.
_COLLECTIONS = frozenset({LOSSES, "params", "batch_stats", "non_trainable", "intermediates"})


def get_regularization_losses(losses: Mapping[str, Any], scope: str | None = None) -> dict[str, jax.Array]:
    """The per-variable regularization losses of a ``losses`` collection, by TF name.

    Args:
      losses: the ``losses`` collection returned by ``model.apply(...,
        mutable=["losses", ...])`` (or the whole mutated-variables dict).
      scope: keep only names starting with this scope, like TF's ``scope`` filter.
    """
    if _COLLECTIONS & set(losses):  # a variables dict: its `losses` collection, maybe absent
        losses = losses.get(LOSSES, {})
    flat = _flatten(losses)
    return {k: v for k, v in flat.items() if scope is None or k.startswith(scope)}


def get_regularization_loss(model: Any, variables: Mapping[str, Any], *args: Any, scope: str | None = None, **kwargs: Any) -> jax.Array:
    """A built model's total regularization loss, as ``tf.losses.get_regularization_loss()``.

    Weight regularization depends on the weights only, so the model is applied
    to an example input under ``jax.jit``, which lets XLA drop the forward
    computation; activity regularizers (``gdn``'s) depend on the input given.

    Args:
      model: a Flax module built from jslim layers.
      variables: its variables (``params`` and the rest, as from ``init``).
      *args: the model's inputs; when omitted, ``model.example_input()`` is used
        (jslim nets provide it).
      scope: keep only variables under this scope.
      **kwargs: more keyword arguments for ``model.apply``.

    Returns:
      A float32 scalar: the sum of every regularized variable's loss (0 if none).
    """
    if not args:
        example = getattr(model, "example_input", None)
        if example is None:
            raise TypeError(
                f"get_regularization_loss: pass an example input for {type(model).__name__} "
                "(its regularization does not depend on the values, only on the shapes)."
            )
        args = (example(),)
    state = {k: v for k, v in variables.items() if k != LOSSES}
    options = tuple(sorted(kwargs.items()))
    try:
        total = _jitted_total(model, scope, options)
    except TypeError:  # an unhashable model or option: compile without the cache
        total = _jitted_total.__wrapped__(model, scope, options)
    return total(state, *args)


@functools.lru_cache(maxsize=32)
def _jitted_total(model: Any, scope: str | None, options: tuple[tuple[str, Any], ...]) -> Callable[..., jax.Array]:
    """One compiled ``variables, inputs -> total loss`` per model (repeated calls do not recompile)."""

    def total(state, *args):
        _, mutated = model.apply(state, *args, mutable=[LOSSES], **dict(options))
        values = list(get_regularization_losses(mutated, scope).values())
        return sum(values, jnp.zeros((), jnp.float32))

    return jax.jit(total)
