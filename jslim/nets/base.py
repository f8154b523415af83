"""The base of every jslim net: a Flax module that keeps the arg scope it was built under."""

from __future__ import annotations

import contextlib
import dataclasses
from typing import ClassVar

import flax.linen as nn
import jax.numpy as jnp

from jslim.scopes import ArgScope, arg_scope, current_arg_scope

__all__ = ["SlimNet"]


class SlimNet(nn.Module):
    """A TF-Slim net as a Flax module returning ``(logits, end_points)``.

    ``slim_scope`` (keyword-only) captures :func:`jslim.scopes.current_arg_scope`
    when the module is constructed. Subclasses run their body inside
    ``with self.scoped():``, so the net computes the same thing wherever (and
    under whatever ambient scope) it is applied, and the scope, a hashable field,
    is part of every jit cache key that includes the module.

    Subclasses set ``default_image_size`` (and ``input_channels`` when not 3),
    used by :meth:`example_input`.
    """

    slim_scope: ArgScope = dataclasses.field(default_factory=current_arg_scope, kw_only=True)

    default_image_size: ClassVar[int] = 224
    input_channels: ClassVar[int] = 3

    def scoped(self) -> contextlib.AbstractContextManager[ArgScope]:
        """Enters the arg scope this net was built under (replacing the ambient one)."""
        return arg_scope(self.slim_scope)

    def example_input(self, batch_size: int = 1) -> jnp.ndarray:
        """Zeros ``[batch_size, size, size, channels]`` at the net's default image size."""
        size = self.default_image_size
        return jnp.zeros((batch_size, size, size, self.input_channels), jnp.float32)
