"""MobileNet V2 and the MobileNet framework (research/slim ``mobilenet_v2_test.py``'s cases).

Shapes are traced with ``jax.eval_shape``; the two numeric tests compile tiny
blocks only (full-size numerics are the golden test's).
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jslim.nets
from jslim import layers
from jslim.nets import mobilenet_v2 as v2
from jslim.nets.mobilenet import conv_blocks as ops
from jslim.nets.mobilenet import framework as lib
from jslim.scopes import arg_scope, arg_scope_func_key
from net_shapes import Fn, trace
from net_shapes import names as var_shapes


def conv_depths(variables):
    """Output channels of the regular (non-depthwise) convolutions."""
    return {shape[-1] for name, shape in var_shapes(variables).items() if name.endswith("/weights")}


def _n_convs(variables):
    """Regular (non-depthwise) convolutions, i.e. slim's Conv2D ops."""
    return sum(name.endswith("/weights") for name in var_shapes(variables))


def test_creation_counts_convs_and_exposes_depthwise_outputs():
    # testCreation: all but the first 2 and the last op have two convs, plus the logits.
    (_, end_points), variables = trace(lambda x: lib.mobilenet(x, conv_defs=v2.V2_DEF), (10, 224, 224, 16))
    assert _n_convs(variables) == len(v2.V2_DEF.spec) * 2 - 2
    for i in range(2, 18):
        assert f"layer_{i}/depthwise_output" in end_points
        assert f"layer_{i}/output" in end_points
    # Layer 2 (expansion factor 1) has no expansion; the others do.
    assert "layer_2/expansion_output" not in end_points and "layer_3/expansion_output" in end_points
    assert end_points["layer_18/output"].shape == (10, 7, 7, 320)
    assert end_points["layer_19"].shape == (10, 7, 7, 1280)
    assert end_points["global_pool"].shape == (10, 1, 1, 1280)
    assert end_points["Logits"].shape == (10, 1001)
    assert all(name.split("/")[1] == "Mobilenet" for name in var_shapes(variables))


def test_creation_no_classes_returns_global_pool():
    (net, end_points), variables = trace(lambda x: lib.mobilenet(x, conv_defs=v2.V2_DEF, num_classes=None), (2, 64, 64, 3))
    assert net.shape == end_points["global_pool"].shape == (2, 1, 1, 1280)
    assert "Logits" not in end_points and not any("Logits" in n for n in var_shapes(variables))


@pytest.mark.parametrize("input_size,output_size", [(224, 7), (192, 6), (160, 5), (128, 4), (96, 3)])
def test_image_sizes(input_size, output_size):
    (_, end_points), _ = trace(v2.MobilenetV2(), (1, input_size, input_size, 3))
    assert end_points["layer_18/output"].shape[1:3] == (output_size, output_size)


def test_with_splits():
    # testWithSplits: split_expansion=2 splits every expansion wide enough in two.
    spec = v2.V2_DEF.update("overrides", (ops.expanded_conv,), split_expansion=2)
    (_, end_points), variables = trace(lambda x: lib.mobilenet(x, conv_defs=spec), (10, 224, 224, 16))
    assert _n_convs(variables) == len(spec.spec) * 3 - 5
    names = var_shapes(variables)
    assert names["params/Mobilenet/expanded_conv_1/expand_part_0/weights"] == (1, 1, 8, 48)
    assert names["params/Mobilenet/expanded_conv_1/expand_part_1/weights"] == (1, 1, 8, 48)
    assert "layer_3/expand_part_0_output" in end_points


@pytest.mark.parametrize("explicit", [False, True])
@pytest.mark.parametrize("output_stride,size", [(8, 28), (16, 14)])
def test_output_stride(output_stride, size, explicit):
    # testWithOutputStride{8,16}[AndExplicitPadding].
    (out, _), variables = trace(
        lambda x: lib.mobilenet_base(
            x, conv_defs=v2.V2_DEF, output_stride=output_stride, use_explicit_padding=explicit, scope="MobilenetV2"
        ),
        (10, 224, 224, 16),
    )
    assert out.shape[1:3] == (size, size)
    assert all(name.split("/")[1] == "MobilenetV2" for name in var_shapes(variables))


def test_divisible_by_and_min_depth():
    model = v2.MobilenetV2(divisible_by=16, min_depth=32)
    assert conv_depths(trace(model, (10, 224, 224, 16))[1]) == {32, 64, 96, 160, 192, 320, 384, 576, 960, 1280, 1001}


