"""jslim.metrics against TF-Slim streamed over several weighted batches (fixtures from
``tools/make_loss_metric_fixtures.py``), plus merge laws, jit == eager, device sharding,
hand-computed values and weight-shape errors."""

from __future__ import annotations

import inspect

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jslim import metrics
from loss_metric_fixtures import cases_by, top_level

GROUPS = cases_by("metrics.npz", "factory")
RTOL, ATOL = 1e-5, 1e-6
NOT_FACTORIES = {"aggregate_metric_map"}


def _metric(data) -> metrics.Metric:
    return getattr(metrics, data["config"]["factory"])(**data["config"]["kwargs"])


def _batches(data) -> list[dict]:
    return [{k: jnp.asarray(v) for k, v in top_level(data["arrays"], f"b{i}/").items()
             if k != "update"} for i in range(data["config"]["batches"])]


def _stream(metric, batches, state=None):
    state = metric.empty() if state is None else state
    for batch in batches:
        state = metric.update(state, **batch)
    return state


def _assert_tree_close(a, b, err_msg="", rtol=RTOL, atol=ATOL):
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
        np.testing.assert_allclose(np.asarray(x), np.asarray(y), rtol, atol, err_msg=err_msg)


@pytest.mark.parametrize("factory", sorted(GROUPS))
def test_streamed_matches_tf_slim(factory):
    for case, data in GROUPS[factory]:
        metric = _metric(data)
        state = metric.empty()
        for i, batch in enumerate(_batches(data)):
            state = metric.update(state, **batch)
            expected = data["arrays"].get(f"b{i}/update")
            if expected is not None:
                got = state if data["config"]["update_is_state"] else metric.compute(state)
                _assert_tree_close(got, expected, f"{case} after batch {i}")
        _assert_tree_close(metric.compute(state), data["arrays"]["value"], case)


def test_every_metric_has_tf_fixtures():
    public = {name for name, obj in vars(metrics).items()
              if inspect.isfunction(obj) and not name.startswith(("_", "streaming_"))
              and obj.__module__.startswith(f"{metrics.__name__}.")} - NOT_FACTORIES
    assert public <= set(GROUPS), sorted(public - set(GROUPS))


@pytest.mark.parametrize("factory", sorted(GROUPS))
def test_merge_laws(factory):
    """merge(update(a), update(b)) == sequential updates; empty is the identity; merge is
    associative."""
    for case, data in GROUPS[factory]:
        metric = _metric(data)
        b0, b1, *rest = _batches(data)
        sequential = _stream(metric, [b0, b1, *rest])
        parts = [_stream(metric, [b]) for b in (b0, b1, *rest)]
        merged = parts[0]
        for part in parts[1:]:
            merged = metric.merge(merged, part)
        _assert_tree_close(merged, sequential, case)
        _assert_tree_close(metric.compute(merged), metric.compute(sequential), case)
        _assert_tree_close(metric.merge(metric.empty(), parts[0]), parts[0], case)
        _assert_tree_close(metric.merge(parts[0], metric.empty()), parts[0], case)
        if len(parts) >= 3:
            left = metric.merge(metric.merge(parts[0], parts[1]), parts[2])
            right = metric.merge(parts[0], metric.merge(parts[1], parts[2]))
            _assert_tree_close(left, right, case)


@pytest.mark.parametrize("factory", sorted(GROUPS))
def test_jit_matches_eager(factory):
    _, data = GROUPS[factory][0]
    metric = _metric(data)
    batches = _batches(data)
    update, compute = jax.jit(metric.update), jax.jit(metric.compute)
    state = metric.empty()
    for batch in batches:  # same shapes: one compile
        state = update(state, **batch)
    eager = _stream(metric, batches)
    _assert_tree_close(state, eager, factory, 1e-6, 1e-7)
    _assert_tree_close(compute(state), metric.compute(eager), factory, 1e-6, 1e-7)


