"""NASNet-A, as in research/slim ``nets/nasnet/nasnet.py`` (https://arxiv.org/abs/1707.07012).

Three published variants share one body (:func:`_build_nasnet_base`): a stem, a
run of normal cells with two reduction cells spaced evenly among them, an
auxiliary head (training only) and a global-pool + fully-connected classifier.
The hyperparameters are data (:class:`NasNetConfig`; slim's ``HParams``):

=============  =====  =======  ==========  =========
variant        cells  filters  stem mult.  image
=============  =====  =======  ==========  =========
nasnet_cifar   18     32       3.0         32 x 32
nasnet_mobile  12     44       1.0         224 x 224
nasnet_large   18     168      3.0         331 x 331
=============  =====  =======  ==========  =========

Variables have no top-level scope (``cell_0/comb_iter_0/left/separable_5x5_1/
depthwise_weights``, ``final_layer/FC/weights``...). end_points: ``'Stem'``,
``'Cell_<i>'``, ``'Reduction_Cell_<j>'``, ``'global_pool'``, ``'Logits'``,
``'Predictions'`` and, in training with ``use_aux_head``, ``'AuxLogits'``.

The auxiliary head exists only in training, as in slim: to train, build the
variables with ``model.init(rng, images, is_training=True)``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
from collections.abc import Callable, Iterator
from typing import Any, ClassVar

import flax.linen as nn
import jax
import jax.numpy as jnp

from jslim import layers
from jslim.nets import nasnet_utils
from jslim.nets.base import SlimNet
from jslim.nets.spec import NetSpec
from jslim.scopes import arg_scope

__all__ = [
    "NASNetCifar",
    "NASNetImageNet",
    "NASNetLarge",
    "NASNetMobile",
    "NasNetConfig",
    "build_nasnet_cifar",
    "build_nasnet_large",
    "build_nasnet_mobile",
    "cifar_config",
    "large_imagenet_config",
    "mobile_imagenet_config",
    "nasnet_cifar_arg_scope",
    "nasnet_endpoint_names",
    "nasnet_large_arg_scope",
    "nasnet_mobile_arg_scope",
]

Step = jax.Array | int | None


@dataclasses.dataclass(frozen=True)
class NasNetConfig:
    """A NAS net's hyperparameters (slim's ``HParams``); hashable, so a module field.

    Change one with ``dataclasses.replace(cifar_config(), num_cells=6)``.

    Attributes:
      stem_multiplier: scales the stem's filters.
      drop_path_keep_prob: drop path keep probability in training (1.0: off).
      num_cells: normal cells (reduction cells come on top).
      use_aux_head: build the auxiliary head in training (0/1).
      num_conv_filters: filters per operation in the first cells.
      dense_dropout_keep_prob: dropout keep probability before the logits.
      filter_scaling_rate: filter growth at each reduction.
      num_reduction_layers: reductions among the cells.
      skip_reduction_layer_input: feed a cell the output from before the
        preceding reduction cell instead of the reduction cell's input.
      total_training_steps: steps over which drop path ramps up.
      data_format: ``'NHWC'`` or ``'NCHW'`` (images are always given NHWC).
      use_bounded_activation: ReLU6 and clipping instead of ReLU.
    """

    stem_multiplier: float
    drop_path_keep_prob: float
    num_cells: int
    use_aux_head: int
    num_conv_filters: int
    dense_dropout_keep_prob: float
    filter_scaling_rate: float
    num_reduction_layers: int
    skip_reduction_layer_input: int
    total_training_steps: int
    data_format: str = "NHWC"
    use_bounded_activation: bool = False

    def __post_init__(self):
        if self.data_format not in (nasnet_utils.DATA_FORMAT_NHWC, nasnet_utils.DATA_FORMAT_NCHW):
            raise ValueError(f"NasNetConfig.data_format must be 'NHWC' or 'NCHW', got {self.data_format!r}.")
        if self.num_cells < 1 or self.num_conv_filters < 1 or self.num_reduction_layers < 0:
            raise ValueError(
                "NasNetConfig needs num_cells >= 1, num_conv_filters >= 1 and num_reduction_layers >= 0; got "
                f"{self.num_cells}, {self.num_conv_filters}, {self.num_reduction_layers}."
            )
        for name in ("drop_path_keep_prob", "dense_dropout_keep_prob"):
            if not 0.0 < getattr(self, name) <= 1.0:
                raise ValueError(f"NasNetConfig.{name} must be in (0, 1], got {getattr(self, name)}.")


def cifar_config() -> NasNetConfig:
    """NASNet-A CIFAR (trained 600 epochs at batch 32, cosine decay, aux weight 0.4)."""
    return NasNetConfig(
        stem_multiplier=3.0,
        drop_path_keep_prob=0.6,
        num_cells=18,
        use_aux_head=1,
        num_conv_filters=32,
        dense_dropout_keep_prob=1.0,
        filter_scaling_rate=2.0,
        num_reduction_layers=2,
        skip_reduction_layer_input=0,
        total_training_steps=937500,
    )


def large_imagenet_config() -> NasNetConfig:
    """NASNet-A Large ImageNet (331 x 331)."""
    return NasNetConfig(
        stem_multiplier=3.0,
        dense_dropout_keep_prob=0.5,
        num_cells=18,
        filter_scaling_rate=2.0,
        num_conv_filters=168,
        drop_path_keep_prob=0.7,
        use_aux_head=1,
        num_reduction_layers=2,
        skip_reduction_layer_input=1,
        total_training_steps=250000,
    )


def mobile_imagenet_config() -> NasNetConfig:
    """NASNet-A Mobile ImageNet (224 x 224)."""
    return NasNetConfig(
        stem_multiplier=1.0,
        dense_dropout_keep_prob=0.5,
        num_cells=12,
        filter_scaling_rate=2.0,
        drop_path_keep_prob=1.0,
        num_conv_filters=44,
        use_aux_head=1,
        num_reduction_layers=2,
        skip_reduction_layer_input=0,
        total_training_steps=250000,
    )


def _update_hparams(hparams: NasNetConfig, is_training: bool) -> NasNetConfig:
    """Drop path is off outside training."""
    return hparams if is_training else dataclasses.replace(hparams, drop_path_keep_prob=1.0)


def _nasnet_arg_scope(
    weight_decay: float, batch_norm_decay: float, batch_norm_epsilon: float
) -> contextlib.AbstractContextManager:
    """The NAS nets' arg scope: l2 decay, FAN_OUT variance scaling, linear convs without biases."""
    batch_norm_params = {"decay": batch_norm_decay, "epsilon": batch_norm_epsilon, "scale": True, "fused": True}
    weighted = [layers.fully_connected, layers.conv2d, layers.separable_conv2d]
    with arg_scope(
        weighted,
        weights_regularizer=layers.l2_regularizer(weight_decay),
        weights_initializer=layers.variance_scaling_initializer(mode="FAN_OUT"),
    ):
        with arg_scope([layers.fully_connected], activation_fn=None, scope="FC"):
            with arg_scope([layers.conv2d, layers.separable_conv2d], activation_fn=None, biases_initializer=None):
                with arg_scope([layers.batch_norm], **batch_norm_params) as sc:
                    pass
    return arg_scope(sc)