def test_depth_multiplier_arg_scope_is_captured_at_construction():
    # testDivisibleByWithArgScope: min_depth from an arg scope on depth_multiplier.
    with arg_scope([lib.depth_multiplier], min_depth=32):
        model = v2.MobilenetV2(depth_multiplier=0.1)
    assert conv_depths(trace(model, (10, 224, 224, 2))[1]) == {32, 192, 128, 1001}
    # Outside the scope the defaults (8, 8) apply: 96 * 0.1 -> 16 (8 is > 10% below 9.6),
    # 320 * 0.1 -> 32, 1280 * 0.1 -> 128, expansions 6 * 8 and 6 * 16.
    assert conv_depths(trace(v2.MobilenetV2(depth_multiplier=0.1), (1, 32, 32, 2))[1]) == {8, 16, 32, 48, 96, 128, 1001}


def test_finegrain_classification_mode():
    # testFineGrained: every conv is 8 -> 48 except the last (kept at 1280).
    model = v2.MobilenetV2(depth_multiplier=0.01, finegrain_classification_mode=True)
    assert conv_depths(trace(model, (10, 224, 224, 2))[1]) == {8, 48, 1001, 1280}
    model = v2.MobilenetV2(depth_multiplier=0.01)  # 1280 * 0.01 -> 16
    assert conv_depths(trace(model, (1, 32, 32, 2))[1]) == {8, 16, 48, 1001}


def test_mobilenet_base():
    # testMobilenetBase: the pre-pooling layer.
    def fn(x):
        with arg_scope([lib.depth_multiplier], min_depth=32):
            return v2.mobilenet_base(x, conv_defs=v2.V2_DEF, depth_multiplier=0.1)

    (net, end_points), variables = trace(fn, (10, 224, 224, 16))
    assert net.shape == (10, 7, 7, 128)
    assert "global_pool" not in end_points and not any("Logits" in n for n in var_shapes(variables))


def test_custom_multiplier_func():
    # testMultiplier: the first layer's multiplier inverts the depth multiplier.
    def inverse_multiplier(output_params, multiplier):
        output_params["num_outputs"] = int(output_params["num_outputs"] / multiplier)

    first = lib.op(layers.conv2d, kernel_size=(3, 3), multiplier_func=inverse_multiplier, num_outputs=16)
    spec = v2.V2_DEF._replace(spec=(first, *v2.V2_DEF.spec[1:]))
    names = var_shapes(trace(lambda x: v2.mobilenet_base(x, conv_defs=spec, depth_multiplier=0.1), (10, 224, 224, 16))[1])
    depths = [names[f"params/MobilenetV2/{s}/weights"][-1] for s in (
        "Conv", "expanded_conv/project", "expanded_conv_1/expand", "expanded_conv_1/project", "expanded_conv_2/expand"
    )]
    assert depths == [160, 8, 48, 8, 48]
    assert lib.op(layers.conv2d, multiplier_transform=inverse_multiplier).multiplier_func is inverse_multiplier


def test_final_endpoint_and_base_only():
    model = v2.MobilenetV2(final_endpoint="layer_5", base_only=True)
    (net, end_points), variables = trace(model, (1, 64, 64, 3))
    assert net.shape == (1, 8, 8, 32)
    assert {k for k in end_points if "/" not in k} == {f"layer_{i}" for i in range(1, 6)}
    assert not any("expanded_conv_4" in n for n in var_shapes(variables))
    # final_endpoint without base_only still adds the head on the early layer.
    (logits, end_points), _ = trace(v2.MobilenetV2(final_endpoint="layer_5", num_classes=7), (1, 64, 64, 3))
    assert logits.shape == (1, 7) and end_points["global_pool"].shape == (1, 1, 1, 32)


