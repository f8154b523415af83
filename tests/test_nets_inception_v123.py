"""Options of inception_v1/v2/v3, their ``*_base`` functions and the inception arg scope.

Shapes are traced (``jax.eval_shape``), not compiled; expected shapes and
parameter counts are research/slim's (inception_v{1,2,3}_test.py). The golden
comparison is in test_nets_golden.py.
"""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jslim.nets
from jslim.nets.inception_utils import inception_arg_scope, reduced_kernel_size_for_small_input
from jslim.nets.inception_v1 import InceptionV1, inception_v1_base
from jslim.nets.inception_v2 import InceptionV2, inception_v2_base
from jslim.nets.inception_v3 import InceptionV3, inception_v3_base
from net_shapes import count, names, shapes, trace

C = 10

# The root block of v1 and v2 (the five layers before Mixed_3b).
ROOT_BLOCK = {
    "Conv2d_1a_7x7": (112, 112, 64),
    "MaxPool_2a_3x3": (56, 56, 64),
    "Conv2d_2b_1x1": (56, 56, 64),
    "Conv2d_2c_3x3": (56, 56, 192),
    "MaxPool_3a_3x3": (28, 28, 192),
}
V1_END_POINTS = {
    **ROOT_BLOCK,
    "Mixed_3b": (28, 28, 256),
    "Mixed_3c": (28, 28, 480),
    "MaxPool_4a_3x3": (14, 14, 480),
    "Mixed_4b": (14, 14, 512),
    "Mixed_4c": (14, 14, 512),
    "Mixed_4d": (14, 14, 512),
    "Mixed_4e": (14, 14, 528),
    "Mixed_4f": (14, 14, 832),
    "MaxPool_5a_2x2": (7, 7, 832),
    "Mixed_5b": (7, 7, 832),
    "Mixed_5c": (7, 7, 1024),
}
V2_END_POINTS = {
    **ROOT_BLOCK,
    "Mixed_3b": (28, 28, 256),
    "Mixed_3c": (28, 28, 320),
    "Mixed_4a": (14, 14, 576),
    "Mixed_4b": (14, 14, 576),
    "Mixed_4c": (14, 14, 576),
    "Mixed_4d": (14, 14, 576),
    "Mixed_4e": (14, 14, 576),
    "Mixed_5a": (7, 7, 1024),
    "Mixed_5b": (7, 7, 1024),
    "Mixed_5c": (7, 7, 1024),
}
V3_END_POINTS = {
    "Conv2d_1a_3x3": (149, 149, 32),
    "Conv2d_2a_3x3": (147, 147, 32),
    "Conv2d_2b_3x3": (147, 147, 64),
    "MaxPool_3a_3x3": (73, 73, 64),
    "Conv2d_3b_1x1": (73, 73, 80),
    "Conv2d_4a_3x3": (71, 71, 192),
    "MaxPool_5a_3x3": (35, 35, 192),
    "Mixed_5b": (35, 35, 256),
    "Mixed_5c": (35, 35, 288),
    "Mixed_5d": (35, 35, 288),
    "Mixed_6a": (17, 17, 768),
    "Mixed_6b": (17, 17, 768),
    "Mixed_6c": (17, 17, 768),
    "Mixed_6d": (17, 17, 768),
    "Mixed_6e": (17, 17, 768),
    "Mixed_7a": (8, 8, 1280),
    "Mixed_7b": (8, 8, 2048),
    "Mixed_7c": (8, 8, 2048),
}
# name: (base, its end points, input size, slim's parameter count of the base).
BASES = {
    "v1": (inception_v1_base, V1_END_POINTS, 224, 5607184),
    "v2": (inception_v2_base, V2_END_POINTS, 224, 10173112),
    "v3": (inception_v3_base, V3_END_POINTS, 299, 21802784),
}


def _trace_base(base, size, channels=3, **kwargs):
    return trace(functools.partial(base, **kwargs), (1, size, size, channels))


