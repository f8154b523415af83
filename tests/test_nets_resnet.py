"""resnet_utils, resnet_v1 and resnet_v2: hand-computed goldens, options and errors.

Ported from research/slim ``nets/resnet_v1_test.py`` / ``resnet_v2_test.py``:
``testSubsample*`` and ``testConv2DSame{Even,Odd}`` (hand-computed constants),
end point names and shapes of the tiny ``_resnet_small`` nets, atrous
``output_stride`` equivalence, ``store_non_strided_activations`` and the
``depth_multiplier`` / ``min_base_depth`` options. Shapes are traced
(``jax.eval_shape``); only tiny nets are compiled. The full-size nets are
compared with TF-Slim in test_nets_golden.py.
"""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import golden
import jslim.nets
from jslim import layers
from jslim.nets import resnet_utils, resnet_v1, resnet_v2
from jslim.nets.resnet_utils import Block, conv2d_same, resnet_arg_scope, stack_blocks_dense, subsample
from jslim.nets.resnet_v1 import ResNetV1, resnet_v1_block
from jslim.nets.resnet_v2 import ResNetV2, resnet_v2_block
from jslim.scopes import arg_scope
from net_shapes import Fn, names, shapes, trace

FAMILIES = {"v1": (ResNetV1, resnet_v1_block), "v2": (ResNetV2, resnet_v2_block)}


def create_test_input(batch, height, width, channels):
    """slim's test input: ``x[b, i, j, c] = i + j``."""
    grid = np.arange(height)[:, None] + np.arange(width)[None, :]
    return np.tile(grid.reshape(1, height, width, 1), (batch, 1, 1, channels)).astype(np.float32)


def run(fn, x, params=None):
    """``fn(x)`` inside a module, with ``params`` (or freshly initialized ones)."""
    module = Fn(fn)
    if params is None:
        return module.init_with_output(jax.random.key(0), x)[0]
    return module.apply({"params": params}, x)


def init(model, x):
    """Variables of ``model`` drawn with numpy by the golden weight rule.

    Traced, not compiled: XLA takes seconds to compile the truncated-normal
    initializers of even a tiny ResNet.
    """
    template = jax.eval_shape(model.init, jax.random.key(0), x)

    def draw(path, leaf):
        return jnp.asarray(golden.golden_value("/".join(str(p.key) for p in path), leaf.shape))

    return {
        col: jax.tree_util.tree_map_with_path(draw, tree)
        for col, tree in template.items()
        if col not in golden.SKIP_COLLECTIONS
    }


def apply(model, variables, x, **kwargs):
    """``model.apply(variables, x, **kwargs)``, compiled."""
    return jax.jit(functools.partial(model.apply, **kwargs))(variables, x)


# --- resnet_utils: hand-computed goldens (resnet_v1_test.ResnetUtilsTest) -----------


@pytest.mark.parametrize(
    "size, expected",
    [(3, [[0, 2], [6, 8]]), (4, [[0, 2], [8, 10]])],
)
def test_subsample(size, expected):
    x = np.arange(size * size, dtype=np.float32).reshape(1, size, size, 1)
    y = run(lambda v: subsample(v, 2), x)
    np.testing.assert_array_equal(y[0, :, :, 0], expected)


CONV_SAME = {
    # n: (stride-1 'SAME' conv, its subsample == conv2d_same(stride 2), TF's strided 'SAME' conv)
    4: (
        [[14, 28, 43, 26], [28, 48, 66, 37], [43, 66, 84, 46], [26, 37, 46, 22]],
        [[14, 43], [43, 84]],
        [[48, 37], [37, 22]],
    ),
    5: (
        [
            [14, 28, 43, 58, 34],
            [28, 48, 66, 84, 46],
            [43, 66, 84, 102, 55],
            [58, 84, 102, 120, 64],
            [34, 46, 55, 64, 30],
        ],
        [[14, 43, 34], [43, 84, 55], [34, 55, 30]],
        [[14, 43, 34], [43, 84, 55], [34, 55, 30]],
    ),
}