def nasnet_cifar_arg_scope(
    weight_decay: float = 5e-4, batch_norm_decay: float = 0.9, batch_norm_epsilon: float = 1e-5
) -> contextlib.AbstractContextManager:
    """slim's ``nasnet_cifar_arg_scope`` (batch norm decay 0.9, epsilon 1e-5, with gamma)."""
    return _nasnet_arg_scope(weight_decay, batch_norm_decay, batch_norm_epsilon)


def nasnet_mobile_arg_scope(
    weight_decay: float = 4e-5, batch_norm_decay: float = 0.9997, batch_norm_epsilon: float = 1e-3
) -> contextlib.AbstractContextManager:
    """slim's ``nasnet_mobile_arg_scope`` (batch norm decay 0.9997, epsilon 1e-3, with gamma)."""
    return _nasnet_arg_scope(weight_decay, batch_norm_decay, batch_norm_epsilon)


def nasnet_large_arg_scope(
    weight_decay: float = 5e-5, batch_norm_decay: float = 0.9997, batch_norm_epsilon: float = 1e-3
) -> contextlib.AbstractContextManager:
    """slim's ``nasnet_large_arg_scope`` (batch norm decay 0.9997, epsilon 1e-3, with gamma)."""
    return _nasnet_arg_scope(weight_decay, batch_norm_decay, batch_norm_epsilon)


