"""MobileNet V1 options, shapes and arg scope (research/slim ``mobilenet_v1_test.py``'s cases).

Everything is traced with ``jax.eval_shape`` (nothing compiles); the numerics
are the golden test's (tests/test_nets_golden.py).
"""

import jax
import pytest

import jslim.nets
from jslim import layers
from jslim.nets import mobilenet_v1 as mv1
from jslim.scopes import arg_scope, arg_scope_func_key
from net_shapes import count, shapes, trace
from net_shapes import names as var_shapes

BATCH = 5

# research/slim mobilenet_v1_test.py testBuildAndCheckAllEndPointsUptoConv2d_13: (spatial, depth) at 224.
SHAPES_224 = {
    "Conv2d_0": (112, 32),
    "Conv2d_1_depthwise": (112, 32), "Conv2d_1_pointwise": (112, 64),
    "Conv2d_2_depthwise": (56, 64), "Conv2d_2_pointwise": (56, 128),
    "Conv2d_3_depthwise": (56, 128), "Conv2d_3_pointwise": (56, 128),
    "Conv2d_4_depthwise": (28, 128), "Conv2d_4_pointwise": (28, 256),
    "Conv2d_5_depthwise": (28, 256), "Conv2d_5_pointwise": (28, 256),
    "Conv2d_6_depthwise": (14, 256), "Conv2d_6_pointwise": (14, 512),
    "Conv2d_7_depthwise": (14, 512), "Conv2d_7_pointwise": (14, 512),
    "Conv2d_8_depthwise": (14, 512), "Conv2d_8_pointwise": (14, 512),
    "Conv2d_9_depthwise": (14, 512), "Conv2d_9_pointwise": (14, 512),
    "Conv2d_10_depthwise": (14, 512), "Conv2d_10_pointwise": (14, 512),
    "Conv2d_11_depthwise": (14, 512), "Conv2d_11_pointwise": (14, 512),
    "Conv2d_12_depthwise": (7, 512), "Conv2d_12_pointwise": (7, 1024),
    "Conv2d_13_depthwise": (7, 1024), "Conv2d_13_pointwise": (7, 1024),
}
END_POINTS = list(SHAPES_224)


def _expected(spatial_overrides=None, depth_scale=1.0, spatial_scale=1.0):
    out = {}
    for name, (size, depth) in SHAPES_224.items():
        size = (spatial_overrides or {}).get(name, int(size * spatial_scale))
        out[name] = (BATCH, size, size, int(depth * depth_scale))
    return out


def _base(size=224, **kwargs):
    """End-point shapes of mobilenet_v1_base under slim's test scope (batch norm on every conv)."""

    def fn(x):
        with arg_scope([layers.conv2d, layers.separable_conv2d], normalizer_fn=layers.batch_norm):
            return mv1.mobilenet_v1_base(x, **kwargs)

    (net, end_points), variables = trace(fn, (BATCH, size, size, 3))
    return net, end_points, variables


@pytest.mark.parametrize("use_explicit_padding", [False, True])
@pytest.mark.parametrize(
    "output_stride,overrides",
    [
        (None, {}),
        # testOutputStride16...: the last two blocks stay at 14x14.
        (16, {n: 14 for n in END_POINTS[-4:]}),
        # testOutputStride8...: everything from Conv2d_6 on stays at 28x28.
        (8, {n: 28 for n in END_POINTS[11:]}),
    ],
)
def test_base_end_point_shapes(output_stride, overrides, use_explicit_padding):
    net, end_points, _ = _base(output_stride=output_stride, use_explicit_padding=use_explicit_padding)
    assert shapes(end_points) == _expected(overrides)
    assert net.shape == end_points["Conv2d_13_pointwise"].shape


def test_base_atrous_rates_and_explicit_padding_variables():
    # Same variables whatever the stride/padding options (rates do not change kernels).
    plain = var_shapes(_base(64)[2])
    assert var_shapes(_base(64, output_stride=8, use_explicit_padding=True)[2]) == plain
    assert plain["params/MobilenetV1/Conv2d_13_depthwise/depthwise_weights"] == (3, 3, 1024, 1)


def test_base_facenet_like_depth_multiplier():
    # testBuildAndCheckAllEndPointsApproximateFaceNet: 128x128, depth_multiplier 0.75.
    for explicit in (False, True):
        _, end_points, _ = _base(128, depth_multiplier=0.75, use_explicit_padding=explicit)
        assert shapes(end_points) == _expected(depth_scale=0.75, spatial_scale=128 / 224)


@pytest.mark.parametrize("final_endpoint", ["Conv2d_0", "Conv2d_4_depthwise", "Conv2d_7_pointwise", "Conv2d_13_depthwise"])
def test_base_final_endpoint(final_endpoint):
    net, end_points, variables = _base(64, final_endpoint=final_endpoint)
    index = END_POINTS.index(final_endpoint)
    assert set(end_points) == set(END_POINTS[: index + 1])
    assert net.shape == end_points[final_endpoint].shape
    built = {n.split("/")[2] for n in var_shapes(variables)}
    assert built == set(END_POINTS[: index + 1])


