"""Bundling named metrics into one (slim's ``aggregate_metric_map``)."""

from __future__ import annotations

from typing import Any, Mapping, Sequence, Union

from jslim.metrics.base import Metric

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
