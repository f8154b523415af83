"""``NetSpec``: the registry record of one net name (data, like timm's pretrained configs)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any


@dataclasses.dataclass(frozen=True)
class NetSpec:
    """Everything the registry knows about one ``nets_factory`` name.

    Attributes:
      name: the factory name, e.g. ``'inception_v3'``.
      constructor: builds the Flax module; takes ``num_classes`` and the net's options.
      arg_scope: the net's default ``*_arg_scope`` function (takes ``weight_decay``
        and its other options, returns a context manager).
      default_image_size: the input size of the published checkpoint.
      num_classes: classes of the published checkpoint's head.
      label_offset: 1 when the published head has a background class (1001).
      preprocessing: the name of slim's preprocessing function for this net.
      input_channels: image channels.
      defaults: constructor keyword arguments that define this variant
        (e.g. ``depth_multiplier=0.5`` for ``mobilenet_v1_050``).
    """

    name: str
    constructor: Callable[..., Any]
    arg_scope: Callable[..., Any]
    default_image_size: int
    num_classes: int
    label_offset: int = 0
    preprocessing: str = "inception"
    input_channels: int = 3
    defaults: dict[str, Any] = dataclasses.field(default_factory=dict)
