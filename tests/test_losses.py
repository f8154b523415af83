"""jslim.losses against TF: fixtures from tf.compat.v1.losses / tf_slim metric_learning
(``tools/make_loss_metric_fixtures.py``), hand-computed values, jit == eager, weight rules.

``cluster_loss`` fixtures come from TF's own ``cluster_loss`` (scikit-learn scores inside
TF's ``py_func``); jslim reimplements those scores in NumPy.
"""

from __future__ import annotations

import inspect
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jslim import losses
from loss_metric_fixtures import cases_by, top_level

GROUPS = cases_by("losses.npz", "fn")
RTOL, ATOL = 1e-5, 1e-6
# Regularization losses are recorded by the layers; their TF parity lives in the layer tests.
NOT_LOSSES = {"total_loss", "pairwise_distance", "get_regularization_loss", "get_regularization_losses"}
METRIC_LEARNING = {"contrastive_loss", "triplet_semihard_loss", "lifted_struct_loss", "npairs_loss",
                   "npairs_loss_multilabel", "cluster_loss"}


def _call(fn_name: str, data: dict, transform=lambda f: f):
    kwargs = dict(data["config"]["kwargs"])
    if "reduction" in kwargs:
        kwargs["reduction"] = getattr(losses.Reduction, kwargs["reduction"])
    inputs = {k: jnp.asarray(v) for k, v in top_level(data["arrays"]).items() if k != "loss"}
    fn = getattr(losses, fn_name)
    return transform(lambda **x: fn(**x, **kwargs))(**inputs), inputs, kwargs


@pytest.mark.parametrize("fn_name", sorted(GROUPS))
def test_matches_tf(fn_name):
    # Metric-learning losses compile faster as one jit than as many eager ops.
    transform = jax.jit if fn_name in METRIC_LEARNING - {"cluster_loss"} else (lambda f: f)
    for case, data in GROUPS[fn_name]:
        got, _, _ = _call(fn_name, data, transform)
        np.testing.assert_allclose(np.asarray(got), data["arrays"]["loss"], RTOL, ATOL,
                                   err_msg=case)


GRAD_CASES = [(fn, case, data) for fn, group in GROUPS.items() for case, data in group
              if any(k.startswith("grad/") for k in data["arrays"])]


@pytest.mark.parametrize("fn_name,case,data", GRAD_CASES, ids=[c for _, c, _ in GRAD_CASES])
def test_gradients_match_tf(fn_name, case, data):
    expected = top_level(data["arrays"], "grad/")
    (arg,) = expected
    fixed = {k: jnp.asarray(v) for k, v in top_level(data["arrays"]).items()
             if k not in ("loss", arg)}
    kwargs = dict(data["config"]["kwargs"])
    if "reduction" in kwargs:
        kwargs["reduction"] = getattr(losses.Reduction, kwargs["reduction"])
    fn = getattr(losses, fn_name)
    grad = jax.grad(lambda x: fn(**fixed, **{arg: x}, **kwargs))
    if fn_name in METRIC_LEARNING:  # one compile beats many eager ops here
        grad = jax.jit(grad)
    grad = grad(jnp.asarray(data["arrays"][arg]))
    np.testing.assert_allclose(np.asarray(grad), expected[arg], 1e-4, 1e-6, err_msg=case)


def test_every_loss_has_tf_fixtures():
    public = {name for name, obj in vars(losses).items()
              if inspect.isfunction(obj) and not name.startswith("_")} - NOT_LOSSES
    assert public <= set(GROUPS), sorted(public - set(GROUPS))


@pytest.mark.parametrize("fn_name", sorted(set(GROUPS) - {"cluster_loss"}))
def test_jit_matches_eager(fn_name):
    _, data = GROUPS[fn_name][0]
    eager, inputs, _ = _call(fn_name, data)
    jitted, _, _ = _call(fn_name, data, jax.jit)
    np.testing.assert_allclose(np.asarray(jitted), np.asarray(eager), 1e-6, 1e-7)


# --- hand-computed ----------------------------------------------------------------------

R = losses.Reduction
LOSS_VALUES = jnp.asarray([[1.0, 2.0], [3.0, 4.0]])
ROW_WEIGHTS = jnp.asarray([[2.0], [0.0]])  # second example masked out


@pytest.mark.parametrize("reduction,expected", [
    (R.SUM, 6.0),                    # 2 * (1 + 2)
    (R.MEAN, 6.0 / 4.0),             # / sum of broadcast weights (2 + 2)
    (R.SUM_BY_NONZERO_WEIGHTS, 3.0),  # / 2 elements with non-zero weight
    (R.SUM_OVER_NONZERO_WEIGHTS, 3.0),
    (R.SUM_OVER_BATCH_SIZE, 1.5),    # / 4 elements
])
def test_compute_weighted_loss_reductions(reduction, expected):
    got = losses.compute_weighted_loss(LOSS_VALUES, ROW_WEIGHTS, reduction=reduction)
    assert float(got) == pytest.approx(expected)


def test_compute_weighted_loss_none_and_all_zero_weights():
    none = losses.compute_weighted_loss(LOSS_VALUES, ROW_WEIGHTS, reduction=R.NONE)
    np.testing.assert_allclose(none, [[2.0, 4.0], [0.0, 0.0]])
    for reduction in (R.MEAN, R.SUM_BY_NONZERO_WEIGHTS):
        assert float(losses.compute_weighted_loss(LOSS_VALUES, 0.0, reduction=reduction)) == 0.0