def _activation(hparams: NasNetConfig) -> Callable[[jax.Array], jax.Array]:
    return jax.nn.relu6 if hparams.use_bounded_activation else jax.nn.relu


def _build_aux_head(
    net: jax.Array, end_points: dict[str, jax.Array], num_classes: int, hparams: NasNetConfig, scope: str
) -> None:
    """The auxiliary classifier: 5x5/3 avg pool, 1x1 conv 128, full-size conv 768, FC."""
    activation_fn = _activation(hparams)
    with layers.variable_scope(scope), layers.variable_scope("aux_logits"):
        aux_logits = layers.avg_pool2d(net, [5, 5], stride=3, padding="VALID")
        aux_logits = layers.conv2d(aux_logits, 128, [1, 1], scope="proj")
        aux_logits = activation_fn(layers.batch_norm(aux_logits, scope="aux_bn0"))
        shape = aux_logits.shape[1:3] if hparams.data_format == nasnet_utils.DATA_FORMAT_NHWC else aux_logits.shape[2:4]
        aux_logits = layers.conv2d(aux_logits, 768, shape, padding="VALID")
        aux_logits = activation_fn(layers.batch_norm(aux_logits, scope="aux_bn1"))
        aux_logits = layers.flatten(aux_logits)
        end_points["AuxLogits"] = layers.fully_connected(aux_logits, num_classes)


def _imagenet_stem(
    inputs: jax.Array, hparams: NasNetConfig, stem_cell: nasnet_utils.NasNetABaseCell, current_step: Step = None
) -> tuple[jax.Array, list[jax.Array | None]]:
    """A VALID 3x3/2 conv then two stride-2 cells: 224 -> 111 -> 56 -> 28."""
    num_stem_cells = 2
    num_stem_filters = int(32 * hparams.stem_multiplier)
    net = layers.conv2d(inputs, num_stem_filters, [3, 3], stride=2, scope="conv0", padding="VALID")
    net = layers.batch_norm(net, scope="conv0_bn")
    cell_outputs: list[jax.Array | None] = [None, net]
    filter_scaling = 1.0 / (hparams.filter_scaling_rate**num_stem_cells)
    for cell_num in range(num_stem_cells):
        net = stem_cell(
            net,
            scope=f"cell_stem_{cell_num}",
            filter_scaling=filter_scaling,
            stride=2,
            prev_layer=cell_outputs[-2],
            cell_num=cell_num,
            current_step=current_step,
        )
        cell_outputs.append(net)
        filter_scaling *= hparams.filter_scaling_rate
    return net, cell_outputs


def _cifar_stem(inputs: jax.Array, hparams: NasNetConfig) -> tuple[jax.Array, list[jax.Array | None]]:
    """One 3x3 conv with ``num_conv_filters * stem_multiplier`` filters."""
    num_stem_filters = int(hparams.num_conv_filters * hparams.stem_multiplier)
    net = layers.conv2d(inputs, num_stem_filters, 3, scope="l1_stem_3x3")
    net = layers.batch_norm(net, scope="l1_stem_bn")
    return net, [None, net]


def nasnet_endpoint_names(hparams: NasNetConfig, reduction_cells: bool = True) -> list[str]:
    """The ``final_endpoint`` choices of a NAS net with ``hparams``, in build order."""
    names = ["Stem"]
    reduction_indices = nasnet_utils.calc_reduction_layers(hparams.num_cells, hparams.num_reduction_layers)
    for cell_num in range(hparams.num_cells):
        if reduction_cells and cell_num in reduction_indices:
            names.append(f"Reduction_Cell_{reduction_indices.index(cell_num)}")
        names.append(f"Cell_{cell_num}")
    return names + ["global_pool", "Logits", "Predictions"]