def test_sharded_states_merge_to_single_device_value():
    """Per-device states (vmap over a device axis, sharded over 8 CPU devices) folded with
    merge equal one update over the whole batch."""
    rng = np.random.default_rng(0)
    n_dev = len(jax.devices())
    predictions = rng.uniform(size=(n_dev, 16)).astype(np.float32)
    labels = rng.integers(0, 2, (n_dev, 16)).astype(bool)
    weights = rng.uniform(size=(n_dev, 16)).astype(np.float32)
    mesh = jax.sharding.Mesh(np.asarray(jax.devices()), ("data",))
    shard = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec("data"))
    args = [jax.device_put(x, shard) for x in (predictions, labels, weights)]
    cases = [
        (metrics.auc(num_thresholds=20), lambda p, y, w: (p, y, w)),
        (metrics.pearson_correlation(), lambda p, y, w: (p, y.astype(jnp.float32), w)),
    ]
    for metric, prepare in cases:
        def per_device(p, y, w, metric=metric, prepare=prepare):
            return metric.update(metric.empty(), *prepare(p, y, w))

        states = jax.jit(jax.vmap(per_device))(*args)
        merged = metric.empty()
        for i in range(n_dev):
            merged = metric.merge(merged, jax.tree.map(lambda x, i=i: x[i], states))
        whole = per_device(predictions.reshape(-1), labels.reshape(-1), weights.reshape(-1))
        _assert_tree_close(metric.compute(merged), metric.compute(whole))


# --- hand-computed ----------------------------------------------------------------------


def _value(metric, **batch):
    return metric.compute(metric.update(metric.empty(), **batch))


def test_simple_values_by_hand():
    p, y = jnp.asarray([1, 0, 1, 1]), jnp.asarray([1, 0, 0, 1])
    w = jnp.asarray([1.0, 1.0, 2.0, 0.0])
    assert float(_value(metrics.accuracy(), predictions=p, labels=y, weights=w)) == 0.5
    assert float(_value(metrics.precision(), predictions=p, labels=y)) == pytest.approx(2 / 3)
    assert float(_value(metrics.recall(), predictions=p, labels=y, weights=w)) == 1.0
    assert float(_value(metrics.precision(), predictions=p, labels=y, weights=w)) == (
        pytest.approx(1 / 3))
    assert float(_value(metrics.false_positives(), predictions=p, labels=y, weights=w)) == 2.0
    assert float(_value(metrics.mean(), values=jnp.asarray([1.0, 3.0]),
                        weights=jnp.asarray([3.0, 1.0]))) == 1.5
    assert float(_value(metrics.percentage_less(2.0), values=jnp.asarray([1.0, 2.0, 3.0, 0.0])
                        )) == 0.5
    assert float(_value(metrics.mean_relative_error(), predictions=jnp.asarray([1.0, 4.0]),
                        labels=jnp.asarray([2.0, 2.0]), normalizer=jnp.asarray([0.0, 4.0]))) == (
        0.25)
    assert float(_value(metrics.root_mean_squared_error(), predictions=jnp.asarray([3.0, 0.0]),
                        labels=jnp.asarray([0.0, 4.0]))) == pytest.approx(np.sqrt(12.5))


def test_confusion_matrix_metrics_by_hand():
    # Confusion (rows = labels): [[1, 1], [0, 2]] -> IoU 1/2 and 2/3.
    labels, predictions = jnp.asarray([0, 0, 1, 1]), jnp.asarray([0, 1, 1, 1])
    assert float(_value(metrics.mean_iou(2), predictions=predictions, labels=labels)) == (
        pytest.approx((0.5 + 2 / 3) / 2))
    assert float(_value(metrics.cohen_kappa(2), labels=labels, predictions_idx=labels)) == 1.0
    # po = 3/4, pe = (1*2 + 3*2)/16 = 1/2 -> kappa = 0.5.
    assert float(_value(metrics.cohen_kappa(2), labels=labels, predictions_idx=predictions)) == (
        pytest.approx(0.5))


def test_curve_metrics_by_hand():
    scores = jnp.asarray([0.1, 0.4, 0.35, 0.8])
    labels = jnp.asarray([0, 0, 1, 1])
    # Classic example: ROC AUC 0.75.
    assert float(_value(metrics.auc(), predictions=scores, labels=labels)) == (
        pytest.approx(0.75, abs=1e-3))
    perfect = _value(metrics.auc(), predictions=jnp.asarray([0.1, 0.9]), labels=jnp.asarray([0, 1]))
    assert float(perfect) == pytest.approx(1.0, abs=1e-5)
    counts = _value(metrics.true_positives_at_thresholds([0.3, 0.5]), predictions=scores,
                    labels=labels)
    np.testing.assert_array_equal(counts, [2.0, 1.0])
    assert float(_value(metrics.f1_score(), labels=labels, predictions=scores)) == (
        pytest.approx(0.8, rel=1e-5))  # threshold between 0.35 and 0.4: p = 2/3, r = 1


