"""The nets outside nets_factory (I3D, S3D-G, DCGAN, CycleGAN, pix2pix) against TF-Slim.

Goldens: tests/fixtures/goldens_extra/<case>.npz, written by
tools/make_extra_goldens.py from research/slim's own functions; each records
the exact call (``config``), which :func:`build_case` replays with jslim.
Tolerance as for the factory nets: 1e-4 * max(1, max|ref|) in float32 at
highest matmul precision (conftest). Options are tested at small sizes, mostly
through ``jax.eval_shape`` (no compile); expected shapes are those of
research/slim's ``*_test.py`` files.
"""

import functools
import importlib

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import golden
import net_shapes
from jslim import layers, scopes
from jslim.checkpoints import import_slim_checkpoint
from jslim.nets import cyclegan, dcgan, extra, gan_ops, i3d, i3d_utils, pix2pix, s3dg

CASES = sorted(p.stem for p in golden.EXTRA_GOLDEN_DIR.glob("*.npz"))
KEY = jax.random.key(0)
# XLA's backend optimizations double the CPU compile time of these nets (5 s more for
# S3D-G) for no gain at these sizes; the results stay within rounding.
FAST_COMPILE = {"xla_backend_optimization_level": 0}


def _decode(value, module):
    """tools/make_extra_goldens.py's JSON encodings, decoded against the jslim module."""
    if isinstance(value, dict) and "$partial" in value:
        name, kwargs = value["$partial"]
        return functools.partial(getattr(module, name), **kwargs)
    if isinstance(value, dict) and "$blocks" in value:
        return tuple(pix2pix.Block(int(f), float(k)) for f, k in value["$blocks"])
    return tuple(value) if isinstance(value, list) else value


def build_case(cfg):
    """The jslim module for a golden's recorded research/slim call."""
    module = importlib.import_module("jslim." + cfg["slim_module"])
    kwargs = {k: _decode(v, module) for k, v in cfg["kwargs"].items() if k != "is_training"}
    spec = extra.get_extra(cfg["extra_net"])
    if cfg["arg_scope"]:
        scope_fn, scope_kwargs = cfg["arg_scope"]
        assert spec.arg_scope.__name__ == scope_fn
        return extra.build(cfg["extra_net"], scope_kwargs, **kwargs)
    if spec.arg_scope is None:
        return extra.build(cfg["extra_net"], **kwargs)
    return spec.constructor(**kwargs)


def traced(fn_or_model, input_shape, **apply_kwargs):
    """``(first output shape, {end point: shape}, {tf name: shape})``, traced, not compiled."""
    (out, end_points), variables = net_shapes.trace(fn_or_model, input_shape, **apply_kwargs)
    return tuple(out.shape), net_shapes.shapes(end_points), golden.flat_names(variables)


def zeros(*shape):
    return jnp.zeros(shape, jnp.float32)


# --------------------------------------------------------------------------- goldens


def test_every_extra_net_has_a_golden():
    covered = {golden.load(c, golden.EXTRA_GOLDEN_DIR)["config"]["extra_net"] for c in CASES}
    assert covered == set(extra.list_extra_networks())


@pytest.mark.parametrize("case", CASES)
def test_matches_tf_slim(case):
    g = golden.load(case, golden.EXTRA_GOLDEN_DIR)
    golden.check_against_golden(case, build_case(g["config"]), g, compiler_options=FAST_COMPILE)


def test_golden_weight_rule():
    g = golden.load("i3d", golden.EXTRA_GOLDEN_DIR)
    shapes = dict(zip(g["var_names"], g["var_shapes"]))
    for name, first8 in zip(g["wcheck_names"], g["wcheck_first8"]):
        np.testing.assert_array_equal(golden.golden_value(str(name), shapes[str(name)]).reshape(-1)[:8], first8)


# --------------------------------------------------------------------------- extra index


