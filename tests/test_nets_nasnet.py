"""NASNet and PNASNet options, cells and arg scopes (research/slim ``nasnet_test.py``,
``pnasnet_test.py`` and ``nasnet_utils_test.py`` cases).

Full-size shapes are traced with ``jax.eval_shape`` (nothing compiles); numerics
run on small configs (few cells, few filters, small images). The published
variants' numerics are the golden test's (tests/test_nets_golden.py).
"""

import dataclasses

import flax
import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jslim.nets
from jslim import layers
from jslim.nets import nasnet, nasnet_utils, pnasnet
import golden
from jslim.scopes import arg_scope, arg_scope_func_key, current_arg_scope

BATCH = 5
# Small configs: 3 cells (reductions before cells 1 and 2, aux head after cell 1).
SMALL_CIFAR = dataclasses.replace(nasnet.cifar_config(), num_cells=3, num_conv_filters=8)
SMALL_MOBILE = dataclasses.replace(nasnet.mobile_imagenet_config(), num_cells=3, num_conv_filters=8)
SMALL_PNAS = dataclasses.replace(pnasnet.mobile_imagenet_config(), num_cells=3, num_conv_filters=6)


def _images(size, batch=2, seed=0):
    return np.random.default_rng(seed).uniform(-1, 1, (batch, size, size, 3)).astype(np.float32)


def _rngs(seed=0):
    return {"params": jax.random.key(seed), "dropout": jax.random.key(seed + 1)}


def _trace(model, size, is_training=False, batch=BATCH):
    """``(output, end_points, variables)`` shapes of ``model.init`` (no compile)."""
    images = jax.ShapeDtypeStruct((batch, size, size, 3), jnp.float32)
    init = lambda x: model.init_with_output(_rngs(), x, is_training=is_training)  # noqa: E731
    (out, end_points), variables = jax.eval_shape(init, images)
    return out, end_points, variables


def _shapes(end_points):
    return {k: tuple(v.shape) for k, v in end_points.items()}


def _names(variables):
    return {"/".join(str(p.key) for p in path) for path, _ in jax.tree_util.tree_flatten_with_path(variables)[0]}


# --- hyperparameters and helpers (data) --------------------------------------------------


def test_configs_are_slims():
    cifar, mobile, large = nasnet.cifar_config(), nasnet.mobile_imagenet_config(), nasnet.large_imagenet_config()
    assert (cifar.num_cells, cifar.num_conv_filters, cifar.stem_multiplier) == (18, 32, 3.0)
    assert (cifar.drop_path_keep_prob, cifar.dense_dropout_keep_prob, cifar.total_training_steps) == (0.6, 1.0, 937500)
    assert (mobile.num_cells, mobile.num_conv_filters, mobile.stem_multiplier) == (12, 44, 1.0)
    assert (mobile.drop_path_keep_prob, mobile.skip_reduction_layer_input) == (1.0, 0)
    assert (large.num_cells, large.num_conv_filters, large.drop_path_keep_prob) == (18, 168, 0.7)
    assert large.skip_reduction_layer_input == 1
    p_mobile, p_large = pnasnet.mobile_imagenet_config(), pnasnet.large_imagenet_config()
    assert (p_mobile.num_cells, p_mobile.num_conv_filters, p_mobile.skip_reduction_layer_input) == (9, 54, 1)
    assert (p_large.num_cells, p_large.num_conv_filters, p_large.drop_path_keep_prob) == (12, 216, 0.6)
    for config in (cifar, mobile, large, p_mobile, p_large):
        assert (config.data_format, config.use_aux_head, config.use_bounded_activation) == ("NHWC", 1, False)
        hash(config)  # a module field


@pytest.mark.parametrize(
    "change,match",
    [
        ({"data_format": "NWHC"}, "data_format"),
        ({"num_cells": 0}, "num_cells"),
        ({"drop_path_keep_prob": 0.0}, "drop_path"),
    ],
)
def test_bad_config(change, match):
    with pytest.raises(ValueError, match=match):
        dataclasses.replace(nasnet.cifar_config(), **change)


def test_calc_reduction_layers():
    assert nasnet_utils.calc_reduction_layers(18, 2) == [6, 12]
    assert nasnet_utils.calc_reduction_layers(12, 2) == [4, 8]
    assert nasnet_utils.calc_reduction_layers(9, 2) == [3, 6]
    assert nasnet_utils.calc_reduction_layers(3, 2) == [1, 2]


