"""Metric-learning losses of ``tf_slim.losses.metric_learning`` as JAX functions.

``contrastive_loss``, ``triplet_semihard_loss``, ``lifted_struct_loss``, ``npairs_loss`` and
``npairs_loss_multilabel`` are pure, jit-able and follow TF's formulas op for op (including
its masked min/max tricks, so results agree to float32 rounding). ``cluster_loss`` runs
TF's greedy loss-augmented facility-location search (and PAM refinement) on the host with
NumPy; see its docstring for the limits that implies.
"""

from __future__ import annotations

from typing import Optional

import jax
import jax.numpy as jnp
import numpy as np
from jax import Array
from jax.typing import ArrayLike

from jslim import clustering_scores


def pairwise_distance(feature: ArrayLike, squared: bool = False) -> Array:
    """Euclidean distances between the rows of ``feature``, with an exactly zero diagonal.

    Args:
        feature: Embeddings, shape ``[batch, dim]``.
        squared: Return squared distances.

    Returns:
        float32 ``[batch, batch]``. Tiny negative squared distances are clamped to 0 and the
        gradient of ``sqrt`` at 0 is kept finite as in TF.
    """
    feature = jnp.asarray(feature, jnp.float32)
    sq_norms = jnp.sum(jnp.square(feature), axis=1)
    dist_sq = sq_norms[:, None] + sq_norms[None, :] - 2.0 * (feature @ feature.T)
    dist_sq = jnp.maximum(dist_sq, 0.0)
    error_mask = dist_sq <= 0.0
    if squared:
        dist = dist_sq
    else:
        dist = jnp.sqrt(dist_sq + error_mask.astype(jnp.float32) * 1e-16)
    dist = dist * jnp.logical_not(error_mask).astype(jnp.float32)
    return dist * (1.0 - jnp.eye(feature.shape[0], dtype=jnp.float32))


def contrastive_loss(labels: ArrayLike, embeddings_anchor: ArrayLike,
                     embeddings_positive: ArrayLike, margin: float = 1.0) -> Array:
    """Mean contrastive loss of anchor/positive pairs (label 1 = same, 0 = different).

    Args:
        labels: 0/1, shape ``[batch]``.
        embeddings_anchor: ``[batch, dim]``.
        embeddings_positive: ``[batch, dim]``.
        margin: Distance below which different pairs are penalised.

    Returns:
        Scalar float32 loss.
    """
    anchor = jnp.asarray(embeddings_anchor, jnp.float32)
    positive = jnp.asarray(embeddings_positive, jnp.float32)
    distances = jnp.sqrt(jnp.sum(jnp.square(anchor - positive), axis=1))
    labels = jnp.asarray(labels, distances.dtype)
    return jnp.mean(labels * jnp.square(distances)
                    + (1.0 - labels) * jnp.square(jnp.maximum(margin - distances, 0.0)))


def _masked_maximum(data: Array, mask: Array, axis: int) -> Array:
    """TF's ``masked_maximum``: max over ``mask``, computed as ``max((d - min) * m) + min``."""
    minimums = jnp.min(data, axis, keepdims=True)
    return jnp.max((data - minimums) * mask, axis, keepdims=True) + minimums


def _masked_minimum(data: Array, mask: Array, axis: int) -> Array:
    """TF's ``masked_minimum``: min over ``mask``, computed as ``min((d - max) * m) + max``."""
    maximums = jnp.max(data, axis, keepdims=True)
    return jnp.min((data - maximums) * mask, axis, keepdims=True) + maximums


def _label_adjacency(labels: ArrayLike) -> Array:
    labels = jnp.asarray(labels)
    if labels.ndim != 1:
        raise ValueError(f"labels must have shape [batch], got {labels.shape}.")
    return labels[:, None] == labels[None, :]