def test_extra_index():
    assert extra.list_extra_networks() == sorted(
        ["i3d", "s3dg", "dcgan_generator", "dcgan_discriminator", "cyclegan_generator", "pix2pix_generator",
         "pix2pix_discriminator"]
    )
    with pytest.raises(ValueError, match="valid: cyclegan_generator"):
        extra.get_extra("i3dd")
    with pytest.raises(ValueError, match="no default arg scope"):
        extra.build("dcgan_generator", {"weight_decay": 1.0})
    model = extra.build("s3dg", {"weight_decay": 0.5}, num_classes=3, final_endpoint="Conv2d_2b_1x1")
    assert isinstance(model, s3dg.S3DG) and model.num_classes == 3
    # The arg scope travels with the module: its weight decay adds regularization losses.
    clip = zeros(1, 2, 16, 16, 3)
    template = jax.eval_shape(model.init, KEY, clip)
    _, state = jax.eval_shape(functools.partial(model.apply, mutable=["losses"]), template, clip)
    assert sorted(golden.flat_names({"params": state["losses"]})) == [
        "InceptionV1/Conv2d_1a_7x7/weights", "InceptionV1/Conv2d_2b_1x1/weights",
        "InceptionV1/Logits/Conv2d_0c_1x1/weights"]


# --------------------------------------------------------------------------- I3D / S3D-G

# research/slim i3d_test.py / s3dg_test.py: batch 5, 64 frames at 224x224.
SLIM_END_POINTS = {
    "Conv2d_1a_7x7": (5, 32, 112, 112, 64),
    "MaxPool_2a_3x3": (5, 32, 56, 56, 64),
    "Conv2d_2b_1x1": (5, 32, 56, 56, 64),
    "Conv2d_2c_3x3": (5, 32, 56, 56, 192),
    "MaxPool_3a_3x3": (5, 32, 28, 28, 192),
    "Mixed_3b": (5, 32, 28, 28, 256),
    "Mixed_3c": (5, 32, 28, 28, 480),
    "MaxPool_4a_3x3": (5, 16, 14, 14, 480),
    "Mixed_4b": (5, 16, 14, 14, 512),
    "Mixed_4c": (5, 16, 14, 14, 512),
    "Mixed_4d": (5, 16, 14, 14, 512),
    "Mixed_4e": (5, 16, 14, 14, 528),
    "Mixed_4f": (5, 16, 14, 14, 832),
    "MaxPool_5a_2x2": (5, 8, 7, 7, 832),
    "Mixed_5b": (5, 8, 7, 7, 832),
    "Mixed_5c": (5, 8, 7, 7, 1024),
}


def test_i3d_base_end_points_like_slim():
    out, end_points, names = traced(i3d.i3d_base, (5, 64, 224, 224, 3))
    assert out == (5, 8, 7, 7, 1024)
    assert end_points == SLIM_END_POINTS and set(end_points) == set(s3dg.END_POINTS)
    assert names["InceptionV1/Conv2d_1a_7x7/weights"] == (7, 7, 7, 3, 64)  # 7 frames, full 3-D
    assert names["InceptionV1/Mixed_5c/Branch_2/Conv2d_0b_3x3/weights"] == (3, 3, 3, 48, 128)
    assert not [n for n in names if "temporal" in n or "gating" in n]


@pytest.mark.parametrize(
    "base, input_shape, expected",
    [
        (s3dg.s3dg_base, (5, 64, 112, 112, 3), (5, 8, 4, 4, 1024)),  # testHalfSizeImages
        (s3dg.s3dg_base, (5, 10, 224, 224, 3), (5, 2, 7, 7, 1024)),  # testTenFrames
    ],
)
def test_s3dg_base_sizes(base, input_shape, expected):
    out, end_points, _ = traced(base, input_shape)
    assert out == expected and end_points["Mixed_5c"] == expected


@pytest.mark.parametrize("final_endpoint", ["Conv2d_1a_7x7", "Conv2d_2c_3x3", "MaxPool_4a_3x3", "Mixed_5b"])
def test_s3dg_base_final_endpoint(final_endpoint):
    fn = functools.partial(s3dg.s3dg_base, final_endpoint=final_endpoint, gating_startat=None)
    out, end_points, _ = traced(fn, (1, 4, 32, 32, 3))
    index = s3dg.END_POINTS.index(final_endpoint)
    assert set(end_points) == set(s3dg.END_POINTS[: index + 1])
    assert out == end_points[final_endpoint]