def test_operation_strings():
    assert nasnet_utils._operation_to_info("separable_3x3_4") == (4, 3)
    assert nasnet_utils._operation_to_info("separable_7x7") == (1, 7)
    assert nasnet_utils._operation_to_pooling_info("max_pool_3x3") == ("max", 3)
    with pytest.raises(ValueError, match="Rectangular"):
        nasnet_utils._operation_to_info("separable_3x5_2")
    with pytest.raises(ValueError, match="Rectangular"):
        nasnet_utils._operation_to_pooling_info("avg_pool_3x5")


def test_channel_helpers_need_a_data_format():
    assert nasnet_utils.get_channel_index(data_format="NHWC") == 3
    assert nasnet_utils.get_channel_dim((2, 8, 7, 5), data_format="NCHW") == 8
    with pytest.raises(ValueError, match="arg_scope"):
        nasnet_utils.get_channel_index()


def test_cell_wiring_is_validated():
    with pytest.raises(ValueError, match="10 operations"):
        nasnet_utils.NasNetABaseCell(8, ["none"] * 9, [0] * 7, [0] * 10, 1.0, 4, 100)


# --- factorized_reduction and drop_path (hand-computed) -------------------------------------


class _Apply(nn.Module):
    """Runs ``fn(x)`` inside a compact method (layers need a Flax scope)."""

    fn: object

    @nn.compact
    def __call__(self, x):
        return self.fn(x)


def _run(fn, x, variables=None, rngs=None):
    module = _Apply(fn)
    if variables is None:
        variables = module.init(rngs or _rngs(), x)
    return module.apply(variables, x, rngs=rngs), variables


def _ones_like(variables):
    return jax.tree_util.tree_map(jnp.ones_like, variables)


def test_factorized_reduction_paths():
    # One channel, linear 1x1 convs of ones, batch norm y = x / sqrt(1 + 1e-3) (gamma 1, beta 0, mean 0, var 1).
    x = np.arange(25, dtype=np.float32).reshape(1, 5, 5, 1)

    def fn(v):
        with nasnet.nasnet_mobile_arg_scope(), arg_scope([layers.batch_norm], is_training=False):
            return nasnet_utils.factorized_reduction(v, 2, 2, data_format="NHWC")

    _, variables = _run(fn, x)
    assert _names(variables) == {
        "params/path1_conv/weights", "params/path2_conv/weights", "params/final_path_bn/beta",
        "params/final_path_bn/gamma", "batch_stats/final_path_bn/moving_mean",
        "batch_stats/final_path_bn/moving_variance",
    }
    ones = _ones_like(variables)
    ones["params"]["final_path_bn"]["beta"] = jnp.zeros(2)
    ones["batch_stats"]["final_path_bn"]["moving_mean"] = jnp.zeros(2)
    out, _ = _run(fn, x, ones)
    grid = x[0, :, :, 0]
    shifted = np.pad(grid, ((0, 1), (0, 1)))[1:, 1:]
    expected = np.stack([grid[::2, ::2], shifted[::2, ::2]], axis=-1) / np.sqrt(1.001)
    np.testing.assert_allclose(out[0], expected, rtol=1e-6)


def test_factorized_reduction_odd_filters_and_stride_1():
    x = jax.ShapeDtypeStruct((1, 6, 6, 4), jnp.float32)

    def variables(output_filters, stride):
        module = _Apply(lambda t: nasnet_utils.factorized_reduction(t, output_filters, stride, data_format="NHWC"))
        return jax.eval_shape(lambda v: module.init(_rngs(), v), x)

    odd = variables(27, 2)
    assert odd["params"]["path1_conv"]["weights"].shape == (1, 1, 4, 13)
    assert odd["params"]["path2_conv"]["weights"].shape == (1, 1, 4, 14)
    flat = variables(6, 1)
    assert sorted(flat["params"]) == ["path_bn", "path_conv"]


def test_drop_path():
    x = np.ones((64, 2, 2, 3), np.float32)
    out, _ = _run(lambda v: nasnet_utils.drop_path(v, 0.5, is_training=False), x)
    np.testing.assert_array_equal(out, x)
    out, _ = _run(lambda v: nasnet_utils.drop_path(v, 0.5), x, rngs=_rngs(3))
    per_example = np.asarray(out).reshape(64, -1)
    assert set(np.unique(per_example)) == {0.0, 2.0}
    assert np.all(per_example.min(axis=1) == per_example.max(axis=1)), "drop path drops whole examples"
    again, _ = _run(lambda v: nasnet_utils.drop_path(v, 0.5), x, rngs=_rngs(3))
    np.testing.assert_array_equal(again, out)  # the 'dropout' stream decides
    with pytest.raises(flax.errors.InvalidRngError, match="dropout"):
        _Apply(lambda v: nasnet_utils.drop_path(v, 0.5)).apply({}, x)


