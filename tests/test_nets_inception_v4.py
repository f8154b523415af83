"""Options of inception_v4 and inception_resnet_v2, their ``*_base`` functions and arg scopes.

Shapes are traced (``jax.eval_shape``), not compiled; the expected shapes are
research/slim's (inception_v4_test.py, inception_resnet_v2_test.py). The golden
comparison is in test_nets_golden.py.
"""

import jax
import numpy as np
import pytest

import jslim.nets
from jslim.nets.inception_resnet_v2 import (
    InceptionResnetV2,
    block8,
    inception_resnet_v2_arg_scope,
    inception_resnet_v2_base,
)
from jslim.nets.inception_v4 import InceptionV4, inception_v4_arg_scope, inception_v4_base
from net_shapes import Fn, names, shapes, trace

C = 1000

V4_END_POINTS = {
    "Conv2d_1a_3x3": (149, 149, 32),
    "Conv2d_2a_3x3": (147, 147, 32),
    "Conv2d_2b_3x3": (147, 147, 64),
    "Mixed_3a": (73, 73, 160),
    "Mixed_4a": (71, 71, 192),
    "Mixed_5a": (35, 35, 384),
    **{f"Mixed_5{c}": (35, 35, 384) for c in "bcde"},
    "Mixed_6a": (17, 17, 1024),
    **{f"Mixed_6{c}": (17, 17, 1024) for c in "bcdefgh"},
    "Mixed_7a": (8, 8, 1536),
    **{f"Mixed_7{c}": (8, 8, 1536) for c in "bcd"},
}
IRV2_END_POINTS = ["Conv2d_1a_3x3", "Conv2d_2a_3x3", "Conv2d_2b_3x3", "MaxPool_3a_3x3", "Conv2d_3b_1x1",
                   "Conv2d_4a_3x3", "MaxPool_5a_3x3", "Mixed_5b", "Mixed_6a", "PreAuxLogits", "Mixed_7a",
                   "Conv2d_7b_1x1"]
IRV2_PRE_AUX = {
    # (align_feature_maps, output_stride): shapes of IRV2_END_POINTS[:10] at 299
    (False, 16): [(149, 149, 32), (147, 147, 32), (147, 147, 64), (73, 73, 64), (73, 73, 80), (71, 71, 192),
                  (35, 35, 192), (35, 35, 320), (17, 17, 1088), (17, 17, 1088)],
    (True, 16): [(150, 150, 32), (150, 150, 32), (150, 150, 64), (75, 75, 64), (75, 75, 80), (75, 75, 192),
                 (38, 38, 192), (38, 38, 320), (19, 19, 1088), (19, 19, 1088)],
    (False, 8): [(149, 149, 32), (147, 147, 32), (147, 147, 64), (73, 73, 64), (73, 73, 80), (71, 71, 192),
                 (35, 35, 192), (35, 35, 320), (33, 33, 1088), (33, 33, 1088)],
}


def build(name, **kwargs):
    return jslim.nets.build(name, **kwargs)


# --- inception_v4 --------------------------------------------------------------------


def test_v4_all_end_points():
    """testAllEndPointsShapes (batch 2 instead of 5)."""
    (logits, end_points), _ = trace(build("inception_v4", num_classes=C), (2, 299, 299, 3))
    expected = {k: (2, *v) for k, v in V4_END_POINTS.items()}
    expected.update(AuxLogits=(2, C), global_pool=(2, 1, 1, 1536), PreLogitsFlatten=(2, 1536),
                    Logits=(2, C), Predictions=(2, C))
    assert shapes(end_points) == expected
    assert logits.shape == (2, C)


def test_v4_variables():
    _, variables = trace(InceptionV4(num_classes=C), (1, 299, 299, 3))
    got = names(variables)
    assert got["params/InceptionV4/AuxLogits/Conv2d_2a/weights"] == (5, 5, 128, 768)
    assert got["params/InceptionV4/AuxLogits/Aux_logits/weights"] == (768, C)
    assert got["params/InceptionV4/Logits/Logits/weights"] == (1536, C)
    assert got["params/InceptionV4/Mixed_7b/Branch_2/Conv2d_0e_3x1/weights"] == (3, 1, 512, 256)
    # No arg scope: convs have biases and no batch norm.
    assert got["params/InceptionV4/Conv2d_1a_3x3/biases"] == (32,)


def test_v4_base():
    """testBuildBaseNetwork: every end point up to Mixed_7d, under InceptionV4/."""
    (net, end_points), variables = trace(inception_v4_base, (2, 299, 299, 3))
    assert net.shape == (2, 8, 8, 1536)
    assert set(end_points) == set(V4_END_POINTS)
    assert all(n.split("/")[1] == "InceptionV4" for n in names(variables))


