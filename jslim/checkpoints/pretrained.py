"""``load``: a registered net with a slim checkpoint's weights, in one call.

Exposed as ``jslim.nets.load``; it lives here because it joins the net registry
(below) to the checkpoint importer (this package).
"""

from __future__ import annotations

import os
from typing import Any

import jax

from jslim import nets
from jslim.checkpoints.slim_import import import_slim_checkpoint

__all__ = ["load"]


def load(
    name: str,
    checkpoint_path: str | os.PathLike,
    *,
    num_classes: int | None = -1,
    label_offset: int = 0,
    use_moving_averages: bool = False,
    image_size: int | None = None,
    **net_kwargs: Any,
) -> tuple[Any, dict[str, Any]]:
    """Builds net ``name`` and fills its variables from a slim checkpoint (V1 or V2).

    Args:
      name: a registered net name (``jslim.nets.list_networks()``).
      checkpoint_path: a checkpoint prefix, ``.index`` file, V1 file or directory.
      num_classes: the model's head size; ``-1`` keeps the published checkpoint's.
      label_offset: 1 to load a 1001-class (background) head into a 1000-class model.
      use_moving_averages: load ``.../ExponentialMovingAverage`` shadows when present.
      image_size: the input size the checkpoint's variables were made for, when it
        matters (nets whose fully connected layers depend on it); default the net's.
      **net_kwargs: the net's options (see ``jslim.nets.build``).

    Returns:
      ``(model, variables)``: ``model.apply(variables, images, is_training=False)``.

    Raises:
      jslim.checkpoints.CheckpointError: unreadable files or variables that do not fit
        (one error listing every offending name with both shapes).
    """
    model = nets.build(name, num_classes=num_classes, **net_kwargs)
    example = model.example_input()
    if image_size is not None:
        example = jax.numpy.zeros((1, image_size, image_size, example.shape[-1]), example.dtype)
    template = jax.eval_shape(model.init, jax.random.key(0), example)
    variables = import_slim_checkpoint(
        checkpoint_path, template, label_offset=label_offset, use_moving_averages=use_moving_averages
    )
    return model, variables
