"""PNASNet-5, as in research/slim ``nets/nasnet/pnasnet.py`` (https://arxiv.org/abs/1712.00559).

PNASNet has one cell type (:class:`PNasNetNormalCell`), run with stride 2 where
NASNet would place a reduction cell; stem, aux head, classifier and variable
names are NASNet's (:mod:`jslim.nets.nasnet`):

==============  =====  =======  ==========  =========
variant         cells  filters  stem mult.  image
==============  =====  =======  ==========  =========
pnasnet_mobile  9      54       1.0         224 x 224
pnasnet_large   12     216      3.0         331 x 331
==============  =====  =======  ==========  =========

end_points: ``'Stem'``, ``'Cell_<i>'``, ``'global_pool'``, ``'Logits'``,
``'Predictions'`` and, in training with ``use_aux_head``, ``'AuxLogits'``.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable
from typing import Any, ClassVar

import jax

from jslim.nets import nasnet, nasnet_utils
from jslim.nets.nasnet import (  # pylint: disable=protected-access
    NasNetConfig,
    Step,
    _activation,
    _build,
    _build_aux_head,
    _check_final_endpoint,
    _final_layer,
    _imagenet_stem,
)
from jslim.nets.spec import NetSpec

__all__ = [
    "PNASNetLarge",
    "PNASNetMobile",
    "PNasNetNormalCell",
    "build_pnasnet_large",
    "build_pnasnet_mobile",
    "large_imagenet_config",
    "mobile_imagenet_config",
    "pnasnet_large_arg_scope",
    "pnasnet_mobile_arg_scope",
]


def large_imagenet_config() -> NasNetConfig:
    """PNASNet-5 Large ImageNet (331 x 331)."""
    return NasNetConfig(
        stem_multiplier=3.0,
        dense_dropout_keep_prob=0.5,
        num_cells=12,
        filter_scaling_rate=2.0,
        num_conv_filters=216,
        drop_path_keep_prob=0.6,
        use_aux_head=1,
        num_reduction_layers=2,
        skip_reduction_layer_input=1,
        total_training_steps=250000,
    )


def mobile_imagenet_config() -> NasNetConfig:
    """PNASNet-5 Mobile ImageNet (224 x 224)."""
    return NasNetConfig(
        stem_multiplier=1.0,
        dense_dropout_keep_prob=0.5,
        num_cells=9,
        filter_scaling_rate=2.0,
        num_conv_filters=54,
        drop_path_keep_prob=1.0,
        use_aux_head=1,
        num_reduction_layers=2,
        skip_reduction_layer_input=1,
        total_training_steps=250000,
    )


def pnasnet_large_arg_scope(
    weight_decay: float = 4e-5, batch_norm_decay: float = 0.9997, batch_norm_epsilon: float = 0.001
) -> contextlib.AbstractContextManager:
    """slim's ``pnasnet_large_arg_scope``: NASNet Large's scope with weight decay 4e-5."""
    return nasnet.nasnet_large_arg_scope(weight_decay, batch_norm_decay, batch_norm_epsilon)


def pnasnet_mobile_arg_scope(
    weight_decay: float = 4e-5, batch_norm_decay: float = 0.9997, batch_norm_epsilon: float = 0.001
) -> contextlib.AbstractContextManager:
    """slim's ``pnasnet_mobile_arg_scope``: NASNet Mobile's scope."""
    return nasnet.nasnet_mobile_arg_scope(weight_decay, batch_norm_decay, batch_norm_epsilon)


class PNasNetNormalCell(nasnet_utils.FixedNasNetCell):
    """The PNASNet-5 cell (also the reduction and stem cell, with stride 2)."""

    OPERATIONS = (
        "separable_5x5_2", "max_pool_3x3",
        "separable_7x7_2", "max_pool_3x3",
        "separable_5x5_2", "separable_3x3_2",
        "separable_3x3_2", "max_pool_3x3",
        "separable_3x3_2", "none",
    )
    USED_HIDDENSTATES = (1, 1, 0, 0, 0, 0, 0)
    HIDDENSTATE_INDICES = (1, 1, 0, 0, 0, 0, 4, 0, 1, 0)


def _build_pnasnet_base(
    images: jax.Array,
    normal_cell: nasnet_utils.NasNetABaseCell,
    num_classes: int | None,
    hparams: NasNetConfig,
    is_training: bool,
    final_endpoint: str | None = None,
    current_step: Step = None,
) -> tuple[jax.Array, dict[str, jax.Array]]:
    """The PNASNet body: ImageNet stem, cells (stride 2 at the reductions), aux head, classifier."""
    end_points: dict[str, jax.Array] = {}

    def add_and_check_endpoint(endpoint_name: str, net: jax.Array) -> bool:
        end_points[endpoint_name] = net
        return bool(final_endpoint) and endpoint_name == final_endpoint

    _check_final_endpoint(final_endpoint, hparams, reduction_cells=False)
    reduction_indices = nasnet_utils.calc_reduction_layers(hparams.num_cells, hparams.num_reduction_layers)
    net, cell_outputs = _imagenet_stem(images, hparams, normal_cell, current_step)
    if add_and_check_endpoint("Stem", net):
        return net, end_points

    aux_head_cell_idxes = [reduction_indices[1] - 1] if len(reduction_indices) >= 2 else []
    filter_scaling = 1.0
    true_cell_num = 2  # counts the stem cells
    activation_fn = _activation(hparams)
    prev_layer = None
    for cell_num in range(hparams.num_cells):
        is_reduction = cell_num in reduction_indices
        if is_reduction:
            filter_scaling *= hparams.filter_scaling_rate
        # Without skip_reduction_layer_input a reduction keeps the previous cell's prev_layer.
        if hparams.skip_reduction_layer_input or not is_reduction:
            prev_layer = cell_outputs[-2]
        net = normal_cell(
            net,
            scope=f"cell_{cell_num}",
            filter_scaling=filter_scaling,
            stride=2 if is_reduction else 1,
            prev_layer=prev_layer,
            cell_num=true_cell_num,
            current_step=current_step,
        )
        if add_and_check_endpoint(f"Cell_{cell_num}", net):
            return net, end_points
        true_cell_num += 1
        cell_outputs.append(net)
        if hparams.use_aux_head and cell_num in aux_head_cell_idxes and num_classes and is_training:
            _build_aux_head(activation_fn(net), end_points, num_classes, hparams, scope=f"aux_{cell_num}")
    return _final_layer(net, end_points, add_and_check_endpoint, num_classes, hparams)


def _pnasnet_body(
    images: jax.Array,
    num_classes: int | None,
    hparams: NasNetConfig,
    is_training: bool,
    final_endpoint: str | None,
    current_step: Step,
) -> tuple[jax.Array, dict[str, jax.Array]]:
    """The PNASNet cell run by :func:`_build_pnasnet_base`."""
    # No reduction cells in PNAS: the cells plus the two stem cells.
    normal_cell = PNasNetNormalCell(
        hparams.num_conv_filters,
        hparams.drop_path_keep_prob,
        hparams.num_cells + 2,
        hparams.total_training_steps,
        hparams.use_bounded_activation,
    )
    return _build_pnasnet_base(images, normal_cell, num_classes, hparams, is_training, final_endpoint, current_step)


# PNASNet-5 Mobile / Large: ``[N, 224 | 331, 224 | 331, 3] -> ([N, num_classes], end_points)``,
# ``(images, num_classes, is_training=True, final_endpoint=None, config=None, current_step=None)``.
build_pnasnet_mobile = functools.partial(_build, default_config=mobile_imagenet_config, body=_pnasnet_body)
build_pnasnet_large = functools.partial(_build, default_config=large_imagenet_config, body=_pnasnet_body)


class PNASNetMobile(nasnet.NASNetImageNet):
    """``build_pnasnet_mobile`` (224 x 224; options of :class:`jslim.nets.nasnet.NASNetImageNet`)."""

    default_image_size: ClassVar[int] = 224
    build_fn: ClassVar[Callable[..., Any]] = build_pnasnet_mobile


class PNASNetLarge(nasnet.NASNetImageNet):
    """``build_pnasnet_large`` (331 x 331; options of :class:`jslim.nets.nasnet.NASNetImageNet`)."""

    default_image_size: ClassVar[int] = 331
    build_fn: ClassVar[Callable[..., Any]] = build_pnasnet_large


REGISTRY = (
    NetSpec(
        name="pnasnet_mobile",
        constructor=PNASNetMobile,
        arg_scope=pnasnet_mobile_arg_scope,
        default_image_size=224,
        num_classes=1001,
        label_offset=1,
    ),
    NetSpec(
        name="pnasnet_large",
        constructor=PNASNetLarge,
        arg_scope=pnasnet_large_arg_scope,
        default_image_size=331,
        num_classes=1001,
        label_offset=1,
    ),
)
