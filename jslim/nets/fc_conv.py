"""What alexnet_v2, overfeat and vgg share: end points named like slim's outputs
collections, and the fully connected layers run as convolutions (fc6, fc7, fc8).

In TF-Slim these nets put ``conv2d`` / ``max_pool2d`` under
``arg_scope(..., outputs_collections=...)`` and turn the collection into the
end-point dict, so each layer's output is keyed by its full scope name
(``'vgg_16/conv1/conv1_1'``, ``'alexnet_v2/pool5'``). :func:`collect` does the
same for any jslim layer.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

import jax
import jax.numpy as jnp

from jslim import layers
from jslim.scopes import arg_scope

__all__ = ["FcConvOptions", "collect", "fc_conv_head", "trunc_normal_fc_conv_head"]


def collect(end_points: dict[str, jax.Array], layer: Callable[..., jax.Array]) -> Callable[..., jax.Array]:
    """``layer`` that also records its output as ``end_points['<scope path>/<scope>']``.

    The wrapped layer takes the same arguments, with ``scope`` required (slim's
    collections key an output by its scope). It works inside ``layers.repeat``:
    ``repeat(x, 2, collect(ep, conv2d), 64, [3, 3], scope='conv1')`` records
    ``'<net>/conv1/conv1_1'`` and ``'<net>/conv1/conv1_2'``.
    """

    def collected(inputs: jax.Array, *args: Any, scope: str, **kwargs: Any) -> jax.Array:
        outputs = layer(inputs, *args, scope=scope, **kwargs)
        end_points[f"{layers.scope_path()}/{scope}"] = outputs
        return outputs

    return collected


class FcConvOptions(Protocol):
    """The options of a net that :func:`fc_conv_head` reads."""

    num_classes: int | None
    dropout_keep_prob: float
    spatial_squeeze: bool
    global_pool: bool


def fc_conv_head(
    net: jax.Array,
    end_points: dict[str, jax.Array],
    options: FcConvOptions,
    *,
    is_training: bool,
    fc6_depth: int,
    fc6_kernel: tuple[int, int],
    fc6_padding: str = "VALID",
    **fc8_kwargs: Any,
) -> jax.Array:
    """fc6 (``fc6_kernel`` conv), dropout6, fc7 (1x1, 4096), then the optional logits.

    Like slim: ``options.global_pool`` averages fc7 over space (end point
    ``'global_pool'``); with ``options.num_classes`` set, dropout7 and the linear
    1x1 conv ``fc8`` follow (end point ``'<scope>/fc8'``, squeezed to ``[N,
    num_classes]`` when ``options.spatial_squeeze``). fc6 and fc7 are recorded
    like the other layers.

    Args:
      net: ``[N, H, W, C]`` features of the last pooling layer.
      end_points: the net's end points, updated in place.
      options: the net (``num_classes``: 0/None returns fc7 or its global pool;
        ``dropout_keep_prob`` of dropout6 and dropout7; ``spatial_squeeze``;
        ``global_pool``).
      is_training: apply dropout.
      fc6_depth, fc6_kernel, fc6_padding: the first fully connected layer as a conv.
      **fc8_kwargs: extra ``conv2d`` arguments of fc8 (e.g. ``biases_initializer``).

    Returns:
      Logits ``[N, num_classes]`` (``[N, h, w, num_classes]`` without squeeze), or
      fc7 features ``[N, h, w, 4096]`` without ``num_classes``.
    """
    conv = collect(end_points, layers.conv2d)
    net = conv(net, fc6_depth, fc6_kernel, padding=fc6_padding, scope="fc6")
    net = layers.dropout(net, options.dropout_keep_prob, is_training=is_training, scope="dropout6")
    net = conv(net, 4096, [1, 1], scope="fc7")
    if options.global_pool:
        net = end_points["global_pool"] = jnp.mean(net, axis=(1, 2), keepdims=True)
    if not options.num_classes:
        return net
    net = layers.dropout(net, options.dropout_keep_prob, is_training=is_training, scope="dropout7")
    net = layers.conv2d(
        net, options.num_classes, [1, 1], activation_fn=None, normalizer_fn=None, scope="fc8", **fc8_kwargs
    )
    if options.spatial_squeeze:
        net = jnp.squeeze(net, (1, 2))
    end_points[f"{layers.scope_path()}/fc8"] = net
    return net


def trunc_normal_fc_conv_head(
    net: jax.Array,
    end_points: dict[str, jax.Array],
    options: FcConvOptions,
    *,
    is_training: bool,
    fc6_depth: int,
    fc6_kernel: tuple[int, int],
) -> jax.Array:
    """AlexNet v2's and OverFeat's :func:`fc_conv_head` (VALID fc6).

    fc6-fc8 get truncated-normal(0.005) weights and 0.1 biases, except fc8's
    biases, which start at zero.
    """
    with arg_scope(
        [layers.conv2d],
        weights_initializer=layers.truncated_normal_initializer(0.0, 0.005),
        biases_initializer=layers.constant_initializer(0.1),
    ):
        return fc_conv_head(
            net,
            end_points,
            options,
            is_training=is_training,
            fc6_depth=fc6_depth,
            fc6_kernel=fc6_kernel,
            biases_initializer=layers.zeros_initializer(),
        )