def test_base_custom_conv_defs_and_scope():
    conv_defs = (
        mv1.Conv(kernel=(3, 3), stride=2, depth=32),
        mv1.DepthSepConv(kernel=(3, 3), stride=1, depth=64),
        mv1.DepthSepConv(kernel=(3, 3), stride=2, depth=128),
        mv1.DepthSepConv(kernel=(3, 3), stride=1, depth=512),
    )
    net, end_points, variables = _base(final_endpoint="Conv2d_3_pointwise", conv_defs=conv_defs, scope="Custom")
    assert net.shape == (BATCH, 56, 56, 512)
    assert set(end_points) == set(END_POINTS[:7])
    assert all(n.split("/")[1] == "Custom" for n in var_shapes(variables))


def test_base_parameter_count():
    # testModelHasExpectedNumberOfParameters: slim.get_model_variables (weights, beta,
    # moving statistics; slim.batch_norm's default has no gamma) of the base.
    variables = _base(64)[2]
    assert count(variables, ("params", "batch_stats")) == 3217920


@pytest.mark.parametrize(
    "net,exact,published",
    [
        ("mobilenet_v1", 4_233_001, 4.24),
        ("mobilenet_v1_075", 2_586_329, 2.59),
        ("mobilenet_v1_050", 1_332_105, 1.34),
        ("mobilenet_v1_025", 470_329, 0.47),
    ],
)
def test_parameter_count_matches_published_table(net, exact, published):
    """research/slim ``nets/mobilenet_v1.md``'s "Million Parameters" at 224, 1001 classes.

    The table has two decimals. The trainable count (weights, biases, batch-norm
    beta and gamma; no moving statistics) is within 0.01 M of every entry: it
    rounds to the published value for 0.75 and 0.25 and lies just below it for
    1.0 (4.233 vs 4.24) and 0.5 (1.332 vs 1.34). Counting the moving statistics
    too (4.255, 2.603, 1.343, 0.476) or the weights only (4.211, ...) misses by
    more, so no single counting reproduces all four by rounding.
    """
    model = jslim.nets.build(net)
    _, variables = trace(model, (1, 224, 224, 3))
    assert count(variables, ("params",)) == exact
    assert abs(exact / 1e6 - published) <= 0.01