@pytest.mark.parametrize("n", [4, 5], ids=["testConv2DSameEven", "testConv2DSameOdd"])
def test_conv2d_same(n):
    y1_expected, y2_expected, y4_expected = CONV_SAME[n]
    x = create_test_input(1, n, n, 1)
    w = create_test_input(1, 3, 3, 1).reshape(3, 3, 1, 1)
    params = {"Conv": {"weights": jnp.asarray(w), "biases": jnp.zeros(1)}}

    y1 = run(lambda v: layers.conv2d(v, 1, [3, 3], stride=1, scope="Conv"), x, params)
    y2 = run(lambda v: subsample(layers.conv2d(v, 1, [3, 3], stride=1, scope="Conv"), 2), x, params)
    y3 = run(lambda v: conv2d_same(v, 1, 3, stride=2, scope="Conv"), x, params)
    y4 = run(lambda v: layers.conv2d(v, 1, [3, 3], stride=2, scope="Conv"), x, params)
    np.testing.assert_allclose(y1[0, :, :, 0], y1_expected)
    np.testing.assert_allclose(y2[0, :, :, 0], y2_expected)
    np.testing.assert_allclose(y3[0, :, :, 0], y2_expected)
    np.testing.assert_allclose(y4[0, :, :, 0], y4_expected)


def test_conv2d_same_atrous_padding():
    # rate 2, kernel 3: effective kernel 5, pads (2, 2) before a stride-2 VALID conv.
    out, variables = trace(lambda v: conv2d_same(v, 4, 3, stride=2, rate=1, scope="c"), (1, 10, 10, 2))
    assert out.shape == (1, 5, 5, 4)
    assert names(variables) == {"params/c/weights": (3, 3, 2, 4), "params/c/biases": (4,)}


def test_block_is_data_and_hashable():
    block = resnet_v1_block("block1", base_depth=2, num_units=3, stride=2)
    assert block.scope == "block1" and block.unit_fn is resnet_v1.bottleneck
    assert [dict(u) for u in block.args] == [
        {"depth": 8, "depth_bottleneck": 2, "stride": 1},
        {"depth": 8, "depth_bottleneck": 2, "stride": 1},
        {"depth": 8, "depth_bottleneck": 2, "stride": 2},
    ]
    assert hash(block) == hash(resnet_v1_block("block1", 2, 3, 2))
    assert hash(ResNetV1(blocks=(block,))) == hash(ResNetV1(blocks=(resnet_v1_block("block1", 2, 3, 2),)))


def test_stack_blocks_dense_end_points():
    """resnet_v1_test.testEndPointsV1: the collection of a tiny bottleneck stack."""
    blocks = (resnet_v1_block("block1", 1, 2, 2), resnet_v1_block("block2", 2, 2, 1))

    def plain(x):
        end_points = {}
        with resnet_arg_scope(), layers.variable_scope("tiny"):
            stack_blocks_dense(x, blocks, outputs_collections=end_points)
        return end_points

    end_points, _ = trace(plain, (2, 32, 16, 3))
    expected = {"tiny/block1", "tiny/block2"}
    for block, shortcut_units in (("block1", (1,)), ("block2", (1,))):
        for unit in (1, 2):
            prefix = f"tiny/{block}/unit_{unit}/bottleneck_v1"
            expected |= {prefix} | {f"{prefix}/conv{i}" for i in (1, 2, 3)}
            if unit in shortcut_units:
                expected.add(f"{prefix}/shortcut")
    assert set(end_points) == expected
    assert end_points["tiny/block1"].shape == (2, 16, 8, 4)
    assert end_points["tiny/block2"].shape == (2, 16, 8, 8)


# --- tiny complete nets (resnet_v{1,2}_test.ResnetCompleteNetworkTest) -----------------


