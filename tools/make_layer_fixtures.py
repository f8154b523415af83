"""Writes the TF-Slim layer fixtures of tests/fixtures/layers (not run in CI).

Run with the TensorFlow venv (tensorflow-cpu, tf-slim, tf-keras; see tools/tf_shim.py)::

    /opt/tfvenv/bin/python tools/make_layer_fixtures.py

Each *case* is a small program of slim layer calls described by JSON (the same
names and keyword arguments exist in ``jslim.layers``). The generator builds it
with the real TF-Slim in graph mode, assigns every variable a deterministic value
(:func:`fixture_value`), runs the output together with the ``UPDATE_OPS`` (one
training step of the batch-norm moving averages) and stores, per case, under
``<case>/``:

* ``spec``: the JSON program; ``input``: the input; ``output``: TF's output;
* ``var/<tf name>``: every variable's assigned value; ``after/<tf name>``: its
  value after the update ops ran; ``trainable``: JSON list of trainable names;
* ``reg_loss``: ``tf.compat.v1.losses.get_regularization_loss()``;
* for the cases of ``GRAD_CASES``: ``cotangent`` ``c`` and the gradients of
  ``sum(output * c)``: ``grad_input`` and ``grad/<tf name>`` per trainable variable.

Files: ``conv.npz``, ``core.npz``, ``normalization.npz``, ``pooling.npz`` (one per
``tests/test_layers_<kind>.py``), ``initializers.npz`` (moments and extremes of
large draws), ``regularizers.npz`` and ``signatures.json`` (slim's argument names
and plain defaults).

JSON encodings of non-literal arguments (decoded by each side with its own table):
``{"$fn": name}`` a function (``relu``, ``conv2d``, ...), ``{"$reg": [kind,
*scales]}`` a regularizer, ``{"$array": [...]}`` a float32 array.

TF's CPU kernels run channels-first (NCHW, NCW, NCDHW) convolutions, pools and
fused batch norm directly in TF 2.21 (oneDNN), so no transposes are needed.
"""

from __future__ import annotations

import inspect
import json
import math
import pathlib
import sys
import zlib

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from tf_shim import import_tf_slim  # noqa: E402  pylint: disable=wrong-import-position

OUT = pathlib.Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "layers"

tf, slim = import_tf_slim()
# tf_slim 1.1.0's legacy batch_norm path (batch_weights, zero_debias) still reads
# ops.Tensor, which TF 2.21 removed.
from tensorflow.python.framework import ops as _tf_ops  # noqa: E402  pylint: disable=wrong-import-position

_tf_ops.Tensor = tf.Tensor
v1 = tf.compat.v1
# tf_slim 1.1.0 defines GDN's lower-bound gradient but never registers it.
tf.RegisterGradient("GDNLowerBound")(slim.layers.GDN._lower_bound_grad)  # pylint: disable=protected-access


# --------------------------------------------------------------------------- values


def fixture_value(name: str, shape) -> np.ndarray:
    """The deterministic value given to TF variable ``name`` (stored in the fixture)."""
    shape = tuple(int(s) for s in shape)
    rng = np.random.default_rng(zlib.crc32(name.encode("utf-8")))
    last = name.split("/")[-1]
    if last in ("moving_variance",):
        v = 0.5 + rng.random(shape)
    elif last in ("moving_stddev", "renorm_stddev"):
        v = 0.7 + rng.random(shape)
    elif last == "gamma":
        v = 0.5 + rng.random(shape)
    elif last == "local_step":
        v = np.full(shape, 2.0)
    elif last == "temperature":
        v = np.full(shape, 0.7)
    elif last == "reparam_beta":
        v = 0.8 + 0.4 * rng.random(shape)
    elif last == "reparam_gamma":
        # Some entries below the lower bound (reparam_offset), to exercise it.
        v = np.where(rng.random(shape) < 0.2, 0.0, 0.05 + 0.4 * rng.random(shape))
    elif last in ("beta", "moving_mean", "biases", "biased", "renorm_mean"):
        v = 0.3 * rng.standard_normal(shape)
    elif len(shape) >= 2:
        v = rng.standard_normal(shape) * math.sqrt(2.0 / math.prod(shape[:-1]))
    else:
        v = 0.3 * rng.standard_normal(shape)
    return np.asarray(v, np.float64).astype(np.float32)


def case_input(name: str, shape) -> np.ndarray:
    rng = np.random.default_rng(zlib.crc32(("input:" + name).encode("utf-8")))
    return (1.5 * rng.standard_normal(tuple(shape)) + 0.25).astype(np.float32)


# --------------------------------------------------------------------------- decoding

FUNCTIONS = {
    "relu": tf.nn.relu,
    "relu6": tf.nn.relu6,
    "tanh": tf.nn.tanh,
    "conv2d": slim.conv2d,
    "fully_connected": slim.fully_connected,
    "max_pool2d": slim.max_pool2d,
    "batch_norm": slim.batch_norm,
    "layer_norm": slim.layer_norm,
    "group_norm": slim.group_norm,
    "instance_norm": slim.instance_norm,
    # A deterministic batch-norm ``adjustment`` (channels last).
    "adjustment_fixed": lambda shape: (tf.linspace(0.9, 1.2, shape[-1]), tf.linspace(-0.1, 0.2, shape[-1])),
}


