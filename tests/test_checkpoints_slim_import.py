"""The slim importer/exporter: TF-Slim names <-> Flax variable trees, with slim's options."""

import functools

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_dtypes
import numpy as np
import pytest
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P

import jslim.nets
from checkpoint_testing import assert_exact, expected, fixture
from jslim.checkpoints import (
    CheckpointError, CheckpointMismatchError, export_slim_checkpoint, import_slim_checkpoint,
    is_training_state_name, read_tf_checkpoint, tensor_names_to_tree, tree_to_tensor_names)


@functools.lru_cache
def _shapes(name, num_classes, size):
    """The net's variable shapes (``jax.eval_shape``: no slow XLA compile of ``init``)."""
    model = jslim.nets.build(name, num_classes=num_classes)
    images = jnp.zeros((1, size, size, jslim.nets.get_spec(name).input_channels))
    return jax.eval_shape(model.init, jax.random.key(1), images)


def _concrete(shapes):
    """Distinct random values of those shapes: a template whose kept values are visible."""
    rng = np.random.default_rng(7)
    return jax.tree_util.tree_map(lambda s: jnp.asarray(rng.standard_normal(s.shape), s.dtype),
                                  shapes)


def _lenet_template():
    return _concrete(_shapes("lenet", 10, 8))  # the golden was built on 8x8 inputs


def _cifarnet_template(num_classes=10):
    return _concrete(_shapes("cifarnet", num_classes, 32))


def _flat(variables, collection="params"):
    return tree_to_tensor_names(variables[collection])


@pytest.mark.parametrize("name", ["lenet_v2", "lenet_v1"])
def test_lenet_checkpoint_fills_the_jslim_lenet_exactly(name):
    variables = import_slim_checkpoint(fixture(name), _lenet_template())
    want = expected(name)
    got = _flat(variables)
    assert sorted(got) == sorted(want)
    for key, value in got.items():
        assert isinstance(value, jax.Array)
        assert_exact(np.asarray(value), want[key], key)


def test_missing_variables_raise_unless_ignored_and_slots_are_never_unexpected():
    template = _cifarnet_template()
    with pytest.raises(CheckpointMismatchError) as err:
        import_slim_checkpoint(fixture("ema_momentum_v2"), template)
    message = str(err.value)
    assert "missing from the checkpoint (2):" in message
    assert "CifarNet/fc3/weights" in message and "CifarNet/fc3/biases" in message
    assert "unexpected" not in message and "Momentum" not in message  # slots, EMA, global_step
    assert fixture("ema_momentum_v2") in message

    variables = import_slim_checkpoint(fixture("ema_momentum_v2"), template, ignore_missing_vars=True)
    want, got, before = expected("ema_momentum_v2"), _flat(variables), _flat(template)
    assert_exact(np.asarray(got["CifarNet/fc3/weights"]), np.asarray(before["CifarNet/fc3/weights"]))
    for key in ("CifarNet/conv1/weights", "CifarNet/logits/biases"):
        assert_exact(np.asarray(got[key]), want[key], key)


def test_use_moving_averages_reads_the_ema_shadows():
    variables = import_slim_checkpoint(fixture("ema_momentum_v2"), _cifarnet_template(),
                                       ignore_missing_vars=True, use_moving_averages=True)
    want, got = expected("ema_momentum_v2"), _flat(variables)
    for key in ("CifarNet/conv1/weights", "CifarNet/fc4/biases", "CifarNet/logits/weights"):
        shadow = want[key + "/ExponentialMovingAverage"]
        assert not np.array_equal(shadow, want[key])  # one training step apart
        assert_exact(np.asarray(got[key]), shadow, key)


def test_exclude_keeps_the_template_values_of_a_scope():
    template = _cifarnet_template()
    variables = import_slim_checkpoint(fixture("ema_momentum_v2"), template,
                                       exclude=["CifarNet/logits", "CifarNet/fc3"])
    got, before, want = _flat(variables), _flat(template), expected("ema_momentum_v2")
    for key in ("CifarNet/logits/weights", "CifarNet/fc3/biases"):
        assert_exact(np.asarray(got[key]), np.asarray(before[key]), key)
    assert_exact(np.asarray(got["CifarNet/fc4/weights"]), want["CifarNet/fc4/weights"])


def test_include_restores_only_those_scopes():
    template = _cifarnet_template()
    variables = import_slim_checkpoint(fixture("ema_momentum_v2"), template,
                                       include=["CifarNet/conv"])
    got, before, want = _flat(variables), _flat(template), expected("ema_momentum_v2")
    assert_exact(np.asarray(got["CifarNet/conv2/weights"]), want["CifarNet/conv2/weights"])
    for key in ("CifarNet/fc4/weights", "CifarNet/fc3/weights", "CifarNet/logits/biases"):
        assert_exact(np.asarray(got[key]), np.asarray(before[key]), key)