@pytest.mark.parametrize(
    "version,step,expected",
    [
        ("v3", None, 1 - 3 / 10 * 0.4),  # depth-scaled, ramp over
        ("v3", 50, 1 - 0.5 * 3 / 10 * 0.4),  # half way through the ramp
        ("v3", 0, 1.0),  # step 0: no drop path yet
        ("v1", 50, 1 - 0.5 * 0.4),
        ("v2", 50, 1 - 3 / 10 * 0.4),
    ],
)
def test_drop_path_schedule(version, step, expected):
    # Kept examples are scaled by 1 / keep_prob: read the scheduled keep probability off them.
    cell = nasnet_utils.NasNetANormalCell(8, 0.6, total_num_cells=10, total_training_steps=100)
    x = np.ones((256, 1, 1, 1), np.float32)

    def fn(v):
        return cell._apply_drop_path(v, 2, current_step=step, drop_connect_version=version)

    out, _ = _run(fn, x, rngs=_rngs(5))
    kept = np.asarray(out).ravel()
    kept = kept[kept > 0]
    np.testing.assert_allclose(kept, 1.0 / expected, rtol=1e-6)
    assert abs(kept.size / 256 - expected) < 0.1


# --- full-size shapes (slim's *_test.py tables), traced only -------------------------------

CIFAR_SHAPES = {
    "Stem": (32, 96), **{f"Cell_{i}": (32, 192) for i in range(6)},
    "Reduction_Cell_0": (16, 256), **{f"Cell_{i}": (16, 384) for i in range(6, 12)},
    "Reduction_Cell_1": (8, 512), **{f"Cell_{i}": (8, 768) for i in range(12, 18)},
}
MOBILE_SHAPES = {
    "Stem": (28, 88), **{f"Cell_{i}": (28, 264) for i in range(4)},
    "Reduction_Cell_0": (14, 352), **{f"Cell_{i}": (14, 528) for i in range(4, 8)},
    "Reduction_Cell_1": (7, 704), **{f"Cell_{i}": (7, 1056) for i in range(8, 12)},
}
PNAS_MOBILE_SHAPES = {
    "Stem": (28, 135), **{f"Cell_{i}": (28, 270) for i in range(3)},
    **{f"Cell_{i}": (14, 540) for i in range(3, 6)}, **{f"Cell_{i}": (7, 1080) for i in range(6, 9)},
}


def _expected(table, num_classes, aux, features):
    out = {k: (BATCH, s, s, c) for k, (s, c) in table.items()}
    out.update({"global_pool": (BATCH, features), "Logits": (BATCH, num_classes), "Predictions": (BATCH, num_classes)})
    if aux:
        out["AuxLogits"] = (BATCH, num_classes)
    return out


def test_cifar_all_end_points_in_training():
    model = jslim.nets.build("nasnet_cifar", num_classes=10)
    logits, end_points, variables = _trace(model, 32, is_training=True)
    assert logits.shape == (BATCH, 10)
    assert _shapes(end_points) == _expected(CIFAR_SHAPES, 10, aux=True, features=768)
    assert variables["params"]["aux_11"]["aux_logits"]["FC"]["weights"].shape == (768, 10)


def test_mobile_all_end_points():
    model = jslim.nets.build("nasnet_mobile", num_classes=1000)
    _, end_points, variables = _trace(model, 224)
    assert _shapes(end_points) == _expected(MOBILE_SHAPES, 1000, aux=False, features=1056)
    assert not any(name.startswith("aux_") for name in variables["params"]), "aux head in inference"


def test_pnasnet_mobile_all_end_points_in_training():
    model = jslim.nets.build("pnasnet_mobile", num_classes=1000)
    _, end_points, variables = _trace(model, 224, is_training=True)
    assert _shapes(end_points) == _expected(PNAS_MOBILE_SHAPES, 1000, aux=True, features=1080)
    names = _names(variables["params"])
    assert "cell_stem_0/1x1/weights" in names
    assert "cell_stem_1/comb_iter_0/right/1x1/weights" not in names
    assert variables["params"]["cell_stem_1"]["path2_conv"]["weights"].shape == (1, 1, 32, 14)