def test_training_scope():
    # testBatchNormScope{DoesNotHave,DoesHas}IsTraining...
    def defaults(op, **kwargs):
        with v2.training_scope(**kwargs) as sc:
            return sc.defaults_for(arg_scope_func_key(op))

    assert "is_training" not in defaults(layers.batch_norm, is_training=None)
    for value in (True, False):
        assert defaults(layers.batch_norm, is_training=value) == {"decay": 0.997, "is_training": value}
        assert defaults(lib.mobilenet_base, is_training=value) == {"is_training": value}
    assert defaults(layers.dropout) == {"is_training": True, "keep_prob": 0.8}
    assert defaults(layers.dropout, dropout_keep_prob=None, is_training=None) == {}
    conv = defaults(layers.conv2d, weight_decay=0.5, stddev=0.2)
    assert conv["weights_regularizer"] == layers.l2_regularizer(0.5)
    assert conv["weights_initializer"] == layers.truncated_normal_initializer(stddev=0.2)
    assert conv["normalizer_fn"] is layers.batch_norm
    assert defaults(layers.separable_conv2d, weight_decay=0.5)["weights_regularizer"] is None
    assert defaults(layers.fully_connected, stddev=-1)["weights_initializer"] == layers.xavier_initializer()


def test_registry_variants():
    expected = {
        # name: (layer_1 depth, last depth)
        "mobilenet_v2": (32, 1280),
        "mobilenet_v2_140": (48, 1792),
        "mobilenet_v2_035": (16, 1280),  # finegrain keeps 1280
    }
    for name, (first, last) in expected.items():
        spec = jslim.nets.get_spec(name)
        assert (spec.default_image_size, spec.num_classes, spec.label_offset) == (224, 1001, 1)
        (_, end_points), variables = trace(jslim.nets.build(name), (1, 64, 64, 3))
        assert end_points["layer_1"].shape[3] == first and end_points["global_pool"].shape[3] == last
        assert var_shapes(variables)["params/MobilenetV2/Logits/Conv2d_1c_1x1/weights"] == (1, 1, last, 1001)
    assert v2.mobilenet_v2_035.keywords == {"depth_multiplier": 0.35, "finegrain_classification_mode": True}


def test_errors():
    with pytest.raises(ValueError, match="depth_multiplier"):
        trace(lambda x: v2.mobilenet(x, multiplier=0.5), (1, 32, 32, 3))
    with pytest.raises(TypeError, match="has no option multiplier"):
        jslim.nets.build("mobilenet_v2", multiplier=0.5)
    with pytest.raises(ValueError, match="multiplier is not greater than zero"):
        trace(v2.MobilenetV2(depth_multiplier=0.0), (1, 32, 32, 3))
    with pytest.raises(ValueError, match="Output stride"):
        trace(v2.MobilenetV2(output_stride=3), (1, 32, 32, 3))
    with pytest.raises(ValueError, match="rank 4"):
        trace(v2.MobilenetV2(), (32, 32, 3))
    with pytest.raises(TypeError, match="depthwise_location"):
        trace(lambda x: ops.expanded_conv(x, 8, depthwise_location="middle"), (1, 8, 8, 8))
    with pytest.raises(TypeError, match="use_explicit_padding"):
        trace(lambda x: ops.expanded_conv(x, 8, use_explicit_padding=True, padding="VALID"), (1, 8, 8, 8))


def test_expanded_conv_depthwise_location_and_endpoints():
    def block(location):
        def fn(x):
            endpoints = {}
            out = ops.expanded_conv(x, 24, depthwise_location=location, endpoints=endpoints, scope="block")
            return out, endpoints

        (out, endpoints), variables = trace(fn, (1, 8, 8, 16))
        return out, set(endpoints), var_shapes(variables)

    out, endpoints, names = block("input")  # depthwise on the 16 inputs, then expand 16 -> 96
    assert names["params/block/depthwise/depthwise_weights"] == (3, 3, 16, 1)
    assert names["params/block/expand/weights"] == (1, 1, 16, 96) and out.shape == (1, 8, 8, 24)
    assert endpoints == {"depthwise_output", "expansion_output", "projection_output"}
    _, _, names = block("output")  # depthwise on the 24 projected channels
    assert names["params/block/depthwise/depthwise_weights"] == (3, 3, 24, 1)
    _, endpoints, names = block(None)
    assert not any("depthwise" in n for n in names) and "depthwise_output" not in endpoints


def test_split_separable_conv2d_names():
    def fn(x):
        endpoints = {}
        ops.split_separable_conv2d(x, 32, scope="Conv2d_1", endpoints=endpoints)
        ops.split_separable_conv2d(x, 8, stride=2)
        ops.split_separable_conv2d(x, 8, use_explicit_padding=True)
        return endpoints

    endpoints, variables = trace(fn, (1, 8, 8, 16))
    assert {k: v.shape for k, v in endpoints.items()} == {
        "Conv2d_1_depthwise": (1, 8, 8, 16), "Conv2d_1_pointwise": (1, 8, 8, 32)
    }
    names = var_shapes(variables)
    assert names["params/Conv2d_1_depthwise/depthwise_weights"] == (3, 3, 16, 1)
    assert names["params/separable/pointwise/weights"] == (1, 1, 16, 8)
    assert names["params/separable_1/pointwise/weights"] == (1, 1, 16, 8)