def resnet_small(family, **options):
    """slim's ``_resnet_small``: depths 4/8/16/32, units 3/3/3/2, scope ``resnet``."""
    cls, block = FAMILIES[family]
    blocks = (block("block1", 1, 3, 2), block("block2", 2, 3, 2), block("block3", 4, 3, 2), block("block4", 8, 2, 1))
    with resnet_arg_scope():
        return cls(blocks=blocks, scope_name="resnet", **options)


@pytest.mark.parametrize("family", FAMILIES)
def test_classification_end_points(family):
    logits, variables = trace(resnet_small(family, num_classes=10, spatial_squeeze=False), (2, 224, 224, 3))
    logits, end_points = logits
    assert logits.shape == (2, 1, 1, 10)
    assert end_points["predictions"].shape == (2, 1, 1, 10)
    assert end_points["global_pool"].shape == (2, 1, 1, 32)
    assert end_points["resnet/logits"].shape == (2, 1, 1, 10)
    assert "resnet/spatial_squeeze" not in end_points
    assert names(variables)["params/resnet/logits/weights"] == (1, 1, 32, 10)


@pytest.mark.parametrize("family", FAMILIES)
def test_end_point_names(family):
    """testEndpointNames: every conv, unit and block by scope name, then the head."""
    (_, end_points), _ = trace(resnet_small(family, num_classes=10), (2, 224, 224, 3))
    unit = f"bottleneck_{family}"
    expected = ["resnet/conv1"]
    for block in range(1, 5):
        for u in range(1, 4 if block < 4 else 3):
            expected += [f"resnet/block{block}/unit_{u}/{unit}/conv{c}" for c in (1, 2, 3)]
            expected.append(f"resnet/block{block}/unit_{u}/{unit}")
        expected.append(f"resnet/block{block}/unit_1/{unit}/shortcut")
        expected.append(f"resnet/block{block}")
    expected += ["global_pool", "resnet/logits", "resnet/spatial_squeeze", "predictions"]
    assert sorted(end_points) == sorted(expected)


BLOCK_SHAPES = {
    # (input size, include_root_block, output_stride): shapes of block1..block4
    "classification": (224, True, None, [(28, 28, 4), (14, 14, 8), (7, 7, 16), (7, 7, 32)]),
    "fully_convolutional": (321, True, None, [(41, 41, 4), (21, 21, 8), (11, 11, 16), (11, 11, 32)]),
    "rootless": (128, False, None, [(64, 64, 4), (32, 32, 8), (16, 16, 16), (16, 16, 32)]),
    "atrous": (321, True, 8, [(41, 41, 4), (41, 41, 8), (41, 41, 16), (41, 41, 32)]),
}


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("case", BLOCK_SHAPES)
def test_block_shapes(family, case):
    size, root, output_stride, expected = BLOCK_SHAPES[case]
    model = resnet_small(
        family, num_classes=10, global_pool=case == "classification", spatial_squeeze=case == "classification",
        include_root_block=root, output_stride=output_stride,
    )
    (_, end_points), _ = trace(model, (2, size, size, 3))
    assert [end_points[f"resnet/block{i}"].shape[1:] for i in range(1, 5)] == expected


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("output_stride, expected", [(None, 3), (8, 9)])
def test_fully_convolutional_features(family, output_stride, expected):
    """num_classes=None, global_pool=False: the last block's map (65x65 input)."""
    (net, end_points), _ = trace(resnet_small(family, global_pool=False, output_stride=output_stride), (2, 65, 65, 3))
    assert net.shape == (2, expected, expected, 32)
    assert "predictions" not in end_points and "global_pool" not in end_points