def test_s3dg_classification_like_slim():
    logits, end_points, names = traced(S3DG_1000 := s3dg.S3DG(num_classes=1000), (5, 64, 224, 224, 3))
    assert logits == (5, 1000) and end_points["Predictions"] == (5, 1000)
    assert names["InceptionV1/Logits/Conv2d_0c_1x1/weights"] == (1, 1, 1, 1024, 1000)
    assert S3DG_1000.example_input(2).shape == (2, 64, 224, 224, 3)


def test_s3dg_switch_points():
    """temporal_conv_startat / gating_startat act only at Conv2d_2c_3x3 and the Mixed blocks (slim's code)."""
    with s3dg.s3dg_arg_scope():
        fn = functools.partial(s3dg.s3dg_base, temporal_conv_startat="Mixed_4b", gating_startat="Mixed_5b")
        _, _, names = traced(fn, (1, 8, 32, 32, 3))
    temporal = sorted(n for n in names if n.endswith("temporal/weights"))
    assert len(temporal) == 14 and temporal[0] == "InceptionV1/Mixed_4b/Branch_1/Conv2d_0b_3x3/temporal/weights"
    assert names["InceptionV1/Mixed_3c/Branch_1/Conv2d_0b_3x3/weights"] == (1, 3, 3, 128, 192)
    assert names["InceptionV1/Mixed_4b/Branch_1/Conv2d_0b_3x3/temporal/weights"] == (3, 1, 1, 208, 208)
    assert names["InceptionV1/Mixed_4b/Branch_1/Conv2d_0b_3x3/temporal/biases"] == (208,)
    gating = sorted(n for n in names if "self_gating" in n)
    assert len(gating) == 8 and all(n.startswith("InceptionV1/Mixed_5") for n in gating)
    assert names["InceptionV1/Mixed_5b/Branch_3/Conv2d_0b_1x1/self_gating/transformer_W/weights"] == (
        1, 1, 1, 128, 128)
    # A name that is not a switch point (a pool) never switches: no temporal convolutions at all.
    with s3dg.s3dg_arg_scope():
        fn = functools.partial(s3dg.s3dg_base, temporal_conv_startat="MaxPool_4a_3x3", final_endpoint="Mixed_4c")
        _, _, names = traced(fn, (1, 8, 32, 32, 3))
    assert not [n for n in names if "temporal" in n]


def test_s3dg_depth_options():
    fn = functools.partial(s3dg.s3dg_base, depth_multiplier=0.5, final_endpoint="Mixed_3b")
    _, end_points, _ = traced(fn, (1, 4, 32, 32, 3))
    assert end_points["Conv2d_1a_7x7"][-1] == 32 and end_points["Mixed_3b"][-1] == 128
    fn = functools.partial(s3dg.s3dg_base, depth_multiplier=0.25, min_depth=64, final_endpoint="Mixed_3b")
    _, end_points, names = traced(fn, (1, 4, 32, 32, 3))
    assert end_points["Mixed_3b"][-1] == 256
    assert names["InceptionV1/Mixed_3b/Branch_2/Conv2d_0a_1x1/weights"] == (1, 1, 1, 64, 64)


def test_i3d_arg_scope_options():
    with i3d.i3d_arg_scope(separable_conv3d=True, use_renorm=True, batch_norm_epsilon=0.01):
        fn = functools.partial(i3d.i3d_base, final_endpoint="Conv2d_2c_3x3")
        _, _, names = traced(fn, (1, 8, 32, 32, 3))
    assert names["InceptionV1/Conv2d_1a_7x7/weights"] == (7, 7, 7, 3, 64)  # never separable
    assert names["InceptionV1/Conv2d_2c_3x3/weights"] == (1, 3, 3, 64, 192)
    assert names["InceptionV1/Conv2d_2c_3x3/temporal/weights"] == (3, 1, 1, 192, 192)
    assert {"moving_stddev", "renorm_mean", "renorm_stddev"} <= {
        n.split("/")[-1] for n in names if n.startswith("InceptionV1/Conv2d_1a_7x7/BatchNorm/")}
    with i3d.i3d_arg_scope(batch_norm_decay=0.9, batch_norm_epsilon=0.01) as sc:
        params = sc.defaults_for(scopes.arg_scope_func_key(layers.conv3d))["normalizer_params"]
        assert params == {"decay": 0.9, "epsilon": 0.01, "fused": False, "renorm": False}
        assert sc.defaults_for(scopes.arg_scope_func_key(i3d_utils.conv3d_spatiotemporal))["separable"] is False
    with s3dg.s3dg_arg_scope() as sc:
        assert sc.defaults_for(scopes.arg_scope_func_key(i3d_utils.conv3d_spatiotemporal))["separable"] is True