def l2_normalize(x, axis=None, epsilon=1e-12, name=None, dim=None):
    return tf.nn.l2_normalize(x, axis=axis if dim is None else dim, epsilon=epsilon, name=name)


LAYERS = {
    "avg_pool2d": slim.avg_pool2d,
    "avg_pool3d": slim.avg_pool3d,
    "batch_norm": slim.batch_norm,
    "bias_add": slim.bias_add,
    "conv1d": slim.conv1d,
    "conv2d": slim.conv2d,
    "conv2d_in_plane": slim.conv2d_in_plane,
    "conv2d_transpose": slim.conv2d_transpose,
    "conv3d": slim.conv3d,
    "conv3d_transpose": slim.conv3d_transpose,
    "convolution": slim.convolution,
    "flatten": slim.flatten,
    "fully_connected": slim.fully_connected,
    "gdn": slim.layers.gdn,
    "images_to_sequence": slim.layers.images_to_sequence,
    "poincare_normalize": slim.layers.poincare_normalize,
    "scale_gradient": slim.layers.scale_gradient,
    "sequence_to_images": slim.layers.sequence_to_images,
    "group_norm": slim.group_norm,
    "instance_norm": slim.instance_norm,
    "l2_normalize": l2_normalize,
    "layer_norm": slim.layer_norm,
    "linear": slim.linear,
    "max_pool2d": slim.max_pool2d,
    "max_pool3d": slim.max_pool3d,
    "maxout": slim.maxout,
    "one_hot_encoding": slim.one_hot_encoding,
    "relu": slim.relu,
    "relu6": slim.relu6,
    "repeat": slim.repeat,
    "separable_conv2d": slim.separable_conv2d,
    "softmax": slim.softmax,
    "spatial_softmax": slim.spatial_softmax,
    "stack": slim.stack,
    "unit_norm": slim.unit_norm,
}


def regularizer(kind, *scales):
    if kind == "l1":
        return slim.l1_regularizer(*scales)
    if kind == "l2":
        return slim.l2_regularizer(*scales)
    if kind == "l1_l2":
        return slim.l1_l2_regularizer(*scales)
    if kind == "sum_l1_l2":
        return slim.sum_regularizer([slim.l1_regularizer(scales[0]), slim.l2_regularizer(scales[1])])
    raise ValueError(kind)


