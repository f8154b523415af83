"""Warm starts like slim's ``_get_init_fn``: weights from a TF-Slim checkpoint or a jslim run.

``--checkpoint_path`` names a TF V1/V2 checkpoint (file prefix or directory, read
without TensorFlow by :func:`jslim.checkpoints.import_slim_checkpoint`) or a jslim run
(its ``train_dir``, its ``checkpoints`` directory, or one step directory). Only the
model's variables are taken (weights and moving statistics; not the optimizer state or
the step), minus ``--checkpoint_exclude_scopes``, which keep their fresh initial values.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from jslim.checkpoints import import_slim_checkpoint
from jslim.checkpoints.naming import tree_to_tensor_names
from jslim.training.checkpointing import is_jslim_checkpoint, read_checkpoint

__all__ = ["jslim_checkpoint_tensors", "warm_start_variables"]

MODEL_COLLECTIONS = ("params", "batch_stats", "non_trainable")


def jslim_checkpoint_tensors(path: str | os.PathLike, use_moving_averages: bool = False) -> dict[str, np.ndarray]:
    """``{slim name: array}`` of the model variables in a jslim checkpoint (latest step
    unless ``path`` names one).

    Args:
      path: a run, its checkpoints directory, or a step directory.
      use_moving_averages: take the EMA weights (the run must have kept them).
    """
    state = read_checkpoint(path)[1]["state"]
    if use_moving_averages:
        if not state.get("ema_params"):
            raise ValueError(f"{path}: this run kept no moving averages (trained without --moving_average_decay).")
        state = dict(state, params=state["ema_params"])
    tensors = {}
    for collection in MODEL_COLLECTIONS:
        tensors.update(tree_to_tensor_names(state.get(collection) or {}))
    return {name: np.asarray(value) for name, value in tensors.items()}


def warm_start_variables(checkpoint_path: str | os.PathLike, variables: Mapping[str, Any], *,
                         exclude_scopes: Iterable[str] = (), ignore_missing_vars: bool = False,
                         label_offset: int = 0) -> dict[str, Any]:
    """``variables`` with every model variable not excluded read from ``checkpoint_path``.

    Args:
      checkpoint_path: a slim checkpoint or a jslim run (see the module docstring).
      variables: the freshly initialized variables (their values stay for excluded and,
        with ``ignore_missing_vars``, missing names).
      exclude_scopes: slim's ``--checkpoint_exclude_scopes`` (name prefixes).
      ignore_missing_vars: slim's ``--ignore_missing_vars``.
      label_offset: load a head with ``label_offset`` more classes (1001 -> 1000).

    Raises:
      jslim.checkpoints.CheckpointMismatchError: variables missing, unexpected or of the
        wrong shape (all listed at once).
    """
    source = jslim_checkpoint_tensors(checkpoint_path) if is_jslim_checkpoint(checkpoint_path) else checkpoint_path
    return import_slim_checkpoint(source, variables, exclude=[s for s in exclude_scopes if s],
                                  ignore_missing_vars=ignore_missing_vars, label_offset=label_offset)
