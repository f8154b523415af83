"""Options of vgg_a/vgg_16/vgg_19, alexnet_v2 and overfeat (shapes traced, not compiled).

Expected shapes and end point names follow research/slim's vgg_test.py,
alexnet_test.py and overfeat_test.py. The golden comparison is in test_nets_golden.py.
"""

import jax
import jax.numpy as jnp
import pytest

import jslim.nets
from jslim.nets.vgg import VGG16, vgg_arg_scope
from net_shapes import names, shapes, trace

C = 10

VGG_16_END_POINTS = [
    "vgg_16/conv1/conv1_1", "vgg_16/conv1/conv1_2", "vgg_16/pool1",
    "vgg_16/conv2/conv2_1", "vgg_16/conv2/conv2_2", "vgg_16/pool2",
    "vgg_16/conv3/conv3_1", "vgg_16/conv3/conv3_2", "vgg_16/conv3/conv3_3", "vgg_16/pool3",
    "vgg_16/conv4/conv4_1", "vgg_16/conv4/conv4_2", "vgg_16/conv4/conv4_3", "vgg_16/pool4",
    "vgg_16/conv5/conv5_1", "vgg_16/conv5/conv5_2", "vgg_16/conv5/conv5_3", "vgg_16/pool5",
    "vgg_16/fc6", "vgg_16/fc7", "vgg_16/fc8",
]  # fmt: skip


def _stack_end_points(net, *layer_names):
    return sorted(f"{net}/{n}" for n in layer_names)


@pytest.mark.parametrize(
    "net, convs",
    [("vgg_a", (1, 1, 2, 2, 2)), ("vgg_16", (2, 2, 3, 3, 3)), ("vgg_19", (2, 2, 4, 4, 4))],
)
def test_vgg_end_points(net, convs):
    (logits, end_points), variables = trace(jslim.nets.build(net, num_classes=C), (1, 224, 224, 3))
    assert logits.shape == (1, C)
    expected = [f"conv{b}/conv{b}_{i}" for b, n in enumerate(convs, 1) for i in range(1, n + 1)]
    expected += [f"pool{b}" for b in range(1, 6)] + ["fc6", "fc7", "fc8"]
    assert sorted(end_points) == _stack_end_points(net, *expected)
    if net == "vgg_16":
        assert sorted(end_points) == sorted(VGG_16_END_POINTS)
    assert shapes(end_points)[f"{net}/pool5"] == (1, 7, 7, 512)
    assert shapes(end_points)[f"{net}/fc7"] == (1, 1, 1, 4096)
    assert names(variables)[f"params/{net}/fc6/weights"] == (7, 7, 512, 4096)
    assert names(variables)[f"params/{net}/fc8/weights"] == (1, 1, 4096, C)


def test_alexnet_and_overfeat_end_points():
    layer_names = ["conv1", "pool1", "conv2", "pool2", "conv3", "conv4", "conv5", "pool5", "fc6", "fc7", "fc8"]
    for net, size, pool5 in [("alexnet_v2", 224, (1, 5, 5, 256)), ("overfeat", 231, (1, 6, 6, 1024))]:
        (logits, end_points), _ = trace(jslim.nets.build(net, num_classes=C), (1, size, size, 3))
        assert logits.shape == (1, C)
        assert sorted(end_points) == _stack_end_points(net, *layer_names)
        assert end_points[f"{net}/pool5"].shape == pool5


@pytest.mark.parametrize(
    "net, size, out",
    [("vgg_16", (256, 256), (2, 2)), ("alexnet_v2", (300, 400), (4, 7)), ("overfeat", (281, 281), (2, 2))],
)
def test_fully_convolutional(net, size, out):
    model = jslim.nets.build(net, num_classes=C, spatial_squeeze=False)
    (logits, end_points), _ = trace(model, (2, *size, 3))
    assert logits.shape == (2, *out, C)
    assert end_points[f"{net}/fc8"].shape == (2, *out, C)


@pytest.mark.parametrize("net", ["vgg_19", "alexnet_v2", "overfeat"])
def test_global_pool(net):
    model = jslim.nets.build(net, num_classes=C, global_pool=True, spatial_squeeze=False)
    (logits, end_points), _ = trace(model, (1, 256, 256, 3))
    assert logits.shape == (1, 1, 1, C)
    assert end_points["global_pool"].shape == (1, 1, 1, 4096)


@pytest.mark.parametrize("net", ["vgg_a", "alexnet_v2", "overfeat"])
@pytest.mark.parametrize("num_classes", [0, None])
def test_no_classes_returns_fc7_features(net, num_classes):
    size = jslim.nets.get_spec(net).default_image_size
    (features, end_points), variables = trace(jslim.nets.build(net, num_classes=num_classes), (2, size, size, 3))
    assert features.shape == (2, 1, 1, 4096)
    assert f"{net}/fc8" not in end_points and "global_pool" not in end_points
    assert not any("/fc8/" in n for n in names(variables))


def test_vgg_fc_conv_padding_same():
    model = VGG16(num_classes=C, fc_conv_padding="SAME", spatial_squeeze=False)
    (logits, end_points), _ = trace(model, (1, 224, 224, 3))
    assert end_points["vgg_16/fc6"].shape == (1, 7, 7, 4096)
    assert logits.shape == (1, 7, 7, C)


def test_spatial_squeeze_needs_a_1x1_map():
    with pytest.raises(ValueError, match="squeeze"):
        trace(jslim.nets.build("vgg_16", num_classes=C), (1, 256, 256, 3))


@pytest.mark.parametrize("weight_decay, regularized", [(0.0005, 16), (0.0, 0)])
def test_vgg_arg_scope_weight_decay(weight_decay, regularized):
    with vgg_arg_scope(weight_decay=weight_decay):
        model = VGG16(num_classes=C)
    x = jax.ShapeDtypeStruct((1, 224, 224, 3), jnp.float32)

    def losses(x):
        variables = model.init(jax.random.key(0), x)
        return model.apply(variables, x, mutable=["losses"])[1].get("losses", {})

    lost = names(jax.eval_shape(losses, x))
    assert len(lost) == regularized
    assert all(n.endswith("/weights") for n in lost)


def test_registry_records():
    for net, size in [("vgg_a", 224), ("vgg_16", 224), ("vgg_19", 224), ("alexnet_v2", 224), ("overfeat", 231)]:
        spec = jslim.nets.get_spec(net)
        assert (spec.default_image_size, spec.num_classes, spec.label_offset, spec.preprocessing) == (
            size, 1000, 0, "vgg"
        )