def triplet_semihard_loss(labels: ArrayLike, embeddings: ArrayLike,
                          margin: float = 1.0) -> Array:
    """Triplet loss with semi-hard negative mining (FaceNet), as TF computes it.

    For every anchor/positive pair the negative is the closest one farther than the
    positive; if none is, the farthest negative. Distances are squared Euclidean.

    Args:
        labels: Integer class ids, shape ``[batch]``.
        embeddings: ``[batch, dim]``, usually l2-normalised.
        margin: Triplet margin.

    Returns:
        Scalar float32 loss averaged over all positive pairs (NaN without any).
    """
    pdist = pairwise_distance(embeddings, squared=True)
    adjacency = _label_adjacency(labels)
    adjacency_not = jnp.logical_not(adjacency)
    batch = pdist.shape[0]
    # mask[a, p, n]: n is a negative of a, farther from a than p is.
    mask = adjacency_not[:, None, :] & (pdist[:, None, :] > pdist[:, :, None])
    mask_final = jnp.any(mask, axis=2)
    data = jnp.broadcast_to(pdist[:, None, :], (batch, batch, batch))
    negatives_outside = _masked_minimum(data, mask.astype(jnp.float32), 2)[..., 0]
    negatives_inside = _masked_maximum(pdist, adjacency_not.astype(jnp.float32), 1)
    semi_hard = jnp.where(mask_final, negatives_outside, negatives_inside)
    loss_mat = margin + pdist - semi_hard
    mask_positives = adjacency.astype(jnp.float32) - jnp.eye(batch, dtype=jnp.float32)
    num_positives = jnp.sum(mask_positives)
    return jnp.sum(jnp.maximum(loss_mat * mask_positives, 0.0)) / num_positives


def lifted_struct_loss(labels: ArrayLike, embeddings: ArrayLike, margin: float = 1.0) -> Array:
    """Lifted structured feature-embedding loss (Song et al. 2016), as TF computes it.

    Args:
        labels: Integer class ids, shape ``[batch]``.
        embeddings: ``[batch, dim]``, not l2-normalised.
        margin: Margin on the negative distances.

    Returns:
        Scalar float32 loss (NaN without any positive pair).
    """
    distances = pairwise_distance(embeddings)
    adjacency = _label_adjacency(labels)
    batch = distances.shape[0]
    diff = margin - distances
    mask = jnp.logical_not(adjacency).astype(jnp.float32)
    row_negative_max = _masked_maximum(diff, mask, 1)
    max_elements = jnp.maximum(row_negative_max, row_negative_max.T)
    # exp_sums[i, j] = sum_n mask[i, n] * exp(diff[i, n] - max_elements[i, j])
    exp_sums = jnp.sum(jnp.exp(diff[:, None, :] - max_elements[:, :, None]) * mask[:, None, :],
                       axis=2)
    loss_mat = max_elements + jnp.log(exp_sums + exp_sums.T) + distances
    mask_positives = adjacency.astype(jnp.float32) - jnp.eye(batch, dtype=jnp.float32)
    num_positives = jnp.sum(mask_positives) / 2.0
    hinge = jnp.maximum(loss_mat * mask_positives, 0.0)
    return 0.25 * jnp.sum(jnp.square(hinge)) / num_positives


def _npairs_from_adjacency(adjacency: Array, anchor: Array, positive: Array,
                           reg_lambda: float) -> Array:
    reg_anchor = jnp.mean(jnp.sum(jnp.square(anchor), axis=1))
    reg_positive = jnp.mean(jnp.sum(jnp.square(positive), axis=1))
    l2loss = 0.25 * reg_lambda * (reg_anchor + reg_positive)
    similarity = anchor @ positive.T
    targets = adjacency / jnp.sum(adjacency, axis=1, keepdims=True)
    xent = -jnp.sum(targets * jax.nn.log_softmax(similarity, axis=1), axis=1)
    return l2loss + jnp.mean(xent)


def npairs_loss(labels: ArrayLike, embeddings_anchor: ArrayLike,
                embeddings_positive: ArrayLike, reg_lambda: float = 0.002) -> Array:
    """Multi-class N-pair loss (Sohn 2016): softmax over anchor-positive similarities.

    Args:
        labels: Integer class ids of the pairs, shape ``[batch]``.
        embeddings_anchor: ``[batch, dim]``, not l2-normalised.
        embeddings_positive: ``[batch, dim]``.
        reg_lambda: Weight of the l2 penalty on the embeddings.

    Returns:
        Scalar float32 loss.
    """
    anchor = jnp.asarray(embeddings_anchor, jnp.float32)
    positive = jnp.asarray(embeddings_positive, jnp.float32)
    adjacency = _label_adjacency(labels).astype(jnp.float32)
    return _npairs_from_adjacency(adjacency, anchor, positive, reg_lambda)