@pytest.mark.parametrize("version", sorted(BASES))
def test_base_end_points_and_parameter_count(version):
    base, expected, size, params = BASES[version]
    with inception_arg_scope():
        (net, end_points), variables = _trace_base(base, size)
    assert shapes(end_points) == {k: (1, *v) for k, v in expected.items()}
    assert net.shape == (1, *list(expected.values())[-1])
    assert count(variables) == params  # weights, beta, moving mean and variance


@pytest.mark.parametrize("version", sorted(BASES))
def test_base_final_endpoint(version):
    base, expected, size, _ = BASES[version]
    order = list(expected)
    for final in (order[0], order[4], order[len(order) // 2]):
        (net, end_points), _ = _trace_base(base, size, final_endpoint=final)
        assert sorted(end_points) == sorted(order[: order.index(final) + 1])
        assert net.shape == (1, *expected[final])
    with pytest.raises(ValueError, match="Unknown final endpoint 'Mixed_9z'; valid end points: .*Mixed_5b"):
        _trace_base(base, size, final_endpoint="Mixed_9z")


@pytest.mark.parametrize("base", [inception_v1_base, inception_v2_base])
def test_base_without_root_block(base):
    (_, end_points), variables = _trace_base(base, 28, channels=192, include_root_block=False)
    expected = V1_END_POINTS if base is inception_v1_base else V2_END_POINTS
    assert shapes(end_points) == {k: (1, *v) for k, v in list(expected.items())[len(ROOT_BLOCK):]}
    assert not any("Conv2d_1a_7x7" in n for n in names(variables))
    with pytest.raises(ValueError, match="Unknown final endpoint"):
        _trace_base(base, 28, channels=192, include_root_block=False, final_endpoint="Conv2d_1a_7x7")


@pytest.mark.parametrize("base", [inception_v2_base, inception_v3_base])
@pytest.mark.parametrize("multiplier", [0.5, 2.0])
def test_base_depth_multiplier(base, multiplier):
    size = 224 if base is inception_v2_base else 299
    (_, plain), _ = _trace_base(base, size)
    (_, scaled), _ = _trace_base(base, size, depth_multiplier=multiplier)
    for key in plain:
        if key.startswith(("Mixed", "Conv")):
            assert scaled[key].shape[3] == int(multiplier * plain[key].shape[3]), key


def test_min_depth():
    (_, end_points), _ = _trace_base(inception_v3_base, 299, final_endpoint="Mixed_5b", depth_multiplier=0.1, min_depth=8)
    assert end_points["Conv2d_1a_3x3"].shape[3] == 8  # max(int(32 * 0.1), 8)
    assert end_points["Mixed_5b"].shape[3] == 8 + 8 + 9 + 8  # 64, 64, 96, 32 thinned


@pytest.mark.parametrize("model", [InceptionV2(depth_multiplier=0.0), InceptionV3(depth_multiplier=-0.1)])
def test_invalid_depth_multiplier(model):
    with pytest.raises(ValueError, match="depth_multiplier is not greater than zero"):
        trace(model, (1, 224, 224, 3))


def test_v2_separable_or_plain_stem():
    (_, separable), sep_vars = _trace_base(inception_v2_base, 224, final_endpoint="Mixed_3b")
    (_, plain), plain_vars = _trace_base(inception_v2_base, 224, final_endpoint="Mixed_3b", use_separable_conv=False)
    assert shapes(separable) == shapes(plain)
    stem = {n.split("Conv2d_1a_7x7/")[1]: s for n, s in names(sep_vars).items() if "Conv2d_1a_7x7" in n}
    assert stem == {"depthwise_weights": (7, 7, 3, 8), "pointwise_weights": (1, 1, 24, 64), "biases": (64,)}
    assert names(plain_vars)["params/InceptionV2/Conv2d_1a_7x7/weights"] == (7, 7, 3, 64)
    # depthwise multiplier min(int(depth(64) / 3), 8): 16 output channels -> 5.
    _, thin = _trace_base(inception_v2_base, 224, final_endpoint="Conv2d_1a_7x7", depth_multiplier=0.25)
    assert names(thin)["params/InceptionV2/Conv2d_1a_7x7/depthwise_weights"] == (7, 7, 3, 5)
    assert names(thin)["params/InceptionV2/Conv2d_1a_7x7/pointwise_weights"] == (1, 1, 15, 16)


def test_v2_nchw():
    (_, nhwc), _ = _trace_base(inception_v2_base, 224, use_separable_conv=False)
    (_, nchw), _ = trace(
        functools.partial(inception_v2_base, use_separable_conv=False, data_format="NCHW"), (1, 3, 224, 224)
    )
    for key, value in nhwc.items():
        n, h, w, c = value.shape
        assert nchw[key].shape == (n, c, h, w), key
    with pytest.raises(ValueError, match="NHWC or NCHW"):
        _trace_base(inception_v2_base, 224, data_format="NCWH")
    with pytest.raises(ValueError, match="separable convolution only supports NHWC"):
        _trace_base(inception_v2_base, 224, data_format="NCHW")


@pytest.mark.parametrize(
    "cls, size, aux",
    [(InceptionV1, 224, False), (InceptionV2, 224, False), (InceptionV3, 299, True)],
)
def test_classification_end_points(cls, size, aux):
    (logits, end_points), _ = trace(cls(num_classes=C), (2, size, size, 3))
    assert logits.shape == (2, C)
    assert end_points["Logits"].shape == end_points["Predictions"].shape == (2, C)
    assert ("AuxLogits" in end_points) == aux
    pool = "AvgPool_0a_7x7" if cls is InceptionV1 else "AvgPool_1a"
    assert end_points[pool].shape[1:3] == (1, 1)
    assert ("PreLogits" in end_points) == (cls is not InceptionV1)


@pytest.mark.parametrize("cls, size", [(InceptionV1, 224), (InceptionV2, 224), (InceptionV3, 299)])
def test_logits_not_squeezed(cls, size):
    (logits, _), _ = trace(cls(num_classes=C, spatial_squeeze=False), (1, size, size, 3))
    assert logits.shape == (1, 1, 1, C)


@pytest.mark.parametrize("cls, size, depth", [(InceptionV1, 224, 1024), (InceptionV2, 224, 1024), (InceptionV3, 299, 2048)])
@pytest.mark.parametrize("num_classes", [0, None])
def test_no_classes_returns_pooled_features(cls, size, depth, num_classes):
    (net, end_points), variables = trace(cls(num_classes=num_classes), (1, size, size, 3))
    assert net.shape == (1, 1, 1, depth)
    assert not {"Logits", "Predictions", "PreLogits", "AuxLogits"} & set(end_points)
    assert not any("Logits/" in n for n in names(variables))


@pytest.mark.parametrize("cls, last", [(InceptionV1, "Mixed_5c"), (InceptionV2, "Mixed_5c"), (InceptionV3, "Mixed_7c")])
def test_global_pool_any_size(cls, last):
    (logits, end_points), _ = trace(cls(num_classes=C, global_pool=True), (1, 250, 300, 3))
    assert logits.shape == (1, C)
    assert end_points["global_pool"].shape[1:3] == (1, 1)
    assert end_points[last].shape[1:3] == {InceptionV3: (6, 8)}.get(cls, (8, 10))


def test_small_inputs():
    # v2 and v3 shrink their final pooling window; v1's fixed 7x7 needs global_pool.
    (logits, end_points), _ = trace(InceptionV2(num_classes=C), (1, 112, 112, 3))
    assert logits.shape == (1, C) and end_points["Mixed_5c"].shape == (1, 4, 4, 1024)
    (logits, end_points), variables = trace(InceptionV3(num_classes=C), (1, 150, 150, 3))
    assert logits.shape == end_points["AuxLogits"].shape == (1, C)
    assert end_points["Mixed_7c"].shape == (1, 3, 3, 2048)
    assert "params/InceptionV3/AuxLogits/Conv2d_2a_1x1/weights" in names(variables)  # reduced from 5x5
    with pytest.raises(ValueError, match="global_pool=True"):
        trace(InceptionV1(num_classes=C), (1, 112, 112, 3))
    with pytest.raises(ValueError, match="create_aux_logits=False"):
        trace(InceptionV3(num_classes=C), (1, 80, 80, 3))
    (logits, _), _ = trace(InceptionV3(num_classes=C, create_aux_logits=False), (1, 80, 80, 3))
    assert logits.shape == (1, C)


def test_v3_without_aux_logits():
    (_, end_points), variables = trace(InceptionV3(num_classes=C, create_aux_logits=False), (1, 299, 299, 3))
    assert "AuxLogits" not in end_points
    assert not any("AuxLogits" in n for n in names(variables))


def test_reduced_kernel_size_for_small_input():
    assert reduced_kernel_size_for_small_input(jnp.zeros((1, 3, 9, 5)), [7, 7]) == [3, 7]


@pytest.mark.parametrize(
    "kwargs, gamma, batch_norm",
    [({}, False, True), ({"batch_norm_scale": True}, True, True), ({"use_batch_norm": False}, False, False)],
)
def test_arg_scope_batch_norm_options(kwargs, gamma, batch_norm):
    with inception_arg_scope(**kwargs):
        (_, _), variables = _trace_base(inception_v1_base, 224, final_endpoint="Mixed_3b")
    flat = names(variables)
    means = [n for n in flat if n.endswith("/BatchNorm/moving_mean")]
    assert bool(means) == batch_norm
    assert all((m.replace("batch_stats/", "params/")[: -len("moving_mean")] + "gamma" in flat) == gamma for m in means)
    assert any(n.endswith("Conv2d_1a_7x7/biases") for n in flat) == (not batch_norm)


def test_build_weight_decay_regularizes_every_conv():
    model = jslim.nets.build("inception_v1", weight_decay=4e-5)
    x = jax.ShapeDtypeStruct((1, 224, 224, 3), jnp.float32)

    def losses(x):
        variables = model.init(jax.random.key(0), x)
        return model.apply(variables, x, mutable=["losses"])[1]["losses"]

    lost = names(jax.eval_shape(losses, x))
    assert len(lost) == 58  # 57 convs of InceptionV1 and the logits conv; no biases, no batch norm
    assert all(n.endswith("/weights") for n in lost)


def test_training_mode_updates_batch_norm_and_uses_dropout():
    with inception_arg_scope():
        model = InceptionV1(num_classes=C, global_pool=True)
    rng = np.random.default_rng(0)
    images = jnp.asarray(rng.uniform(-1, 1, (2, 64, 64, 3)), jnp.float32)
    template = jax.eval_shape(model.init, jax.random.key(0), images)  # numpy weights: no init compile
    variables = jax.tree.map(lambda s: jnp.asarray(0.1 * rng.standard_normal(s.shape), s.dtype), template)
    variables["batch_stats"] = jax.tree.map(jnp.abs, variables["batch_stats"])

    @jax.jit
    def train(variables, key):
        return model.apply(variables, images, is_training=True, mutable=["batch_stats"], rngs={"dropout": key})

    (logits_a, _), state = train(variables, jax.random.key(1))
    (logits_b, _), _ = train(variables, jax.random.key(2))
    assert not np.allclose(logits_a, logits_b)  # Dropout_0b keeps 80%
    before = variables["batch_stats"]["InceptionV1"]["Conv2d_1a_7x7"]["BatchNorm"]["moving_mean"]
    after = state["batch_stats"]["InceptionV1"]["Conv2d_1a_7x7"]["BatchNorm"]["moving_mean"]
    assert not np.allclose(before, after)


def test_registry_records():
    for net, size in [("inception_v1", 224), ("inception_v2", 224), ("inception_v3", 299)]:
        spec = jslim.nets.get_spec(net)
        assert (spec.default_image_size, spec.num_classes, spec.label_offset, spec.preprocessing) == (
            size, 1001, 1, "inception"
        )
