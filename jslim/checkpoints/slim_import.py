"""TF-Slim checkpoints <-> Flax variable trees, by the naming rule (see ``naming.py``).

A slim variable's TF name is its path in its collection, and jslim's layouts equal TF's,
so importing is a lookup per name: no rename table, no transpose. What slim did with
``init_fn``/``checkpoint_exclude_scopes``/``ignore_missing_vars`` and an EMA eval is
here as keyword arguments, and every mismatch is reported at once.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import jax
import numpy as np
from flax.core import meta

from jslim.checkpoints import naming
from jslim.checkpoints.naming import is_training_state_name, matches_scopes
from jslim.checkpoints.tf_format import (
    CheckpointError, CheckpointMismatchError, TensorReader, open_tf_checkpoint,
    write_tf_checkpoint)

EMA_SUFFIX = "/ExponentialMovingAverage"


@dataclasses.dataclass
class _Report:
    """Everything wrong between a checkpoint and a template, for one error."""

    source: str
    shapes: list[str] = dataclasses.field(default_factory=list)
    missing: list[str] = dataclasses.field(default_factory=list)
    unexpected: list[str] = dataclasses.field(default_factory=list)
    no_value: list[str] = dataclasses.field(default_factory=list)

    def raise_if_any(self) -> None:
        sections = [
            ("shape or dtype mismatch (checkpoint vs template)", self.shapes),
            ("missing from the checkpoint", self.missing),
            ("unexpected in the checkpoint", self.unexpected),
            ("no value to keep: excluded or missing, but the template leaf is abstract "
             "(pass a concrete template, e.g. model.init(...), for these)", self.no_value)]
        lines = [f"  {title} ({len(names)}):\n" + "\n".join(f"    {n}" for n in names)
                 for title, names in sections if names]
        if lines:
            raise CheckpointMismatchError(
                f"checkpoint {self.source} does not fit the variables template:\n"
                + "\n".join(lines) + "\nTo keep the template's values for some variables pass "
                "exclude=['Scope/Name'] (or include=...), ignore_missing_vars=True for missing "
                "names, or label_offset=1 to load a 1001-class head into a 1000-class model.")


def _shape_dtype(source: Mapping[str, Any], name: str) -> tuple[tuple[int, ...], np.dtype]:
    if isinstance(source, TensorReader):
        return source.info(name)
    value = source[name]
    dtype = value.dtype if hasattr(value, "dtype") else np.asarray(value).dtype
    return tuple(np.shape(value)), np.dtype(dtype)


def _fit(name: str, shape_dtype, leaf: Any, label_offset: int) -> tuple[int, str | None]:
    """How many leading classes to drop from the last axis, or a mismatch message."""
    (shape, dtype), target = shape_dtype, tuple(leaf.shape)
    if dtype == np.dtype(object) and np.dtype(leaf.dtype) != dtype:
        return 0, f"{name}: string tensor vs {leaf.dtype} {target}"
    if shape == target:
        return 0, None
    if label_offset and shape[:-1] == target[:-1] and shape and shape[-1] == target[-1] + label_offset:
        return label_offset, None
    return 0, f"{name}: {shape} vs {target}"


def _place(array: np.ndarray, leaf: Any) -> Any:
    """``array`` cast to ``leaf``'s dtype and put where ``leaf`` lives (its sharding)."""
    if isinstance(leaf, meta.AxisMetadata):
        return leaf.replace_boxed(_place(array, leaf.unbox()))
    array = np.asarray(array).astype(leaf.dtype, copy=False)
    if isinstance(leaf, np.ndarray):
        return np.array(array)
    sharding = getattr(leaf, "sharding", None)
    return jax.device_put(array, sharding) if sharding is not None else jax.device_put(array)


def _unboxed(leaf: Any) -> Any:
    return leaf.unbox() if isinstance(leaf, meta.AxisMetadata) else leaf


def restore_variables(source: Mapping[str, Any], template: Mapping, *,
                      select: Callable[[str], bool], source_name: str,
                      ignore_missing_vars: bool = False, label_offset: int = 0,
                      use_moving_averages: bool = False, report_unexpected: bool = True) -> dict:
    """The importer's core: fills the ``select``-ed variables of ``template`` from ``source``.

    Args:
      source: ``{tf name: array}`` (a ``TensorReader`` reads lazily).
      template: a Flax variables tree or its ``jax.eval_shape``.
      select: which slim names to restore (others keep the template's value); also
        which checkpoint names may be reported as unexpected.
      source_name: names the source in errors.
      ignore_missing_vars, label_offset, use_moving_averages: see
        ``import_slim_checkpoint``.
      report_unexpected: report selected checkpoint names no variable takes.

    Returns:
      The filled tree (plain dicts), with the template's dtypes and shardings.
    """
    report = _Report(source_name)
    targets = naming.slim_variables(template)
    new, used = {}, set()
    for name, (collection, path, leaf) in targets.items():
        ema = name + EMA_SUFFIX
        stored = ema if use_moving_averages and ema in source else name
        if not select(name) or (stored not in source and ignore_missing_vars):
            if isinstance(_unboxed(leaf), jax.ShapeDtypeStruct):
                report.no_value.append(name)
            continue
        if stored not in source:
            report.missing.append(name)
            continue
        used.add(stored)
        offset, problem = _fit(stored, _shape_dtype(source, stored), _unboxed(leaf), label_offset)
        if problem:
            report.shapes.append(problem)
        else:
            new[(collection, path)] = (stored, offset, leaf)
    if report_unexpected:
        report.unexpected = [n for n in source if n not in used and n not in targets and select(n)
                             and not is_training_state_name(n)]
    report.raise_if_any()
    placed = {key: _place(source[stored][..., offset:] if offset else source[stored], leaf)
              for key, (stored, offset, leaf) in new.items()}
    return naming.replace_leaves(template, placed)