def _check_final_endpoint(final_endpoint: str | None, hparams: NasNetConfig, reduction_cells: bool = True) -> None:
    valid = nasnet_endpoint_names(hparams, reduction_cells)
    if final_endpoint is not None and final_endpoint not in valid:
        raise ValueError(f"Unknown final_endpoint {final_endpoint!r}; valid end points: {', '.join(valid)}.")


def _final_layer(
    net: jax.Array,
    end_points: dict[str, jax.Array],
    add_and_check_endpoint: Callable[[str, jax.Array], bool],
    num_classes: int | None,
    hparams: NasNetConfig,
) -> tuple[jax.Array, dict[str, jax.Array]]:
    """ReLU, global average pool, dropout, ``FC``; slim returns the pre-FC features
    (not the logits) when ``final_endpoint`` is ``'Logits'`` or ``'Predictions'``."""
    with layers.variable_scope("final_layer"):
        net = nasnet_utils.global_avg_pool(_activation(hparams)(net))
        if add_and_check_endpoint("global_pool", net) or not num_classes:
            return net, end_points
        net = layers.dropout(net, hparams.dense_dropout_keep_prob, scope="dropout")
        logits = layers.fully_connected(net, num_classes)
        if add_and_check_endpoint("Logits", logits):
            return net, end_points
        if add_and_check_endpoint("Predictions", jax.nn.softmax(logits, axis=-1)):
            return net, end_points
    return logits, end_points


def _build_nasnet_base(
    images: jax.Array,
    normal_cell: nasnet_utils.NasNetABaseCell,
    reduction_cell: nasnet_utils.NasNetABaseCell,
    num_classes: int | None,
    hparams: NasNetConfig,
    is_training: bool,
    stem_type: str,
    final_endpoint: str | None = None,
    current_step: Step = None,
) -> tuple[jax.Array, dict[str, jax.Array]]:
    """The NASNet body: stem, cells with reductions, aux head, classifier."""
    end_points: dict[str, jax.Array] = {}

    def add_and_check_endpoint(endpoint_name: str, net: jax.Array) -> bool:
        end_points[endpoint_name] = net
        return bool(final_endpoint) and endpoint_name == final_endpoint

    _check_final_endpoint(final_endpoint, hparams)
    reduction_indices = nasnet_utils.calc_reduction_layers(hparams.num_cells, hparams.num_reduction_layers)
    if stem_type == "imagenet":
        net, cell_outputs = _imagenet_stem(images, hparams, reduction_cell, current_step)
    elif stem_type == "cifar":
        net, cell_outputs = _cifar_stem(images, hparams)
    else:
        raise ValueError(f"Unknown stem_type {stem_type!r}; use 'imagenet' or 'cifar'.")
    if add_and_check_endpoint("Stem", net):
        return net, end_points

    aux_head_cell_idxes = [reduction_indices[1] - 1] if len(reduction_indices) >= 2 else []
    filter_scaling = 1.0
    true_cell_num = 2 if stem_type == "imagenet" else 0  # counts the stem cells
    prev_layer = None
    for cell_num in range(hparams.num_cells):
        if hparams.skip_reduction_layer_input:
            prev_layer = cell_outputs[-2]
        if cell_num in reduction_indices:
            filter_scaling *= hparams.filter_scaling_rate
            reduction_num = reduction_indices.index(cell_num)
            net = reduction_cell(
                net,
                scope=f"reduction_cell_{reduction_num}",
                filter_scaling=filter_scaling,
                stride=2,
                prev_layer=cell_outputs[-2],
                cell_num=true_cell_num,
                current_step=current_step,
            )
            if add_and_check_endpoint(f"Reduction_Cell_{reduction_num}", net):
                return net, end_points
            true_cell_num += 1
            cell_outputs.append(net)
        if not hparams.skip_reduction_layer_input:
            prev_layer = cell_outputs[-2]
        net = normal_cell(
            net,
            scope=f"cell_{cell_num}",
            filter_scaling=filter_scaling,
            stride=1,
            prev_layer=prev_layer,
            cell_num=true_cell_num,
            current_step=current_step,
        )
        if add_and_check_endpoint(f"Cell_{cell_num}", net):
            return net, end_points
        true_cell_num += 1
        if hparams.use_aux_head and cell_num in aux_head_cell_idxes and num_classes and is_training:
            _build_aux_head(_activation(hparams)(net), end_points, num_classes, hparams, scope=f"aux_{cell_num}")
        cell_outputs.append(net)
    return _final_layer(net, end_points, add_and_check_endpoint, num_classes, hparams)


