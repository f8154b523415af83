"""The research/slim nets outside ``nets_factory``: video (I3D, S3D-G) and GANs.

They are not in :mod:`jslim.nets.registry` (no published ImageNet head, no
preprocessing name), but are listed here, one record per net, so tools and
tests can enumerate them::

    model = extra.build("s3dg", num_classes=400)          # under s3dg_arg_scope()
    variables = model.init(rng, clips)                   # clips [N, T, H, W, 3]
    logits, end_points = model.apply(variables, clips)

=====================  ==================================  =====================================
name                   module                              default arg scope
=====================  ==================================  =====================================
i3d                    :class:`~jslim.nets.i3d.I3D`         :func:`~jslim.nets.i3d.i3d_arg_scope`
s3dg                   :class:`~jslim.nets.s3dg.S3DG`       :func:`~jslim.nets.s3dg.s3dg_arg_scope`
dcgan_generator        ``dcgan.DCGANGenerator``            none
dcgan_discriminator    ``dcgan.DCGANDiscriminator``        none
cyclegan_generator     ``cyclegan.CycleGANGenerator``      its own ``arg_scope_fn`` field
pix2pix_generator      ``pix2pix.Pix2PixGenerator``        ``pix2pix_arg_scope``
pix2pix_discriminator  ``pix2pix.Pix2PixDiscriminator``    ``pix2pix_arg_scope``
=====================  ==================================  =====================================
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

from jslim.nets.cyclegan import CycleGANGenerator
from jslim.nets.dcgan import DCGANDiscriminator, DCGANGenerator
from jslim.nets.i3d import I3D, i3d_arg_scope
from jslim.nets.pix2pix import Pix2PixDiscriminator, Pix2PixGenerator, pix2pix_arg_scope
from jslim.nets.s3dg import S3DG, s3dg_arg_scope

__all__ = ["EXTRA_NETS", "ExtraNet", "build", "get_extra", "list_extra_networks"]


@dataclasses.dataclass(frozen=True)
class ExtraNet:
    """One net outside the factory.

    Attributes:
      name: its name here (slim's function name, suffixed for GAN halves).
      constructor: the Flax module class.
      arg_scope: the arg scope function slim's tests and users build it under, or
        None when it needs none.
      slim_function: the research/slim function it ports.
    """

    name: str
    constructor: Callable[..., Any]
    arg_scope: Callable[..., contextlib.AbstractContextManager] | None
    slim_function: str


EXTRA_NETS = (
    ExtraNet("i3d", I3D, i3d_arg_scope, "nets/i3d.py: i3d"),
    ExtraNet("s3dg", S3DG, s3dg_arg_scope, "nets/s3dg.py: s3dg"),
    ExtraNet("dcgan_generator", DCGANGenerator, None, "nets/dcgan.py: generator"),
    ExtraNet("dcgan_discriminator", DCGANDiscriminator, None, "nets/dcgan.py: discriminator"),
    ExtraNet("cyclegan_generator", CycleGANGenerator, None, "nets/cyclegan.py: cyclegan_generator_resnet"),
    ExtraNet("pix2pix_generator", Pix2PixGenerator, pix2pix_arg_scope, "nets/pix2pix.py: pix2pix_generator"),
    ExtraNet(
        "pix2pix_discriminator", Pix2PixDiscriminator, pix2pix_arg_scope, "nets/pix2pix.py: pix2pix_discriminator"
    ),
)
_BY_NAME = {net.name: net for net in EXTRA_NETS}


def list_extra_networks() -> list[str]:
    """Every name of :data:`EXTRA_NETS`, sorted."""
    return sorted(_BY_NAME)


def get_extra(name: str) -> ExtraNet:
    """The record of ``name``.

    Raises:
      ValueError: an unknown name (the message lists the valid ones).
    """
    if name not in _BY_NAME:
        raise ValueError(f"Unknown extra net {name!r}; valid: {', '.join(list_extra_networks())}.")
    return _BY_NAME[name]


def build(name: str, arg_scope_kwargs: Mapping[str, Any] | None = None, **net_kwargs: Any) -> Any:
    """Builds ``name`` under its default arg scope (called with ``arg_scope_kwargs``).

    Args:
      name: a name from :func:`list_extra_networks`.
      arg_scope_kwargs: arguments of the net's arg scope function (e.g.
        ``{'weight_decay': 1e-5}``); an error for nets without one.
      **net_kwargs: the module's fields (slim's options).

    Returns:
      The Flax module, carrying the arg scope it was built under.
    """
    net = get_extra(name)
    if net.arg_scope is None:
        if arg_scope_kwargs:
            raise ValueError(f"{name} has no default arg scope; got arg_scope_kwargs {dict(arg_scope_kwargs)}.")
        return net.constructor(**net_kwargs)
    with net.arg_scope(**dict(arg_scope_kwargs or {})):
        return net.constructor(**net_kwargs)
