"""I3D (Inflated 3-D Inception v1), as in research/slim ``nets/i3d.py``.

Carreira and Zisserman, "Quo Vadis, Action Recognition? A New Model and the
Kinetics Dataset" (arXiv:1705.07750): :func:`jslim.nets.s3dg.s3dg_base` with a
7-frame first kernel, full 3-D convolutions from ``Conv2d_2c_3x3`` on and no
gating. Outside ``nets_factory`` (see :mod:`jslim.nets.extra`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import ClassVar

import flax.linen as nn
import jax

from jslim import layers
from jslim.nets.i3d_utils import VideoNet, video_arg_scope, video_logits_head
from jslim.nets.s3dg import s3dg_base
from jslim.scopes import arg_scope

__all__ = ["I3D", "i3d_arg_scope", "i3d_base"]


def i3d_arg_scope(
    weight_decay: float = 1e-7,
    batch_norm_decay: float = 0.999,
    batch_norm_epsilon: float = 0.001,
    use_renorm: bool = False,
    separable_conv3d: bool = False,
) -> contextlib.AbstractContextManager:
    """slim's ``i3d_arg_scope``: :func:`jslim.nets.i3d_utils.video_arg_scope`.

    Args:
      weight_decay: l2 scale of the convolution weights.
      batch_norm_decay: moving-average decay.
      batch_norm_epsilon: added to the variance.
      use_renorm: batch renormalization.
      separable_conv3d: separable spatiotemporal convolutions (S3D-style).
    """
    return video_arg_scope(weight_decay, batch_norm_decay, batch_norm_epsilon, use_renorm, separable_conv3d)


def i3d_base(
    inputs: jax.Array, final_endpoint: str = "Mixed_5c", scope: str | None = "InceptionV1"
) -> tuple[jax.Array, dict[str, jax.Array]]:
    """The I3D base, like slim's ``i3d_base``: :func:`s3dg_base` with
    ``first_temporal_kernel_size=7``, ``temporal_conv_startat='Conv2d_2c_3x3'``,
    ``gating_startat=None``, ``min_depth=16``, ``depth_multiplier=1.0``, ``'NDHWC'``.

    Args:
      inputs: ``[N, T, H, W, C]``.
      final_endpoint: the last end point built (see :data:`jslim.nets.s3dg.END_POINTS`).
      scope: the variable scope.

    Returns:
      ``(output of final_endpoint, end_points)``; ``Mixed_5c`` is ``[N, T/8,
      H/32, W/32, 1024]`` (rounded up).
    """
    return s3dg_base(
        inputs,
        first_temporal_kernel_size=7,
        temporal_conv_startat="Conv2d_2c_3x3",
        gating_startat=None,
        final_endpoint=final_endpoint,
        min_depth=16,
        depth_multiplier=1.0,
        data_format="NDHWC",
        scope=scope,
    )


class I3D(VideoNet):
    """I3D for video classification, like slim's ``i3d``.

    Variables: ``InceptionV1/<end point>/...`` (3-D ``weights`` and, under
    :func:`i3d_arg_scope`, ``BatchNorm/{beta,moving_mean,moving_variance}``)
    and ``InceptionV1/Logits/Conv2d_0c_1x1/{weights,biases}``. End points: those
    of :func:`i3d_base`, ``Logits``, ``Predictions``.

    Attributes:
      num_classes: logits size (slim always builds logits; use :func:`i3d_base`
        for features).
      dropout_keep_prob: keep probability of ``Logits/Dropout_0b`` in training.
      prediction_fn: logits -> ``end_points['Predictions']``.
      spatial_squeeze: logits ``[N, classes]`` instead of ``[N, 1, 1, classes]``.
    """

    num_classes: int = 1000
    dropout_keep_prob: float = 0.8
    prediction_fn: Callable[[jax.Array], jax.Array] = layers.softmax
    spatial_squeeze: bool = True

    default_image_size: ClassVar[int] = 224

    @nn.compact
    def __call__(self, clips: jax.Array, is_training: bool = False) -> tuple[jax.Array, dict[str, jax.Array]]:
        """``clips [N, T, 224, 224, 3] -> (logits [N, num_classes], end_points)``."""
        with self.scoped(), arg_scope([layers.batch_norm, layers.dropout], is_training=is_training):
            net, end_points = i3d_base(clips, scope="InceptionV1")
            with layers.variable_scope("InceptionV1"):
                logits = video_logits_head(
                    net, end_points, self.num_classes, self.dropout_keep_prob, self.prediction_fn,
                    self.spatial_squeeze,
                )
        return logits, end_points
