"""research/slim's MobileNet framework (``nets/mobilenet/mobilenet.py``): nets as data.

A net is a :class:`ConvDefs`: a ``spec`` of :class:`Op` (a layer function and its
parameters, applied in order as ``layer_1``, ``layer_2``...) plus arg-scope
``defaults`` and ``overrides`` entered around them. :func:`mobilenet_base` runs
the spec (depth multiplier, atrous ``output_stride``, explicit padding);
:func:`mobilenet` adds the global pool and the 1x1-conv logits;
:func:`training_scope` is the arg scope the factory builds MobileNet V2/V3 under.
:class:`Mobilenet` is the base of the V2/V3 Flax modules.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, ClassVar, NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp

from jslim import layers
from jslim.nets.base import SlimNet
from jslim.nets.mobilenet import conv_blocks
from jslim.nets.spec import NetSpec
from jslim.scopes import add_arg_scope, arg_scope

__all__ = [
    "ConvDefs",
    "Mobilenet",
    "Op",
    "apply_activation",
    "depth_multiplier",
    "global_pool",
    "mobilenet",
    "mobilenet_base",
    "net_spec",
    "op",
    "safe_arg_scope",
    "training_scope",
]

Params = tuple[tuple[str, Any], ...]
ScopeDefaults = tuple[tuple[tuple[Callable[..., Any], ...], Params], ...]


@add_arg_scope
def apply_activation(x: jax.Array, name: str | None = None, activation_fn: Callable[[jax.Array], jax.Array] | None = None):
    """``activation_fn(x)``, or ``x`` when there is none (an op for conv defs)."""
    del name
    return activation_fn(x) if activation_fn else x


@add_arg_scope
def depth_multiplier(
    output_params: dict[str, Any], multiplier: float, divisible_by: int = 8, min_depth: int = 8, **unused_kwargs: Any
) -> None:
    """Scales ``output_params['num_outputs']`` in place: ``make_divisible(n * multiplier, divisible_by, min_depth)``."""
    if "num_outputs" not in output_params:
        return
    d = output_params["num_outputs"]
    output_params["num_outputs"] = conv_blocks.make_divisible(d * multiplier, divisible_by, min_depth)


class Op(NamedTuple):
    """One layer of a spec: ``op(net, **params)``, its depth scaled by ``multiplier_func(params, multiplier)``."""

    op: Callable[..., jax.Array]
    params: Params
    multiplier_func: Callable[..., Any]


def op(opfunc: Callable[..., jax.Array], multiplier_func: Callable[..., Any] = depth_multiplier, **params: Any) -> Op:
    """slim's ``op(...)``; ``multiplier_transform=`` in ``params`` also sets the multiplier function."""
    multiplier = params.pop("multiplier_transform", multiplier_func)
    return Op(opfunc, tuple(params.items()), multiplier)


def _freeze(section: Mapping[Sequence[Callable[..., Any]], Mapping[str, Any]] | None) -> ScopeDefaults:
    return tuple((tuple(ops), tuple(kwargs.items())) for ops, kwargs in (section or {}).items())


class ConvDefs(NamedTuple):
    """slim's ``conv_defs`` dict as a hashable value: ``spec``, ``defaults``, ``overrides``.

    ``defaults`` and ``overrides`` are ``((ops, ((arg, value), ...)), ...)``, entered
    as nested ``arg_scope(ops, **args)`` in that order; build them from dicts with
    :meth:`create`.
    """

    spec: tuple[Op, ...]
    defaults: ScopeDefaults = ()
    overrides: ScopeDefaults = ()

    @classmethod
    def create(
        cls,
        spec: Sequence[Op],
        defaults: Mapping[Sequence[Callable[..., Any]], Mapping[str, Any]] | None = None,
        overrides: Mapping[Sequence[Callable[..., Any]], Mapping[str, Any]] | None = None,
    ) -> ConvDefs:
        """From slim's layout: ``defaults={(layers.conv2d,): {'padding': 'SAME'}, ...}``."""
        return cls(tuple(spec), _freeze(defaults), _freeze(overrides))

    def update(self, section: str, ops: Sequence[Callable[..., Any]], **kwargs: Any) -> ConvDefs:
        """A copy whose ``section`` (``'defaults'``/``'overrides'``) entry for ``ops`` also sets ``kwargs``."""
        ops = tuple(ops)
        entries = dict(getattr(self, section))
        entries[ops] = tuple({**dict(entries.get(ops, ())), **kwargs}.items())
        return self._replace(**{section: tuple(entries.items())})