def test_make_divisible_and_split_divisible():
    assert ops.make_divisible(32 * 0.35, 8) == 16  # 8 would be > 10% below 11.2
    assert ops.make_divisible(1280 * 1.4, 8) == 1792
    assert ops.make_divisible(3, 8) == 8
    assert ops.make_divisible(20, 8, min_value=32) == 32
    assert ops.split_divisible(96, 2) == [48, 48]
    assert ops.split_divisible(40, 3) == [16, 16, 8]
    assert ops.expand_input_by_factor(6)(num_inputs=16) == 96
    with pytest.raises(ValueError):
        ops.split_divisible(12, 2)


def _random_values(model, x, seed=0):
    """``model``'s variables filled with standard normals, and ``{'<scope>/<name>': float64 array}``."""
    leaves, treedef = jax.tree_util.tree_flatten(trace(model, x.shape)[1])
    rng = np.random.default_rng(seed)
    variables = jax.tree_util.tree_unflatten(treedef, [jnp.asarray(rng.normal(size=v.shape), jnp.float32) for v in leaves])
    named = {
        "/".join(str(k.key) for k in path[1:]): np.asarray(leaf, np.float64)
        for path, leaf in jax.tree_util.tree_flatten_with_path(variables["params"])[0]
    }
    return variables, named


def _depthwise_same(x, w, stride=1):
    """NumPy depthwise conv with TF 'SAME' padding: x [H, W, C], w [k, k, C]."""
    k = w.shape[0]
    out_size = -(-x.shape[0] // stride)
    total = max((out_size - 1) * stride + k - x.shape[0], 0)
    xp = np.pad(x, ((total // 2, total - total // 2), (total // 2, total - total // 2), (0, 0)))
    out = np.zeros((out_size, out_size, x.shape[2]))
    for i in range(out_size):
        for j in range(out_size):
            out[i, j] = np.einsum("abc,abc->c", xp[i * stride : i * stride + k, j * stride : j * stride + k], w)
    return out


def test_expanded_conv_matches_a_numpy_reference():
    """expand (1x1, ReLU6) -> 3x3 depthwise (ReLU6) -> project (linear) -> + input, with biases."""
    x = np.random.default_rng(1).uniform(-1, 1, (1, 6, 6, 4)).astype(np.float32)
    block = Fn(lambda t: ops.expanded_conv(t, 4, expansion_size=ops.expand_input_by_factor(2), inner_activation_fn=jax.nn.relu6))
    variables, p = _random_values(block, x)
    assert set(p) == {
        "expand/weights", "expand/biases", "depthwise/depthwise_weights", "depthwise/biases", "project/weights",
        "project/biases",
    }
    got = np.asarray(jax.jit(block.apply)(variables, x))
    h = np.clip(x[0] @ p["expand/weights"][0, 0] + p["expand/biases"], 0, 6)
    h = np.clip(_depthwise_same(h, p["depthwise/depthwise_weights"][..., 0]) + p["depthwise/biases"], 0, 6)
    want = h @ p["project/weights"][0, 0] + p["project/biases"] + x[0]
    np.testing.assert_allclose(got[0], want, rtol=1e-5, atol=1e-5)


def test_activation_fn_option_replaces_relu6():
    tiny = v2.V2_DEF._replace(spec=(lib.op(layers.conv2d, stride=1, kernel_size=(1, 1), num_outputs=8, normalizer_fn=None),))
    x = jnp.full((1, 2, 2, 3), 10.0)

    def run(activation_fn):
        model = v2.MobilenetV2(conv_defs=tiny, base_only=True, activation_fn=activation_fn)
        variables = jax.tree_util.tree_map(lambda v: jnp.ones(v.shape), trace(model, x.shape)[1])
        return np.asarray(jax.jit(model.apply)(variables, x)[0])

    np.testing.assert_allclose(run(None), 6.0)  # relu6(3 * 10 + 1)
    np.testing.assert_allclose(run(jax.nn.relu), 31.0)