def test_build_depth_multiplier_scales_every_end_point():
    # testBuildEndPointsWithDepthMultiplier{Less,Greater}ThanOne.
    def depths(multiplier):
        model = mv1.MobilenetV1(num_classes=1000, depth_multiplier=multiplier)
        (_, end_points), _ = trace(model, (2, 64, 64, 3))
        return {k: v.shape[3] for k, v in end_points.items() if k.startswith("Conv")}

    base = depths(1.0)
    assert depths(0.5) == {k: d // 2 for k, d in base.items()}
    assert depths(2.0) == {k: d * 2 for k, d in base.items()}


def test_min_depth():
    model = mv1.MobilenetV1(num_classes=10, depth_multiplier=0.125, min_depth=16)
    (_, end_points), _ = trace(model, (1, 64, 64, 3))
    assert end_points["Conv2d_0"].shape[3] == 16  # max(int(32 * 0.125), 16)
    assert end_points["Conv2d_13_pointwise"].shape[3] == 128


def test_classification_and_prelogits():
    model = mv1.MobilenetV1(num_classes=1000)
    (logits, end_points), variables = trace(model, (BATCH, 224, 224, 3))
    assert logits.shape == (BATCH, 1000)
    assert end_points["Predictions"].shape == (BATCH, 1000)
    assert end_points["AvgPool_1a"].shape == (BATCH, 1, 1, 1024)
    assert var_shapes(variables)["params/MobilenetV1/Logits/Conv2d_1c_1x1/biases"] == (1000,)

    for num_classes in (0, None):
        (net, end_points), variables = trace(mv1.MobilenetV1(num_classes=num_classes), (BATCH, 224, 224, 3))
        assert net.shape == (BATCH, 1, 1, 1024)
        assert "Logits" not in end_points and "Predictions" not in end_points
        assert not any("Conv2d_1c_1x1" in n for n in var_shapes(variables))


def test_half_size_images_and_not_squeezed():
    # testHalfSizeImages: the 7x7 pool shrinks to the 4x4 feature map.
    (logits, end_points), _ = trace(mv1.MobilenetV1(num_classes=1000), (BATCH, 112, 112, 3))
    assert logits.shape == (BATCH, 1000)
    assert end_points["Conv2d_13_pointwise"].shape == (BATCH, 4, 4, 1024)
    # testLogitsNotSqueezed.
    (logits, _), _ = trace(mv1.MobilenetV1(num_classes=25, spatial_squeeze=False), (1, 224, 224, 3))
    assert logits.shape == (1, 1, 1, 25)


def test_global_pool_on_a_large_input():
    # testGlobalPoolUnknownImageShape: 250x300 -> 8x10 features -> 1x1 global pool.
    (logits, end_points), _ = trace(mv1.MobilenetV1(num_classes=1000, global_pool=True), (1, 250, 300, 3))
    assert end_points["Conv2d_13_pointwise"].shape == (1, 8, 10, 1024)
    assert end_points["global_pool"].shape == (1, 1, 1, 1024)
    assert "AvgPool_1a" not in end_points
    assert logits.shape == (1, 1000)
    # Without global_pool slim's fixed 7x7 stride-2 pool leaves 1x2, which spatial_squeeze rejects.
    (logits, end_points), _ = trace(mv1.MobilenetV1(num_classes=10, spatial_squeeze=False), (1, 250, 300, 3))
    assert end_points["AvgPool_1a"].shape == (1, 1, 2, 1024)
    assert logits.shape == (1, 1, 2, 10)


def test_invalid_options_raise():
    with pytest.raises(ValueError, match="depth_multiplier is not greater than zero"):
        trace(mv1.MobilenetV1(depth_multiplier=0.0), (1, 64, 64, 3))
    with pytest.raises(ValueError, match="depth_multiplier is not greater than zero"):
        _base(64, depth_multiplier=-0.1)
    with pytest.raises(ValueError, match="8, 16, 32"):
        _base(64, output_stride=4)
    with pytest.raises(ValueError, match="Conv2d_13_pointwise"):
        _base(64, final_endpoint="Conv2d_14_pointwise")
    with pytest.raises(ValueError, match="rank"):
        trace(mv1.MobilenetV1(), (64, 64, 3))


def _bn_defaults(**kwargs):
    with mv1.mobilenet_v1_arg_scope(**kwargs) as sc:
        return sc.defaults_for(arg_scope_func_key(layers.batch_norm))


def test_arg_scope_batch_norm_is_training():
    # testBatchNormScope{DoesNotHave,DoesHas}IsTraining...
    assert "is_training" not in _bn_defaults(is_training=None)
    for value in (True, False):
        assert _bn_defaults(is_training=value)["is_training"] is value
    assert _bn_defaults() == {"center": True, "scale": True, "decay": 0.9997, "epsilon": 0.001, "is_training": True}
    assert _bn_defaults(batch_norm_decay=0.9, batch_norm_epsilon=1e-5)["decay"] == 0.9


def test_arg_scope_regularizers_and_normalizer():
    def scoped(**kwargs):
        with mv1.mobilenet_v1_arg_scope(**kwargs) as sc:
            conv = sc.defaults_for(arg_scope_func_key(layers.conv2d))
            sep = sc.defaults_for(arg_scope_func_key(layers.separable_conv2d))
        return conv, sep

    conv, sep = scoped(weight_decay=0.1, stddev=0.5)
    assert conv["weights_regularizer"] == layers.l2_regularizer(0.1)
    assert sep["weights_regularizer"] is None
    assert conv["weights_initializer"] == layers.truncated_normal_initializer(stddev=0.5)
    assert conv["activation_fn"] is jax.nn.relu6 and sep["normalizer_fn"] is layers.batch_norm
    conv, sep = scoped(weight_decay=0.1, regularize_depthwise=True)
    assert sep["weights_regularizer"] == layers.l2_regularizer(0.1)

    # normalizer_fn=None: biases instead of batch norm everywhere.
    with mv1.mobilenet_v1_arg_scope(normalizer_fn=None):
        model = mv1.MobilenetV1(num_classes=10, depth_multiplier=0.25)
    names = var_shapes(trace(model, (1, 32, 32, 3))[1])
    assert not any("BatchNorm" in n for n in names)
    assert names["params/MobilenetV1/Conv2d_1_depthwise/biases"] == (8,)


def test_registry_variants():
    for name, multiplier in [("mobilenet_v1", 1.0), ("mobilenet_v1_075", 0.75), ("mobilenet_v1_050", 0.5), ("mobilenet_v1_025", 0.25)]:
        spec = jslim.nets.get_spec(name)
        assert (spec.default_image_size, spec.num_classes, spec.label_offset, spec.preprocessing) == (224, 1001, 1, "inception")
        model = jslim.nets.build(name, num_classes=None)
        assert model.depth_multiplier == multiplier
        weights = var_shapes(trace(model, (1, 32, 32, 3))[1])
        depths = {shape[-1] for name, shape in weights.items() if name.endswith("/weights")}
        assert depths == {int(d * multiplier) for d in (32, 64, 128, 256, 512, 1024)}
    assert mv1.mobilenet_v1_050().depth_multiplier == 0.5