@pytest.mark.parametrize("final_endpoint", ["Conv2d_1a_3x3", "Mixed_3a", "Mixed_5a", "Mixed_5e", "Mixed_6a"])
def test_v4_base_final_endpoint(final_endpoint):
    """testBuildOnlyUpToFinalEndpoint."""
    order = list(V4_END_POINTS)
    (net, end_points), variables = trace(
        lambda x: inception_v4_base(x, final_endpoint=final_endpoint, scope="V4"), (1, 299, 299, 3)
    )
    assert set(end_points) == set(order[: order.index(final_endpoint) + 1])
    assert net.shape[1:] == V4_END_POINTS[final_endpoint]
    assert {n.split("/")[2] for n in names(variables)} <= set(end_points)


def test_v4_unknown_final_endpoint():
    with pytest.raises(ValueError, match="Unknown final endpoint 'Mixed_8a'.*Mixed_7d"):
        trace(lambda x: inception_v4_base(x, final_endpoint="Mixed_8a"), (1, 299, 299, 3))


@pytest.mark.parametrize("num_classes", [None, 0])
def test_v4_pre_logits_network(num_classes):
    """testBuildPreLogitsNetwork: the pooled features, no logits, no aux head."""
    (net, end_points), variables = trace(build("inception_v4", num_classes=num_classes), (1, 299, 299, 3))
    assert net.shape == (1, 1, 1, 1536)
    assert not {"Logits", "Predictions", "AuxLogits", "PreLogitsFlatten"} & set(end_points)
    assert not any("Logits" in n for n in names(variables))


def test_v4_without_aux_logits():
    model = build("inception_v4", num_classes=C, create_aux_logits=False)
    (logits, end_points), variables = trace(model, (1, 299, 299, 3))
    assert logits.shape == (1, C) and "AuxLogits" not in end_points
    assert not any("AuxLogits" in n for n in names(variables))


@pytest.mark.parametrize("size, pre_pool", [((150, 150), (3, 3)), ((350, 400), (9, 11))])
def test_v4_other_sizes(size, pre_pool):
    """testHalfSizeImages / testGlobalPool: the final pool covers the whole map."""
    (logits, end_points), _ = trace(build("inception_v4", num_classes=C), (1, *size, 3))
    assert logits.shape == (1, C)
    assert end_points["Mixed_7d"].shape == (1, *pre_pool, 1536)


def test_v4_arg_scope_batch_norm_scale():
    """testNoBatchNormScaleByDefault / testBatchNormScale."""
    for scale in (False, True):
        with inception_v4_arg_scope(batch_norm_scale=scale):
            model = InceptionV4(num_classes=10)
        _, variables = trace(model, (1, 299, 299, 3))
        got = names(variables)
        gammas = {n for n in got if n.endswith("BatchNorm/gamma")}
        means = {n for n in got if n.endswith("BatchNorm/moving_mean")}
        assert means
        expected = {m.replace("batch_stats/", "params/").replace("moving_mean", "gamma") for m in means}
        assert gammas == (expected if scale else set())


def test_v4_arg_scope_without_batch_norm():
    with inception_v4_arg_scope(use_batch_norm=False):
        model = InceptionV4(num_classes=10, create_aux_logits=False)
    _, variables = trace(model, (1, 299, 299, 3))
    got = names(variables)
    assert not any("BatchNorm" in n for n in got) and "batch_stats" not in variables
    assert got["params/InceptionV4/Mixed_6a/Branch_0/Conv2d_1a_3x3/biases"] == (384,)


def test_v4_registry():
    spec = jslim.nets.get_spec("inception_v4")
    assert (spec.default_image_size, spec.num_classes, spec.label_offset) == (299, 1001, 1)
    assert spec.preprocessing == "inception"
    assert build("inception_v4").num_classes == 1001


def test_aux_logits_need_107_pixels():
    with pytest.raises(ValueError, match="at least 107x107.*create_aux_logits=False"):
        trace(build("inception_v4", num_classes=10), (1, 106, 106, 3))
    (logits, _), _ = trace(build("inception_v4", num_classes=10, create_aux_logits=False), (1, 75, 75, 3))
    assert logits.shape == (1, 10)


# --- inception_resnet_v2 -------------------------------------------------------------


def test_irv2_end_points():
    """testBuildEndPoints / testBuildBaseNetwork: the net's and the base's end points."""
    (logits, end_points), variables = trace(build("inception_resnet_v2", num_classes=C), (2, 299, 299, 3))
    assert logits.shape == (2, C)
    head = {"AuxLogits", "global_pool", "PreLogitsFlatten", "Logits", "Predictions"}
    assert set(end_points) == {*IRV2_END_POINTS, *head}
    got = shapes(end_points)
    assert got["Mixed_7a"] == (2, 8, 8, 2080) and got["Conv2d_7b_1x1"] == (2, 8, 8, 1536)
    assert got["AuxLogits"] == (2, C) and got["PreLogitsFlatten"] == (2, 1536) and got["global_pool"] == (2, 1, 1, 1536)
    v = names(variables)
    assert v["params/InceptionResnetV2/Repeat/block35_10/Conv2d_1x1/biases"] == (320,)
    assert v["params/InceptionResnetV2/Repeat_1/block17_20/Branch_1/Conv2d_0c_7x1/weights"] == (7, 1, 160, 192)
    assert v["params/InceptionResnetV2/Repeat_2/block8_9/Conv2d_1x1/weights"] == (1, 1, 448, 2080)
    assert v["params/InceptionResnetV2/Block8/Conv2d_1x1/weights"] == (1, 1, 448, 2080)
    assert v["params/InceptionResnetV2/AuxLogits/Conv2d_2a_5x5/weights"] == (5, 5, 128, 768)
    assert v["params/InceptionResnetV2/AuxLogits/Logits/weights"] == (768, C)