def test_video_training_mode():
    clip = zeros(2, 4, 16, 16, 3)
    with s3dg.s3dg_arg_scope():
        model = s3dg.S3DG(num_classes=4, dropout_keep_prob=0.5, final_endpoint="Conv2d_2c_3x3")
    variables = jax.eval_shape(model.init, KEY, clip)
    (logits, _), state = jax.eval_shape(
        functools.partial(model.apply, is_training=True, mutable=["batch_stats"], rngs={"dropout": KEY}),
        variables, clip,
    )
    assert logits.shape == (2, 4) and state["batch_stats"].keys() == variables["batch_stats"].keys()


def test_video_errors():
    clip = (1, 4, 32, 32, 3)
    with pytest.raises(ValueError, match="Unknown final endpoint 'Mixed_6a'; valid: Conv2d_1a_7x7"):
        traced(functools.partial(s3dg.s3dg_base, final_endpoint="Mixed_6a"), clip)
    with pytest.raises(ValueError, match="1, 3, 5 or 7"):
        traced(functools.partial(s3dg.s3dg_base, first_temporal_kernel_size=2), clip)
    with pytest.raises(ValueError, match="depth_multiplier is not greater than zero"):
        traced(functools.partial(s3dg.s3dg_base, depth_multiplier=0.0), clip)
    with pytest.raises(ValueError, match="'NDHWC' or 'NCDHW'"):
        traced(functools.partial(s3dg.s3dg_base, data_format="NHWC"), clip)
    with pytest.raises(ValueError, match="use i3d_base / s3dg_base for features"):
        traced(s3dg.S3DG(num_classes=0), clip)
    with pytest.raises(ValueError, match="needs square feature maps"):
        traced(s3dg.s3dg_base, (1, 4, 32, 64, 3))
    with pytest.raises(ValueError, match="pass spatial_squeeze=False"):
        traced(i3d.I3D(num_classes=3), (1, 2, 288, 288, 3))
    assert traced(i3d.I3D(num_classes=3, spatial_squeeze=False), (1, 2, 288, 288, 3))[0] == (1, 3, 3, 3)


def test_center_initializer():
    value = i3d_utils.center_initializer()(None, (3, 1, 1, 2, 2))
    expected = np.zeros((3, 1, 1, 2, 2), np.float32)
    expected[1, 0, 0] = np.eye(2)
    np.testing.assert_array_equal(value, expected)
    for shape, message in [((3, 1, 1, 2), "5-D"), ((3, 1, 1, 2, 3), "must be the same"),
                           ((3, 3, 1, 2, 2), "pointwise"), ((2, 1, 1, 2, 2), "odd")]:
        with pytest.raises(ValueError, match=message):
            i3d_utils.center_initializer()(None, shape)


@pytest.mark.parametrize("stride, expected", [(2, (1, 4, 8, 8, 5)), ([2, 1, 1], (1, 4, 16, 16, 5))])
def test_conv3d_spatiotemporal_separable(stride, expected):
    fn = functools.partial(i3d_utils.conv3d_spatiotemporal, num_outputs=5, kernel_size=[3, 3, 3], stride=stride,
                           separable=True, scope="conv")
    (out, names) = jax.eval_shape(lambda x: net_shapes.Fn(fn).init_with_output(KEY, x), zeros(1, 8, 16, 16, 3))
    assert out.shape == expected
    assert golden.flat_names(names) == {"conv/weights": (1, 3, 3, 3, 5), "conv/biases": (5,),
                                        "conv/temporal/weights": (3, 1, 1, 5, 5), "conv/temporal/biases": (5,)}
    assert i3d_utils.reduced_kernel_size_3d(zeros(1, 4, 5, 9, 3), [2, 7, 7]) == [2, 5, 7]


