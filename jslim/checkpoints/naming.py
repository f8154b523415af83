"""The naming rule: a TF-Slim variable name IS its path in its collection, joined by '/'.

``InceptionV3/Conv2d_1a_3x3/BatchNorm/moving_mean`` <->
``variables['batch_stats']['InceptionV3']['Conv2d_1a_3x3']['BatchNorm']['moving_mean']``.
Every collection holds slim variables except the per-call outputs ``losses`` and
``intermediates``. Pure Python: no JAX, no Flax (any ``Mapping`` is a tree node, so
``FrozenDict`` works too).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from jslim.checkpoints.tf_format.errors import CheckpointError

# Collections that hold per-call outputs, not variables.
NON_VARIABLE_COLLECTIONS = frozenset({"losses", "intermediates"})
# Names a TF training run adds beside the model's variables: optimizer slots and EMA
# shadows (a suffix, "_1" for a second slot, "_N" when TF uniquified the name), the
# step counter, Adam's power accumulators, TF2's object graph.
_SLOT = re.compile(
    r"/(Momentum|RMSProp|Adam|Adagrad|AdagradDA|Adadelta|Ftrl|ProximalAdagrad|Nadam|"
    r"LazyAdam|ExponentialMovingAverage|accumulator|gradient_accumulator|"
    r"gradient_squared_accumulator)(_\d+)*$")
_BOOKKEEPING = re.compile(r"^(global_step|beta[12]_power|_CHECKPOINTABLE_OBJECT_GRAPH)(_\d+)?$")


def is_training_state_name(name: str) -> bool:
    """Whether ``name`` is an optimizer slot, an EMA shadow, ``global_step`` or the like.

    The importer never reports such checkpoint names as unexpected.
    """
    return bool(_SLOT.search(name) or _BOOKKEEPING.match(name))


def matches_scopes(name: str, scopes: Iterable[str]) -> bool:
    """Slim's scope filter: ``re.match(scope, name)`` for any scope (a plain scope
    string is a name prefix, as in ``checkpoint_exclude_scopes``)."""
    return any(re.match(scope, name) for scope in scopes)


def _walk(tree: Mapping, path: tuple[str, ...]) -> Iterator[tuple[tuple[str, ...], Any]]:
    for key, value in tree.items():
        if not isinstance(key, str) or not key or "/" in key:
            raise CheckpointError(
                f"tree key {key!r} under {'/'.join(path) or 'the root'} cannot be part of a "
                "slim name: keys must be non-empty strings without '/'")
        if isinstance(value, Mapping):
            yield from _walk(value, (*path, key))
        else:
            yield (*path, key), value


def tree_paths(tree: Mapping) -> dict[tuple[str, ...], Any]:
    """``{path tuple: leaf}`` of a nested mapping, in its iteration order."""
    return dict(_walk(tree, ()))


def tree_to_tensor_names(tree: Mapping) -> dict[str, Any]:
    """Flattens one collection's tree to ``{'a/b/c': leaf}`` (the path join)."""
    return {"/".join(path): leaf for path, leaf in _walk(tree, ())}


def tensor_names_to_tree(tensors: Mapping[str, Any]) -> dict[str, Any]:
    """Nests ``{'a/b/c': leaf}`` into ``{'a': {'b': {'c': leaf}}}`` (the path split).

    Raises:
      CheckpointError: a name is both a leaf and a scope (e.g. ``x/weights`` and its
        optimizer slot ``x/weights/Momentum``: filter slots out first).
    """
    tree: dict[str, Any] = {}
    for name, leaf in tensors.items():
        *scopes, last = name.split("/")
        node = tree
        for depth, scope in enumerate(scopes):
            node = node.setdefault(scope, {})
            if not isinstance(node, dict):
                raise CheckpointError(
                    f"{name!r} lies under {'/'.join(scopes[:depth + 1])!r}, which is a tensor "
                    "itself: these names do not form a tree")
        if last in node or not last:
            raise CheckpointError(f"{name!r} cannot be a leaf: it is empty or a scope of other names")
        node[last] = leaf
    return tree


def slim_variables(variables: Mapping) -> dict[str, tuple[str, tuple[str, ...], Any]]:
    """``{slim name: (collection, path, leaf)}`` over every variable collection.

    Raises:
      CheckpointError: two collections hold the same slim name.
    """
    out: dict[str, tuple[str, tuple[str, ...], Any]] = {}
    for collection, tree in variables.items():
        if collection in NON_VARIABLE_COLLECTIONS or not isinstance(tree, Mapping):
            continue
        for path, leaf in _walk(tree, ()):
            name = "/".join(path)
            if name in out:
                raise CheckpointError(
                    f"slim name {name!r} is in both collections {out[name][0]!r} and "
                    f"{collection!r}; a checkpoint can hold only one of them")
            out[name] = (collection, path, leaf)
    return out


def replace_leaves(variables: Mapping, new: Mapping[tuple[str, tuple[str, ...]], Any]) -> dict:
    """A copy of ``variables`` with the leaves at ``{(collection, path): leaf}`` replaced.

    Nodes become plain dicts; untouched leaves (and non-variable collections) are kept.
    """
    def rebuild(node: Mapping, collection: str, path: tuple[str, ...]) -> dict:
        out = {}
        for key, value in node.items():
            here = (*path, key)
            if isinstance(value, Mapping):
                out[key] = rebuild(value, collection, here)
            else:
                out[key] = new.get((collection, here), value)
        return out

    return {collection: rebuild(tree, collection, ()) if isinstance(tree, Mapping) else tree
            for collection, tree in variables.items()}