@pytest.mark.parametrize(
    "net,size,expected",
    [
        ("nasnet_large", 331, (BATCH, 336, 42, 42)),
        ("pnasnet_large", 331, (BATCH, 540, 42, 42)),
        ("pnasnet_mobile", 224, (BATCH, 135, 28, 28)),
    ],
)
def test_nchw_stem(net, size, expected):
    config = dataclasses.replace(_default_config(net), data_format="NCHW")
    model = jslim.nets.build(net, final_endpoint="Stem", config=config)
    out, end_points, _ = _trace(model, size)
    assert out.shape == expected and sorted(end_points) == ["Stem"]


def _default_config(net):
    return {
        "nasnet_large": nasnet.large_imagenet_config,
        "pnasnet_large": pnasnet.large_imagenet_config,
        "pnasnet_mobile": pnasnet.mobile_imagenet_config,
    }[net]()


@pytest.mark.parametrize(
    "net,num_classes,config,size,features",
    [("pnasnet_mobile", 0, None, 224, 1080), ("nasnet_cifar", None, SMALL_CIFAR, 16, 192)],
)
def test_features_without_classes(net, num_classes, config, size, features):
    model = jslim.nets.build(net, num_classes=num_classes, config=config)
    out, end_points, variables = _trace(model, size, is_training=True)
    assert out.shape == (BATCH, features) and end_points["global_pool"].shape == (BATCH, features)
    assert not {"Logits", "Predictions", "AuxLogits"} & set(end_points)
    assert "final_layer" not in variables["params"]


# --- options on small configs ---------------------------------------------------------------


@pytest.mark.parametrize(
    "net,config,names,finals",
    [
        (
            "nasnet_mobile", SMALL_MOBILE,
            ["Stem", "Cell_0", "Reduction_Cell_0", "Cell_1", "Reduction_Cell_1", "Cell_2"],
            ["Stem", "Reduction_Cell_0", "Cell_2", "Logits"],
        ),
        ("pnasnet_mobile", SMALL_PNAS, ["Stem", "Cell_0", "Cell_1", "Cell_2"], ["Cell_1", "global_pool"]),
    ],
)
def test_final_endpoint(net, config, names, finals):
    order = names + ["global_pool", "Logits"]
    assert nasnet.nasnet_endpoint_names(config, reduction_cells=net.startswith("nasnet")) == order + ["Predictions"]
    for final in finals:
        out, end_points, _ = _trace(jslim.nets.build(net, final_endpoint=final, config=config), 96)
        assert sorted(end_points) == sorted(order[: order.index(final) + 1])
        # slim returns the end point itself, except for 'Logits' where it returns the pre-FC features.
        expected = end_points["global_pool"].shape if final == "Logits" else end_points[final].shape
        assert out.shape == expected
    with pytest.raises(ValueError, match="valid end points: Stem, Cell_0"):
        jslim.nets.build(net, final_endpoint="Cell_99", config=config).init(_rngs(), _images(96))


def test_cifar_has_no_final_endpoint_option():
    with pytest.raises(TypeError, match="final_endpoint"):
        jslim.nets.build("nasnet_cifar", final_endpoint="Stem")


def test_no_aux_head():
    config = dataclasses.replace(SMALL_CIFAR, use_aux_head=0)
    _, end_points, variables = _trace(jslim.nets.build("nasnet_cifar", config=config), 16, is_training=True)
    assert "AuxLogits" not in end_points and "aux_1" not in variables["params"]
    _, end_points, variables = _trace(jslim.nets.build("nasnet_cifar", config=SMALL_CIFAR), 16, is_training=True)
    assert end_points["AuxLogits"].shape == (BATCH, 10) and "aux_1" in variables["params"]


def _golden_variables(model, images, is_training=False):
    """Deterministic weights by TF name (the goldens' rule, numpy only: no compiled init)."""
    return _golden_tree(jax.eval_shape(lambda x: model.init(_rngs(), x, is_training=is_training), images))


def _golden_tree(template):
    def value(path, leaf):
        return jnp.asarray(golden.golden_value("/".join(str(k.key) for k in path), leaf.shape))

    return {col: jax.tree_util.tree_map_with_path(value, tree) for col, tree in template.items()}


def _eval(model, variables, images, mutable=False):
    return jax.jit(lambda v, x: model.apply(v, x, mutable=mutable))(variables, images)