@contextlib.contextmanager
def _set_arg_scope_defaults(defaults: ScopeDefaults) -> Iterator[None]:
    with contextlib.ExitStack() as stack:
        for ops, kwargs in defaults:
            stack.enter_context(arg_scope(list(ops), **dict(kwargs)))
        yield


def safe_arg_scope(funcs: Sequence[Callable[..., Any]], **kwargs: Any) -> contextlib.AbstractContextManager:
    """``arg_scope(funcs, **kwargs)`` without the ``None`` values (a no-op if none is left)."""
    filtered = {name: value for name, value in kwargs.items() if value is not None}
    return arg_scope(funcs, **filtered) if filtered else contextlib.nullcontext()


def _strides_and_rates(spec: Sequence[Op], multiplier: float, output_stride: int | None) -> list[tuple[dict[str, Any], int]]:
    """Each op's params (depth-multiplied, stride replaced) and its atrous rate."""
    current_stride, rate, out = 1, 1, []
    for opdef in spec:
        params = dict(opdef.params)
        opdef.multiplier_func(params, multiplier)
        stride = params.get("stride", 1)
        if output_stride is not None and current_stride == output_stride:
            layer_stride, layer_rate = 1, rate
            rate *= stride
        else:
            layer_stride, layer_rate = stride, 1
            current_stride *= stride
        params["stride"] = layer_stride
        # No rate for 1x1 convs (slim: "no need to apply atrous convolution to any 1x1").
        if layer_rate > 1 and tuple(params.get("kernel_size", [])) != (1, 1):
            params["rate"] = layer_rate
        out.append((params, layer_rate))
    return out


def _layer_outputs(end_point: str, net: jax.Array, recorded: list[tuple[str, str, jax.Array]]) -> dict[str, jax.Array]:
    """The recorded ``*output`` tensors of the layer whose result is ``net`` (slim's graph scan)."""
    scopes = [path for path, _, value in recorded if value is net]
    if not scopes:
        return {}
    return {f"{end_point}/{name}": value for path, name, value in recorded if path == scopes[-1] and name.endswith("output")}


@add_arg_scope
def mobilenet_base(
    inputs: jax.Array,
    conv_defs: ConvDefs,
    multiplier: float = 1.0,
    final_endpoint: str | None = None,
    output_stride: int | None = None,
    use_explicit_padding: bool = False,
    scope: str | None = None,
    is_training: bool | None = False,
) -> tuple[jax.Array, dict[str, jax.Array]]:
    """Runs ``conv_defs.spec`` on ``inputs`` (no pooling, no logits).

    End points: ``layer_<i>`` for every op (1-based) and, for blocks such as
    ``expanded_conv``, their named outputs ``layer_<i>/expansion_output``,
    ``layer_<i>/depthwise_output``, ``layer_<i>/output``.

    Args:
      inputs: ``[batch, height, width, channels]``.
      conv_defs: the net.
      multiplier: depth multiplier (> 0) given to each op's ``multiplier_func``.
      final_endpoint: stop after this ``layer_<i>``.
      output_stride: None, 1 or an even number: past it, strides become atrous rates.
      use_explicit_padding: ``'VALID'`` convs on explicitly padded inputs.
      scope: the variable scope (default ``Mobilenet``).
      is_training: batch norm mode (None: leave it to the arg scope).

    Returns:
      ``(net, end_points)``.

    Raises:
      ValueError: ``multiplier <= 0`` or a bad ``output_stride``.
    """
    if multiplier <= 0:
        raise ValueError(f"multiplier is not greater than zero (got {multiplier}).")
    overrides = conv_defs.overrides
    if use_explicit_padding:
        overrides = conv_defs.update("overrides", (layers.conv2d, layers.separable_conv2d), padding="VALID").overrides
    if output_stride is not None and (output_stride == 0 or (output_stride > 1 and output_stride % 2)):
        raise ValueError(f"Output stride must be None, 1 or a multiple of 2, got {output_stride}.")
    end_points: dict[str, jax.Array] = {}
    layer_outputs: dict[str, jax.Array] = {}
    with (
        layers.variable_scope(scope, default_name="Mobilenet"),
        safe_arg_scope([layers.batch_norm], is_training=is_training),
        _set_arg_scope_defaults(conv_defs.defaults),
        _set_arg_scope_defaults(overrides),
    ):
        net = inputs
        for i, (opdef, (params, layer_rate)) in enumerate(
            zip(conv_defs.spec, _strides_and_rates(conv_defs.spec, multiplier, output_stride))
        ):
            if use_explicit_padding:
                if "kernel_size" in params:
                    net = conv_blocks.fixed_padding(net, params["kernel_size"], layer_rate)
                else:
                    params["use_explicit_padding"] = True
            end_point = f"layer_{i + 1}"
            with conv_blocks.recording_named_outputs() as recorded:
                net = opdef.op(net, **params)
            end_points[end_point] = net
            layer_outputs.update(_layer_outputs(end_point, net, recorded))
            if final_endpoint is not None and end_point == final_endpoint:
                break
    end_points.update(layer_outputs)
    return net, end_points