@pytest.mark.parametrize("align, output_stride", list(IRV2_PRE_AUX))
def test_irv2_base_up_to_pre_aux_logits(align, output_stride):
    """testBuildAndCheckAllEndPointsUptoPreAuxLogits{,WithAlignedFeatureMaps,WithOutputStrideEight}."""
    (net, end_points), _ = trace(
        lambda x: inception_resnet_v2_base(
            x, final_endpoint="PreAuxLogits", output_stride=output_stride, align_feature_maps=align
        ),
        (1, 299, 299, 3),
    )
    assert shapes(end_points) == {k: (1, *s) for k, s in zip(IRV2_END_POINTS, IRV2_PRE_AUX[(align, output_stride)])}


@pytest.mark.parametrize("final_endpoint", ["Conv2d_2b_3x3", "MaxPool_5a_3x3", "Mixed_5b", "Mixed_7a"])
def test_irv2_base_final_endpoint(final_endpoint):
    """testBuildOnlyUptoFinalEndpoint."""
    (_, end_points), _ = trace(lambda x: inception_resnet_v2_base(x, final_endpoint=final_endpoint), (1, 299, 299, 3))
    assert set(end_points) == set(IRV2_END_POINTS[: IRV2_END_POINTS.index(final_endpoint) + 1])


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"output_stride": 4}, "output_stride must be 8 or 16"),
        ({"output_stride": 8}, "output_stride==8 is only supported up to the PreAuxLogits"),
        ({"final_endpoint": "Mixed_6b"}, "Unknown final endpoint 'Mixed_6b'"),
    ],
)
def test_irv2_base_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        trace(lambda x: inception_resnet_v2_base(x, **kwargs), (1, 299, 299, 3))


@pytest.mark.parametrize("size, pre_pool", [((150, 150), (3, 3)), ((400, 600), (11, 17))])
def test_irv2_other_sizes(size, pre_pool):
    """testHalfSizeImages / testGlobalPool."""
    (logits, end_points), _ = trace(build("inception_resnet_v2", num_classes=C), (1, *size, 3))
    assert logits.shape == (1, C)
    assert end_points["Conv2d_7b_1x1"].shape == (1, *pre_pool, 1536)


def test_irv2_no_classes_and_no_aux():
    """testBuildNoClasses / testBuildWithoutAuxLogits."""
    (net, end_points), _ = trace(build("inception_resnet_v2", num_classes=None), (1, 299, 299, 3))
    assert net.shape == (1, 1, 1, 1536) and not {"AuxLogits", "Logits"} & set(end_points)
    model = build("inception_resnet_v2", num_classes=C, create_aux_logits=False)
    (logits, end_points), _ = trace(model, (1, 299, 299, 3))
    assert logits.shape == (1, C) and "AuxLogits" not in end_points


def test_irv2_arg_scope():
    """Its own arg scope: l2 on weights and biases, batch norm without gamma unless asked."""
    with inception_resnet_v2_arg_scope(weight_decay=0.1, batch_norm_scale=True):
        model = InceptionResnetV2(num_classes=10, create_aux_logits=False)
    _, variables = trace(model, (1, 150, 150, 3))
    x = jax.ShapeDtypeStruct((1, 150, 150, 3), np.float32)
    _, state = jax.eval_shape(lambda v, x: model.apply(v, x, mutable=["losses"]), variables, x)
    losses = names(state)
    assert "losses/InceptionResnetV2/Logits/Logits/biases" in losses  # biases_regularizer
    assert "losses/InceptionResnetV2/Conv2d_1a_3x3/weights" in losses
    got = names(variables)
    assert got["params/InceptionResnetV2/Conv2d_1a_3x3/BatchNorm/gamma"] == (32,)
    assert jslim.nets.get_spec("inception_resnet_v2").arg_scope is inception_resnet_v2_arg_scope


def test_irv2_activation_fn():
    """``activation_fn`` reaches the residual blocks: relu6 bounds them (checked on a small block)."""
    x = np.full((1, 4, 4, 8), 100.0, np.float32)
    module = Fn(lambda v: block8(v, scale=1.0, activation_fn=jax.nn.relu6))
    out, _ = module.init_with_output(jax.random.key(0), x)
    assert float(out.max()) <= 6.0
    model = build("inception_resnet_v2", activation_fn=jax.nn.relu6)
    assert model.activation_fn is jax.nn.relu6