def decode(value):
    if isinstance(value, dict):
        if "$fn" in value:
            return None if value["$fn"] is None else FUNCTIONS[value["$fn"]]
        if "$reg" in value:
            return regularizer(*value["$reg"])
        if "$array" in value:
            return np.asarray(value["$array"], np.float32)
        return {k: decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [decode(v) for v in value]
    return value


# --------------------------------------------------------------------------- cases


def call(op, *args, **kwargs):
    return {"op": op, "args": list(args), "kwargs": kwargs}


def case(name, shape, *calls, arg_scope=None, int_input=None):
    spec = {"name": name, "input_shape": list(shape), "calls": list(calls)}
    if arg_scope:
        spec["arg_scope"] = arg_scope
    if int_input:
        spec["int_input"] = int_input
    return spec


FN = lambda name: {"$fn": name}  # noqa: E731
NONE = FN(None)
L2 = lambda s: {"$reg": ["l2", s]}  # noqa: E731


def conv_cases():
    out = []
    for pad in ("SAME", "VALID"):
        for size in (6, 7):
            for stride in (1, 2):
                out.append(case(f"conv2d_{pad}_s{stride}_{size}", (2, size, size, 3),
                                call("conv2d", 4, [3, 3], stride=stride, padding=pad)))
        out.append(case(f"conv2d_{pad}_rate2", (2, 9, 8, 3), call("conv2d", 4, [3, 3], rate=2, padding=pad)))
        out.append(case(f"conv2d_{pad}_k2x4_s2", (1, 7, 6, 2),
                        call("conv2d", 3, [2, 4], stride=2, padding=pad, activation_fn=NONE)))
    out += [
        case("conv2d_nchw", (2, 3, 7, 6), call("conv2d", 4, [3, 3], stride=2, data_format="NCHW")),
        case("conv2d_nchw_rate2", (1, 3, 7, 7), call("conv2d", 2, 3, rate=2, data_format="NCHW", activation_fn=NONE)),
        case("conv2d_batch_norm", (2, 5, 5, 3),
             call("conv2d", 4, [3, 3], normalizer_fn=FN("batch_norm"),
                  normalizer_params={"is_training": True, "scale": True, "decay": 0.9})),
        case("conv2d_batch_norm_eval", (2, 5, 5, 3),
             call("conv2d", 4, [3, 3], normalizer_fn=FN("batch_norm"), normalizer_params={"is_training": False})),
        case("conv2d_not_trainable", (1, 5, 5, 2), call("conv2d", 3, [3, 3], trainable=False)),
        case("conv2d_no_biases", (1, 5, 5, 2), call("conv2d", 3, [3, 3], biases_initializer=None, activation_fn=NONE)),
        case("conv2d_relu6_scope", (1, 5, 5, 2), call("conv2d", 3, [1, 1], activation_fn=FN("relu6"), scope="net/c1")),
        case("conv2d_default_names", (1, 5, 5, 2), call("conv2d", 3, [3, 3]), call("conv2d", 3, [3, 3]),
             call("conv2d", 2, [1, 1], scope="Conv_1x1")),
        case("convolution_3d_input", (1, 4, 5, 5, 2), call("convolution", 3, [2, 3, 3], stride=[1, 2, 2])),
        case("conv1d_SAME_s2", (2, 9, 3), call("conv1d", 4, 3, stride=2)),
        case("conv1d_VALID_rate2", (2, 10, 3), call("conv1d", 4, 3, rate=2, padding="VALID")),
        case("conv1d_ncw", (2, 3, 9), call("conv1d", 4, 3, stride=2, data_format="NCW")),
        case("conv3d_SAME_s2", (1, 5, 6, 5, 2), call("conv3d", 3, [2, 3, 3], stride=2)),
        case("conv3d_VALID", (1, 5, 6, 5, 2), call("conv3d", 3, 3, padding="VALID")),
        case("conv3d_ncdhw", (1, 2, 5, 6, 5), call("conv3d", 3, 3, stride=2, data_format="NCDHW")),
    ]
    for pad in ("SAME", "VALID"):
        for size in (4, 5):
            out.append(case(f"conv2d_transpose_{pad}_s2_{size}", (2, size, size, 3),
                            call("conv2d_transpose", 4, [3, 3], stride=2, padding=pad)))
        out.append(case(f"conv2d_transpose_{pad}_s2_k2", (1, 4, 5, 3),
                        call("conv2d_transpose", 2, [2, 2], stride=2, padding=pad, activation_fn=NONE)))
        out.append(case(f"conv2d_transpose_{pad}_s1", (1, 4, 5, 3),
                        call("conv2d_transpose", 2, [3, 2], padding=pad, activation_fn=NONE)))
    out += [
        case("conv2d_transpose_s3_k2", (1, 3, 4, 2), call("conv2d_transpose", 2, 2, stride=3, activation_fn=NONE)),
        case("conv2d_transpose_nchw", (1, 3, 4, 5), call("conv2d_transpose", 2, 3, stride=2, data_format="NCHW")),
        case("conv2d_transpose_batch_norm", (2, 3, 3, 2),
             call("conv2d_transpose", 3, 3, stride=2, normalizer_fn=FN("batch_norm"))),
        case("conv3d_transpose_SAME", (1, 3, 4, 3, 2), call("conv3d_transpose", 3, 3, stride=2)),
        case("conv3d_transpose_VALID", (1, 3, 4, 3, 2),
             call("conv3d_transpose", 3, [2, 3, 3], stride=[1, 2, 2], padding="VALID")),
        case("conv3d_transpose_ncdhw", (1, 2, 3, 4, 3), call("conv3d_transpose", 3, 3, stride=2, data_format="NCDHW")),
    ]
    for pad in ("SAME", "VALID"):
        for size in (6, 7):
            out.append(case(f"separable_{pad}_s2_{size}", (2, size, size, 3),
                            call("separable_conv2d", 4, [3, 3], depth_multiplier=2, stride=2, padding=pad)))
            out.append(case(f"depthwise_{pad}_s2_{size}", (2, size, size, 3),
                            call("separable_conv2d", None, [3, 3], depth_multiplier=2, stride=2, padding=pad)))
    out += [
        case("separable_rate2", (1, 8, 8, 2), call("separable_conv2d", 3, 3, rate=2, activation_fn=NONE)),
        case("depthwise_rate2", (1, 8, 8, 2), call("separable_conv2d", None, 3, depth_multiplier=2, rate=2)),
        case("separable_nchw", (1, 2, 7, 7), call("separable_conv2d", 3, 3, depth_multiplier=2, stride=2, data_format="NCHW")),
        case("depthwise_nchw", (1, 2, 7, 7), call("separable_conv2d", None, 3, depth_multiplier=2, data_format="NCHW")),
        case("separable_batch_norm", (2, 5, 5, 2),
             call("separable_conv2d", 3, 3, normalizer_fn=FN("batch_norm"), normalizer_params={"scale": True})),
        case("depthwise_batch_norm", (2, 5, 5, 2),
             call("separable_conv2d", None, 3, normalizer_fn=FN("batch_norm"), normalizer_params={"is_training": False})),
        case("separable_no_biases", (1, 5, 5, 2), call("separable_conv2d", 3, 3, biases_initializer=None)),
        case("conv2d_in_plane", (2, 6, 7, 3), call("conv2d_in_plane", [2, 3])),
        case("conv2d_in_plane_VALID_s2", (2, 7, 7, 3),
             call("conv2d_in_plane", 3, stride=2, padding="VALID", activation_fn=NONE)),
        case("conv2d_in_plane_batch_norm", (2, 5, 5, 2),
             call("conv2d_in_plane", [1, 2], normalizer_fn=FN("batch_norm"))),
    ]
    return out


def core_cases():
    return [
        case("fully_connected", (3, 5), call("fully_connected", 4)),
        case("fully_connected_rank3", (2, 3, 5), call("fully_connected", 4, activation_fn=FN("tanh"))),
        case("fully_connected_batch_norm", (6, 5),
             call("fully_connected", 4, normalizer_fn=FN("batch_norm"), normalizer_params={"scale": True})),
        case("fully_connected_layer_norm", (3, 5), call("fully_connected", 4, normalizer_fn=FN("layer_norm"))),
        case("fully_connected_no_biases", (3, 5), call("fully_connected", 4, biases_initializer=None)),
        case("linear", (3, 5), call("linear", 4)),
        case("relu", (3, 5), call("relu", 4)),
        case("relu6", (3, 5), call("relu6", 4, scope="r6")),
        case("bias_add", (2, 3, 3, 4), call("bias_add", activation_fn=FN("relu"))),
        case("bias_add_rank2", (3, 4), call("bias_add")),
        case("bias_add_nchw", (2, 4, 3, 3), call("bias_add", data_format="NCHW")),
        case("flatten", (2, 3, 2, 2), call("flatten")),
        case("softmax", (2, 3, 5), call("softmax")),
        case("one_hot_encoding", (5,), call("one_hot_encoding", 4, on_value=2.0, off_value=-1.0), int_input=4),
        case("repeat_conv2d", (1, 5, 5, 2), call("repeat", 3, FN("conv2d"), 3, [3, 3], scope="conv1")),
        case("repeat_default_scope", (1, 5, 5, 2), call("repeat", 2, FN("conv2d"), 2, [1, 1])),
        case("stack_fully_connected", (2, 5), call("stack", FN("fully_connected"), [4, 3, 2], scope="fc")),
        case("stack_conv2d_tuples", (1, 6, 6, 2),
             call("stack", FN("conv2d"), [[3, [3, 3]], [4, [1, 1]]], scope="convs", padding="VALID")),
        case("stack_default_scope", (2, 5), call("stack", FN("fully_connected"), [3, 2])),
        case("maxout", (2, 3, 6), call("maxout", 3)),
        case("maxout_axis1", (2, 4, 3, 2), call("maxout", 2, axis=1)),
        case("maxout_axis_neg2", (2, 3, 6, 2), call("maxout", 2, axis=-2)),
        case("images_to_sequence", (2, 3, 4, 5), call("images_to_sequence")),
        case("images_to_sequence_nchw", (2, 5, 3, 4), call("images_to_sequence", data_format="NCHW")),
        case("sequence_to_images", (4, 6, 5), call("sequence_to_images", 3)),
        case("sequence_to_images_channels_first", (4, 6, 5),
             call("sequence_to_images", 2, output_data_format="channels_first")),
        case("scale_gradient", (2, 3), call("scale_gradient", -0.5)),
    ]


def normalization_cases():
    bn = lambda **kw: call("batch_norm", **kw)  # noqa: E731
    out = []
    for shape, tag in (((6, 4), "rank2"), ((2, 3, 4), "rank3"), ((2, 3, 3, 4), "rank4"), ((2, 2, 3, 3, 4), "rank5")):
        out += [
            case(f"batch_norm_train_{tag}", shape, bn(decay=0.9, scale=True)),
            case(f"batch_norm_train_{tag}_unfused", shape, bn(decay=0.9, scale=True, fused=False)),
            case(f"batch_norm_eval_{tag}", shape, bn(is_training=False, scale=True)),
        ]
    out += [
        # decay=0: the moving averages after one update are the batch statistics themselves.
        case("batch_norm_batch_statistics", (2, 3, 3, 4), bn(decay=0.0)),
        case("batch_norm_batch_statistics_unfused", (2, 3, 3, 4), bn(decay=0.0, fused=False)),
        case("batch_norm_batch_statistics_weighted", (3, 3, 4), bn(decay=0.0, batch_weights={"$array": [2.0, 1.0, 0.5]})),
        case("batch_norm_train_nchw", (2, 4, 3, 3), bn(decay=0.9, data_format="NCHW")),
        case("batch_norm_train_nchw_unfused", (2, 4, 3, 3), bn(decay=0.9, data_format="NCHW", fused=False)),
        case("batch_norm_eval_nchw", (2, 4, 3, 3), bn(is_training=False, scale=True, data_format="NCHW")),
        case("batch_norm_train_nchw_rank5", (2, 4, 2, 3, 3), bn(decay=0.9, data_format="NCHW")),
        case("batch_norm_no_center", (2, 3, 3, 4), bn(center=False, scale=True, epsilon=0.01, activation_fn=FN("relu"))),
        case("batch_norm_small_epsilon", (2, 3, 3, 4), bn(epsilon=1e-6, decay=0.5)),
        case("batch_norm_batch_weights", (3, 2, 2, 4), bn(decay=0.9, scale=True, batch_weights={"$array": [1.0, 0.5, 2.0]})),
        case("batch_norm_batch_weights_nchw", (3, 4, 2, 2),
             bn(decay=0.9, data_format="NCHW", batch_weights={"$array": [0.0, 1.0, 3.0]})),
        case("batch_norm_batch_weights_rank2", (3, 4), bn(batch_weights={"$array": [1.0, 2.0, 3.0]})),
        case("batch_norm_zero_debias", (2, 3, 3, 4), bn(decay=0.9, zero_debias_moving_mean=True, scope="net/bn")),
        case("batch_norm_zero_debias_rank3", (2, 3, 4), bn(decay=0.999, zero_debias_moving_mean=True)),
        case("batch_norm_zero_debias_unfused", (2, 3, 3, 4), bn(decay=0.99, zero_debias_moving_mean=True, fused=False)),
        case("batch_norm_zero_debias_rank5", (2, 2, 3, 3, 4), bn(decay=0.99, zero_debias_moving_mean=True)),
        case("batch_norm_zero_debias_eval", (2, 3, 3, 4), bn(is_training=False, zero_debias_moving_mean=True)),
        case("batch_norm_renorm", (2, 3, 3, 4), bn(decay=0.9, scale=True, renorm=True)),
        case("batch_norm_renorm_clipped", (2, 3, 3, 4),
             bn(decay=0.9, scale=True, renorm=True, renorm_decay=0.8,
                renorm_clipping={"rmax": 1.2, "rmin": 0.9, "dmax": 0.1})),
        case("batch_norm_renorm_no_scale_rank2", (6, 4), bn(renorm=True, renorm_clipping={"rmax": 1.1})),
        case("batch_norm_renorm_nchw", (2, 4, 3, 3), bn(renorm=True, scale=True, data_format="NCHW", center=False)),
        case("batch_norm_renorm_eval", (2, 3, 3, 4), bn(renorm=True, scale=True, is_training=False)),
        case("batch_norm_two_default_scopes", (2, 4), bn(), bn(scale=True)),
        case("batch_norm_not_trainable", (2, 3, 3, 4), bn(scale=True, trainable=False, decay=0.9)),
        case("batch_norm_not_trainable_unfused_rank3", (2, 3, 4), bn(trainable=False, decay=0.9, fused=False)),
        case("batch_norm_not_trainable_rank2", (5, 4), bn(trainable=False, decay=0.9)),
        case("batch_norm_not_trainable_rank2_unfused", (5, 4), bn(trainable=False, decay=0.9, fused=False)),
        case("batch_norm_not_trainable_zero_debias", (2, 3, 3, 4), bn(trainable=False, zero_debias_moving_mean=True)),
        case("batch_norm_not_trainable_batch_weights", (2, 3, 4),
             bn(trainable=False, decay=0.9, batch_weights={"$array": [1.0, 3.0]})),
        case("batch_norm_not_trainable_renorm", (2, 3, 3, 4), bn(trainable=False, decay=0.9, renorm=True)),
        case("batch_norm_adjustment", (2, 3, 3, 4), bn(scale=True, decay=0.9, adjustment=FN("adjustment_fixed"))),
        case("batch_norm_adjustment_renorm", (2, 3, 3, 4),
             bn(decay=0.9, renorm=True, renorm_clipping={"rmax": 1.05, "dmax": 0.05}, adjustment=FN("adjustment_fixed"))),
        case("batch_norm_adjustment_eval", (2, 3, 3, 4), bn(is_training=False, adjustment=FN("adjustment_fixed"))),
        case("layer_norm", (2, 3, 3, 4), call("layer_norm")),
        case("layer_norm_rank2", (3, 5), call("layer_norm", activation_fn=FN("relu"))),
        case("layer_norm_axes", (2, 3, 4, 5), call("layer_norm", begin_norm_axis=2, begin_params_axis=-2)),
        case("layer_norm_neg_axis", (2, 3, 4), call("layer_norm", begin_norm_axis=-1, center=False)),
        case("layer_norm_params_axis1", (2, 3, 4), call("layer_norm", begin_params_axis=1, scale=False)),
        case("group_norm", (2, 3, 3, 8), call("group_norm", groups=4)),
        case("group_norm_nchw", (2, 6, 3, 3), call("group_norm", groups=3, channels_axis=-3, reduction_axes=(-2, -1))),
        case("group_norm_mean_close_to_zero", (2, 3, 3, 8), call("group_norm", groups=2, mean_close_to_zero=True)),
        case("group_norm_rank3", (2, 5, 6), call("group_norm", groups=3, reduction_axes=(-2,), epsilon=0.01, scale=False)),
        case("group_norm_one_group", (2, 3, 3, 4), call("group_norm", groups=1, activation_fn=FN("relu"))),
        case("instance_norm", (2, 3, 4, 3), call("instance_norm")),
        case("instance_norm_nchw", (2, 3, 4, 3), call("instance_norm", data_format="NCHW", epsilon=0.01)),
        case("instance_norm_rank3", (2, 5, 3), call("instance_norm", center=False)),
        case("unit_norm", (2, 3, 4), call("unit_norm", 2)),
        case("unit_norm_dim1", (2, 3, 4), call("unit_norm", 1, epsilon=0.5)),
        case("l2_normalize", (2, 3, 4), call("l2_normalize", axis=-1)),
        case("l2_normalize_all", (2, 3), call("l2_normalize")),
        case("l2_normalize_epsilon", (2, 3, 4), call("l2_normalize", axis=[1, 2], epsilon=20.0)),
        case("l2_normalize_dim", (2, 3, 4), call("l2_normalize", dim=1)),
        case("poincare_normalize", (3, 4), call("poincare_normalize")),
        case("poincare_normalize_axes", (2, 3, 4), call("poincare_normalize", axis=[1, 2], epsilon=0.1)),
        case("gdn", (2, 3, 3, 4), call("gdn")),
        case("gdn_inverse", (2, 3, 3, 4), call("gdn", inverse=True)),
        case("gdn_rank3", (2, 5, 3), call("gdn", beta_min=0.5, reparam_offset=0.1)),
        case("gdn_rank5", (1, 2, 3, 3, 3), call("gdn", gamma_init=0.3)),
        case("gdn_channels_first", (2, 4, 3, 3), call("gdn", data_format="channels_first")),
        case("gdn_channels_first_rank3", (2, 3, 5), call("gdn", data_format="channels_first")),
        case("gdn_twice", (2, 3, 3, 4), call("gdn"), call("gdn", inverse=True)),
        case("gdn_named", (2, 3, 3, 4), call("gdn", name="GDN_0")),
        case("gdn_activity_regularizer", (2, 3, 3, 4), call("gdn", activity_regularizer=L2(0.1), trainable=False)),
    ]
    return out


def pooling_cases():
    out = []
    for op in ("max_pool2d", "avg_pool2d"):
        for pad in ("SAME", "VALID"):
            for size in (6, 7):
                out.append(case(f"{op}_{pad}_{size}", (2, size, size, 3), call(op, [3, 3], padding=pad)))
            out.append(case(f"{op}_{pad}_s1_k2", (1, 5, 6, 2), call(op, 2, stride=1, padding=pad)))
            out.append(case(f"{op}_{pad}_k3x2_s2x1", (1, 5, 6, 2), call(op, [3, 2], stride=[2, 1], padding=pad)))
        out.append(case(f"{op}_nchw_SAME", (1, 2, 5, 5), call(op, 3, padding="SAME", data_format="NCHW")))
        out.append(case(f"{op}_SAME_big_kernel", (1, 3, 4, 2), call(op, 5, stride=2, padding="SAME")))
    for op in ("max_pool3d", "avg_pool3d"):
        out.append(case(f"{op}_VALID", (1, 4, 5, 5, 2), call(op, 2)))
        out.append(case(f"{op}_SAME", (1, 5, 4, 5, 2), call(op, [3, 2, 3], stride=2, padding="SAME")))
        out.append(case(f"{op}_ncdhw_SAME", (1, 2, 5, 4, 5), call(op, 3, stride=2, padding="SAME", data_format="NCDHW")))
    out += [
        case("spatial_softmax", (2, 3, 4, 3), call("spatial_softmax")),
        case("spatial_softmax_temperature", (2, 4, 3, 2), call("spatial_softmax", temperature=0.5, trainable=False)),
        case("spatial_softmax_nchw", (2, 3, 4, 5), call("spatial_softmax", data_format="NCHW", name="ss")),
    ]
    return out


def regularized_net_case():
    """A small slim net built under arg_scope with weight decay (for get_regularization_loss)."""
    scope = [
        {"ops": ["conv2d", "fully_connected"], "kwargs": {"weights_regularizer": L2(0.004),
                                                         "normalizer_fn": FN("batch_norm")}},
        {"ops": ["batch_norm"], "kwargs": {"param_regularizers": {"gamma": L2(0.01), "beta": {"$reg": ["l1", 0.02]}},
                                           "scale": True}},
    ]
    return [
        case("regularized_net", (2, 6, 6, 2),
             call("conv2d", 3, [3, 3], scope="conv1"),
             call("separable_conv2d", 4, 3, weights_regularizer={"$reg": ["l1_l2", 0.01, 0.02]},
                  biases_regularizer=L2(0.5), normalizer_fn=NONE, scope="sep"),
             call("conv2d_in_plane", 2, weights_regularizer=L2(0.3), biases_regularizer={"$reg": ["l1", 0.1]}),
             call("conv2d_transpose", 2, 2, stride=2, weights_regularizer={"$reg": ["sum_l1_l2", 0.01, 0.03]},
                  normalizer_fn=NONE, biases_regularizer=L2(0.2)),
             call("flatten"),
             call("fully_connected", 5, scope="fc"),
             call("fully_connected", 3, normalizer_fn=NONE, activation_fn=NONE, biases_regularizer=L2(1.0),
                  scope="logits"),
             arg_scope=scope),
        case("regularized_bias_add", (2, 3), call("bias_add", regularizer=L2(0.25))),
    ]


# --------------------------------------------------------------------------- running


def build(spec, x):
    def body():
        y = x
        for c in spec["calls"]:
            y = LAYERS[c["op"]](y, *decode(c["args"]), **decode(c["kwargs"]))
        return y

    scopes = spec.get("arg_scope", [])

    def nest(i):
        if i == len(scopes):
            return body()
        ops = [FUNCTIONS[o] for o in scopes[i]["ops"]]
        with slim.arg_scope(ops, **decode(scopes[i]["kwargs"])):
            return nest(i + 1)

    return nest(0)


# Cases whose gradients (w.r.t. the input and every trainable variable) are stored too.
GRAD_CASES = {
    "conv2d_SAME_s2_7", "conv2d_batch_norm", "conv2d_transpose_SAME_s2_5", "separable_VALID_s2_7",
    "conv2d_in_plane", "fully_connected_layer_norm", "maxout_axis1", "spatial_softmax",
    "max_pool2d_SAME_7", "avg_pool2d_SAME_big_kernel", "avg_pool3d_SAME",
    "batch_norm_train_rank4", "batch_norm_train_rank3", "batch_norm_renorm_clipped", "batch_norm_batch_weights",
    "batch_norm_adjustment_renorm", "layer_norm_axes", "group_norm_nchw", "group_norm_mean_close_to_zero",
    "instance_norm_nchw", "unit_norm", "l2_normalize_epsilon", "gdn", "gdn_inverse", "gdn_channels_first",
    "gdn_rank3", "scale_gradient", "poincare_normalize_axes",
}


def gradients(name, y, x, variables):
    """``d sum(y * c) / d(x, variables)`` for a fixed cotangent ``c`` (stored as ``cotangent``)."""
    cot = case_input(name + ":cotangent", y.shape.as_list())
    trainable = [v for v in variables if v in v1.trainable_variables()]
    grads = tf.gradients(tf.reduce_sum(y * cot), [x] + trainable)
    out = {"grad_input": grads[0]}
    out.update({f"grad/{v.op.name}": g for v, g in zip(trainable, grads[1:])})
    return out, cot


def run_case(spec):
    name = spec["name"]
    if spec.get("int_input"):
        rng = np.random.default_rng(zlib.crc32(name.encode()))
        xv = rng.integers(0, spec["int_input"], spec["input_shape"]).astype(np.int32)
    else:
        xv = case_input(name, spec["input_shape"])
    g = tf.Graph()
    with g.as_default():
        x = tf.constant(xv)
        y = build(spec, x)
        variables = v1.global_variables()
        trainable = {v.op.name for v in v1.trainable_variables()}
        updates = v1.get_collection(v1.GraphKeys.UPDATE_OPS)
        reg = v1.losses.get_regularization_loss()
        grads, cotangent = gradients(name, y, x, variables) if name in GRAD_CASES else ({}, None)
        values = {v.op.name: fixture_value(v.op.name, v.shape.as_list()) for v in variables}
        assigns = [v.assign(values[v.op.name]) for v in variables]
        with v1.Session() as sess:
            sess.run(assigns)
            out, _, reg_loss, grad_values = sess.run([y, updates, reg, grads])
            after = dict(zip([v.op.name for v in variables], sess.run(variables)))
    record = {"spec": json.dumps(spec), "input": xv, "output": np.asarray(out),
              "trainable": json.dumps(sorted(trainable)), "reg_loss": np.float32(reg_loss)}
    record.update({f"var/{k}": v for k, v in values.items()})
    record.update({f"after/{k}": np.asarray(v) for k, v in after.items()})
    record.update({k: np.asarray(v, np.float32) for k, v in grad_values.items()})
    if cotangent is not None:
        record["cotangent"] = cotangent
    return {f"{name}/{k}": v for k, v in record.items()}


def write_cases(kind, cases):
    arrays = {}
    names = [c["name"] for c in cases]
    assert len(set(names)) == len(names), f"duplicate case names in {kind}"
    for spec in cases:
        arrays.update(run_case(spec))
    np.savez_compressed(OUT / f"{kind}.npz", **arrays)
    print(f"{kind}: {len(cases)} cases")


# --------------------------------------------------------------------------- initializers

INIT_SHAPES = ([200000], [400, 500], [5, 5, 40, 160], [3, 3, 3, 64, 40])


def initializer_configs():
    out = []
    for uniform in (True, False):
        out.append(("xavier", {"uniform": uniform}))
        for mode in ("FAN_IN", "FAN_OUT", "FAN_AVG"):
            out.append(("variance_scaling", {"factor": 2.0 if mode != "FAN_AVG" else 1.5, "mode": mode, "uniform": uniform}))
    out += [("truncated_normal", {"mean": 0.5, "stddev": 0.3}), ("random_normal", {"mean": -1.0, "stddev": 2.0}),
            ("random_uniform", {"minval": -0.5, "maxval": 1.5})]
    return out


def tf_initializer(kind, kw):
    if kind == "xavier":
        return slim.xavier_initializer(seed=1, **kw)
    if kind == "variance_scaling":
        return slim.variance_scaling_initializer(seed=1, **kw)
    if kind == "truncated_normal":
        return v1.truncated_normal_initializer(seed=1, **kw)
    if kind == "random_normal":
        return v1.random_normal_initializer(seed=1, **kw)
    return v1.random_uniform_initializer(seed=1, **kw)


def write_initializers():
    arrays = {}
    for kind, kw in initializer_configs():
        for shape in INIT_SHAPES:
            if kind not in ("xavier", "variance_scaling") and len(shape) != 2:
                continue
            key = f"{kind}_{'_'.join(f'{k}={v}' for k, v in kw.items())}_{'x'.join(map(str, shape))}"
            g = tf.Graph()
            with g.as_default(), v1.Session() as sess:
                draw = sess.run(tf_initializer(kind, kw)(shape, dtype=tf.float32)).astype(np.float64)
            arrays[f"{key}/spec"] = json.dumps({"initializer": kind, "kwargs": kw, "shape": shape})
            arrays[f"{key}/stats"] = np.array([draw.mean(), draw.std(), draw.min(), draw.max()])
    np.savez_compressed(OUT / "initializers.npz", **arrays)
    print(f"initializers: {len(arrays) // 2} draws")


# --------------------------------------------------------------------------- regularizers


def write_regularizers():
    w = [fixture_value("reg/w0", [3, 4]), fixture_value("reg/w1", [5])]
    cases = {
        "l1": slim.l1_regularizer(0.3),
        "l2": slim.l2_regularizer(0.3),
        "l1_l2": slim.l1_l2_regularizer(0.1, 0.2),
        "l1_l2_no_l1": slim.l1_l2_regularizer(0.0, 0.2),
        "l1_l2_no_l2": slim.l1_l2_regularizer(0.4, 0.0),
        "sum": slim.sum_regularizer([slim.l1_regularizer(0.5), None, slim.l2_regularizer(0.25)]),
    }
    arrays = {"w0": w[0], "w1": w[1]}
    g = tf.Graph()
    with g.as_default(), v1.Session() as sess:
        tensors = [tf.constant(a) for a in w]
        for key, reg in cases.items():
            arrays[f"{key}/w0"] = sess.run(reg(tensors[0]))
            arrays[f"{key}/applied"] = sess.run(slim.apply_regularization(reg, tensors))
        arrays["applied_zero_scale"] = sess.run(slim.apply_regularization(slim.l2_regularizer(0.0), tensors))
    np.savez_compressed(OUT / "regularizers.npz", **arrays)
    print(f"regularizers: {len(cases)} regularizers")


# --------------------------------------------------------------------------- signatures

GRAPH_PLUMBING = ("reuse", "variables_collections", "outputs_collections", "updates_collections")
SIGNATURE_NAMES = sorted(set(LAYERS) - {"l2_normalize"}) + [
    "convolution1d", "convolution2d", "convolution3d", "convolution2d_transpose", "convolution3d_transpose",
    "convolution2d_in_plane", "separable_convolution2d", "dropout", "xavier_initializer",
    "xavier_initializer_conv2d", "variance_scaling_initializer", "l1_regularizer", "l2_regularizer",
    "l1_l2_regularizer", "sum_regularizer", "apply_regularization",
]


def plain_default(value):
    if value is inspect.Parameter.empty:
        return {"$required": True}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, tuple) and all(isinstance(v, int) for v in value):
        return list(value)
    return {"$object": type(value).__name__}


def write_signatures():
    out = {}
    for name in SIGNATURE_NAMES:
        fn = getattr(slim, name, None) or getattr(slim.layers, name)
        params = inspect.signature(fn).parameters.values()
        out[name] = [[p.name, plain_default(p.default)] for p in params if p.name not in GRAPH_PLUMBING
                     and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    (OUT / "signatures.json").write_text(json.dumps(out, indent=1, sort_keys=True) + "\n")
    print(f"signatures: {len(out)} functions")


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    every = {c["name"] for c in conv_cases() + core_cases() + normalization_cases() + pooling_cases()}
    assert GRAD_CASES <= every, sorted(GRAD_CASES - every)
    write_cases("conv", conv_cases())
    write_cases("core", core_cases() + regularized_net_case())
    write_cases("normalization", normalization_cases())
    write_cases("pooling", pooling_cases())
    write_initializers()
    write_regularizers()
    write_signatures()


if __name__ == "__main__":
    main()