def test_v2_has_preactivation_and_postnorm():
    _, variables = trace(resnet_small("v2", num_classes=10), (1, 64, 64, 3))
    got = names(variables)
    assert got["params/resnet/conv1/biases"] == (64,)  # plain conv1: no batch norm
    assert "params/resnet/conv1/BatchNorm/beta" not in got
    assert got["params/resnet/postnorm/gamma"] == (32,)
    assert got["batch_stats/resnet/block1/unit_1/bottleneck_v2/preact/moving_mean"] == (64,)  # of the input
    assert got["params/resnet/block1/unit_1/bottleneck_v2/conv3/biases"] == (4,)


@pytest.mark.parametrize("family, output_strides", [("v1", (4, 8, 16, 32)), ("v2", (4, 16))])
def test_atrous_values_match_subsampled_nominal(family, output_strides):
    """testAtrousFullyConvolutionalValues: dense atrous features, subsampled, equal the nominal ones."""
    x = create_test_input(2, 81, 81, 3) / 80.0
    nominal = resnet_small(family, global_pool=False)
    variables = init(nominal, x)
    expected, _ = apply(nominal, variables, x)
    for output_stride in output_strides:
        dense = resnet_small(family, global_pool=False, output_stride=output_stride)
        output, _ = apply(dense, variables, x)
        output = run(lambda v, f=32 // output_stride: subsample(v, f), output)
        np.testing.assert_allclose(output, expected, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("output_stride", [None, 4])
def test_store_non_strided_activations(output_stride):
    """testStridingLastUnitVsSubsampleBlockEnd: same output; block end points are denser."""
    x = create_test_input(1, 30, 31, 3) / 60.0
    options = dict(global_pool=False, include_root_block=False, output_stride=output_stride)
    strided = resnet_small("v1", **options)
    dense = resnet_small("v1", store_non_strided_activations=True, **options)
    variables = init(strided, x)
    out, end_points = apply(strided, variables, x)
    out_dense, end_points_dense = apply(dense, variables, x)
    np.testing.assert_allclose(out, out_dense, atol=1e-4, rtol=1e-4)
    for i in range(3):
        atrous = output_stride is not None and 2**i >= output_stride
        expected = end_points_dense[f"resnet/block{i + 1}"]
        if not atrous:
            assert expected.shape[1] > end_points[f"resnet/block{i + 1}"].shape[1]
            expected = run(lambda v: subsample(v, 2), expected)
        np.testing.assert_allclose(end_points[f"resnet/block{i + 1}"], expected, atol=1e-4, rtol=1e-4)


# --- the named nets: options ---------------------------------------------------------


@pytest.mark.parametrize("name", ["resnet_v1_50", "resnet_v1_200"])
def test_v1_depth_multiplier(name):
    """testDepthMultiplier: block depths scale by 0.25 (min_base_depth=1), spatial shapes stay."""
    base = jslim.nets.build(name, num_classes=10, min_base_depth=1)
    thin = jslim.nets.build(name, num_classes=10, min_base_depth=1, depth_multiplier=0.25)
    (_, ep_base), _ = trace(base, (1, 64, 64, 3))
    (_, ep_thin), _ = trace(thin, (1, 64, 64, 3))
    for block in ("block1", "block2", "block3", "block4"):
        b, t = ep_base[f"{name}/{block}"].shape, ep_thin[f"{name}/{block}"].shape
        assert t[:3] == b[:3] and t[3] == int(0.25 * b[3])


def test_v1_min_base_depth():
    """testMinBaseDepth: depth_multiplier=0 leaves every block at 4 * min_base_depth."""
    model = jslim.nets.build("resnet_v1_50", num_classes=10, min_base_depth=5, depth_multiplier=0)
    (_, end_points), _ = trace(model, (1, 64, 64, 3))
    assert [end_points[f"resnet_v1_50/block{i}"].shape[3] for i in range(1, 5)] == [20] * 4


@pytest.mark.parametrize("name, depth", [("resnet_v1_50", 50), ("resnet_v2_101", 101), ("resnet_v2_200", 200)])
def test_named_nets(name, depth):
    spec = jslim.nets.get_spec(name)
    family = name[:9]
    assert (spec.num_classes, spec.label_offset) == ((1000, 0) if family == "resnet_v1" else (1001, 1))
    assert spec.default_image_size == 224 and spec.preprocessing == "vgg"
    model = jslim.nets.build(name)
    assert model.scope_name == name and model.num_units == resnet_utils.RESNET_UNITS[depth]
    variant = getattr({"resnet_v1": resnet_v1, "resnet_v2": resnet_v2}[family], name)()
    assert (variant.scope_name, variant.num_units) == (name, resnet_utils.RESNET_UNITS[depth])


def test_resnet_v1_50_shapes_and_units():
    (logits, end_points), variables = trace(jslim.nets.build("resnet_v1_50"), (2, 224, 224, 3))
    assert logits.shape == (2, 1000)
    got = shapes(end_points)
    assert got["resnet_v1_50/conv1"] == (2, 112, 112, 64)
    assert got["resnet_v1_50/block1"] == (2, 28, 28, 256)
    assert got["resnet_v1_50/block4"] == (2, 7, 7, 2048)
    assert got["resnet_v1_50/block3/unit_6/bottleneck_v1/conv2"] == (2, 7, 7, 256)
    assert sum(k.endswith("bottleneck_v1") for k in got) == 16
    assert names(variables)["params/resnet_v1_50/conv1/BatchNorm/gamma"] == (64,)


@pytest.mark.parametrize("family", FAMILIES)
def test_output_stride_16_on_named_net(family):
    """The docstring's segmentation use: global_pool=False, output_stride=16 at 321 -> 21x21."""
    name = f"resnet_{family}_50"
    model = jslim.nets.build(name, num_classes=21, global_pool=False, spatial_squeeze=False, output_stride=16)
    (logits, end_points), _ = trace(model, (1, 321, 321, 3))
    assert logits.shape == (1, 21, 21, 21)
    assert end_points[f"{name}/block4"].shape == (1, 21, 21, 2048)


@pytest.mark.parametrize("num_classes", [0, None])
def test_features_without_classes(num_classes):
    (net, end_points), variables = trace(jslim.nets.build("resnet_v2_50", num_classes=num_classes), (1, 64, 64, 3))
    assert net.shape == (1, 1, 1, 2048)
    assert "predictions" not in end_points and "resnet_v2_50/logits" not in end_points
    assert not any("/logits/" in n for n in names(variables))


# --- arg scope -----------------------------------------------------------------------


def test_arg_scope_use_batch_norm_false_gives_biases():
    with resnet_arg_scope(use_batch_norm=False):
        model = ResNetV1(blocks=(resnet_v1_block("block1", 1, 1, 1),), num_classes=3)
    _, variables = trace(model, (1, 32, 32, 3))
    got = names(variables)
    assert got["params/resnet_v1_50/conv1/biases"] == (64,)
    assert not any("BatchNorm" in n for n in got)


def test_arg_scope_batch_norm_scale_and_decay():
    with resnet_arg_scope(batch_norm_scale=False, batch_norm_decay=0.5):
        model = ResNetV1(blocks=(resnet_v1_block("block1", 1, 1, 1),), num_classes=3)
    x = create_test_input(2, 16, 16, 3) / 30.0
    variables = init(model, x)
    assert not any(n.endswith("gamma") for n in names(variables))
    _, updates = apply(model, variables, x, is_training=True, mutable=["batch_stats"])
    before = variables["batch_stats"]["resnet_v1_50"]["conv1"]["BatchNorm"]["moving_mean"]
    after = updates["batch_stats"]["resnet_v1_50"]["conv1"]["BatchNorm"]["moving_mean"]
    # moving -= (1 - decay) * (moving - batch_mean), decay 0.5: halfway to conv1's batch mean.
    def conv1(v):
        with arg_scope([layers.conv2d], activation_fn=None, normalizer_fn=None, biases_initializer=None):
            return conv2d_same(v, 64, 7, 2, scope="conv1")

    pre_norm = run(conv1, x, {"conv1": {"weights": variables["params"]["resnet_v1_50"]["conv1"]["weights"]}})
    np.testing.assert_allclose(after, 0.5 * (before + np.mean(pre_norm, axis=(0, 1, 2))), rtol=1e-5, atol=1e-6)


def test_arg_scope_weight_decay_writes_losses():
    with resnet_arg_scope(weight_decay=0.5):
        model = ResNetV2(blocks=(resnet_v2_block("block1", 1, 1, 1),), num_classes=3)
    x = create_test_input(1, 16, 16, 3)
    variables = init(model, x)
    _, state = apply(model, variables, x, mutable=["losses"])
    w = variables["params"]["resnet_v2_50"]["conv1"]["weights"]
    loss = state["losses"]["resnet_v2_50"]["conv1"]["weights"]
    np.testing.assert_allclose(loss, 0.5 * np.sum(np.square(w)) / 2, rtol=1e-5)


def test_bounded_activations_via_arg_scope():
    """``use_bounded_activations`` (set on v1's bottleneck through arg_scope) caps units at 6."""
    x = create_test_input(1, 16, 16, 3)
    with resnet_arg_scope(), arg_scope([resnet_v1.bottleneck], use_bounded_activations=True):
        model = ResNetV1(blocks=(resnet_v1_block("block1", 2, 2, 1),), num_classes=None, global_pool=False)
    variables = init(model, x)
    _, end_points = apply(model, variables, x)
    unit = end_points["resnet_v1_50/block1/unit_2/bottleneck_v1"]
    assert float(jnp.max(unit)) <= 6.0 and float(jnp.min(unit)) >= 0.0


def test_is_training_none_keeps_the_ambient_batch_norm_mode():
    x = create_test_input(2, 16, 16, 3) / 30.0
    model = resnet_small("v1", num_classes=None, global_pool=False, include_root_block=False)
    variables = init(model, x)
    train, _ = apply(model, variables, x, is_training=True)
    ambient, _ = apply(model, variables, x, is_training=None)  # batch_norm's default: training
    infer, _ = apply(model, variables, x, is_training=False)
    np.testing.assert_allclose(ambient, train)
    assert not np.allclose(ambient, infer)


# --- errors --------------------------------------------------------------------------


def test_output_stride_must_be_a_multiple_of_4():
    with pytest.raises(ValueError, match="multiple of 4"):
        trace(resnet_small("v1", output_stride=6), (1, 64, 64, 3))


@pytest.mark.parametrize("family", FAMILIES)
def test_unreachable_output_stride(family):
    with pytest.raises(ValueError, match="output_stride 64 cannot be reached; valid values: 4, 8, 16, 32 or None"):
        trace(resnet_small(family, output_stride=64), (1, 64, 64, 3))


def test_unreachable_output_stride_in_stack_blocks_dense():
    blocks = (Block("b", resnet_v1.bottleneck, [{"depth": 4, "depth_bottleneck": 1, "stride": 3}]),)
    with pytest.raises(ValueError, match="output_stride 2 cannot be reached"):
        trace(lambda x: stack_blocks_dense(x, blocks, output_stride=2), (1, 9, 9, 3))


def test_spatial_squeeze_needs_a_1x1_map():
    with pytest.raises(ValueError, match="spatial_squeeze needs 1x1 logits"):
        trace(resnet_small("v2", num_classes=10, global_pool=False), (1, 64, 64, 3))


def test_num_units_needs_four_blocks():
    with pytest.raises(ValueError, match="one count per block"):
        trace(ResNetV1(num_units=(1, 1), num_classes=3), (1, 32, 32, 3))


def test_unknown_option_lists_the_valid_ones():
    with pytest.raises(TypeError, match="store_non_strided_activations"):
        jslim.nets.build("resnet_v2_50", store_non_strided_activations=True)