def test_small_losses_by_hand():
    assert float(losses.softmax_cross_entropy([[1.0, 0.0]], [[0.0, 0.0]])) == pytest.approx(
        math.log(2))
    # Label smoothing 0.2 over 2 classes: targets [0.9, 0.1].
    log_p = np.log(np.exp([2.0, 0.0]) / np.exp([2.0, 0.0]).sum())
    smoothed = losses.softmax_cross_entropy([[1.0, 0.0]], [[2.0, 0.0]], label_smoothing=0.2)
    assert float(smoothed) == pytest.approx(-(0.9 * log_p[0] + 0.1 * log_p[1]), rel=1e-6)
    assert float(losses.sparse_softmax_cross_entropy([1], [[0.0, 0.0]])) == pytest.approx(
        math.log(2))
    # Sigmoid with smoothing 0.5: target 0.75 -> 0.75 * softplus(-x) + 0.25 * softplus(x).
    x = 1.5
    expected = 0.75 * math.log1p(math.exp(-x)) + 0.25 * math.log1p(math.exp(x))
    assert float(losses.sigmoid_cross_entropy([[1.0]], [[x]], label_smoothing=0.5)) == (
        pytest.approx(expected, rel=1e-6))
    assert float(losses.hinge_loss([[0.0, 1.0]], [[0.5, 0.5]])) == pytest.approx(1.0)
    assert float(losses.huber_loss([[0.0, 0.0]], [[0.5, 3.0]], delta=1.0)) == pytest.approx(
        (0.125 + 2.5) / 2)
    assert float(losses.log_loss([[1.0]], [[0.5]], epsilon=0.0)) == pytest.approx(math.log(2))
    assert float(losses.cosine_distance([[1.0, 0.0]], [[0.0, 1.0]], axis=1)) == 1.0


def test_mean_pairwise_squared_error_by_hand():
    # Differences 1, 2, 3: pairwise squared gaps 1, 4, 1 -> mean over the 3 pairs = 2.
    got = losses.mean_pairwise_squared_error([[0.0, 0.0, 0.0]], [[1.0, 2.0, 3.0]])
    assert float(got) == pytest.approx(2.0)


def test_metric_learning_small_cases():
    # Same pair at distance 0.5 (loss 0.25); different pair at 0.5 with margin 1 (0.25).
    got = jax.jit(losses.contrastive_loss)(jnp.asarray([1, 0]), jnp.zeros((2, 2)),
                                           jnp.asarray([[0.5, 0.0], [0.0, 0.5]]))
    assert float(got) == pytest.approx(0.25)
    dist = jax.jit(losses.pairwise_distance)(jnp.asarray([[0.0, 0.0], [3.0, 4.0]]))
    np.testing.assert_allclose(dist, [[0.0, 5.0], [5.0, 0.0]])
    # Two well separated pairs: every semi-hard negative is beyond the margin -> 0 loss.
    emb = jnp.asarray([[0.0, 0.0], [0.0, 0.1], [10.0, 0.0], [10.0, 0.1]])
    assert float(jax.jit(losses.triplet_semihard_loss)(jnp.asarray([0, 0, 1, 1]), emb)) == 0.0


# --- errors, gradients, jit --------------------------------------------------------------


@pytest.mark.parametrize("weights", [np.ones(3), np.ones((2, 4)), np.ones((3, 4, 1))])
def test_bad_weight_shapes_raise(weights):
    with pytest.raises(ValueError, match="weights can not be broadcast"):
        losses.mean_squared_error(np.zeros((3, 4)), np.ones((3, 4)), weights=weights)


def test_other_argument_errors():
    with pytest.raises(ValueError, match="Invalid Reduction Key"):
        losses.compute_weighted_loss(np.ones(2), reduction="mean")
    with pytest.raises(ValueError, match="axis"):
        losses.cosine_distance(np.ones((2, 2)), np.ones((2, 2)))
    with pytest.raises(ValueError, match="incompatible"):
        losses.absolute_difference(np.ones((2, 3)), np.ones((3, 2)))
    with pytest.raises(ValueError, match="weights can not be broadcast"):
        losses.mean_pairwise_squared_error(np.ones((4, 3)), np.ones((4, 3)), weights=np.ones(4))


def test_sparse_softmax_out_of_range_label_is_nan():
    got = losses.sparse_softmax_cross_entropy([3], [[0.0, 1.0, 2.0]])
    assert np.isnan(float(got))


def test_softmax_cross_entropy_stops_label_gradient():
    grad = jax.grad(lambda y: losses.softmax_cross_entropy(y, jnp.asarray([[1.0, 2.0]])))(
        jnp.asarray([[0.3, 0.7]]))
    np.testing.assert_array_equal(grad, 0.0)


def test_total_loss_adds_regularization():
    assert float(losses.total_loss([1.0, jnp.asarray(2.0)], regularization_loss=0.5)) == 3.5
    assert float(losses.total_loss({"xent": 1.0, "aux": 0.4})) == pytest.approx(1.4)


def test_cluster_loss_under_jit_needs_num_classes():
    _, data = GROUPS["cluster_loss"][0]
    labels = jnp.asarray(data["arrays"]["labels"])
    emb = jnp.asarray(data["arrays"]["embeddings"])
    kwargs = data["config"]["kwargs"]
    with pytest.raises(ValueError, match="num_classes"):
        jax.jit(lambda l, e: losses.cluster_loss(l, e, **kwargs))(labels, emb)
    jitted = jax.jit(lambda l, e: losses.cluster_loss(l, e, num_classes=4, **kwargs))(labels, emb)
    np.testing.assert_allclose(jitted, data["arrays"]["loss"], RTOL, ATOL)
    grad = jax.jit(jax.grad(lambda e: losses.cluster_loss(labels, e, num_classes=4, **kwargs)))(
        emb)
    assert np.all(np.isfinite(grad))