def test_label_offset_drops_the_background_class():
    template = _cifarnet_template(num_classes=9)  # the checkpoint's head has 10 classes
    with pytest.raises(CheckpointMismatchError) as err:
        import_slim_checkpoint(fixture("ema_momentum_v2"), template, ignore_missing_vars=True)
    assert "CifarNet/logits/weights: (192, 10) vs (192, 9)" in str(err.value)
    assert "CifarNet/logits/biases: (10,) vs (9,)" in str(err.value)
    variables = import_slim_checkpoint(fixture("ema_momentum_v2"), template,
                                       ignore_missing_vars=True, label_offset=1)
    want, got = expected("ema_momentum_v2"), _flat(variables)
    assert_exact(np.asarray(got["CifarNet/logits/weights"]), want["CifarNet/logits/weights"][:, 1:])
    assert_exact(np.asarray(got["CifarNet/logits/biases"]), want["CifarNet/logits/biases"][1:])


def _small_template():
    return {
        "params": {"Net": {"conv": {"weights": jnp.zeros((3, 3, 3, 4)),
                                    "BatchNorm": {"beta": jnp.zeros(4)}},
                           "Logits": {"weights": jnp.zeros((4, 5)), "biases": jnp.zeros(5)}}},
        "batch_stats": {"Net": {"conv": {"BatchNorm": {"moving_mean": jnp.zeros(4),
                                                       "moving_variance": jnp.ones(4)}}}},
        "losses": {"Net": {"conv": {"weights": jnp.float32(0.5)}}},
    }


def _small_tensors():
    rng = np.random.default_rng(0)
    return {name: rng.standard_normal(np.shape(leaf)).astype(np.float32)
            for collection in ("params", "batch_stats")
            for name, leaf in tree_to_tensor_names(_small_template()[collection]).items()}


def test_every_problem_is_reported_in_one_error_with_both_shapes():
    tensors = _small_tensors()
    tensors["Net/Logits/weights"] = np.zeros((4, 7), np.float32)
    tensors["Net/conv/weights"] = np.zeros((3, 3, 1, 4), np.float32)
    del tensors["Net/conv/BatchNorm/moving_mean"]
    tensors["Net/extra/weights"] = np.zeros(2, np.float32)
    tensors["Net/extra/weights/Momentum"] = np.zeros(2, np.float32)
    tensors["global_step"] = np.int64(5)
    with pytest.raises(CheckpointMismatchError) as err:
        import_slim_checkpoint(tensors, _small_template())
    message = str(err.value)
    assert "shape or dtype mismatch (checkpoint vs template) (2):" in message
    assert "Net/Logits/weights: (4, 7) vs (4, 5)" in message
    assert "Net/conv/weights: (3, 3, 1, 4) vs (3, 3, 3, 4)" in message
    assert "missing from the checkpoint (1):\n    Net/conv/BatchNorm/moving_mean" in message
    assert "unexpected in the checkpoint (1):\n    Net/extra/weights\n" in message
    assert isinstance(err.value, CheckpointError) and isinstance(err.value, ValueError)


def test_collections_are_matched_by_path_and_per_call_outputs_are_kept():
    tensors = _small_tensors()
    variables = import_slim_checkpoint(tensors, _small_template())
    assert_exact(np.asarray(variables["batch_stats"]["Net"]["conv"]["BatchNorm"]["moving_mean"]),
                 tensors["Net/conv/BatchNorm/moving_mean"])
    assert_exact(np.asarray(variables["params"]["Net"]["conv"]["BatchNorm"]["beta"]),
                 tensors["Net/conv/BatchNorm/beta"])
    assert float(variables["losses"]["Net"]["conv"]["weights"]) == 0.5  # not a variable


def test_values_are_cast_to_the_template_dtype():
    template = jax.tree_util.tree_map(lambda x: x.astype(jnp.bfloat16), _small_template())
    tensors = _small_tensors()
    variables = import_slim_checkpoint(tensors, template)
    got = variables["params"]["Net"]["Logits"]["weights"]
    assert got.dtype == jnp.bfloat16
    assert_exact(np.asarray(got), tensors["Net/Logits/weights"].astype(ml_dtypes.bfloat16))


def test_numpy_template_gives_writable_numpy_arrays():
    template = jax.tree_util.tree_map(np.asarray, _small_template())
    variables = import_slim_checkpoint(_small_tensors(), template)
    leaf = variables["params"]["Net"]["Logits"]["biases"]
    assert isinstance(leaf, np.ndarray) and leaf.flags.writeable


