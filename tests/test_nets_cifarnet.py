"""CifarNet options, its arg scope and LRN (the golden comparison is in test_nets_golden.py)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jslim.nets
from jslim.nets.cifarnet import CifarNet, cifarnet_arg_scope, local_response_normalization
from net_shapes import names, shapes, trace


def test_end_point_shapes():
    (logits, end_points), variables = trace(jslim.nets.build("cifarnet"), (2, 32, 32, 3))
    assert logits.shape == (2, 10)
    assert shapes(end_points) == {
        "conv1": (2, 32, 32, 64),
        "pool1": (2, 16, 16, 64),
        "conv2": (2, 16, 16, 64),
        "pool2": (2, 8, 8, 64),
        "Flatten": (2, 4096),
        "fc3": (2, 384),
        "fc4": (2, 192),
        "Logits": (2, 10),
        "Predictions": (2, 10),
    }
    assert names(variables)["params/CifarNet/logits/weights"] == (192, 10)


@pytest.mark.parametrize("num_classes", [0, None])
def test_no_classes_returns_fc4_features(num_classes):
    (net, end_points), variables = trace(jslim.nets.build("cifarnet", num_classes=num_classes), (2, 32, 32, 3))
    assert net.shape == (2, 192)
    assert "Logits" not in end_points and "Predictions" not in end_points
    assert not any("/logits/" in n for n in names(variables))


def test_lrn_hand_computed():
    x = jnp.array([1.0, 2.0, 3.0, 4.0]).reshape(1, 1, 1, 4)
    # Window sums of squares with radius 1: 1+4, 1+4+9, 4+9+16, 9+16.
    expected = np.array([1 / 3.5, 2 / 8.0, 3 / 15.5, 4 / 13.5])
    out = local_response_normalization(x, depth_radius=1, bias=1.0, alpha=0.5, beta=1.0)
    np.testing.assert_allclose(np.asarray(out).reshape(-1), expected, rtol=1e-6)


def test_arg_scope_regularizes_fc3_fc4_only():
    with cifarnet_arg_scope(weight_decay=0.004):
        model = CifarNet()
    x = jax.ShapeDtypeStruct((1, 32, 32, 3), jnp.float32)

    def losses(x):
        variables = model.init(jax.random.key(0), x)
        return model.apply(variables, x, mutable=["losses"])[1]["losses"]

    assert sorted(names(jax.eval_shape(losses, x))) == [
        "CifarNet/fc3/weights",
        "CifarNet/fc4/weights",
    ]


def test_arg_scope_initializers_prediction_fn_and_dropout():
    with cifarnet_arg_scope():
        model = CifarNet(num_classes=3, prediction_fn=jax.nn.sigmoid)
    images = jnp.asarray(np.random.default_rng(0).uniform(-1, 1, (2, 32, 32, 3)), jnp.float32)
    variables = jax.jit(model.init)(jax.random.key(0), images)
    params = variables["params"]["CifarNet"]
    np.testing.assert_array_equal(params["fc3"]["biases"], np.float32(0.1))  # constant_initializer(0.1)
    np.testing.assert_array_equal(params["logits"]["biases"], 0.0)  # explicit zeros
    np.testing.assert_array_equal(params["conv1"]["biases"], 0.0)
    assert np.max(np.abs(params["conv1"]["weights"])) <= 2 * 0.05  # truncated normal(0.05)
    assert np.max(np.abs(params["logits"]["weights"])) <= 2 / 192.0

    apply = jax.jit(model.apply, static_argnames="is_training")
    logits, end_points = apply(variables, images)
    np.testing.assert_allclose(end_points["Predictions"], jax.nn.sigmoid(logits), rtol=1e-6)
    train_a, _ = apply(variables, images, is_training=True, rngs={"dropout": jax.random.key(1)})
    train_b, _ = apply(variables, images, is_training=True, rngs={"dropout": jax.random.key(2)})
    assert not np.allclose(train_a, logits) and not np.allclose(train_a, train_b)


def test_registry_record():
    spec = jslim.nets.get_spec("cifarnet")
    assert (spec.default_image_size, spec.num_classes, spec.label_offset, spec.preprocessing) == (32, 10, 0, "cifarnet")