@contextlib.contextmanager
def _net_arg_scope(hparams: NasNetConfig, is_training: bool) -> Iterator[None]:
    """``is_training`` for batch norm, dropout and drop path; ``data_format`` for every layer."""
    with arg_scope([layers.dropout, nasnet_utils.drop_path, layers.batch_norm], is_training=is_training):
        with arg_scope(
            [
                layers.avg_pool2d,
                layers.max_pool2d,
                layers.conv2d,
                layers.batch_norm,
                layers.separable_conv2d,
                nasnet_utils.factorized_reduction,
                nasnet_utils.global_avg_pool,
                nasnet_utils.get_channel_index,
                nasnet_utils.get_channel_dim,
            ],
            data_format=hparams.data_format,
        ):
            yield


def _to_data_format(images: jax.Array, hparams: NasNetConfig) -> jax.Array:
    if images.ndim != 4:
        raise ValueError(f"NAS nets take [batch, height, width, 3] images, got shape {images.shape}.")
    if hparams.data_format == nasnet_utils.DATA_FORMAT_NCHW:
        return jnp.transpose(images, (0, 3, 1, 2))
    return images


def _build(
    images: jax.Array,
    num_classes: int | None,
    is_training: bool = True,
    final_endpoint: str | None = None,
    config: NasNetConfig | None = None,
    current_step: Step = None,
    *,
    default_config: Callable[[], NasNetConfig],
    body: Callable[..., tuple[jax.Array, dict[str, jax.Array]]],
) -> tuple[jax.Array, dict[str, jax.Array]]:
    """slim's ``build_(p)nasnet_*``, callable inside an ``@nn.compact`` method.

    Args:
      images: ``[N, H, W, 3]``.
      num_classes: logits size; 0/None returns the ``global_pool`` features.
      is_training: batch statistics, dropout, drop path and the aux head.
      final_endpoint: stop after that end point and return it.
      config: hyperparameters (None: ``default_config()``).
      current_step: training step for the drop path schedule (None: ramp over;
        slim reads the global step).
      default_config: the variant's published hyperparameters.
      body: ``body(images, num_classes, hparams, is_training, final_endpoint,
        current_step)`` builds the cells and runs the net.

    Returns:
      ``(logits [N, num_classes], end_points)``.
    """
    hparams = _update_hparams(config if config is not None else default_config(), is_training)
    with _net_arg_scope(hparams, is_training):
        return body(_to_data_format(images, hparams), num_classes, hparams, is_training, final_endpoint, current_step)


def _nasnet_body(
    images: jax.Array,
    num_classes: int | None,
    hparams: NasNetConfig,
    is_training: bool,
    final_endpoint: str | None,
    current_step: Step,
    stem_type: str,
) -> tuple[jax.Array, dict[str, jax.Array]]:
    """NASNet-A's cells (normal and reduction) run by :func:`_build_nasnet_base`."""
    # Two reduction cells, plus two stem cells on ImageNet.
    total_num_cells = hparams.num_cells + 2 + (2 if stem_type == "imagenet" else 0)
    cell_args = (
        hparams.num_conv_filters,
        hparams.drop_path_keep_prob,
        total_num_cells,
        hparams.total_training_steps,
        hparams.use_bounded_activation,
    )
    return _build_nasnet_base(
        images,
        normal_cell=nasnet_utils.NasNetANormalCell(*cell_args),
        reduction_cell=nasnet_utils.NasNetAReductionCell(*cell_args),
        num_classes=num_classes,
        hparams=hparams,
        is_training=is_training,
        stem_type=stem_type,
        final_endpoint=final_endpoint,
        current_step=current_step,
    )


