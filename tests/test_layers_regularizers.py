"""Regularizers and the total regularization loss against TF-Slim.

``regularizers.npz``: l1, l2 (``scale * sum(w**2) / 2``), l1_l2 (also with a zero
scale) and sum_regularizer on fixed weights, and apply_regularization over two
weights. ``core.npz``'s ``regularized_net``: a slim net built under ``arg_scope``
(conv2d + batch norm with gamma/beta regularizers, separable_conv2d, conv2d_in_plane,
conv2d_transpose, fully_connected) whose ``tf.compat.v1.losses.get_regularization_loss()``
must equal ``get_regularization_loss(model, variables, inputs)``. float32 max abs
error <= 1e-5 (values are O(1)).
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import layer_fixtures as lf
import jslim.losses
from jslim import layers

REGULARIZERS = {
    "l1": layers.l1_regularizer(0.3),
    "l2": layers.l2_regularizer(0.3),
    "l1_l2": layers.l1_l2_regularizer(0.1, 0.2),
    "l1_l2_no_l1": layers.l1_l2_regularizer(0.0, 0.2),
    "l1_l2_no_l2": layers.l1_l2_regularizer(0.4, 0.0),
    "sum": layers.sum_regularizer([layers.l1_regularizer(0.5), None, layers.l2_regularizer(0.25)]),
}


@pytest.fixture(scope="module", name="ref")
def _ref():
    with np.load(lf.FIXTURE_DIR / "regularizers.npz") as data:
        return {k: data[k] for k in data.files}


@pytest.mark.parametrize("name", sorted(REGULARIZERS))
def test_regularizer_values_match_tf(name, ref):
    reg = REGULARIZERS[name]
    np.testing.assert_allclose(reg(jnp.asarray(ref["w0"])), ref[f"{name}/w0"], atol=1e-5, rtol=0)
    applied = layers.apply_regularization(reg, [jnp.asarray(ref["w0"]), jnp.asarray(ref["w1"])])
    np.testing.assert_allclose(applied, ref[f"{name}/applied"], atol=1e-5, rtol=0)


def test_zero_scale_regularizers(ref):
    assert layers.l2_regularizer(0.0)(jnp.ones(3)) is None
    assert layers.sum_regularizer([None]) is None
    weights = [jnp.asarray(ref["w0"])]
    assert float(layers.apply_regularization(layers.l2_regularizer(0.0), weights)) == ref["applied_zero_scale"] == 0


@pytest.mark.parametrize(
    "fn, error",
    [
        (lambda: layers.l2_regularizer(1), ValueError),
        (lambda: layers.l1_regularizer(-0.1), ValueError),
        (lambda: layers.l1_l2_regularizer(1, 0.5), ValueError),
        (lambda: layers.apply_regularization(layers.l2_regularizer(0.1), []), ValueError),
    ],
)
def test_regularizer_errors(fn, error):
    with pytest.raises(error):
        fn()


def test_regularizers_are_hashable():
    """They sit in arg_scopes, which are part of jit cache keys."""
    assert len({layers.l2_regularizer(0.1), layers.l2_regularizer(0.1), layers.l1_regularizer(0.1)}) == 2


def test_get_regularization_loss_of_a_slim_net_matches_tf():
    case = lf.load("core")["regularized_net"]
    model = case.model
    x = jnp.asarray(case.input)
    variables = lf.fill(jax.eval_shape(model.init, jax.random.key(0), x), case.values)
    total = layers.get_regularization_loss(model, variables, x)
    assert abs(float(total) - case.reg_loss) <= 1e-5, (float(total), case.reg_loss)
    assert case.reg_loss > 1.0  # every layer kind contributes
    if hasattr(jslim.losses, "get_regularization_loss"):
        assert abs(float(jslim.losses.get_regularization_loss(model, variables, x)) - case.reg_loss) <= 1e-5
    per_variable = layers.get_regularization_losses(
        model.apply(variables, x, mutable=["losses"])[1], scope="conv1")
    assert sorted(per_variable) == ["conv1/BatchNorm/beta", "conv1/BatchNorm/gamma", "conv1/weights"]


def test_regularization_losses_of_a_mutated_dict_without_losses_is_empty():
    """A net with no regularizer (weight_decay=0) returns batch_stats but no `losses`
    collection; nothing of batch_stats may be counted as a loss."""
    from jslim.layers.regularizers import get_regularization_losses  # pylint: disable=import-outside-toplevel

    assert get_regularization_losses({"batch_stats": {"Net": {"BatchNorm": {"moving_mean": 1.0}}}}) == {}
    assert get_regularization_losses({"losses": {"Net": {"weights": 2.0}}}) == {"Net/weights": 2.0}
    assert get_regularization_losses({"Net": {"weights": 3.0}}, scope="Net") == {"Net/weights": 3.0}


def test_get_regularization_loss_compiles_once_per_model():
    import jslim.nets  # pylint: disable=import-outside-toplevel
    from jslim.layers.regularizers import _jitted_total  # pylint: disable=import-outside-toplevel

    model = jslim.nets.build("lenet", weight_decay=0.01)
    variables = jax.eval_shape(model.init, jax.random.key(0), model.example_input())
    variables = jax.tree.map(lambda s: jnp.full(s.shape, 0.5, s.dtype), variables)
    first = layers.get_regularization_loss(model, variables)
    second = layers.get_regularization_loss(model, variables)
    weights = [v for p, v in jax.tree_util.tree_flatten_with_path(variables["params"])[0] if p[-1].key == "weights"]
    np.testing.assert_allclose(first, 0.01 * sum(float(jnp.sum(w**2)) / 2 for w in weights), rtol=1e-5)
    assert float(first) == float(second)
    assert _jitted_total(model, None, ())._cache_size() == 1
