"""Shape-level helpers for the per-family net tests: trace without compiling."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp


class Fn(nn.Module):
    """Runs ``fn(x)`` (e.g. a ``*_base`` function calling jslim layers) as a Flax module."""

    fn: Callable[[jax.Array], Any]

    @nn.compact
    def __call__(self, x):
        return self.fn(x)


def trace(fn_or_model: Callable[[jax.Array], Any] | nn.Module, input_shape, **apply_kwargs) -> tuple[Any, dict]:
    """``(outputs, variables)`` of ``init`` as shape structs (``jax.eval_shape``: traced, not compiled)."""
    module = fn_or_model if isinstance(fn_or_model, nn.Module) else Fn(fn_or_model)
    x = jax.ShapeDtypeStruct(tuple(input_shape), jnp.float32)
    return jax.eval_shape(lambda x: module.init_with_output(jax.random.key(0), x, **apply_kwargs), x)


def shapes(end_points: dict[str, Any]) -> dict[str, tuple[int, ...]]:
    """``{end point: shape}``."""
    return {k: tuple(v.shape) for k, v in end_points.items()}


def names(variables: dict[str, Any]) -> dict[str, tuple[int, ...]]:
    """``{'<collection>/<tf name>': shape}`` over every collection."""
    out = {}
    for col, tree in variables.items():
        for path, leaf in jax.tree_util.tree_flatten_with_path(tree)[0]:
            out["/".join((col, *(str(p.key) for p in path)))] = tuple(leaf.shape)
    return out


def count(variables: dict[str, Any], collections=("params", "batch_stats")) -> int:
    """Number of scalars in ``collections`` (default: slim's model variables)."""
    return sum(math.prod(s) for n, s in names(variables).items() if n.split("/")[0] in collections)
