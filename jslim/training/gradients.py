"""What slim's ``create_train_op`` does to gradients, as optax transformations.

Variables are named by their slim name (the ``params`` tree path joined by '/').
Scopes follow slim: a scope matches a name when ``re.match(scope, name)``, i.e. a
plain scope string is a name prefix (``'LeNet/fc4'``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import jax
import jax.numpy as jnp
import optax

from jslim.checkpoints.naming import matches_scopes

__all__ = ["clip_gradient_norms", "multiply_gradients", "process_gradients", "slim_names", "train_only"]


def slim_names(tree: Any) -> Any:
    """A tree like ``tree`` whose leaves are the leaves' slim names (``'LeNet/fc3/weights'``)."""
    return jax.tree_util.tree_map_with_path(lambda path, _: "/".join(_key(k) for k in path), tree)


def _key(entry: Any) -> str:
    for attr in ("key", "name", "idx"):
        if hasattr(entry, attr):
            return str(getattr(entry, attr))
    return str(entry)


def multiply_gradients(gradient_multipliers: Mapping[str, float]) -> optax.GradientTransformation:
    """slim's ``multiply_gradients``: scales the gradient of every variable a key matches.

    Keys are slim names or scopes; a variable matched by several keys takes the
    longest (most specific) one.

    Raises:
      ValueError: an empty mapping (as slim).
    """
    if not gradient_multipliers:
        raise ValueError("`gradient_multipliers` is empty.")
    keys = sorted(gradient_multipliers, key=len, reverse=True)

    def multiplier(name: str) -> float:
        return next((gradient_multipliers[k] for k in keys if matches_scopes(name, [k])), 1.0)

    def update(updates, state, params=None):
        del params
        factors = jax.tree.map(multiplier, slim_names(updates))
        return jax.tree.map(lambda g, m: g if m == 1.0 else g * jnp.asarray(m, g.dtype), updates, factors), state

    return optax.GradientTransformation(lambda params: optax.EmptyState(), update)


def _clip_by_norm(t: jax.Array, clip_norm: float) -> jax.Array:
    """``tf.clip_by_norm``: ``t * clip_norm / max(||t||_2, clip_norm)``."""
    l2sum = jnp.sum(t * t)
    positive = l2sum > 0
    l2norm = jnp.where(positive, jnp.sqrt(jnp.where(positive, l2sum, 1.0)), l2sum)
    return t * clip_norm / jnp.maximum(l2norm, clip_norm)


def clip_gradient_norms(max_norm: float) -> optax.GradientTransformation:
    """slim's ``clip_gradient_norms``: clips EACH variable's gradient to norm ``max_norm``
    (not the global norm)."""
    if max_norm <= 0:
        raise ValueError(f"clip_gradient_norms: max_norm must be positive, got {max_norm}.")

    def update(updates, state, params=None):
        del params
        return jax.tree.map(lambda g: _clip_by_norm(g, max_norm), updates), state

    return optax.GradientTransformation(lambda params: optax.EmptyState(), update)


def train_only(inner: optax.GradientTransformation, trainable_scopes: Iterable[str]) -> optax.GradientTransformation:
    """Applies ``inner`` to the variables under ``trainable_scopes`` only (slim's
    ``_get_variables_to_train``); the others get zero updates and no optimizer state.

    Raises:
      ValueError: no scope given.
    """
    scopes = [s.strip() for s in trainable_scopes if s.strip()]
    if not scopes:
        raise ValueError("train_only: give at least one trainable scope.")

    def labels(params):
        names = slim_names(params)
        found = [n for n in jax.tree.leaves(names) if matches_scopes(n, scopes)]
        if not found:
            raise ValueError(f"--trainable_scopes {','.join(scopes)} matches no variable; the variables are: "
                             f"{', '.join(jax.tree.leaves(names))}.")
        return jax.tree.map(lambda n: "train" if matches_scopes(n, scopes) else "frozen", names)

    return optax.multi_transform({"train": inner, "frozen": optax.set_to_zero()}, labels)


def process_gradients(optimizer: optax.GradientTransformation, *, trainable_scopes: Iterable[str] | None = None,
                      gradient_multipliers: Mapping[str, float] | None = None,
                      clip_gradient_norm: float = 0.0) -> optax.GradientTransformation:
    """``optimizer`` preceded by slim's gradient processing, in ``create_train_op``'s order:
    multiply (``gradient_multipliers``), clip each norm (``clip_gradient_norm > 0``), apply,
    restricted to ``trainable_scopes`` (None: every ``params`` variable)."""
    parts = []
    if gradient_multipliers:
        parts.append(multiply_gradients(gradient_multipliers))
    if clip_gradient_norm > 0:
        parts.append(clip_gradient_norms(clip_gradient_norm))
    tx = optax.chain(*parts, optimizer) if parts else optimizer
    return train_only(tx, trainable_scopes) if trainable_scopes else tx
