"""TF-Slim's streaming metrics as pure, mergeable states.

A metric is a :class:`Metric`: four pure functions over a *state*, a pytree of arrays
holding sufficient statistics (sums, counts, confusion counts)::

    metric = metrics.auc(num_thresholds=200)
    state = metric.empty()
    for batch in batches:                       # or inside a jitted eval step
        state = metric.update(state, predictions=batch.p, labels=batch.y)
    value = metric.compute(state)
    # on several devices/hosts: state = metric.merge(state_a, state_b)

``update(state, ...)`` equals ``merge(state, update(empty(), ...))``, ``merge`` is
associative with ``empty()`` as identity (most merges add; covariance uses the parallel
co-moment rule), and every function is jit-able with static shapes. Streaming any batches
gives TF-Slim's value up to float32 rounding (TF keeps a few statistics in float64).

Configuration (``k``, ``num_thresholds``, ``num_classes``, ...) goes to the factory; the
per-batch tensors go to ``update`` under slim's argument names and order (slim puts
``predictions`` before ``labels``; ``f1_score`` and ``cohen_kappa`` put ``labels`` first).
Pass them by keyword. ``weights`` follow TF's rules: ``None``, a scalar, or an array whose
rank matches the values (one more or one fewer trailing axis is fixed up as in TF) with
each dimension 1 or equal; anything else raises ``ValueError``.

Each factory has slim's name; ``streaming_<name>`` aliases exist where slim had them.
Not provided: metrics whose state grows with the data (``streaming_concat``,
``streaming_dynamic_auc``, ``auc_with_confidence_intervals``). TF's run-time assertions
(predictions in [0, 1], labels in range) cannot run under ``jit``; out-of-range class ids
are ignored by the confusion-matrix metrics.
"""

from jslim.metrics.aggregation import Args, aggregate_metric_map
from jslim.metrics.base import Metric
from jslim.metrics.confusion import (
    ConfusionCounts,
    false_negative_rate,
    false_negatives,
    false_positive_rate,
    false_positives,
    precision,
    recall,
    true_negatives,
    true_positives,
)
from jslim.metrics.correlation import CovarianceState, PearsonState, covariance, pearson_correlation
from jslim.metrics.means import (
    MeanState,
    accuracy,
    count,
    mean,
    mean_absolute_error,
    mean_cosine_distance,
    mean_relative_error,
    mean_squared_error,
    mean_tensor,
    percentage_less,
    recall_at_k,
    root_mean_squared_error,
)
from jslim.metrics.multiclass import KappaState, cohen_kappa, mean_iou
from jslim.metrics.ranking import (
    TopKCounts,
    sparse_average_precision_at_k,
    sparse_average_precision_at_top_k,
    sparse_precision_at_k,
    sparse_precision_at_top_k,
    sparse_recall_at_k,
    sparse_recall_at_top_k,
)
from jslim.metrics.thresholds import (
    auc,
    curve_points,
    f1_score,
    false_negative_rate_at_thresholds,
    false_negatives_at_thresholds,
    false_positive_rate_at_thresholds,
    false_positives_at_thresholds,
    precision_at_recall,
    precision_at_thresholds,
    recall_at_precision,
    recall_at_thresholds,
    sensitivity_at_specificity,
    specificity_at_sensitivity,
    true_negatives_at_thresholds,
    true_positives_at_thresholds,
)

# --- slim's streaming_* names -----------------------------------------------------------

streaming_accuracy = accuracy
streaming_auc = auc
streaming_covariance = covariance
streaming_curve_points = curve_points
streaming_false_negative_rate = false_negative_rate
streaming_false_negative_rate_at_thresholds = false_negative_rate_at_thresholds
streaming_false_negatives = false_negatives
streaming_false_negatives_at_thresholds = false_negatives_at_thresholds
streaming_false_positive_rate = false_positive_rate
streaming_false_positive_rate_at_thresholds = false_positive_rate_at_thresholds
streaming_false_positives = false_positives
streaming_false_positives_at_thresholds = false_positives_at_thresholds
streaming_mean = mean
streaming_mean_absolute_error = mean_absolute_error
streaming_mean_cosine_distance = mean_cosine_distance
streaming_mean_iou = mean_iou
streaming_mean_relative_error = mean_relative_error
streaming_mean_squared_error = mean_squared_error
streaming_mean_tensor = mean_tensor
streaming_pearson_correlation = pearson_correlation
streaming_percentage_less = percentage_less
streaming_precision = precision
streaming_precision_at_thresholds = precision_at_thresholds
streaming_recall = recall
streaming_recall_at_k = recall_at_k
streaming_recall_at_thresholds = recall_at_thresholds
streaming_root_mean_squared_error = root_mean_squared_error
streaming_sensitivity_at_specificity = sensitivity_at_specificity
streaming_sparse_average_precision_at_k = sparse_average_precision_at_k
streaming_sparse_average_precision_at_top_k = sparse_average_precision_at_top_k
streaming_sparse_precision_at_k = sparse_precision_at_k
streaming_sparse_precision_at_top_k = sparse_precision_at_top_k
streaming_sparse_recall_at_k = sparse_recall_at_k
streaming_specificity_at_sensitivity = specificity_at_sensitivity
streaming_true_negatives = true_negatives
streaming_true_negatives_at_thresholds = true_negatives_at_thresholds
streaming_true_positives = true_positives
streaming_true_positives_at_thresholds = true_positives_at_thresholds