def test_sharded_abstract_template_lands_sharded():
    devices = np.array(jax.devices())
    assert devices.size >= 2, "conftest gives 8 CPU devices"
    mesh = Mesh(devices, ("x",))

    def spec(leaf):
        axis = P(*([None] * (leaf.ndim - 1)), "x") if leaf.shape[-1] % devices.size == 0 else P()
        return jax.ShapeDtypeStruct(leaf.shape, leaf.dtype, sharding=NamedSharding(mesh, axis))

    template = jax.tree_util.tree_map(spec, _shapes("lenet", 10, 8))
    variables = import_slim_checkpoint(fixture("lenet_v2"), template)
    got, want = _flat(variables), expected("lenet_v2")
    weights = got["LeNet/fc3/weights"]
    assert weights.sharding == NamedSharding(mesh, P(None, "x"))
    assert len(weights.addressable_shards) == devices.size
    assert weights.addressable_shards[1].data.shape == (256, 1024 // devices.size)
    assert got["LeNet/fc4/biases"].sharding == NamedSharding(mesh, P())  # 10 % 8 != 0
    for key, value in got.items():
        assert_exact(np.asarray(value), want[key], key)


def test_abstract_template_cannot_keep_values_it_does_not_have():
    template = _shapes("cifarnet", 10, 32)
    with pytest.raises(CheckpointMismatchError, match="template leaf is abstract") as err:
        import_slim_checkpoint(fixture("ema_momentum_v2"), template, ignore_missing_vars=True,
                               exclude=["CifarNet/logits"])
    assert "CifarNet/fc3/weights" in str(err.value) and "CifarNet/logits/biases" in str(err.value)


def test_boxed_partitioned_leaves_are_filled_inside_their_box():
    template = _small_template()
    template["params"]["Net"]["Logits"]["weights"] = nn.Partitioned(jnp.zeros((4, 5)), (None, "x"))
    tensors = _small_tensors()
    variables = import_slim_checkpoint(tensors, template)
    box = variables["params"]["Net"]["Logits"]["weights"]
    assert isinstance(box, nn.Partitioned) and box.names == (None, "x")
    assert_exact(np.asarray(box.value), tensors["Net/Logits/weights"])


def test_export_then_import_round_trips(tmp_path):
    tensors = _small_tensors()
    variables = import_slim_checkpoint(tensors, _small_template())
    prefix = export_slim_checkpoint(tmp_path / "model.ckpt-3", variables, global_step=3)
    stored = read_tf_checkpoint(prefix)
    assert sorted(stored) == sorted([*tensors, "global_step"])  # no 'losses' exported
    assert stored["global_step"] == 3 and stored["global_step"].dtype == np.int64
    for key, value in tensors.items():
        assert_exact(stored[key], value, key)
    again = import_slim_checkpoint(tmp_path, _small_template())  # directory: latest
    assert_exact(np.asarray(again["params"]["Net"]["Logits"]["weights"]),
                 tensors["Net/Logits/weights"])


def test_export_refuses_a_second_global_step(tmp_path):
    variables = {"params": {"global_step": jnp.int32(1)}}
    with pytest.raises(CheckpointError, match="already hold 'global_step'"):
        export_slim_checkpoint(tmp_path / "m", variables, global_step=2)


def test_naming_rule_round_trips():
    names = {"A/b/weights": 1, "A/b/biases": 2, "A/c": 3, "top": 4}
    tree = tensor_names_to_tree(names)
    assert tree == {"A": {"b": {"weights": 1, "biases": 2}, "c": 3}, "top": 4}
    assert tree_to_tensor_names(tree) == names


def test_names_that_are_not_a_tree_are_refused():
    with pytest.raises(CheckpointError, match="tensor itself"):
        tensor_names_to_tree({"x/weights": 1, "x/weights/Momentum": 2})
    with pytest.raises(CheckpointError, match="scope of other names"):
        tensor_names_to_tree({"x/weights/Momentum": 2, "x/weights": 1})
    with pytest.raises(CheckpointError, match="without '/'"):
        tree_to_tensor_names({"a/b": 1})


@pytest.mark.parametrize("name, is_state", [
    ("global_step", True), ("beta1_power", True), ("beta2_power_1", True),
    ("Net/w/Momentum", True), ("Net/w/RMSProp_1", True), ("Net/w/Adam_1", True),
    ("Net/w/ExponentialMovingAverage", True), ("Net/w/Momentum_2", True),
    ("Net/w", False), ("Net/Momentum/w", False), ("my_global_step", False),
])
def test_training_state_names(name, is_state):
    assert is_training_state_name(name) is is_state