def _open(path_or_tensors: str | os.PathLike | Mapping[str, Any]) -> tuple[Mapping, str]:
    if isinstance(path_or_tensors, TensorReader):
        return path_or_tensors, path_or_tensors.path
    if isinstance(path_or_tensors, Mapping):
        return path_or_tensors, "(tensors given)"
    reader = open_tf_checkpoint(path_or_tensors)
    return reader, reader.path


def import_slim_checkpoint(path_or_tensors: str | os.PathLike | Mapping[str, Any],
                           template: Mapping, *, include: Iterable[str] | None = None,
                           exclude: Iterable[str] | None = None,
                           ignore_missing_vars: bool = False, label_offset: int = 0,
                           use_moving_averages: bool = False) -> dict:
    """Loads a TF-Slim checkpoint into a Flax variables tree, without TensorFlow.

    ``InceptionV3/Conv2d_1a_3x3/weights`` goes to
    ``variables['params']['InceptionV3']['Conv2d_1a_3x3']['weights']``: every collection
    but ``losses``/``intermediates`` is matched by path, as is.

    Args:
      path_or_tensors: a checkpoint path (anything ``open_tf_checkpoint`` takes), an
        opened checkpoint, or ``{tf name: array}``.
      template: the variables tree (``model.init(...)``) or its ``jax.eval_shape``; the
        result has its structure, dtypes (values are cast) and shardings (a
        ``ShapeDtypeStruct.sharding`` places each array, so big models land sharded).
      include: slim scopes (regexes matched at the start of names) to restore; default
        all.
      exclude: slim scopes not to restore, like ``checkpoint_exclude_scopes``; they keep
        the template's values (which must then be concrete).
      ignore_missing_vars: variables absent from the checkpoint keep the template's
        values instead of raising.
      label_offset: when 1, a checkpoint head with one more class (1001, with
        background class 0) loads into a 1000-class head: the first ``label_offset``
        entries of the last axis are dropped.
      use_moving_averages: read ``NAME/ExponentialMovingAverage`` where the checkpoint
        has one (slim's eval with ``moving_average_decay``).

    Returns:
      A new variables tree (plain dicts).

    Raises:
      CheckpointMismatchError: listing, at once, every variable of the wrong shape
        (both shapes), missing, or unexpected (checkpoint names no variable takes,
        other than optimizer slots, EMA shadows and ``global_step``).
      CheckpointError: the checkpoint cannot be read.
    """
    source, source_name = _open(path_or_tensors)
    include = None if include is None else list(include)
    exclude = list(exclude or ())

    def select(name: str) -> bool:
        return (include is None or matches_scopes(name, include)) and not matches_scopes(name, exclude)

    return restore_variables(source, template, select=select, source_name=source_name,
                             ignore_missing_vars=ignore_missing_vars, label_offset=label_offset,
                             use_moving_averages=use_moving_averages)


def variables_to_tensors(variables: Mapping) -> dict[str, np.ndarray]:
    """``{slim name: numpy array}`` of every variable (device arrays are fetched)."""
    return {name: np.asarray(jax.device_get(_unboxed(leaf)))
            for name, (_, _, leaf) in naming.slim_variables(variables).items()}


def export_slim_checkpoint(prefix: str | os.PathLike, variables: Mapping,
                           global_step: int | None = None) -> str:
    """Writes a Flax variables tree as a TF V2 checkpoint with TF-Slim names.

    TF can then restore it into the original slim graph
    (``tf.compat.v1.train.Saver().restore(sess, prefix)``).

    Args:
      prefix: the checkpoint prefix to write (``PREFIX.index`` + ``PREFIX.data-*``).
      variables: the variables tree (every collection but ``losses``/``intermediates``).
      global_step: when given, also writes the int64 scalar ``global_step`` that slim
        training graphs hold.

    Returns:
      The prefix written.
    """
    tensors = variables_to_tensors(variables)
    if global_step is not None:
        if "global_step" in tensors:
            raise CheckpointError("the variables already hold 'global_step'; do not pass global_step")
        tensors["global_step"] = np.int64(global_step)
    return write_tf_checkpoint(prefix, tensors)