def global_pool(input_tensor: jax.Array, use_reduce_mean_for_pooling: bool = False) -> jax.Array:
    """``[N, H, W, C] -> [N, 1, 1, C]``: a full-window ``'VALID'`` average pool (or a mean)."""
    if use_reduce_mean_for_pooling:
        return jnp.mean(input_tensor, axis=(1, 2), keepdims=True)
    return layers.avg_pool2d(input_tensor, input_tensor.shape[1:3], stride=1, padding="VALID")


@add_arg_scope
def mobilenet(
    inputs: jax.Array,
    num_classes: int | None = 1001,
    prediction_fn: Callable[[jax.Array], jax.Array] | None = layers.softmax,
    scope: str = "Mobilenet",
    base_only: bool = False,
    use_reduce_mean_for_pooling: bool = False,
    **mobilenet_args: Any,
) -> tuple[jax.Array, dict[str, jax.Array]]:
    """A MobileNet classifier: :func:`mobilenet_base`, global pool, dropout, 1x1-conv logits.

    Variables of the head: ``<scope>/Logits/Conv2d_1c_1x1/{weights,biases}``.
    End points add ``global_pool`` ``[N, 1, 1, C]``, ``Logits`` ``[N, num_classes]``
    and ``Predictions``.

    Args:
      inputs: ``[batch, height, width, channels]``.
      num_classes: logits size; 0/None returns the pooled features ``[N, 1, 1, C]``.
      prediction_fn: maps logits to ``Predictions`` (None: none).
      scope: the variable scope of the whole net.
      base_only: return :func:`mobilenet_base`'s output (no pooling, no logits).
      use_reduce_mean_for_pooling: pool with a mean instead of an average pool.
      **mobilenet_args: :func:`mobilenet_base`'s (``conv_defs``, ``multiplier``,
        ``final_endpoint``, ``output_stride``, ``use_explicit_padding``, ``is_training``).

    Returns:
      ``(logits or features, end_points)``.

    Raises:
      ValueError: ``inputs`` is not 4-D, or ``scope`` is empty.
    """
    is_training = mobilenet_args.get("is_training", False)
    if inputs.ndim != 4:
        raise ValueError(f"Expected rank 4 input, was: {inputs.ndim}")
    if not scope:
        raise ValueError("mobilenet: scope must be a non-empty variable scope name.")
    net, end_points = mobilenet_base(inputs, scope=scope, **mobilenet_args)
    if base_only:
        return net, end_points
    with layers.variable_scope(f"{scope}/Logits"):
        net = end_points["global_pool"] = global_pool(net, use_reduce_mean_for_pooling)
        if not num_classes:
            return net, end_points
        net = layers.dropout(net, scope="Dropout", is_training=is_training)
        logits = layers.conv2d(
            net, num_classes, [1, 1], activation_fn=None, normalizer_fn=None,
            biases_initializer=layers.zeros_initializer(), scope="Conv2d_1c_1x1",
        )
        logits = jnp.squeeze(logits, (1, 2))
    end_points["Logits"] = logits
    if prediction_fn:
        end_points["Predictions"] = prediction_fn(logits)
    return logits, end_points


