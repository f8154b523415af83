"""research/slim's MobileNet framework (``nets/mobilenet/``), shared by MobileNet V2 and V3.

:mod:`~jslim.nets.mobilenet.conv_blocks` holds the blocks (``expanded_conv``,
``squeeze_excite``, ``split_conv``...); :mod:`~jslim.nets.mobilenet.framework`
the nets-as-data machinery (``op``, ``ConvDefs``, ``mobilenet_base``,
``mobilenet``, ``training_scope``) and the :class:`Mobilenet` module base.
"""

from jslim.nets.mobilenet.framework import (
    ConvDefs,
    Mobilenet,
    Op,
    global_pool,
    mobilenet,
    mobilenet_base,
    op,
    training_scope,
)

__all__ = ["ConvDefs", "Mobilenet", "Op", "global_pool", "mobilenet", "mobilenet_base", "op", "training_scope"]