def npairs_loss_multilabel(sparse_labels: ArrayLike, embeddings_anchor: ArrayLike,
                           embeddings_positive: ArrayLike, reg_lambda: float = 0.002) -> Array:
    """N-pair loss for multi-label pairs; targets weight pairs by shared labels.

    TF takes a Python list of ``SparseTensor`` rows; jslim takes the same data densified.
    The target of pair ``(i, j)`` is ``sum_k min(labels[i, k], labels[j, k])`` (TF's
    ``sparse_minimum`` + ``sparse_reduce_sum``), normalised per row.

    Args:
        sparse_labels: Multi-hot labels, shape ``[batch, num_classes]``; each row needs at
            least one label.
        embeddings_anchor: ``[batch, dim]``.
        embeddings_positive: ``[batch, dim]``.
        reg_lambda: Weight of the l2 penalty on the embeddings.

    Returns:
        Scalar float32 loss.
    """
    labels = jnp.asarray(sparse_labels, jnp.float32)
    if labels.ndim != 2:
        raise ValueError("sparse_labels must be dense multi-hot [batch, num_classes], got "
                         f"shape {labels.shape}.")
    anchor = jnp.asarray(embeddings_anchor, jnp.float32)
    positive = jnp.asarray(embeddings_positive, jnp.float32)
    adjacency = jnp.sum(jnp.minimum(labels[:, None, :], labels[None, :, :]), axis=2)
    return _npairs_from_adjacency(adjacency, anchor, positive, reg_lambda)


# --- cluster_loss ---------------------------------------------------------------------


def _cluster_assignment(distances: np.ndarray, centroid_ids: np.ndarray) -> np.ndarray:
    """Index (into ``centroid_ids``) of each point's nearest centroid; centroids own theirs."""
    predictions = np.argmin(distances[centroid_ids], axis=0)
    predictions[centroid_ids] = np.arange(len(centroid_ids))
    return predictions


def _facility_scores(chosen_block: np.ndarray, candidate_rows: np.ndarray) -> np.ndarray:
    """``-sum_j min(min_c D[c, j], D[cand, j])`` for every candidate row, in float32."""
    if chosen_block.shape[0]:
        nearest = np.min(chosen_block, axis=0)
        candidate_rows = np.minimum(candidate_rows, nearest[None, :])
    return -np.sum(candidate_rows, axis=1, dtype=np.float32)


def _penalty(score: float) -> np.float32:
    """``1 - score`` in float32, as TF subtracts the float32-cast score."""
    return np.float32(1.0) - np.float32(score)


def _greedy_facilities(distances: np.ndarray, labels: np.ndarray, margin_multiplier: float,
                       score_fn) -> np.ndarray:
    """Adds one centroid per class, each maximising facility score + margin * (1 - score)."""
    num_classes = len(np.unique(labels))
    chosen = np.zeros([0], np.int64)
    for _ in range(num_classes):
        candidates = np.setdiff1d(np.arange(len(labels)), chosen)
        scores = _facility_scores(distances[chosen], distances[candidates])
        penalties = np.array([
            _penalty(score_fn(labels, _cluster_assignment(distances, np.append(chosen, c))))
            for c in candidates], np.float32)
        best = int(np.argmax(scores + np.float32(margin_multiplier) * penalties))
        chosen = np.append(chosen, candidates[best])
    return chosen


def _pam_refine(distances: np.ndarray, labels: np.ndarray, chosen: np.ndarray,
                margin_multiplier: float, score_fn, iterations: int = 5) -> np.ndarray:
    """TF's PAM pass: per cluster, swap in the member that maximises the augmented score."""
    chosen = chosen.copy()
    for _ in range(iterations):
        predictions = _cluster_assignment(distances, chosen)
        for cluster in range(len(np.unique(labels))):
            members = np.flatnonzero(predictions == cluster)
            block = distances[np.ix_(members, members)]
            scores = -np.sum(block, axis=0, dtype=np.float32)
            penalties = []
            for member in members:
                trial = chosen.copy()
                trial[cluster] = member
                penalties.append(_penalty(score_fn(labels, _cluster_assignment(distances, trial))))
            total = scores + np.float32(margin_multiplier) * np.asarray(penalties, np.float32)
            chosen[cluster] = members[int(np.argmax(total))]
    return chosen