@pytest.fixture(scope="module")
def small_cifar():
    """The small CIFAR net (weight decay 1e-3) in inference: variables, images, outputs, losses."""
    images = _images(16)
    model = jslim.nets.build("nasnet_cifar", config=SMALL_CIFAR, weight_decay=1e-3)
    variables = _golden_variables(model, images, is_training=True)  # with the aux head
    (logits, end_points), state = _eval(model, variables, images, mutable=["losses"])
    return {
        "images": images, "variables": variables, "logits": logits, "end_points": end_points, "losses": state["losses"],
    }


def test_nchw_matches_nhwc(small_cifar):
    nchw = jslim.nets.build("nasnet_cifar", config=dataclasses.replace(SMALL_CIFAR, data_format="NCHW"))
    logits, end_points = _eval(nchw, small_cifar["variables"], small_cifar["images"])
    scale = float(np.max(np.abs(small_cifar["logits"])))
    np.testing.assert_allclose(logits, small_cifar["logits"], rtol=0, atol=1e-5 * scale)
    for name in ("Stem", "Reduction_Cell_1", "Cell_2"):
        np.testing.assert_allclose(
            np.transpose(end_points[name], (0, 2, 3, 1)), small_cifar["end_points"][name], rtol=0, atol=1e-5 * scale
        )


def test_bounded_activation(small_cifar):
    config = dataclasses.replace(SMALL_CIFAR, use_bounded_activation=True)
    model = jslim.nets.build("nasnet_cifar", config=config)
    logits, end_points = _eval(model, small_cifar["variables"], small_cifar["images"])
    # A reduction cell outputs only combined states, each a ReLU6.
    reduction = np.asarray(end_points["Reduction_Cell_0"])
    assert reduction.min() >= 0.0 and reduction.max() <= 6.0 and reduction.max() > 1.0
    assert np.asarray(small_cifar["end_points"]["Reduction_Cell_0"]).min() < 0.0
    assert not np.allclose(logits, small_cifar["logits"])


def test_weight_decay_records_losses(small_cifar):
    stem = small_cifar["variables"]["params"]["l1_stem_3x3"]["weights"]
    recorded = small_cifar["losses"]["l1_stem_3x3"]["weights"]
    np.testing.assert_allclose(recorded, 1e-3 * jnp.sum(stem**2) / 2, rtol=1e-5)
    assert "beginning_bn" not in small_cifar["losses"]["cell_0"], "batch norm is not regularized"


def test_training_mode(small_cifar):
    model = jslim.nets.build("nasnet_cifar", config=SMALL_CIFAR)  # drop_path_keep_prob 0.6, dense dropout off

    @jax.jit
    def train(step, seed):
        (logits, end_points), _ = model.apply(
            small_cifar["variables"], small_cifar["images"], is_training=True, current_step=step,
            rngs={"dropout": jax.random.key(seed)}, mutable=["batch_stats"],
        )
        return logits, end_points["AuxLogits"]

    logits_0a, aux = train(0, 1)
    assert aux.shape == (2, 10) and np.all(np.isfinite(aux))
    np.testing.assert_allclose(train(0, 2)[0], logits_0a, rtol=1e-6)  # step 0: no drop path yet
    steps = SMALL_CIFAR.total_training_steps
    assert not np.allclose(train(steps, 1)[0], train(steps, 2)[0])  # ramp over: drop path draws from 'dropout'
    assert not np.allclose(logits_0a, small_cifar["logits"])  # batch statistics


def test_cell_gradients_with_drop_path():
    """Every variable of a reduction cell (all operation kinds, a factorized prev_layer) gets a gradient."""
    cell = nasnet_utils.NasNetAReductionCell(8, 0.6, total_num_cells=4, total_training_steps=10)
    net = _images(8)[..., :2].repeat(6, axis=-1)  # [2, 8, 8, 12]
    prev = _images(16, seed=1)  # [2, 16, 16, 3]: reduced by factorized_reduction

    class Cell(nn.Module):
        @nn.compact
        def __call__(self, x, y):
            with nasnet.nasnet_mobile_arg_scope(), nasnet._net_arg_scope(SMALL_CIFAR, is_training=True):
                return cell(x, scope="reduction_cell_0", stride=2, prev_layer=y, cell_num=1)

    template = jax.eval_shape(lambda x, y: Cell().init(_rngs(), x, y), net, prev)
    variables = _golden_tree(template)
    assert "path1_conv" in variables["params"]["reduction_cell_0"]

    def loss(params):
        out, _ = Cell().apply(
            {**variables, "params": params}, net, prev, rngs={"dropout": jax.random.key(0)}, mutable=["batch_stats"]
        )
        return jnp.sum(out**2), out

    grads, out = jax.jit(jax.grad(loss, has_aux=True))(variables["params"])
    assert out.shape == (2, 4, 4, 32)
    dead = [
        "/".join(str(p.key) for p in path)
        for path, g in jax.tree_util.tree_flatten_with_path(grads)[0]
        if not np.any(np.asarray(g) != 0)
    ]
    assert not dead, f"parameters without a gradient: {dead}"


