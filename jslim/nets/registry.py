"""The one registry of jslim nets: ``nets_factory`` names -> :class:`NetSpec`.

Each family module lists its records in a ``REGISTRY`` tuple; this module is the
one place that knows every family.
"""

from __future__ import annotations

import dataclasses
import difflib
import importlib
import inspect
from typing import Any

from jslim.nets.spec import NetSpec

__all__ = ["build", "get_spec", "list_networks"]

# Family modules under jslim.nets, each with a REGISTRY tuple of NetSpec.
_FAMILIES = (
    "lenet",
    "cifarnet",
    "alexnet",
    "overfeat",
    "vgg",
    "inception_v1",
    "inception_v2",
    "inception_v3",
    "inception_v4",
    "inception_resnet_v2",
    "resnet_v1",
    "resnet_v2",
    "mobilenet_v1",
    "mobilenet_v2",
    "mobilenet_v3",
    "nasnet",
    "pnasnet",
)

_SPECS: dict[str, NetSpec] | None = None


def _specs() -> dict[str, NetSpec]:
    global _SPECS  # pylint: disable=global-statement
    if _SPECS is None:
        specs: dict[str, NetSpec] = {}
        for family in _FAMILIES:
            try:
                module = importlib.import_module(f"jslim.nets.{family}")
            except ModuleNotFoundError as err:
                if err.name != f"jslim.nets.{family}":
                    raise
                continue
            for spec in module.REGISTRY:
                if spec.name in specs:
                    raise RuntimeError(f"net {spec.name!r} is registered twice (in jslim.nets.{family}).")
                specs[spec.name] = spec
        _SPECS = specs
    return _SPECS


def list_networks() -> list[str]:
    """Every registered net name, sorted."""
    return sorted(_specs())


def get_spec(name: str) -> NetSpec:
    """The registry record of ``name``.

    Raises:
      ValueError: an unknown name (the message lists the valid ones).
    """
    specs = _specs()
    if name not in specs:
        close = difflib.get_close_matches(name, specs, n=3)
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        raise ValueError(f"Unknown net {name!r}.{hint} Valid names: {', '.join(sorted(specs))}.")
    return specs[name]


def _field_names(constructor: Any) -> list[str]:
    if dataclasses.is_dataclass(constructor):
        return [f.name for f in dataclasses.fields(constructor) if f.name not in ("parent", "name", "slim_scope")]
    return list(inspect.signature(constructor).parameters)


def build(name: str, num_classes: int | None = -1, weight_decay: float = 0.0, **net_kwargs: Any) -> Any:
    """Builds net ``name`` under its default arg scope, like ``nets_factory.get_network_fn``.

    Args:
      name: a name from :func:`list_networks`.
      num_classes: logits size; ``-1`` (default) keeps the published
        checkpoint's; ``0``/``None`` builds the feature extractor.
      weight_decay: passed to the net's arg scope (slim's factory default 0.0).
      **net_kwargs: the net's options (``dropout_keep_prob``, ``spatial_squeeze``,
        ``global_pool``, ``depth_multiplier``...), overriding the variant's defaults.

    Returns:
      A Flax module: ``model.init(rng, images)``, ``model.apply(variables,
      images, is_training=False) -> (logits, end_points)``.

    Raises:
      ValueError: an unknown name. TypeError: an option the net does not take.
    """
    spec = get_spec(name)
    valid = _field_names(spec.constructor)
    unknown = sorted(set(net_kwargs) - set(valid))
    if unknown:
        raise TypeError(f"{name} has no option {', '.join(unknown)}; its options are: {', '.join(valid)}.")
    kwargs = {**spec.defaults, **net_kwargs}
    kwargs["num_classes"] = spec.num_classes if num_classes == -1 else num_classes
    with spec.arg_scope(weight_decay=weight_decay):
        return spec.constructor(**kwargs)
