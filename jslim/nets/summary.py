"""``summary``: a per-layer table of output shapes, parameters and multiply-adds.

Like slim's ``model_analyzer``: parameters are counted per layer scope from the
variables; multiply-adds (MACs) per convolution / matrix product from the traced
computation, where every op carries its TF scope (``variable_scope`` opens a
``jax.named_scope``); the total FLOPs come from XLA's cost analysis of the
compiled forward pass.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterator, Sequence
from typing import Any

import jax
import jax.numpy as jnp
from jax.extend import core as jax_core

__all__ = ["LayerSummary", "Summary", "summary"]

_SKIP_COLLECTIONS = ("losses", "intermediates")


@dataclasses.dataclass
class LayerSummary:
    """One layer scope: its output shape, parameter count and multiply-adds."""

    scope: str
    output_shape: tuple[int, ...] = ()
    params: int = 0
    macs: int = 0


@dataclasses.dataclass
class Summary:
    """The per-layer rows and totals; ``str(summary)`` renders the table."""

    rows: list[LayerSummary]
    total_params: int
    total_macs: int
    flops: float | None

    def __str__(self) -> str:
        width = max([len(r.scope) for r in self.rows] + [5])
        lines = [f"{'layer':<{width}}  {'output shape':>20}  {'params':>12}  {'MACs':>15}"]
        for r in self.rows:
            shape = "x".join(map(str, r.output_shape)) if r.output_shape else "-"
            lines.append(f"{r.scope:<{width}}  {shape:>20}  {r.params:>12,}  {r.macs:>15,}")
        lines.append(f"{'total':<{width}}  {'':>20}  {self.total_params:>12,}  {self.total_macs:>15,}")
        if self.flops is not None:
            lines.append(f"XLA cost analysis: {self.flops:,.0f} FLOPs")
        return "\n".join(lines)


def _layer_scope(path: Sequence[str]) -> str:
    """``A/conv/BatchNorm/beta`` and ``A/conv/weights`` both belong to layer ``A/conv``."""
    parts = list(path[:-1])
    if parts and parts[-1] == "BatchNorm":
        parts = parts[:-1]
    return "/".join(parts)


def _param_counts(params: Any) -> dict[str, int]:
    counts: dict[str, int] = {}
    for path, leaf in jax.tree_util.tree_flatten_with_path(params)[0]:
        scope = _layer_scope([str(p.key) for p in path])
        counts[scope] = counts.get(scope, 0) + math.prod(leaf.shape)
    return counts


def _sub_jaxprs(eqn: Any) -> Iterator[Any]:
    for value in eqn.params.values():
        for item in value if isinstance(value, (list, tuple)) else (value,):
            if isinstance(item, jax_core.ClosedJaxpr):
                yield item.jaxpr
            elif isinstance(item, jax_core.Jaxpr):
                yield item


def _macs(eqn: Any) -> int:
    out = eqn.outvars[0].aval.shape
    if eqn.primitive.name == "conv_general_dilated":
        rhs = eqn.invars[1].aval.shape
        spec = eqn.params["dimension_numbers"].rhs_spec  # (out, in, *spatial)
        return math.prod(out) * rhs[spec[1]] * math.prod(rhs[d] for d in spec[2:])
    (lhs_contract, _), _ = eqn.params["dimension_numbers"]
    lhs = eqn.invars[0].aval.shape
    return math.prod(out) * math.prod(lhs[d] for d in lhs_contract)


def _resolve(scope: str, known: dict[str, int], module_name: str) -> str:
    """Maps an op's name stack (which may start with Flax module names) to a layer scope."""
    parts = scope.split("/")
    for i in range(len(parts)):
        if "/".join(parts[i:]) in known:
            return "/".join(parts[i:])
    return "/".join(parts[1:]) if parts[0] == module_name and len(parts) > 1 else scope


def _walk(jaxpr: Any, prefix: str, rows: dict[str, LayerSummary]) -> None:
    for eqn in jaxpr.eqns:
        stack = str(eqn.source_info.name_stack)
        scope = "/".join(p for p in (prefix, stack) if p)
        if eqn.primitive.name in ("conv_general_dilated", "dot_general"):
            row = rows.setdefault(scope, LayerSummary(scope))
            row.macs += _macs(eqn)
            row.output_shape = tuple(eqn.outvars[0].aval.shape)
        for sub in _sub_jaxprs(eqn):
            _walk(sub, scope, rows)


def summary(
    model: Any,
    input_shape: Sequence[int],
    *,
    dtype: Any = jnp.float32,
    xla_flops: bool = True,
    **apply_kwargs: Any,
) -> Summary:
    """Analyzes ``model`` on inputs of ``input_shape`` (no real data, nothing trained).

    Args:
      model: a jslim net (or any Flax module built from jslim layers).
      input_shape: e.g. ``(1, 224, 224, 3)``; MACs scale with the batch size.
      dtype: the input dtype.
      xla_flops: also compile the forward pass and report XLA's FLOP count.
      **apply_kwargs: more arguments for ``model.apply`` (``is_training=False`` by default).

    Returns:
      A :class:`Summary` (print it for the table).
    """
    images = jax.ShapeDtypeStruct(tuple(input_shape), dtype)
    variables = jax.eval_shape(model.init, jax.random.key(0), images)
    variables = {k: v for k, v in variables.items() if k not in _SKIP_COLLECTIONS}
    apply_kwargs.setdefault("is_training", False)

    def forward(v, x):
        return model.apply(v, x, **apply_kwargs)

    traced: dict[str, LayerSummary] = {}
    _walk(jax.make_jaxpr(forward)(variables, images).jaxpr, "", traced)
    counts = _param_counts(variables.get("params", {}))
    rows: dict[str, LayerSummary] = {}
    for scope, row in traced.items():
        scope = _resolve(scope, counts, type(model).__name__)
        merged = rows.setdefault(scope, LayerSummary(scope))
        merged.macs += row.macs
        merged.output_shape = row.output_shape
    for scope, count in counts.items():
        rows.setdefault(scope, LayerSummary(scope)).params += count
    flops = None
    if xla_flops:
        cost = jax.jit(forward).lower(variables, images).compile().cost_analysis()
        cost = cost[0] if isinstance(cost, (list, tuple)) else cost
        flops = float(cost.get("flops", 0.0)) if cost else None
    ordered = list(rows.values())
    return Summary(
        rows=ordered,
        total_params=sum(r.params for r in ordered),
        total_macs=sum(r.macs for r in ordered),
        flops=flops,
    )
