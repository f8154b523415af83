"""slim's variable helpers over variable trees, addressed by slim names."""

import jax.numpy as jnp
import numpy as np
import pytest

from checkpoint_testing import assert_exact, expected, fixture
from jslim import variables as V
from jslim.checkpoints import CheckpointMismatchError, tree_to_tensor_names

TREE = {
    "params": {"Net": {
        "conv1": {"weights": jnp.ones((3, 3, 3, 8)), "BatchNorm": {"beta": jnp.zeros(8)}},
        "conv2": {"weights": jnp.ones((3, 3, 8, 8)), "biases": jnp.zeros(8)},
        "Logits": {"weights": jnp.ones((8, 10)), "biases": jnp.zeros(10)}}},
    "batch_stats": {"Net": {"conv1": {"BatchNorm": {"moving_mean": jnp.zeros(8),
                                                    "moving_variance": jnp.ones(8)}}}},
    "losses": {"Net": {"conv1": {"weights": jnp.float32(0.1)}}},
}
ALL = ["Net/conv1/weights", "Net/conv1/BatchNorm/beta", "Net/conv2/weights", "Net/conv2/biases",
       "Net/Logits/weights", "Net/Logits/biases", "Net/conv1/BatchNorm/moving_mean",
       "Net/conv1/BatchNorm/moving_variance"]


def test_get_variables_in_tree_order_skipping_per_call_outputs():
    assert list(V.get_variables(TREE)) == ALL
    assert list(V.get_variables(TREE, scope="Net/conv2")) == ["Net/conv2/weights", "Net/conv2/biases"]
    assert list(V.get_variables(TREE, suffix="biases")) == ["Net/conv2/biases", "Net/Logits/biases"]
    assert list(V.get_variables(TREE, scope="Net/conv1", suffix="moving_.*")) == [
        "Net/conv1/BatchNorm/moving_mean", "Net/conv1/BatchNorm/moving_variance"]
    assert V.get_variables(TREE, scope="Other") == {}


def test_by_name_matches_the_last_component_only():
    assert list(V.get_variables_by_name(TREE, "weights")) == [
        "Net/conv1/weights", "Net/conv2/weights", "Net/Logits/weights"]
    assert list(V.get_variables_by_name(TREE, "eights")) == []
    assert list(V.get_variables_by_suffix(TREE, "eights", scope="Net/Logits")) == ["Net/Logits/weights"]


def test_unique_variable():
    assert V.get_unique_variable(TREE, "Net/Logits/biases").shape == (10,)
    with pytest.raises(ValueError, match="no variable named 'Net/nope'"):
        V.get_unique_variable(TREE, "Net/nope")


def test_trainable_are_params_and_model_variables_drop_training_state():
    assert list(V.get_trainable_variables(TREE)) == ALL[:6]
    assert list(V.get_trainable_variables(TREE, scope="Net/conv1")) == ALL[:2]
    with pytest.raises(ValueError, match="needs a variables tree"):
        V.get_trainable_variables(V.get_variables(TREE))
    flat = {**V.get_variables(TREE), "Net/Logits/weights/Momentum": 0, "global_step": 3}
    assert list(V.get_model_variables(flat)) == ALL


def test_variables_to_restore_uses_slim_scopes():
    assert list(V.get_variables_to_restore(TREE, exclude=["Net/Logits"])) == [
        n for n in ALL if "Logits" not in n]
    assert list(V.get_variables_to_restore(TREE, include=["Net/conv1"], exclude=["Net/conv1/Batch"])) == [
        "Net/conv1/weights"]


def test_filter_variables_search_or_match():
    assert list(V.filter_variables(TREE, include_patterns=["biases"])) == [
        "Net/conv2/biases", "Net/Logits/biases"]
    assert list(V.filter_variables(TREE, include_patterns=["biases"], reg_search=False)) == []
    assert list(V.filter_variables(TREE, exclude_patterns=["BatchNorm", "Logits"])) == [
        "Net/conv1/weights", "Net/conv2/weights", "Net/conv2/biases"]
    # Composes with the other lookups, like slim's lists.
    assert list(V.filter_variables(V.get_trainable_variables(TREE), ["conv2"])) == [
        "Net/conv2/weights", "Net/conv2/biases"]


def _lenet_like():
    want = expected("lenet_v2")
    return want, {"params": {"LeNet": {
        layer: {"weights": jnp.zeros(want[f"LeNet/{layer}/weights"].shape),
                "biases": jnp.full(want[f"LeNet/{layer}/biases"].shape, -1.0)}
        for layer in ("conv1", "conv2", "fc3", "fc4")}}}


def test_assign_from_checkpoint_fn_restores_only_the_listed_variables():
    want, variables = _lenet_like()
    to_restore = V.get_variables_to_restore(variables, exclude=["LeNet/fc4"])
    init_fn = V.assign_from_checkpoint_fn(fixture("lenet_v1"), to_restore)
    restored = tree_to_tensor_names(init_fn(variables)["params"])
    assert_exact(np.asarray(restored["LeNet/fc3/weights"]), want["LeNet/fc3/weights"])
    assert np.all(np.asarray(restored["LeNet/fc4/biases"]) == -1)


def test_assign_from_checkpoint_fn_missing_variables():
    want, variables = _lenet_like()
    variables["params"]["LeNet"]["extra"] = {"weights": jnp.ones(3)}
    with pytest.raises(CheckpointMismatchError, match="lacks 1 variable.*LeNet/extra/weights"):
        V.assign_from_checkpoint_fn(fixture("lenet_v2"), variables)
    restored = V.assign_from_checkpoint_fn(fixture("lenet_v2"), variables,
                                           ignore_missing_vars=True)(variables)
    assert np.all(np.asarray(restored["params"]["LeNet"]["extra"]["weights"]) == 1)
    assert_exact(np.asarray(restored["params"]["LeNet"]["conv1"]["biases"]), want["LeNet/conv1/biases"])


def test_assign_from_values():
    new = V.assign_from_values(TREE, {"Net/Logits/biases": np.arange(10, dtype=np.float32),
                                      "Net/conv1/BatchNorm/moving_mean": np.full(8, 2.0)})
    assert np.asarray(new["params"]["Net"]["Logits"]["biases"]).tolist() == list(range(10))
    assert np.asarray(new["batch_stats"]["Net"]["conv1"]["BatchNorm"]["moving_mean"]).tolist() == [2] * 8
    assert new["params"]["Net"]["conv2"]["weights"] is TREE["params"]["Net"]["conv2"]["weights"]
    with pytest.raises(CheckpointMismatchError, match="no variable named 'Net/nope'"):
        V.assign_from_values(TREE, {"Net/nope": 1.0})
    with pytest.raises(CheckpointMismatchError, match=r"Net/Logits/biases: \(3,\) vs \(10,\)"):
        V.assign_from_values(TREE, {"Net/Logits/biases": np.zeros(3)})