def build_nasnet_cifar(
    images: jax.Array,
    num_classes: int | None,
    is_training: bool = True,
    config: NasNetConfig | None = None,
    current_step: Step = None,
) -> tuple[jax.Array, dict[str, jax.Array]]:
    """NASNet-A CIFAR: ``[N, 32, 32, 3] -> ([N, num_classes], end_points)``; see :func:`_build`
    (no ``final_endpoint``; default config :func:`cifar_config`)."""
    body = functools.partial(_nasnet_body, stem_type="cifar")
    return _build(images, num_classes, is_training, None, config, current_step, default_config=cifar_config, body=body)


# NASNet-A Mobile / Large: ``[N, 224 | 331, 224 | 331, 3] -> ([N, num_classes], end_points)``,
# ``(images, num_classes, is_training=True, final_endpoint=None, config=None, current_step=None)``.
_IMAGENET_BODY = functools.partial(_nasnet_body, stem_type="imagenet")
build_nasnet_mobile = functools.partial(_build, default_config=mobile_imagenet_config, body=_IMAGENET_BODY)
build_nasnet_large = functools.partial(_build, default_config=large_imagenet_config, body=_IMAGENET_BODY)


class NASNetCifar(SlimNet):
    """``build_nasnet_cifar`` as a Flax module.

    ``model.apply(variables, images, is_training=False, current_step=None)``.

    Attributes:
      num_classes: logits size; 0/None returns the ``global_pool`` features ``[N, 768]``.
      config: hyperparameters, None for :func:`cifar_config`.
    """

    num_classes: int | None = 10
    config: NasNetConfig | None = None

    default_image_size: ClassVar[int] = 32

    @nn.compact
    def __call__(
        self, images: jax.Array, is_training: bool = False, current_step: Step = None
    ) -> tuple[jax.Array, dict[str, jax.Array]]:
        """``images [N, H, W, 3] -> (logits [N, num_classes], end_points)``."""
        with self.scoped():
            return build_nasnet_cifar(
                images, self.num_classes, is_training=is_training, config=self.config, current_step=current_step
            )


class NASNetImageNet(SlimNet):
    """An ImageNet NAS net as a Flax module: the options of slim's ``build_(p)nasnet_mobile/large``.

    Subclasses name the variant: ``build_fn`` and ``default_image_size``.
    ``model.apply(variables, images, is_training=False, current_step=None)``.

    Attributes:
      num_classes: logits size; 0/None returns the ``global_pool`` features.
      final_endpoint: stop after this end point and return it.
      config: hyperparameters, None for the variant's published ones.
    """

    num_classes: int | None = 1001
    final_endpoint: str | None = None
    config: NasNetConfig | None = None

    build_fn: ClassVar[Callable[..., Any]]

    @nn.compact
    def __call__(
        self, images: jax.Array, is_training: bool = False, current_step: Step = None
    ) -> tuple[jax.Array, dict[str, jax.Array]]:
        """``images [N, H, W, 3] -> (logits [N, num_classes], end_points)``."""
        with self.scoped():
            return type(self).build_fn(
                images,
                self.num_classes,
                is_training=is_training,
                final_endpoint=self.final_endpoint,
                config=self.config,
                current_step=current_step,
            )


class NASNetMobile(NASNetImageNet):
    """``build_nasnet_mobile`` (224 x 224)."""

    default_image_size: ClassVar[int] = 224
    build_fn: ClassVar[Callable[..., Any]] = build_nasnet_mobile


class NASNetLarge(NASNetImageNet):
    """``build_nasnet_large`` (331 x 331)."""

    default_image_size: ClassVar[int] = 331
    build_fn: ClassVar[Callable[..., Any]] = build_nasnet_large


REGISTRY = (
    NetSpec(
        name="nasnet_cifar",
        constructor=NASNetCifar,
        arg_scope=nasnet_cifar_arg_scope,
        default_image_size=32,
        num_classes=10,
        preprocessing="cifarnet",
    ),
    NetSpec(
        name="nasnet_mobile",
        constructor=NASNetMobile,
        arg_scope=nasnet_mobile_arg_scope,
        default_image_size=224,
        num_classes=1001,
        label_offset=1,
    ),
    NetSpec(
        name="nasnet_large",
        constructor=NASNetLarge,
        arg_scope=nasnet_large_arg_scope,
        default_image_size=331,
        num_classes=1001,
        label_offset=1,
    ),
)