def training_scope(
    is_training: bool | None = True,
    weight_decay: float = 0.00004,
    stddev: float = 0.09,
    dropout_keep_prob: float | None = 0.8,
    bn_decay: float | None = 0.997,
) -> contextlib.AbstractContextManager:
    """slim's MobileNet ``training_scope`` (the factory's arg scope for V2 and V3).

    conv2d / fully_connected / separable_conv2d: truncated-normal(``stddev``)
    weights (xavier if ``stddev < 0``) and batch norm; l2(``weight_decay``) on
    conv2d only (never on depthwise weights); batch norm ``decay=bn_decay``;
    dropout ``keep_prob=dropout_keep_prob``; ``is_training`` for batch norm,
    dropout, :func:`mobilenet_base` and :func:`mobilenet`. ``None`` values are
    left unset.
    """
    if stddev < 0:
        weight_initializer = layers.xavier_initializer()
    else:
        weight_initializer = layers.truncated_normal_initializer(stddev=stddev)
    with (
        arg_scope(
            [layers.conv2d, layers.fully_connected, layers.separable_conv2d],
            weights_initializer=weight_initializer,
            normalizer_fn=layers.batch_norm,
        ),
        arg_scope([mobilenet_base, mobilenet], is_training=is_training),
        safe_arg_scope([layers.batch_norm], decay=bn_decay, is_training=is_training),
        safe_arg_scope([layers.dropout], is_training=is_training, keep_prob=dropout_keep_prob),
        arg_scope([layers.conv2d], weights_regularizer=layers.l2_regularizer(weight_decay)),
        arg_scope([layers.separable_conv2d], weights_regularizer=None) as scope,
    ):
        pass
    return arg_scope(scope)


class Mobilenet(SlimNet):
    """The options every MobileNet V2/V3 module shares (slim's ``mobilenet`` keywords).

    Subclasses set :meth:`network` to their family's ``mobilenet`` function.

    Attributes:
      num_classes: logits size; 0/None returns the pooled features ``[N, 1, 1, C]``.
      depth_multiplier: channel multiplier (``make_divisible``, min 8 by default).
      conv_defs: the architecture (None: the family's default).
      finegrain_classification_mode: keep the last layer's depth when ``depth_multiplier < 1``.
      prediction_fn: maps logits to ``end_points['Predictions']``.
      base_only: return the last layer's output (no pooling, no logits).
      use_reduce_mean_for_pooling: global pool with a mean instead of an average pool.
      final_endpoint: stop after this ``layer_<i>`` (implies no head unless it is the last).
      output_stride: None, 1 or an even number (atrous convolution past it).
      use_explicit_padding: ``'VALID'`` convs on explicitly padded inputs.
      scope_name: the top variable scope (slim's ``scope``).
    """

    num_classes: int | None = 1001
    depth_multiplier: float = 1.0
    conv_defs: ConvDefs | None = None
    finegrain_classification_mode: bool = False
    prediction_fn: Callable[[jax.Array], jax.Array] | None = layers.softmax
    base_only: bool = False
    use_reduce_mean_for_pooling: bool = False
    final_endpoint: str | None = None
    output_stride: int | None = None
    use_explicit_padding: bool = False
    scope_name: str = "Mobilenet"

    default_image_size: ClassVar[int] = 224

    def network(self, images: jax.Array, **kwargs: Any) -> tuple[jax.Array, dict[str, jax.Array]]:
        """The family's ``mobilenet(images, **kwargs)`` with the family's own options."""
        raise NotImplementedError

    @nn.compact
    def __call__(self, images: jax.Array, is_training: bool = False) -> tuple[jax.Array, dict[str, jax.Array]]:
        """``images [N, H, W, 3] -> (logits [N, num_classes], end_points)``."""
        with self.scoped():
            return self.network(
                images,
                num_classes=self.num_classes,
                depth_multiplier=self.depth_multiplier,
                scope=self.scope_name,
                conv_defs=self.conv_defs,
                finegrain_classification_mode=self.finegrain_classification_mode,
                prediction_fn=self.prediction_fn,
                base_only=self.base_only,
                use_reduce_mean_for_pooling=self.use_reduce_mean_for_pooling,
                final_endpoint=self.final_endpoint,
                output_stride=self.output_stride,
                use_explicit_padding=self.use_explicit_padding,
                is_training=is_training,
            )


def net_spec(name: str, constructor: Callable[..., Any], arg_scope: Callable[..., Any], **defaults: Any) -> NetSpec:
    """The registry record of a MobileNet factory name (V1, V2 or V3).

    Every published MobileNet checkpoint is 224x224 ImageNet with 1001 classes
    (background at 0, so ``label_offset=1``) and uses inception preprocessing.
    """
    return NetSpec(
        name=name,
        constructor=constructor,
        arg_scope=arg_scope,
        default_image_size=224,
        num_classes=1001,
        label_offset=1,
        preprocessing="inception",
        defaults=defaults,
    )