def _host_cluster_search(distances: np.ndarray, labels: np.ndarray, margin_multiplier: float,
                         enable_pam_finetuning: bool, margin_type: str
                         ) -> tuple[np.ndarray, np.float32]:
    score_fn = clustering_scores.score_function(margin_type)
    distances = np.asarray(distances, np.float32)
    labels = np.asarray(labels)
    chosen = _greedy_facilities(distances, labels, margin_multiplier, score_fn)
    if enable_pam_finetuning:
        chosen = _pam_refine(distances, labels, chosen, margin_multiplier, score_fn)
    score = score_fn(labels, _cluster_assignment(distances, chosen))
    return chosen.astype(np.int32), np.float32(score)


def _ground_truth_score(distances: Array, adjacency: Array) -> Array:
    """``-sum_classes min_{j in class} sum_{i in class} D[i, j]`` (TF's gt cluster score)."""
    member_sums = jnp.sum(distances * adjacency.astype(jnp.float32), axis=0)
    class_min = jnp.min(jnp.where(adjacency, member_sums[None, :], jnp.inf), axis=1)
    # Count each class once: at its first member.
    first = jnp.logical_not(jnp.any(jnp.tril(adjacency, k=-1), axis=1))
    return -jnp.sum(jnp.where(first, class_min, 0.0))


def cluster_loss(labels: ArrayLike, embeddings: ArrayLike, margin_multiplier: float,
                 enable_pam_finetuning: bool = True, margin_type: str = "nmi",
                 num_classes: Optional[int] = None) -> Array:
    """Structured clustering loss (Song et al. 2017, "Deep metric learning via facility
    location"), as ``tf_slim.losses.metric_learning.cluster_loss`` computes it.

    ``max(F(S_pred) + margin * (1 - score(labels, assignment(S_pred))) - F(S_gt), 0)``,
    where ``F(S) = -sum_j min_{c in S} D[c, j]`` on Euclidean distances, ``S_pred`` comes
    from TF's greedy loss-augmented facility search (one centroid per class, then 5 PAM
    passes if enabled) and ``S_gt`` takes each class's medoid.

    Limits: the centroid search is discrete, so it runs on the host with NumPy (through
    ``jax.pure_callback`` under ``jit``); gradients flow through the distances only, as in
    TF. Eagerly the number of classes is read from ``labels``; under ``jit`` pass
    ``num_classes`` (the number of distinct labels in every batch) as a static int. Cost
    grows like ``num_classes * batch`` clustering scores per call: meant for the small
    batches the method uses (TF runs the same loops).

    Args:
        labels: Integer class ids, shape ``[batch]`` (or ``[batch, 1]``).
        embeddings: ``[batch, dim]``.
        margin_multiplier: Weight of the structured margin.
        enable_pam_finetuning: Refine the greedy centroids with PAM.
        margin_type: ``'nmi'``, ``'ami'``, ``'ari'``, ``'vmeasure'`` or ``'const'``
            (sklearn's definitions, reimplemented in :mod:`jslim.clustering_scores`).
        num_classes: Distinct labels per batch; required under ``jit``.

    Returns:
        Scalar float32 loss.
    """
    clustering_scores.score_function(margin_type)  # validate eagerly
    labels = jnp.reshape(jnp.asarray(labels), (-1,))
    distances = pairwise_distance(embeddings)
    if num_classes is None:
        if isinstance(labels, jax.core.Tracer):
            raise ValueError("cluster_loss under jit needs a static num_classes.")
        num_classes = len(np.unique(np.asarray(labels)))

    def host(d, lab):
        return _host_cluster_search(np.asarray(d), np.asarray(lab), margin_multiplier,
                                    enable_pam_finetuning, margin_type)

    out_types = (jax.ShapeDtypeStruct((num_classes,), jnp.int32),
                 jax.ShapeDtypeStruct((), jnp.float32))
    chosen, score = jax.pure_callback(host, out_types, jax.lax.stop_gradient(distances),
                                      labels)
    score_pred = -jnp.sum(jnp.min(distances[chosen], axis=0))
    score_gt = _ground_truth_score(distances, _label_adjacency(labels))
    return jnp.maximum(score_pred + margin_multiplier * (1.0 - score) - score_gt, 0.0)
