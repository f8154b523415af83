"""TF-Slim's variable helpers over Flax variable trees, addressed by slim names.

Slim looked variables up in graph collections; here they live in a variables tree
``{collection: {scope: {...: array}}}`` whose paths are the slim names (see
``jslim.checkpoints.naming``). Every lookup returns a flat ``{slim name: leaf}`` dict in
the tree's order, and also accepts such a dict, so lookups compose like slim's lists::

    to_restore = get_variables_to_restore(variables, exclude=["InceptionV3/Logits"])
    init_fn = assign_from_checkpoint_fn("inception_v3.ckpt", to_restore)
    variables = init_fn(variables)

Scopes and suffixes are regexes matched at the start of names (``re.match``), as
slim's ``get_collection(key, scope)`` did.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from jslim.checkpoints import naming, slim_import
from jslim.checkpoints.tf_format import CheckpointMismatchError, open_tf_checkpoint

__all__ = [
    "assign_from_checkpoint_fn", "assign_from_values", "filter_variables",
    "get_model_variables", "get_trainable_variables", "get_unique_variable", "get_variables",
    "get_variables_by_name", "get_variables_by_suffix", "get_variables_to_restore",
]

TRAINABLE_COLLECTION = "params"


def _is_variables_tree(tree: Mapping) -> bool:
    return bool(tree) and all(isinstance(value, Mapping) for value in tree.values())


def _named(tree: Mapping) -> dict[str, Any]:
    """``{slim name: leaf}`` of a variables tree, or ``tree`` itself if already flat."""
    if _is_variables_tree(tree):
        return {name: leaf for name, (_, _, leaf) in naming.slim_variables(tree).items()}
    return dict(tree)


def get_variables(tree: Mapping, scope: str | None = None,
                  suffix: str | None = None) -> dict[str, Any]:
    """Variables whose name matches ``scope`` (a prefix regex) and ends with ``suffix``.

    Args:
      tree: a variables tree or a ``{slim name: leaf}`` dict.
      scope: keep names that ``re.match`` it; None keeps all.
      suffix: keep names that end with it (a regex, e.g. ``'weights'``).

    Returns:
      ``{slim name: leaf}``.
    """
    pattern = (scope or "") + (f".*{suffix}$" if suffix is not None else "")
    return {name: leaf for name, leaf in _named(tree).items() if re.match(pattern, name)}


def get_variables_by_name(tree: Mapping, given_name: str,
                          scope: str | None = None) -> dict[str, Any]:
    """Variables whose last name component is ``given_name`` (e.g. ``'weights'``)."""
    return {name: leaf for name, leaf in get_variables(tree, scope).items()
            if name.rsplit("/", 1)[-1] == given_name}


def get_variables_by_suffix(tree: Mapping, suffix: str, scope: str | None = None
                            ) -> dict[str, Any]:
    """Variables whose name ends with ``suffix``."""
    return get_variables(tree, scope, suffix)


def get_unique_variable(tree: Mapping, var_op_name: str) -> Any:
    """The leaf named exactly ``var_op_name``.

    Raises:
      ValueError: no such variable.
    """
    named = _named(tree)
    if var_op_name not in named:
        raise ValueError(f"no variable named {var_op_name!r}")
    return named[var_op_name]


def get_model_variables(tree: Mapping, scope: str | None = None,
                        suffix: str | None = None) -> dict[str, Any]:
    """The model's variables: all but optimizer slots, EMA shadows and ``global_step``."""
    return {name: leaf for name, leaf in get_variables(tree, scope, suffix).items()
            if not naming.is_training_state_name(name)}


def get_trainable_variables(tree: Mapping, scope: str | None = None,
                            suffix: str | None = None) -> dict[str, Any]:
    """The ``params`` collection's variables (what slim's TRAINABLE_VARIABLES held).

    Raises:
      ValueError: ``tree`` is a flat name dict, which does not say what is trainable.
    """
    if not _is_variables_tree(tree):
        raise ValueError("get_trainable_variables needs a variables tree ({collection: ...}); "
                         "a flat {name: leaf} dict does not say which collection is trainable")
    return get_variables({TRAINABLE_COLLECTION: tree.get(TRAINABLE_COLLECTION, {})}, scope, suffix)


def get_variables_to_restore(tree: Mapping, include: Iterable[str] | None = None,
                             exclude: Iterable[str] | None = None) -> dict[str, Any]:
    """Variables in any ``include`` scope (default all) and in no ``exclude`` scope."""
    named = _named(tree)
    exclude = list(exclude or ())
    return {name: leaf for name, leaf in named.items()
            if (include is None or naming.matches_scopes(name, include))
            and not naming.matches_scopes(name, exclude)}


def filter_variables(tree: Mapping, include_patterns: Iterable[str] | None = None,
                     exclude_patterns: Iterable[str] | None = None,
                     reg_search: bool = True) -> dict[str, Any]:
    """Variables matching any include pattern and no exclude pattern (slim's semantics).

    Args:
      tree: a variables tree or a ``{slim name: leaf}`` dict.
      include_patterns: regexes; None keeps all.
      exclude_patterns: regexes; None drops none.
      reg_search: ``re.search`` (anywhere) if True, else ``re.match`` (at the start).
    """
    find = re.search if reg_search else re.match
    include = None if include_patterns is None else list(include_patterns)
    exclude = list(exclude_patterns or ())
    return {name: leaf for name, leaf in _named(tree).items()
            if (include is None or any(find(p, name) for p in include))
            and not any(find(p, name) for p in exclude)}


def assign_from_checkpoint_fn(model_path: str | os.PathLike, var_list: Mapping,
                              ignore_missing_vars: bool = False) -> Callable[[Mapping], dict]:
    """A function that fills the variables of ``var_list`` from a TF checkpoint.

    Args:
      model_path: the checkpoint (anything ``open_tf_checkpoint`` takes).
      var_list: the variables to restore: a variables tree or ``{slim name: leaf}``
        (e.g. from ``get_variables_to_restore``).
      ignore_missing_vars: skip variables the checkpoint lacks (they keep their values)
        instead of raising.

    Returns:
      ``init_fn(variables) -> variables``: a new tree with those variables read from
      the checkpoint (cast to their dtype, placed on their sharding); the others kept.

    Raises:
      CheckpointMismatchError: (now) a variable is missing and not ignored; (when
        called) a variable's shape differs from the checkpoint's.
    """
    reader = open_tf_checkpoint(model_path)
    wanted = set(_named(var_list))
    missing = sorted(name for name in wanted if name not in reader)
    if missing and not ignore_missing_vars:
        raise CheckpointMismatchError(
            f"checkpoint {reader.path} lacks {len(missing)} variable(s) to restore: "
            f"{', '.join(missing)}; pass ignore_missing_vars=True to keep their values")

    def init_fn(variables: Mapping) -> dict:
        return slim_import.restore_variables(
            reader, variables, select=wanted.__contains__, source_name=reader.path,
            ignore_missing_vars=ignore_missing_vars, report_unexpected=False)

    return init_fn


def assign_from_values(variables: Mapping, var_names_to_values: Mapping[str, Any]) -> dict:
    """A copy of ``variables`` with the named variables set to the given values.

    Raises:
      CheckpointMismatchError: a name is not a variable, or a value's shape differs.
    """
    unknown = sorted(set(var_names_to_values) - set(_named(variables)))
    if unknown:
        raise CheckpointMismatchError(f"no variable named {', '.join(map(repr, unknown))}")
    return slim_import.restore_variables(
        var_names_to_values, variables, select=var_names_to_values.__contains__,
        source_name="(values given)", report_unexpected=False)