# --------------------------------------------------------------------------- DCGAN


@pytest.mark.parametrize("log_size, batch", [(3, 3), (4, 4), (5, 5), (6, 6)])
def test_dcgan_generator_graph(log_size, batch):
    """research/slim dcgan_test.test_generator_graph (depth 32)."""
    final_size = 2**log_size
    out, end_points, _ = traced(dcgan.DCGANGenerator(depth=32, final_size=final_size), (batch, 64))
    assert out == (batch, final_size, final_size, 3)
    assert set(end_points) == {f"deconv{j}" for j in range(1, log_size)} | {"logits"}
    for j in range(1, log_size):
        assert end_points[f"deconv{j}"][-1] == 32 * 2 ** (log_size - j - 1)


@pytest.mark.parametrize("log_size, batch", [(1, 3), (2, 4), (3, 5), (4, 6), (5, 7)])
def test_dcgan_discriminator_graph(log_size, batch):
    """research/slim dcgan_test.test_discriminator_graph (depth 32)."""
    size = 2**log_size
    out, end_points, _ = traced(dcgan.DCGANDiscriminator(depth=32), (batch, size, size, 3))
    assert out == (batch, 1)
    assert set(end_points) == {f"conv{j}" for j in range(1, log_size + 1)} | {"logits"}
    for j in range(1, log_size + 1):
        assert end_points[f"conv{j}"][-1] == 32 * 2 ** (j - 1)


def test_dcgan_invalid_inputs():
    with pytest.raises(ValueError, match="rank 2"):
        traced(dcgan.DCGANGenerator(), (5, 32, 32))
    with pytest.raises(ValueError, match="must be a power of 2"):
        traced(dcgan.DCGANGenerator(final_size=30), (3, 2))
    with pytest.raises(ValueError, match="must be greater than 8"):
        traced(dcgan.DCGANGenerator(final_size=4), (3, 2))
    with pytest.raises(ValueError, match="rank 4"):
        traced(dcgan.DCGANDiscriminator(), (5, 32, 32))
    with pytest.raises(ValueError, match="not have equal width and height"):
        traced(dcgan.DCGANDiscriminator(), (5, 32, 16, 3))
    with pytest.raises(ValueError, match="not a power of 2"):
        traced(dcgan.DCGANDiscriminator(), (5, 30, 30, 3))


def test_dcgan_training_creates_zero_debias_state():
    """Training batch norm zero-debiases moving_mean under TF's doubled names (as TF creates them)."""
    model = dcgan.DCGANGenerator(final_size=8, depth=4)
    inference = golden.flat_names(jax.eval_shape(model.init, KEY, zeros(2, 8)))
    assert sorted(inference) == [
        "Generator/deconv1/BatchNorm/beta", "Generator/deconv1/BatchNorm/moving_mean",
        "Generator/deconv1/BatchNorm/moving_variance", "Generator/deconv1/weights", "Generator/deconv2/biases",
        "Generator/deconv2/weights", "Generator/logits/biases", "Generator/logits/weights"]
    training = golden.flat_names(jax.eval_shape(functools.partial(model.init, is_training=True), KEY, zeros(2, 8)))
    debias = "Generator/deconv1/BatchNorm/Generator/deconv1/BatchNorm/moving_mean/"
    assert sorted(set(training) - set(inference)) == [debias + "biased", debias + "local_step"]
    assert model.example_input(3).shape == (3, 64)


# --------------------------------------------------------------------------- CycleGAN


