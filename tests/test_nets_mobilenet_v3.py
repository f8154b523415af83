"""MobileNet V3 / EdgeTPU options and blocks (research/slim ``mobilenet_v3_test.py``'s cases).

Shapes are traced with ``jax.eval_shape``; the squeeze-excite check compiles one
tiny block (full-size numerics are the golden test's).
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jslim.nets
from jslim.nets import mobilenet_v3 as v3
from jslim.nets.mobilenet import conv_blocks as ops
from jslim.nets.mobilenet import framework as lib
from net_shapes import Fn, trace
from net_shapes import names as var_shapes


def _net(input_shape=(1, 224, 224, 3), **kwargs):
    (out, end_points), variables = trace(v3.MobilenetV3(**kwargs), input_shape)
    return out, end_points, var_shapes(variables)


def test_large():
    logits, end_points, names = _net()
    assert logits.shape == (1, 1001)
    assert end_points["layer_17"].shape == (1, 7, 7, 960)
    assert end_points["layer_19"].shape == (1, 1, 1, 1280)
    assert end_points["global_pool"].shape == (1, 1, 1, 1280)
    # Layer 2 (expansion factor 1) has no expansion; layer 5 has squeeze-excite.
    assert "layer_2/expansion_output" not in end_points
    assert end_points["layer_12/expansion_output"].shape == (1, 14, 14, 480)
    assert names["params/MobilenetV3/expanded_conv_3/squeeze_excite/Conv/weights"] == (1, 1, 72, 24)
    assert names["params/MobilenetV3/Conv_2/biases"] == (1280,)  # the last conv has no batch norm
    assert not any("expanded_conv_2/squeeze_excite" in n for n in names)


def test_small():
    _, end_points, names = _net(conv_defs=v3.V3_SMALL)
    assert end_points["layer_13"].shape == (1, 7, 7, 576)
    assert end_points["layer_15"].shape == (1, 1, 1, 1024)
    assert names["params/MobilenetV3/expanded_conv/squeeze_excite/Conv/weights"] == (1, 1, 16, 8)


def test_minimalistic_has_no_squeeze_excite_and_only_3x3():
    for conv_defs in (v3.V3_SMALL_MINIMALISTIC, v3.V3_LARGE_MINIMALISTIC):
        _, _, names = _net((1, 64, 64, 3), conv_defs=conv_defs)
        assert not any("squeeze_excite" in n for n in names)
        assert {s[:2] for n, s in names.items() if n.endswith("depthwise_weights")} == {(3, 3)}


def test_edge_tpu_scope_and_fused_expansions():
    spec = jslim.nets.get_spec("mobilenet_edgetpu")
    _, end_points, names = _net(**spec.defaults)
    assert end_points["layer_24"].shape == (1, 7, 7, 1280)
    assert all(n.split("/")[1] == "MobilenetEdgeTPU" for n in names)
    # Fused layers: a k x k expansion conv (with the stride), no depthwise.
    assert names["params/MobilenetEdgeTPU/expanded_conv_1/expand/weights"] == (3, 3, 16, 128)
    assert end_points["layer_3"].shape == (1, 56, 56, 32)
    assert not any(n.startswith("params/MobilenetEdgeTPU/expanded_conv_1/depthwise") for n in names)
    assert "layer_3/depthwise_output" not in end_points
    # The first fused layer expands 32 -> 32, which is no expansion at all: projection only.
    assert not any("MobilenetEdgeTPU/expanded_conv/expand" in n for n in names)
    # Changing the scope (testMobilenetEdgeTpuChangeScope).
    _, _, names = _net((1, 32, 32, 3), conv_defs=v3.V3_EDGETPU, scope_name="Scope")
    assert all(n.split("/")[1] == "Scope" for n in names)


def test_base_only_final_endpoint():
    # testMobilenetV3BaseOnly: the last layer before the average pool.
    out, end_points, names = _net(conv_defs=v3.V3_LARGE, base_only=True, final_endpoint="layer_17")
    assert out.shape == end_points["layer_17"].shape == (1, 7, 7, 960)
    assert "global_pool" not in end_points and not any("Logits" in n for n in names)

    def fn(x):
        return v3.mobilenet_base(x, conv_defs=v3.V3_SMALL, final_endpoint="layer_4")

    (out, _), _ = trace(fn, (1, 64, 64, 3))
    assert out.shape == (1, 8, 8, 24)


def test_output_stride():
    out, _, _ = _net(base_only=True, final_endpoint="layer_17", output_stride=16)
    assert out.shape == (1, 14, 14, 960)
    # As in slim, the average pool op gets the atrous rate past the output stride and rejects it.
    with pytest.raises(TypeError, match="rate"):
        _net(output_stride=16)


def test_finegrain_classification_mode_keeps_the_last_layer():
    for finegrain, last in ((True, 1280), (False, 960)):
        _, end_points, _ = _net(
            (1, 64, 64, 3), conv_defs=v3.V3_EDGETPU, depth_multiplier=0.75, finegrain_classification_mode=finegrain
        )
        assert end_points["global_pool"].shape[3] == last


def test_registry_variants():
    expected = {
        # name: (scope, layer_1 depth, pooled depth)
        "mobilenet_v3_small": ("MobilenetV3", 16, 1024),
        "mobilenet_v3_large": ("MobilenetV3", 16, 1280),
        "mobilenet_v3_small_minimalistic": ("MobilenetV3", 16, 1024),
        "mobilenet_v3_large_minimalistic": ("MobilenetV3", 16, 1280),
        "mobilenet_edgetpu": ("MobilenetEdgeTPU", 32, 1280),
        "mobilenet_edgetpu_075": ("MobilenetEdgeTPU", 24, 1280),
    }
    for name, (scope, first, pooled) in expected.items():
        spec = jslim.nets.get_spec(name)
        assert (spec.default_image_size, spec.num_classes, spec.label_offset, spec.arg_scope) == (
            224, 1001, 1, v3.training_scope
        )
        (_, end_points), variables = trace(jslim.nets.build(name, num_classes=10), (1, 32, 32, 3))
        assert end_points["layer_1"].shape[3] == first and end_points["global_pool"].shape[3] == pooled
        assert var_shapes(variables)[f"params/{scope}/Logits/Conv2d_1c_1x1/weights"] == (1, 1, pooled, 10)
    assert v3.edge_tpu_075.keywords["depth_multiplier"] == 0.75


def test_detection_defs_halve_the_last_layers():
    halved = [dict(o.params)["num_outputs"] for o in v3.V3_LARGE_DETECTION.spec[13:17]]
    assert halved == [80, 80, 80, 480]
    assert [dict(o.params)["num_outputs"] for o in v3.V3_SMALL_DETECTION.spec[9:13]] == [48, 48, 48, 288]
    assert v3.V3_LARGE_DETECTION.spec[12] == v3.V3_LARGE.spec[12]
    (_, end_points), _ = trace(lambda x: v3.mobilenet_base(x, conv_defs=v3.V3_SMALL_DETECTION), (1, 64, 64, 3))
    assert end_points["layer_13"].shape == (1, 2, 2, 288)


def test_hard_swish_and_gate():
    x = jnp.array([-4.0, -3.0, -1.0, 0.0, 1.0, 3.0, 4.0])
    np.testing.assert_allclose(v3.hard_swish(x), [0, 0, -1 * 2 / 6, 0, 4 / 6, 3, 4], rtol=1e-6)
    np.testing.assert_allclose(v3._hard_sigmoid_gate(jnp.array([-3.0, 0.0, 3.0])), [0, 0.50001, 1.00002], rtol=1e-6)


def test_reduce_to_1x1_and_global_pool():
    x = jnp.arange(2 * 7 * 8 * 3, dtype=jnp.float32).reshape(2, 7, 8, 3)
    assert v3.reduce_to_1x1(x, stride=1, padding="VALID").shape == (2, 1, 2, 3)  # non-square: 7x7 window
    square = x[:, :, :7]
    np.testing.assert_allclose(v3.reduce_to_1x1(square, stride=1, padding="VALID"), square.mean((1, 2), keepdims=True))
    np.testing.assert_allclose(lib.global_pool(x), lib.global_pool(x, use_reduce_mean_for_pooling=True), rtol=1e-6)
    _, end_points, _ = _net((1, 64, 64, 3), conv_defs=v3.V3_SMALL, use_reduce_mean_for_pooling=True)
    assert end_points["global_pool"].shape == (1, 1, 1, 1024)


def test_resize_bilinear_align_corners():
    x = jnp.array([[0.0, 1.0], [2.0, 3.0]]).reshape(1, 2, 2, 1)
    got = ops._resize_bilinear_align_corners(x, (3, 3))[0, :, :, 0]
    np.testing.assert_allclose(got, [[0, 0.5, 1], [1, 1.5, 2], [2, 2.5, 3]])


def test_squeeze_excite_pool_option():
    # pool=2 on 4x4: a 2x2 stride-2 average pool, the gate resized back to 4x4.
    out, variables = trace(lambda x: ops.squeeze_excite(x, pool=2, squeeze_factor=4), (1, 4, 4, 32))
    assert out.shape == (1, 4, 4, 32)
    assert var_shapes(variables)["params/squeeze_excite/Conv/weights"] == (1, 1, 32, 8)


def test_squeeze_excite_matches_a_numpy_reference():
    x = np.random.default_rng(2).uniform(-1, 1, (2, 4, 4, 16)).astype(np.float32)
    block = Fn(v3.squeeze_excite)
    shapes = var_shapes(trace(block, x.shape)[1])
    assert shapes == {
        "params/squeeze_excite/Conv/weights": (1, 1, 16, 8),  # make_divisible(16 / 4, 8)
        "params/squeeze_excite/Conv/biases": (8,),
        "params/squeeze_excite/Conv_1/weights": (1, 1, 8, 16),
        "params/squeeze_excite/Conv_1/biases": (16,),
    }
    rng = np.random.default_rng(3)
    w1, b1, w2, b2 = (rng.normal(size=s).astype(np.float32) for s in [(1, 1, 16, 8), (8,), (1, 1, 8, 16), (16,)])
    variables = {"params": {"squeeze_excite": {"Conv": {"weights": w1, "biases": b1}, "Conv_1": {"weights": w2, "biases": b2}}}}
    got = np.asarray(jax.jit(block.apply)(variables, x))
    pooled = x.mean((1, 2))
    gate = np.clip(np.maximum(pooled @ w1[0, 0] + b1, 0) @ w2[0, 0] + b2 + 3, 0, 6) * 0.16667
    np.testing.assert_allclose(got, x * gate[:, None, None, :], rtol=1e-5, atol=1e-6)


def test_errors():
    with pytest.raises(ValueError, match="depth_multiplier"):
        trace(lambda x: v3.mobilenet(x, multiplier=0.5), (1, 32, 32, 3))
    with pytest.raises(TypeError, match="has no option min_depth"):
        jslim.nets.build("mobilenet_v3_small", min_depth=16)