def test_pnasnet_small_runs():
    images = _images(96)
    model = jslim.nets.build("pnasnet_mobile", num_classes=7, config=SMALL_PNAS)
    logits, end_points = _eval(model, _golden_variables(model, images), images)
    assert logits.shape == (2, 7) and end_points["Cell_2"].shape == (2, 3, 3, 120)
    np.testing.assert_allclose(np.sum(end_points["Predictions"], axis=-1), 1.0, rtol=1e-5)
    assert np.all(np.isfinite(logits))


# --- arg scopes and registry -----------------------------------------------------------------


@pytest.mark.parametrize(
    "scope_fn,decay,epsilon,weight_decay",
    [
        (nasnet.nasnet_cifar_arg_scope, 0.9, 1e-5, 5e-4),
        (nasnet.nasnet_mobile_arg_scope, 0.9997, 1e-3, 4e-5),
        (nasnet.nasnet_large_arg_scope, 0.9997, 1e-3, 5e-5),
        (pnasnet.pnasnet_mobile_arg_scope, 0.9997, 1e-3, 4e-5),
        (pnasnet.pnasnet_large_arg_scope, 0.9997, 1e-3, 4e-5),
    ],
)
def test_arg_scope_defaults(scope_fn, decay, epsilon, weight_decay):
    with scope_fn():
        sc = current_arg_scope()
    bn = sc.defaults_for(arg_scope_func_key(layers.batch_norm))
    assert (bn["decay"], bn["epsilon"], bn["scale"], bn["fused"]) == (decay, epsilon, True, True)
    conv = sc.defaults_for(arg_scope_func_key(layers.conv2d))
    assert conv["activation_fn"] is None and conv["biases_initializer"] is None
    assert conv["weights_initializer"] == layers.variance_scaling_initializer(mode="FAN_OUT")
    assert conv["weights_regularizer"] == layers.l2_regularizer(weight_decay)
    fc = sc.defaults_for(arg_scope_func_key(layers.fully_connected))
    assert fc["scope"] == "FC" and fc["activation_fn"] is None
    with scope_fn(batch_norm_decay=0.5, batch_norm_epsilon=0.25):
        bn = current_arg_scope().defaults_for(arg_scope_func_key(layers.batch_norm))
    assert (bn["decay"], bn["epsilon"]) == (0.5, 0.25)


def test_arg_scope_shapes_the_variables():
    scoped = _names(_trace(jslim.nets.build("nasnet_cifar", config=SMALL_CIFAR), 16)[2])
    assert "params/final_layer/FC/weights" in scoped and "params/l1_stem_bn/gamma" in scoped
    assert not any(n.endswith("biases") and "FC" not in n for n in scoped), "convs have no biases under the scope"
    bare = _names(_trace(nasnet.NASNetCifar(config=SMALL_CIFAR), 16)[2])  # slim's layer defaults
    assert "params/final_layer/fully_connected/weights" in bare and "params/l1_stem_3x3/biases" in bare


def test_registry_records():
    expected = {
        "nasnet_cifar": (32, 10, 0, "cifarnet"),
        "nasnet_mobile": (224, 1001, 1, "inception"),
        "nasnet_large": (331, 1001, 1, "inception"),
        "pnasnet_mobile": (224, 1001, 1, "inception"),
        "pnasnet_large": (331, 1001, 1, "inception"),
    }
    for name, record in expected.items():
        spec = jslim.nets.get_spec(name)
        assert (spec.default_image_size, spec.num_classes, spec.label_offset, spec.preprocessing) == record
        assert spec.constructor.default_image_size == record[0]
    with pytest.raises(TypeError, match="options are: num_classes, final_endpoint, config"):
        jslim.nets.build("pnasnet_large", depth_multiplier=0.5)