@pytest.mark.parametrize("shape", [(4, 32, 32, 3), (3, 128, 128, 3), (2, 80, 400, 3)])
def test_cyclegan_output_shape_like_slim(shape):
    out, end_points, _ = traced(cyclegan.CycleGANGenerator(), shape)
    assert out == shape and end_points["logits"] == shape
    assert set(end_points) == {"encoder_0", "encoder_1", "encoder_2", "decoder1", "decoder2", "logits",
                               "predictions"} | {f"resnet_block_{i}" for i in range(6)}
    assert end_points["encoder_2"] == (shape[0], shape[1] // 4, shape[2] // 4, 256)


@pytest.mark.parametrize("kernel_size", [3, 4, 5, 6])
def test_cyclegan_kernel_sizes(kernel_size):
    model = cyclegan.CycleGANGenerator(num_resnet_blocks=1, num_filters=4, kernel_size=kernel_size)
    out, _, names = traced(model, (1, 32, 32, 3))
    assert out == (1, 32, 32, 3)
    assert names["residual_blocks/block_0/Conv_1/weights"] == (kernel_size, kernel_size, 16, 16)


@pytest.mark.parametrize("height, width", [(29, 32), (30, 32), (31, 32), (32, 29), (32, 30), (32, 31)])
def test_cyclegan_needs_multiples_of_4(height, width):
    which = "height" if height % 4 else "width"
    with pytest.raises(ValueError, match=f"The input {which} must be a multiple of 4"):
        traced(cyclegan.CycleGANGenerator(), (1, height, width, 3))


def test_cyclegan_arg_scope_and_upsample_options():
    with cyclegan.cyclegan_arg_scope(instance_norm_center=False, weight_decay=0.1) as sc:
        defaults = sc.defaults_for(scopes.arg_scope_func_key(layers.conv2d))
        assert defaults["normalizer_params"] == {"center": False, "scale": True, "epsilon": 0.001}
        assert defaults["weights_initializer"] == layers.random_normal_initializer(0.0, 0.02)
        assert defaults["weights_regularizer"] is not None
    with cyclegan.cyclegan_arg_scope() as sc:
        assert sc.defaults_for(scopes.arg_scope_func_key(layers.conv2d))["weights_regularizer"] is None
    model = cyclegan.CycleGANGenerator(num_resnet_blocks=0, num_filters=2, arg_scope_fn=functools.partial(
        cyclegan.cyclegan_arg_scope, instance_norm_center=False))
    _, _, names = traced(model, (1, 8, 8, 3))
    assert sorted(names) == [
        "decoder/decoder1/upconv/Conv2d_transpose/biases", "decoder/decoder1/upconv/Conv2d_transpose/weights",
        "decoder/decoder2/upconv/Conv2d_transpose/biases", "decoder/decoder2/upconv/Conv2d_transpose/weights",
        "encoder/Conv/InstanceNorm/gamma", "encoder/Conv/weights", "encoder/Conv_1/InstanceNorm/gamma",
        "encoder/Conv_1/weights", "input/Conv/InstanceNorm/gamma", "input/Conv/weights", "output/Conv/biases",
        "output/Conv/weights"]
    with pytest.raises(ValueError, match=r"Unknown method: \[bicubic\]"):
        traced(cyclegan.CycleGANGenerator(upsample_fn=functools.partial(
            cyclegan.cyclegan_upsample, method="bicubic")), (1, 8, 8, 3))


def test_resize_bilinear_legacy_coordinates():
    """tf.compat.v1.image.resize_bilinear: source i * in / out, or i * (in-1) / (out-1) with align_corners."""
    x = jnp.array([1.0, 5.0]).reshape(1, 1, 2, 1)
    resize = jax.jit(gan_ops.resize_bilinear, static_argnums=(1, 2))
    np.testing.assert_allclose(resize(x, (1, 4), False)[0, 0, :, 0], [1.0, 3.0, 5.0, 5.0])
    np.testing.assert_allclose(resize(x, (1, 4), True)[0, 0, :, 0], [1.0, 7 / 3, 11 / 3, 5.0], rtol=1e-6)
    np.testing.assert_array_equal(gan_ops.resize_nearest(x, (2, 2))[0, :, :, 0], [[1, 1, 5, 5], [1, 1, 5, 5]])
    with pytest.raises(ValueError, match="too large"):
        gan_ops.pad_spatial(zeros(1, 2, 2, 1), [[2, 2], [0, 0]], "reflect")
    assert gan_ops.pad_spatial(zeros(1, 2, 2, 1), [[2, 2], [0, 0]], "symmetric").shape == (1, 6, 2, 1)
    with pytest.raises(ValueError, match="pad mode"):
        gan_ops.pad_spatial(zeros(1, 2, 2, 1), [[1, 1], [1, 1]], "WRAP")


# --------------------------------------------------------------------------- pix2pix

REDUCED_BLOCKS = tuple(pix2pix.Block(b.num_filters // 32, b.decoder_keep_prob)
                       for b in pix2pix.DEFAULT_GENERATOR_BLOCKS)


@pytest.mark.parametrize("method", pix2pix.UPSAMPLE_METHODS)
def test_pix2pix_generator_output_size_like_slim(method):
    with pix2pix.pix2pix_arg_scope():
        model = pix2pix.Pix2PixGenerator(num_outputs=4, blocks=REDUCED_BLOCKS, upsample_method=method)
    out, end_points, names = traced(model, (2, 256, 256, 3))
    assert out == (2, 256, 256, 4) and end_points["predictions"] == out
    assert end_points["encoder6"] == (2, 2, 2, 16) and end_points["decoder6"] == (2, 256, 256, 2)
    conv = "Conv" if method == "nn_upsample_conv" else "Conv2d_transpose"
    assert f"decoder/{conv}_6/InstanceNorm/beta" in names and "encoder/Conv/biases" in names


def test_pix2pix_block_number_dictates_layers():
    with pix2pix.pix2pix_arg_scope():
        model = pix2pix.Pix2PixGenerator(num_outputs=4, blocks=(pix2pix.Block(64, 0.5), pix2pix.Block(128, 0)))
    _, end_points, _ = traced(model, (2, 256, 256, 3))
    assert sorted(end_points) == ["decoder0", "decoder1", "encoder0", "encoder1", "logits", "predictions"]
    with pytest.raises(ValueError, match=r"divisible by 2\*\*len\(blocks\) = 128, got \(64, 64\)"):
        traced(pix2pix.Pix2PixGenerator(num_outputs=3), (1, 64, 64, 3))
    with pytest.raises(ValueError, match=r"Unknown method: \[bilinear\]"):
        traced(pix2pix.Pix2PixGenerator(num_outputs=3, upsample_method="bilinear"), (1, 256, 256, 3))


def test_pix2pix_decoder_dropout_runs_at_inference():
    """Slim's decoder dropout always runs: each value is 0 or 1/keep_prob times the no-dropout value."""
    blocks = (pix2pix.Block(4, 0.5), pix2pix.Block(8, 0))
    model = pix2pix.Pix2PixGenerator(num_outputs=2, blocks=blocks)
    reference = pix2pix.Pix2PixGenerator(num_outputs=2, blocks=(pix2pix.Block(4, 0), pix2pix.Block(8, 0)))
    images = jnp.asarray(np.random.default_rng(0).uniform(-1, 1, (1, 8, 8, 3)), jnp.float32)
    template = jax.eval_shape(reference.init, KEY, images)
    tensors = {name: golden.golden_value(name, shape) for name, shape in golden.flat_names(template).items()}
    variables = import_slim_checkpoint(tensors, template)  # (jax.random compiles slowly on CPU)
    with pytest.raises(Exception, match="dropout"):
        jax.eval_shape(model.apply, variables, images)
    apply = jax.jit(lambda v, x, k: model.apply(v, x, rngs={"dropout": k}), compiler_options=FAST_COMPILE)
    _, ends = apply(variables, images, jax.random.key(1))
    _, ref = jax.jit(reference.apply, compiler_options=FAST_COMPILE)(variables, images)
    dropped, kept = np.asarray(ends["decoder1"]), 2.0 * np.asarray(ref["decoder1"])
    assert np.all((dropped == 0) | np.isclose(dropped, kept, rtol=1e-6, atol=1e-6))
    assert 0 < np.mean(dropped == 0) < 1
    np.testing.assert_array_equal(ends["decoder0"], ref["decoder0"])


def _patch_size(size, stride=2, pad=2):
    return (size + 2 * pad - 4) // stride + 1


@pytest.mark.parametrize("padding", [2, 0])
def test_pix2pix_discriminator_like_slim(padding):
    size = 256
    for stride in (2, 2, 2, 1, 1):
        size = _patch_size(size, stride, padding)
    with pix2pix.pix2pix_arg_scope():
        model = pix2pix.Pix2PixDiscriminator(num_filters=(64, 128, 256, 512), padding=padding)
    out, end_points, names = traced(model, (2, 256, 256, 3))
    assert out == (2, size, size, 1) and end_points["predictions"] == out
    assert sorted(n for n in names if n.startswith("conv4")) == ["conv4/biases", "conv4/weights"]
    assert "conv3/InstanceNorm/gamma" in names and "conv0/biases" in names


def test_pix2pix_discriminator_bad_padding():
    with pytest.raises(TypeError, match="padding must be an int"):
        traced(pix2pix.Pix2PixDiscriminator(num_filters=(64, 128), padding=1.5), (1, 32, 32, 3))
    with pytest.raises(ValueError, match="non-negative"):
        traced(pix2pix.Pix2PixDiscriminator(num_filters=(64, 128), padding=-1), (1, 32, 32, 3))
    with pytest.raises(ValueError, match="at least two depths"):
        traced(pix2pix.Pix2PixDiscriminator(num_filters=(64,)), (1, 32, 32, 3))


# --------------------------------------------------------------------------- training conformance

# I3D is s3dg_base with fixed arguments and no final_endpoint: too big to differentiate quickly.
SMALL_NETS = {
    "s3dg": (lambda: extra.build("s3dg", num_classes=3, final_endpoint="Mixed_3b", depth_multiplier=0.1),
             (2, 4, 16, 16, 3)),
    "dcgan_generator": (lambda: extra.build("dcgan_generator", depth=4, final_size=8), (2, 8)),
    "dcgan_discriminator": (lambda: extra.build("dcgan_discriminator", depth=4), (2, 8, 8, 3)),
    "cyclegan_generator": (lambda: extra.build("cyclegan_generator", num_resnet_blocks=1, num_filters=2), (1, 8, 8, 3)),
    "pix2pix_generator": (lambda: extra.build("pix2pix_generator", num_outputs=2, blocks=(
        pix2pix.Block(4, 0.5), pix2pix.Block(8, 0))), (1, 8, 8, 3)),
    "pix2pix_discriminator": (lambda: extra.build("pix2pix_discriminator", num_filters=(4, 8)), (1, 16, 16, 3)),
}


def test_small_nets_cover_the_index():
    assert sorted(SMALL_NETS) == sorted(set(extra.list_extra_networks()) - {"i3d"})


@pytest.mark.parametrize("name", sorted(SMALL_NETS))
def test_every_parameter_gets_a_gradient(name):
    """Training mode (batch statistics, dropout): every trainable variable moves the output."""
    make, shape = SMALL_NETS[name]
    model = make()
    x = jnp.asarray(np.random.default_rng(0).uniform(-1, 1, shape), jnp.float32)
    template = jax.eval_shape(functools.partial(model.init, is_training=True), {"params": KEY, "dropout": KEY}, x)
    tensors = {n: golden.golden_value(n, s) for n, s in golden.flat_names(template).items()}
    variables = import_slim_checkpoint(tensors, template)

    def loss(params):
        (out, _), _ = model.apply({**variables, "params": params}, x, is_training=True,
                                  mutable=["batch_stats"], rngs={"dropout": KEY})
        return jnp.sum(out * jnp.cos(jnp.arange(out.size, dtype=jnp.float32)).reshape(out.shape))

    grads = jax.jit(jax.grad(loss), compiler_options=FAST_COMPILE)(variables["params"])
    dead = ["/".join(str(k.key) for k in path)
            for path, g in jax.tree_util.tree_flatten_with_path(grads)[0] if not np.any(np.asarray(g))]
    assert not dead, f"no gradient reaches {dead}"
