"""Writes TF reference outputs for jslim's losses and streaming metrics.

Run with the TensorFlow environment (never needed by tests or users)::

    /opt/tfvenv/bin/python tools/make_loss_metric_fixtures.py

Outputs under ``tests/fixtures/losses_metrics/``:

* ``losses.npz``: per case ``<case>/config`` (JSON: jslim function name, keyword arguments,
  the TF op that produced it), the inputs under jslim's argument names, ``<case>/loss`` and,
  for some cases, ``<case>/grad/<argname>``. Produced by ``tf.compat.v1.losses`` (which
  slim's deprecated ``slim.losses`` point to) and ``tf_slim.losses.metric_learning``
  (``cluster_loss`` needs scikit-learn in the TF environment).
* ``metrics.npz``: per case ``<case>/config`` (JSON: jslim factory, its keyword arguments,
  number of batches, TF op), per batch ``<case>/b<i>/<argname>`` and the update op's value
  ``<case>/b<i>/update``, and the final ``<case>/value``. Produced by
  ``slim.metrics.streaming_*`` where slim has the metric, else ``tf.compat.v1.metrics``.

Inputs come from ``numpy.random.default_rng`` with fixed seeds, so reruns are identical.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any, Callable

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tf_shim import import_tf_slim  # noqa: E402  pylint: disable=wrong-import-position

tf, slim = import_tf_slim()
from tf_slim.losses import metric_learning  # noqa: E402  pylint: disable=wrong-import-position

from tf_slim.metrics import metric_ops  # noqa: E402  pylint: disable=wrong-import-position

# TF 2.21 moved these out of the modules tf_slim still calls them from; alias them back
# (same functions, so the ops and their semantics are unchanged).
for _module, _name, _moved in ((metric_ops.control_flow_ops, "while_loop", tf.compat.v1.while_loop),
                               (metric_ops.control_flow_ops, "cond", tf.compat.v1.cond),
                               (metric_ops.array_ops, "stack", tf.stack)):
    if not hasattr(_module, _name):
        setattr(_module, _name, _moved)

OUT_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                       "tests", "fixtures", "losses_metrics")
V1 = tf.compat.v1
R = V1.losses.Reduction
REDUCTIONS = {"SUM_BY_NONZERO_WEIGHTS": R.SUM_BY_NONZERO_WEIGHTS, "NONE": R.NONE,
              "SUM": R.SUM, "MEAN": R.MEAN, "SUM_OVER_BATCH_SIZE": R.SUM_OVER_BATCH_SIZE}


def _config(**fields: Any) -> np.ndarray:
    return np.asarray(json.dumps(fields, sort_keys=True))


def _placeholder(name: str, value: np.ndarray):
    return V1.placeholder(tf.as_dtype(value.dtype), value.shape, name=name)


# --- losses ---------------------------------------------------------------------------


class LossCases:
    """Collects loss cases; each runs in its own graph."""

    def __init__(self):
        self.arrays: dict[str, np.ndarray] = {}

    def add(self, case: str, fn: str, build: Callable, inputs: dict, kwargs: dict,
            grad_of: tuple = (), tf_name: str = "") -> None:
        """``build(**tensors, **kwargs)`` is the TF loss; ``inputs`` are numpy arrays."""
        with tf.Graph().as_default():
            tensors = {k: tf.constant(v) if not isinstance(v, list) else v
                       for k, v in inputs.items()}
            loss = build(**tensors)
            grads = tf.gradients(loss, [tensors[g] for g in grad_of]) if grad_of else []
            with V1.Session() as sess:
                loss_value, grad_values = sess.run([loss, grads])
        self.arrays[f"{case}/config"] = _config(fn=fn, kwargs=kwargs, tf=tf_name or fn)
        for k, v in inputs.items():
            if not isinstance(v, list):
                self.arrays[f"{case}/{k}"] = v
        self.arrays[f"{case}/loss"] = np.asarray(loss_value)
        for g, value in zip(grad_of, grad_values):
            self.arrays[f"{case}/grad/{g}"] = np.asarray(value)


def _weight_variants(rng, batch: int, shape: tuple) -> dict[str, np.ndarray]:
    per_example = rng.uniform(0.5, 2.0, (batch,) + (1,) * (len(shape) - 1)).astype(np.float32)
    per_example[1] = 0.0
    full = rng.uniform(0.5, 2.0, shape).astype(np.float32)
    full[0, 0] = 0.0
    full[2] = 0.0
    return {"scalar": np.float32(2.0), "per_example": per_example, "full": full}


def _elementwise_inputs(rng, fn: str, shape: tuple) -> dict[str, np.ndarray]:
    if fn == "log_loss":
        return {"labels": rng.integers(0, 2, shape).astype(np.float32),
                "predictions": rng.uniform(0.01, 0.99, shape).astype(np.float32)}
    if fn == "hinge_loss":
        return {"labels": rng.integers(0, 2, shape).astype(np.float32),
                "logits": rng.normal(size=shape).astype(np.float32)}
    if fn == "sigmoid_cross_entropy":
        return {"multi_class_labels": rng.integers(0, 2, shape).astype(np.float32),
                "logits": rng.normal(size=shape).astype(np.float32) * 2}
    return {"labels": rng.normal(size=shape).astype(np.float32),
            "predictions": rng.normal(size=shape).astype(np.float32)}


def _tf_loss(fn: str, extra: dict | None = None) -> Callable:
    def build(weights=1.0, reduction="SUM_BY_NONZERO_WEIGHTS", **tensors):
        return getattr(V1.losses, fn)(weights=weights, reduction=REDUCTIONS[reduction],
                                      **tensors, **(extra or {}))
    return build


def add_standard_losses(cases: LossCases) -> None:
    """Element-wise losses x weight variants x reductions."""
    rng = np.random.default_rng(0)
    shape = (6, 4)
    elementwise = {
        "absolute_difference": {}, "mean_squared_error": {}, "log_loss": {},
        "hinge_loss": {}, "huber_loss": {"delta": 0.5},
        "sigmoid_cross_entropy": {"label_smoothing": 0.1},
    }
    for fn, extra in elementwise.items():
        inputs = _elementwise_inputs(rng, fn, shape)
        for wname, weights in _weight_variants(rng, shape[0], shape).items():
            for red in REDUCTIONS:
                cases.add(f"{fn}/{wname}/{red}", fn,
                          lambda r=red, f=fn, e=extra, **t: _tf_loss(f, e)(reduction=r, **t),
                          dict(inputs, weights=weights), dict(extra, reduction=red))
    inputs = _elementwise_inputs(rng, "sigmoid_cross_entropy", shape)
    cases.add("sigmoid_cross_entropy/grad", "sigmoid_cross_entropy",
              _tf_loss("sigmoid_cross_entropy"), inputs, {}, grad_of=("logits",))
    losses = rng.uniform(0, 3, (5, 3)).astype(np.float32)
    variants = dict(_weight_variants(rng, 5, (5, 3)), zero=np.float32(0.0),
                    row=np.float32([[1.0, 0.0, 2.0]]))
    for wname, weights in variants.items():
        for red in REDUCTIONS:
            cases.add(f"compute_weighted_loss/{wname}/{red}", "compute_weighted_loss",
                      lambda r=red, **t: V1.losses.compute_weighted_loss(
                          t["losses"], weights=t["weights"], reduction=REDUCTIONS[r]),
                      {"losses": losses, "weights": weights}, {"reduction": red})


def add_softmax_losses(cases: LossCases) -> None:
    rng = np.random.default_rng(1)
    logits = rng.normal(size=(6, 5)).astype(np.float32) * 2
    ids = rng.integers(0, 5, 6).astype(np.int32)
    onehot = np.eye(5, dtype=np.float32)[ids]
    w_rows = np.float32([1.0, 0.0, 2.0, 0.5, 1.0, 3.0])
    for smoothing in (0.0, 0.2):
        for wname, weights in {"none": np.float32(1.0), "rows": w_rows}.items():
            for red in ("SUM_BY_NONZERO_WEIGHTS", "NONE", "MEAN", "SUM_OVER_BATCH_SIZE"):
                cases.add(f"softmax_cross_entropy/ls{smoothing}/{wname}/{red}",
                          "softmax_cross_entropy",
                          lambda s=smoothing, r=red, **t: V1.losses.softmax_cross_entropy(
                              t["onehot_labels"], t["logits"], weights=t["weights"],
                              label_smoothing=s, reduction=REDUCTIONS[r]),
                          {"onehot_labels": onehot, "logits": logits, "weights": weights},
                          {"label_smoothing": smoothing, "reduction": red},
                          grad_of=("logits",) if red != "NONE" else ())
    variants = {"ids": (ids, w_rows), "ids_col": (ids[:, None], w_rows[:, None]),
                "ids_scalar_w": (ids, np.float32(1.5))}
    for vname, (labels, weights) in variants.items():
        for red in ("SUM_BY_NONZERO_WEIGHTS", "NONE", "SUM"):
            cases.add(f"sparse_softmax_cross_entropy/{vname}/{red}",
                      "sparse_softmax_cross_entropy",
                      lambda r=red, **t: V1.losses.sparse_softmax_cross_entropy(
                          t["labels"], t["logits"], weights=t["weights"],
                          reduction=REDUCTIONS[r]),
                      {"labels": labels, "logits": logits, "weights": weights},
                      {"reduction": red}, grad_of=("logits",) if red != "NONE" else ())


def add_shape_losses(cases: LossCases) -> None:
    """cosine_distance and mean_pairwise_squared_error."""
    rng = np.random.default_rng(2)
    unit = lambda x, axis: (x / np.linalg.norm(x, axis=axis, keepdims=True)).astype(np.float32)
    labels = unit(rng.normal(size=(6, 3)), 1)
    predictions = unit(rng.normal(size=(6, 3)), 1)
    w = np.float32([[1.0], [0.0], [2.0], [1.0], [0.5], [1.0]])
    for red in REDUCTIONS:
        cases.add(f"cosine_distance/axis1/{red}", "cosine_distance",
                  lambda r=red, **t: V1.losses.cosine_distance(
                      t["labels"], t["predictions"], axis=1, weights=t["weights"],
                      reduction=REDUCTIONS[r]),
                  {"labels": labels, "predictions": predictions, "weights": w},
                  {"axis": 1, "reduction": red})
    labels0 = unit(rng.normal(size=(3, 4)), 0)
    predictions0 = unit(rng.normal(size=(3, 4)), 0)
    cases.add("cosine_distance/dim0", "cosine_distance",
              lambda **t: V1.losses.cosine_distance(t["labels"], t["predictions"], dim=0),
              {"labels": labels0, "predictions": predictions0}, {"dim": 0})
    for shape in ((5, 4), (4, 3, 2)):
        labels = rng.normal(size=shape).astype(np.float32)
        predictions = rng.normal(size=shape).astype(np.float32)
        per_example = np.float32([1.0, 0.0, 2.0, 0.5, 1.0][:shape[0]]).reshape(
            (shape[0],) + (1,) * (len(shape) - 1))
        full = rng.uniform(0, 2, shape).astype(np.float32)
        full.reshape(-1)[::3] = 0.0
        for wname, weights in {"scalar": np.float32(1.5), "per_example": per_example,
                               "full": full}.items():
            cases.add(f"mean_pairwise_squared_error/{len(shape)}d/{wname}",
                      "mean_pairwise_squared_error",
                      lambda **t: V1.losses.mean_pairwise_squared_error(
                          t["labels"], t["predictions"], weights=t["weights"]),
                      {"labels": labels, "predictions": predictions, "weights": weights}, {})


def _sparse_rows(multi_hot: np.ndarray) -> list:
    rows = []
    for row in multi_hot:
        idx = np.flatnonzero(row)
        rows.append(tf.SparseTensor(indices=idx[:, None].astype(np.int64),
                                    values=np.ones(len(idx), np.float64),
                                    dense_shape=[multi_hot.shape[1]]))
    return rows


def add_metric_learning_losses(cases: LossCases) -> None:
    rng = np.random.default_rng(3)
    ml = metric_learning
    labels = np.int32([0, 1, 2, 0, 1, 2, 3, 3, 0, 4])
    emb = rng.normal(size=(10, 4)).astype(np.float32)
    emb_unit = (emb / np.linalg.norm(emb, axis=1, keepdims=True)).astype(np.float32)
    for fn, embeddings in (("triplet_semihard_loss", emb_unit), ("lifted_struct_loss", emb)):
        for margin in (0.2, 1.0):
            cases.add(f"{fn}/m{margin}", fn,
                      lambda f=fn, m=margin, **t: getattr(ml, f)(**t, margin=m),
                      {"labels": labels, "embeddings": embeddings}, {"margin": margin},
                      grad_of=("embeddings",))
    anchor = rng.normal(size=(6, 4)).astype(np.float32)
    positive = (anchor + 0.5 * rng.normal(size=(6, 4))).astype(np.float32)
    pairs = {"embeddings_anchor": anchor, "embeddings_positive": positive}
    for fn, pair_labels, kwargs in (
            ("contrastive_loss", np.int32([1, 0, 1, 1, 0, 0]), {"margin": 2.0}),
            ("npairs_loss", np.int32([0, 1, 2, 1, 3, 0]), {"reg_lambda": 0.01})):
        cases.add(fn, fn, lambda f=fn, kw=kwargs, **t: getattr(ml, f)(**t, **kw),
                  dict(pairs, labels=pair_labels), kwargs, grad_of=("embeddings_anchor",))
    multi_hot = np.float32([[1, 0, 1, 0], [0, 1, 0, 0], [1, 1, 0, 0], [0, 0, 0, 1],
                            [0, 0, 1, 1], [1, 0, 0, 0]])
    cases.add("npairs_loss_multilabel", "npairs_loss_multilabel",
              lambda **t: ml.npairs_loss_multilabel(_sparse_rows(multi_hot),
                                                    t["embeddings_anchor"],
                                                    t["embeddings_positive"]),
              {"sparse_labels": multi_hot, "embeddings_anchor": anchor,
               "embeddings_positive": positive}, {}, tf_name="npairs_loss_multilabel "
              "(list of SparseTensor rows; fixture stores them densified)")
    add_cluster_losses(cases, rng)


def add_cluster_losses(cases: LossCases, rng) -> None:
    centers = rng.normal(size=(4, 3)).astype(np.float32) * 2
    labels = np.int64([0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3])  # int64: TF's const score compares to argmin ids
    emb = (centers[labels] + rng.normal(size=(12, 3))).astype(np.float32)
    for margin_type in ("nmi", "ami", "ari", "vmeasure", "const"):
        for pam in (False, True):
            kwargs = {"margin_multiplier": 1.0, "enable_pam_finetuning": pam,
                      "margin_type": margin_type}
            cases.add(f"cluster_loss/{margin_type}/pam{int(pam)}", "cluster_loss",
                      lambda kw=kwargs, **t: metric_learning.cluster_loss(
                          t["labels"], t["embeddings"], **kw),
                      {"labels": labels, "embeddings": emb}, kwargs)


# --- metrics ----------------------------------------------------------------------------


class MetricCases:
    """Streams batches through a TF metric and records every update and the final value."""

    def __init__(self):
        self.arrays: dict[str, np.ndarray] = {}

    def add(self, case: str, factory: str, kwargs: dict, build: Callable,
            batches: list[dict], tf_name: str, update_is_state: bool = False) -> None:
        """``build(**placeholders) -> (value, update_op)``; one feed per batch.

        The update op's value is recorded per batch unless it is a grouped op (no value);
        ``update_is_state`` marks update ops that return the accumulated statistic (the
        jslim state) rather than the metric value.
        """
        with tf.Graph().as_default():
            phs = {k: _placeholder(k, np.asarray(v)) for k, v in batches[0].items()}
            value, update = build(**phs)
            with V1.Session() as sess:
                sess.run(V1.local_variables_initializer())
                updates = [sess.run(update, {phs[k]: v for k, v in b.items()}) for b in batches]
                final = sess.run(value)
        self.arrays[f"{case}/config"] = _config(factory=factory, kwargs=kwargs,
                                                batches=len(batches), tf=tf_name,
                                                update_is_state=update_is_state)
        for i, (b, u) in enumerate(zip(batches, updates)):
            for k, v in b.items():
                self.arrays[f"{case}/b{i}/{k}"] = np.asarray(v)
            if u is not None:
                self.arrays[f"{case}/b{i}/update"] = np.asarray(u)
        self.arrays[f"{case}/value"] = np.asarray(final)


def _batches(n: int, make: Callable[[int], dict]) -> list[dict]:
    return [make(i) for i in range(n)]


def _weights(rng, shape, zero_every: int = 4) -> np.ndarray:
    w = rng.uniform(0.2, 2.0, shape).astype(np.float32)
    w.reshape(-1)[::zero_every] = 0.0
    return w


def _slim(name: str, **fixed) -> Callable:
    fn = getattr(slim.metrics, name)
    return lambda **t: fn(**t, **fixed)


def _v1(name: str, **fixed) -> Callable:
    fn = getattr(V1.metrics, name)
    return lambda **t: fn(**t, **fixed)


def add_mean_metrics(cases: MetricCases) -> None:
    rng = np.random.default_rng(10)
    n = 10

    def cls(i, weighted=True):
        b = {"predictions": rng.integers(0, 4, n).astype(np.int64),
             "labels": rng.integers(0, 4, n).astype(np.int64)}
        if weighted:
            b["weights"] = _weights(rng, (n,))
        return b

    cases.add("accuracy/weighted", "accuracy", {}, _slim("streaming_accuracy"),
              _batches(3, cls), "slim.metrics.streaming_accuracy")
    cases.add("accuracy/unweighted", "accuracy", {}, _slim("streaming_accuracy"),
              _batches(3, lambda i: cls(i, False)), "slim.metrics.streaming_accuracy")
    cases.add("accuracy/weights_col", "accuracy", {}, _slim("streaming_accuracy"),
              _batches(3, lambda i: dict(cls(i, False), weights=_weights(rng, (n, 1)))),
              "slim.metrics.streaming_accuracy")
    values = lambda i: {"values": rng.normal(size=(5, 3)).astype(np.float32),
                        "weights": _weights(rng, (5, 1))}
    cases.add("mean/weighted", "mean", {}, _slim("streaming_mean"), _batches(3, values),
              "slim.metrics.streaming_mean")
    cases.add("mean/unweighted", "mean", {}, _slim("streaming_mean"),
              _batches(3, lambda i: {"values": rng.normal(size=(7,)).astype(np.float32)}),
              "slim.metrics.streaming_mean")
    cases.add("mean/all_zero_weights_first", "mean", {}, _slim("streaming_mean"),
              [{"values": np.float32([1.0, 2.0]), "weights": np.float32([0.0, 0.0])},
               {"values": np.float32([3.0, 5.0]), "weights": np.float32([1.0, 3.0])}],
              "slim.metrics.streaming_mean")
    cases.add("mean_tensor", "mean_tensor", {"shape": [2, 3]}, _slim("streaming_mean_tensor"),
              _batches(3, lambda i: {"values": rng.normal(size=(2, 3)).astype(np.float32),
                                     "weights": _weights(rng, (2, 3), 3)}),
              "slim.metrics.streaming_mean_tensor")
    cases.add("count", "count", {}, _slim("count"),
              _batches(3, lambda i: {"values": rng.normal(size=(4, 2)).astype(np.float32),
                                     "weights": _weights(rng, (4, 1))}),
              "slim.metrics.count")
    topk = lambda i: {"predictions": rng.normal(size=(6, 5)).astype(np.float32),
                      "labels": rng.integers(0, 5, 6).astype(np.int64),
                      "weights": _weights(rng, (6,))}
    for k in (1, 2):
        cases.add(f"recall_at_k/k{k}", "recall_at_k", {"k": k},
                  _slim("streaming_recall_at_k", k=k), _batches(3, topk),
                  "slim.metrics.streaming_recall_at_k")
    ties = {"predictions": np.float32([[0.1, 0.5, 0.5, 0.2], [0.3, 0.3, 0.3, 0.3],
                                       [0.9, np.nan, 0.1, 0.0]]),
            "labels": np.int64([2, 0, 0])}
    cases.add("recall_at_k/ties_nan", "recall_at_k", {"k": 1},
              _slim("streaming_recall_at_k", k=1), [ties, ties],
              "slim.metrics.streaming_recall_at_k")
    add_error_metrics(cases, rng)


def add_error_metrics(cases: MetricCases, rng) -> None:
    def regression(i):
        return {"predictions": rng.normal(size=(4, 3)).astype(np.float32),
                "labels": rng.normal(size=(4, 3)).astype(np.float32),
                "weights": _weights(rng, (4, 1))}

    for name in ("mean_absolute_error", "mean_squared_error", "root_mean_squared_error"):
        cases.add(name, name, {}, _slim(f"streaming_{name}"), _batches(3, regression),
                  f"slim.metrics.streaming_{name}")

    def relative(i):
        b = regression(i)
        normalizer = rng.uniform(0.5, 2.0, (4, 3)).astype(np.float32)
        normalizer[0, 1] = 0.0
        return dict(b, normalizer=normalizer)

    cases.add("mean_relative_error", "mean_relative_error", {},
              _slim("streaming_mean_relative_error"), _batches(3, relative),
              "slim.metrics.streaming_mean_relative_error")

    def unit_pairs(i):
        p = rng.normal(size=(4, 3))
        q = rng.normal(size=(4, 3))
        return {"predictions": (p / np.linalg.norm(p, axis=1, keepdims=True)).astype(np.float32),
                "labels": (q / np.linalg.norm(q, axis=1, keepdims=True)).astype(np.float32),
                "weights": _weights(rng, (4, 1))}

    cases.add("mean_cosine_distance", "mean_cosine_distance", {"dim": 1},
              _slim("streaming_mean_cosine_distance", dim=1), _batches(3, unit_pairs),
              "slim.metrics.streaming_mean_cosine_distance")
    cases.add("percentage_less", "percentage_less", {"threshold": 0.3},
              _slim("streaming_percentage_less", threshold=0.3),
              _batches(3, lambda i: {"values": rng.normal(size=(8,)).astype(np.float32),
                                     "weights": _weights(rng, (8,))}),
              "slim.metrics.streaming_percentage_less")

    def correlated(i, weighted=True):
        p = rng.normal(size=(8,)).astype(np.float32) + i
        b = {"predictions": p, "labels": (0.6 * p + rng.normal(size=(8,))).astype(np.float32)}
        if weighted:
            b["weights"] = _weights(rng, (8,))
        return b

    for name in ("covariance", "pearson_correlation"):
        cases.add(f"{name}/weighted", name, {}, _slim(f"streaming_{name}"),
                  _batches(3, correlated), f"slim.metrics.streaming_{name}")
        cases.add(f"{name}/unweighted", name, {}, _slim(f"streaming_{name}"),
                  _batches(3, lambda i: correlated(i, False)),
                  f"slim.metrics.streaming_{name}")


def _binary(rng, n: int = 10, weighted: bool = True, scores: bool = False) -> dict:
    predictions = (rng.uniform(size=n).astype(np.float32) if scores
                   else rng.integers(0, 2, n).astype(bool))
    b = {"predictions": predictions, "labels": rng.integers(0, 2, n).astype(bool)}
    if weighted:
        b["weights"] = _weights(rng, (n,))
    return b


def add_binary_metrics(cases: MetricCases) -> None:
    rng = np.random.default_rng(20)
    names = ("true_positives", "false_negatives", "true_negatives", "false_positives",
             "precision", "recall", "false_positive_rate", "false_negative_rate")
    for name in names:
        for weighted in (True, False):
            cases.add(f"{name}/{'weighted' if weighted else 'unweighted'}", name, {},
                      _slim(f"streaming_{name}"),
                      _batches(3, lambda i, w=weighted: _binary(rng, weighted=w)),
                      f"slim.metrics.streaming_{name}")
    thresholds = [0.15, 0.5, 0.85, 0.3]
    at_thresholds = ("true_positives", "false_negatives", "true_negatives", "false_positives",
                     "precision", "recall", "false_positive_rate", "false_negative_rate")
    for name in at_thresholds:
        cases.add(f"{name}_at_thresholds", f"{name}_at_thresholds", {"thresholds": thresholds},
                  _slim(f"streaming_{name}_at_thresholds", thresholds=thresholds),
                  _batches(3, lambda i: _binary(rng, scores=True)),
                  f"slim.metrics.streaming_{name}_at_thresholds")
    add_curve_metrics(cases, rng)


def add_curve_metrics(cases: MetricCases, rng) -> None:
    def scores(i, n=24):
        labels = rng.integers(0, 2, n).astype(bool)
        noisy = np.clip(0.35 * labels + rng.uniform(0, 0.65, n), 0, 1).astype(np.float32)
        noisy[:2] = [0.0, 1.0]
        return {"predictions": noisy, "labels": labels, "weights": _weights(rng, (n,), 5)}

    for curve in ("ROC", "PR"):
        for method in ("trapezoidal", "careful_interpolation", "minoring", "majoring"):
            kwargs = {"num_thresholds": 50, "curve": curve, "summation_method": method}
            cases.add(f"auc/{curve}/{method}", "auc", kwargs, _v1("auc", **kwargs),
                      _batches(3, scores), "tf.compat.v1.metrics.auc")
        cases.add(f"auc/{curve}/slim", "auc", {"curve": curve},
                  _slim("streaming_auc", curve=curve), _batches(3, scores),
                  "slim.metrics.streaming_auc")
        cases.add(f"auc/{curve}/explicit_thresholds", "auc",
                  {"curve": curve, "thresholds": [0.7, 0.2, 0.45]},
                  _v1("auc", curve=curve, thresholds=[0.7, 0.2, 0.45]),
                  _batches(3, scores), "tf.compat.v1.metrics.auc")
        cases.add(f"curve_points/{curve}", "curve_points", {"num_thresholds": 50, "curve": curve},
                  _slim("streaming_curve_points", num_thresholds=50, curve=curve),
                  _batches(3, scores), "slim.metrics.streaming_curve_points")
    for spec in (0.3, 0.7):
        cases.add(f"sensitivity_at_specificity/{spec}", "sensitivity_at_specificity",
                  {"specificity": spec, "num_thresholds": 50},
                  _slim("streaming_sensitivity_at_specificity", specificity=spec,
                        num_thresholds=50),
                  _batches(3, scores), "slim.metrics.streaming_sensitivity_at_specificity")
        cases.add(f"specificity_at_sensitivity/{spec}", "specificity_at_sensitivity",
                  {"sensitivity": spec},
                  _slim("streaming_specificity_at_sensitivity", sensitivity=spec),
                  _batches(3, scores), "slim.metrics.streaming_specificity_at_sensitivity")
        cases.add(f"precision_at_recall/{spec}", "precision_at_recall",
                  {"target_recall": spec},
                  lambda s=spec, **t: slim.metrics.precision_at_recall(
                      t["labels"], t["predictions"], s, weights=t["weights"]),
                  _batches(3, scores), "slim.metrics.precision_at_recall")
        for strict in (False, True):
            cases.add(f"recall_at_precision/{spec}/strict{int(strict)}", "recall_at_precision",
                      {"precision": spec, "strict_mode": strict},
                      lambda s=spec, st=strict, **t: slim.metrics.recall_at_precision(
                          t["labels"], t["predictions"], s, weights=t["weights"],
                          strict_mode=st),
                      _batches(3, scores), "slim.metrics.recall_at_precision")
    cases.add("f1_score", "f1_score", {"num_thresholds": 50},
              lambda **t: slim.metrics.f1_score(t["labels"], t["predictions"],
                                                weights=t["weights"], num_thresholds=50),
              _batches(3, scores), "slim.metrics.f1_score")


def add_class_metrics(cases: MetricCases) -> None:
    rng = np.random.default_rng(30)

    def ids(i, shape=(2, 5)):
        return {"predictions": rng.integers(0, 4, shape).astype(np.int64),
                "labels": rng.integers(0, 4, shape).astype(np.int64),
                "weights": _weights(rng, shape)}

    for num_classes, case in ((4, "mean_iou"), (5, "mean_iou/absent_class")):
        cases.add(case, "mean_iou", {"num_classes": num_classes},
                  _slim("streaming_mean_iou", num_classes=num_classes), _batches(3, ids),
                  "slim.metrics.streaming_mean_iou", update_is_state=True)

    def kappa(i, weighted=True):
        labels = rng.integers(0, 3, 12).astype(np.int64)
        agree = rng.uniform(size=12) < 0.6
        b = {"labels": labels,
             "predictions_idx": np.where(agree, labels, rng.integers(0, 3, 12)).astype(np.int64)}
        if weighted:
            b["weights"] = _weights(rng, (12,))
        return b

    for weighted in (True, False):
        cases.add(f"cohen_kappa/{'weighted' if weighted else 'unweighted'}", "cohen_kappa",
                  {"num_classes": 3},
                  lambda **t: slim.metrics.cohen_kappa(num_classes=3, **t),
                  _batches(3, lambda i, w=weighted: kappa(i, w)), "slim.metrics.cohen_kappa")
    add_sparse_metrics(cases, rng)


def add_sparse_metrics(cases: MetricCases, rng) -> None:
    def rows(i, label_shape=(6, 3)):
        labels = rng.integers(0, 6, label_shape).astype(np.int64)
        if len(label_shape) == 2:
            labels[0, 1:] = -1          # padding
            labels[1, 1] = labels[1, 0]  # duplicate
            labels[2, 2] = 7            # >= num_classes
        return {"predictions": rng.normal(size=(6, 6)).astype(np.float32), "labels": labels,
                "weights": _weights(rng, (6,), 5)}

    for k in (1, 3):
        for class_id in (None, 2):
            kw = {"k": k} if class_id is None else {"k": k, "class_id": class_id}
            suffix = f"k{k}" + ("" if class_id is None else f"_c{class_id}")
            for name in ("precision", "recall"):
                cases.add(f"sparse_{name}_at_k/{suffix}", f"sparse_{name}_at_k", kw,
                          _slim(f"streaming_sparse_{name}_at_k", **kw), _batches(3, rows),
                          f"slim.metrics.streaming_sparse_{name}_at_k")
        cases.add(f"sparse_average_precision_at_k/k{k}", "sparse_average_precision_at_k",
                  {"k": k}, _slim("streaming_sparse_average_precision_at_k", k=k),
                  _batches(3, rows), "slim.metrics.streaming_sparse_average_precision_at_k")
    cases.add("sparse_recall_at_k/rank1_labels", "sparse_recall_at_k", {"k": 2},
              _slim("streaming_sparse_recall_at_k", k=2),
              _batches(3, lambda i: rows(i, (6,))), "slim.metrics.streaming_sparse_recall_at_k")

    def top_k_rows(i):
        b = rows(i)
        top = np.argsort(-b.pop("predictions"), axis=1, kind="stable")[:, :3]
        top[3, 2] = top[3, 0]  # duplicate id in a given top-k list
        return dict(b, top_k_predictions=top.astype(np.int64))

    for name, tf_name in (("sparse_precision_at_top_k", "streaming_sparse_precision_at_top_k"),
                          ("sparse_recall_at_top_k", "sparse_recall_at_top_k"),
                          ("sparse_average_precision_at_top_k",
                           "streaming_sparse_average_precision_at_top_k")):
        cases.add(name, name, {}, _slim(tf_name), _batches(3, top_k_rows),
                  f"slim.metrics.{tf_name}")


def main() -> None:
    os.makedirs(OUT_DIR, exist_ok=True)
    losses = LossCases()
    add_standard_losses(losses)
    add_softmax_losses(losses)
    add_shape_losses(losses)
    add_metric_learning_losses(losses)
    np.savez_compressed(os.path.join(OUT_DIR, "losses.npz"), **losses.arrays)
    metrics = MetricCases()
    add_mean_metrics(metrics)
    add_binary_metrics(metrics)
    add_class_metrics(metrics)
    np.savez_compressed(os.path.join(OUT_DIR, "metrics.npz"), **metrics.arrays)
    count = lambda arrays: sum(k.endswith("/config") for k in arrays)
    print(f"wrote {count(losses.arrays)} loss cases and {count(metrics.arrays)} metric cases "
          f"to {OUT_DIR}")


if __name__ == "__main__":
    main()