def test_covariance_and_correlation_match_numpy():
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=30), rng.normal(size=30)
    w = rng.integers(0, 4, 30)
    cov = _value(metrics.covariance(), predictions=x, labels=y, weights=w)
    np.testing.assert_allclose(cov, np.cov(x, y, fweights=w)[0, 1], rtol=1e-5)
    r = _value(metrics.pearson_correlation(), predictions=x, labels=y)
    np.testing.assert_allclose(r, np.corrcoef(x, y)[0, 1], rtol=1e-5)
    assert np.isnan(float(_value(metrics.covariance(), predictions=x[:1], labels=y[:1])))


def test_ranking_metrics_by_hand():
    predictions = jnp.asarray([[0.1, 0.5, 0.3, 0.2], [0.4, 0.1, 0.2, 0.3]])
    # TF's dense labels: -1 padding counts as a (missed) label; duplicates count once.
    labels = jnp.asarray([[1, -1, -1], [1, 1, 7]])
    assert float(_value(metrics.sparse_recall_at_k(1), predictions=predictions, labels=labels)) == (
        0.25)
    assert float(_value(metrics.sparse_precision_at_k(1), predictions=predictions,
                        labels=labels)) == 0.5
    assert float(_value(metrics.sparse_average_precision_at_k(1), predictions=predictions,
                        labels=labels)) == 0.5
    recall = metrics.recall_at_k(2)
    assert float(_value(recall, predictions=predictions, labels=jnp.asarray([2, 1]))) == 0.5


def test_aggregate_metric_map():
    bundle = metrics.aggregate_metric_map({
        "Accuracy": metrics.streaming_accuracy(),
        "Recall_2": metrics.streaming_recall_at_k(2),
    })
    logits = jnp.asarray([[0.1, 0.5, 0.3], [0.4, 0.1, 0.2]])
    labels = jnp.asarray([2, 0])
    args = {"Accuracy": dict(predictions=jnp.argmax(logits, 1), labels=labels),
            "Recall_2": (logits, labels)}
    states = jax.jit(bundle.update)(bundle.empty(), args)
    values = bundle.compute(bundle.merge(states, bundle.empty()))
    assert set(values) == {"Accuracy", "Recall_2"}
    assert float(values["Accuracy"]) == 0.5 and float(values["Recall_2"]) == 1.0
    with pytest.raises(ValueError, match="Recall_2"):
        bundle.update(bundle.empty(), {"Accuracy": args["Accuracy"]})


# --- errors -----------------------------------------------------------------------------


@pytest.mark.parametrize("make,batch", [
    (metrics.mean, dict(values=np.ones((3, 4)), weights=np.ones((2, 4)))),
    (metrics.accuracy, dict(predictions=np.ones((3, 4)), labels=np.ones((3, 4)),
                            weights=np.ones((4,)))),
    (lambda: metrics.auc(), dict(predictions=np.ones(5) / 2, labels=np.ones(5),
                                 weights=np.ones(4))),
    (lambda: metrics.sparse_recall_at_k(2), dict(predictions=np.ones((3, 4)),
                                                 labels=np.ones((3, 1), int),
                                                 weights=np.ones((3, 2)))),
])
def test_bad_weight_shapes_raise(make, batch):
    metric = make()
    with pytest.raises(ValueError, match="weights can not be broadcast|squeeze"):
        metric.update(metric.empty(), **batch)


def test_argument_errors():
    with pytest.raises(ValueError, match="ROC or PR"):
        metrics.auc(curve="XY")
    with pytest.raises(ValueError, match="summation_method"):
        metrics.auc(summation_method="simpson")
    with pytest.raises(ValueError, match="range"):
        metrics.sensitivity_at_specificity(1.5)
    with pytest.raises(ValueError, match="k"):
        metrics.sparse_precision_at_k(0)
    with pytest.raises(ValueError, match="num_classes"):
        metrics.cohen_kappa(1)
    with pytest.raises(ValueError, match="incompatible"):
        m = metrics.mean_squared_error()
        m.update(m.empty(), predictions=np.ones(3), labels=np.ones(4))
