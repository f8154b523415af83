"""Clustering agreement scores used as margins by ``cluster_loss`` (NumPy, host side).

TF's ``cluster_loss`` calls scikit-learn through ``py_func``; these are the same
definitions (scikit-learn 1.x defaults: arithmetic normalisation for NMI and AMI), written
in NumPy so jslim needs no scikit-learn at run time. All take two integer label vectors of
equal length and return a Python float.
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np

_EPS = float(np.finfo(np.float64).eps)


def _contingency(labels_true: np.ndarray, labels_pred: np.ndarray) -> np.ndarray:
    _, rows = np.unique(labels_true, return_inverse=True)
    _, cols = np.unique(labels_pred, return_inverse=True)
    table = np.zeros((rows.max(initial=-1) + 1, cols.max(initial=-1) + 1), np.int64)
    np.add.at(table, (rows, cols), 1)
    return table


def _entropy(labels: np.ndarray) -> float:
    if len(labels) == 0:
        return 1.0
    counts = np.unique(labels, return_counts=True)[1].astype(np.float64)
    if counts.size == 1:
        return 0.0
    total = counts.sum()
    return float(-np.sum((counts / total) * (np.log(counts) - math.log(total))))


def _mutual_info(table: np.ndarray) -> float:
    rows, cols = np.nonzero(table)
    values = table[rows, cols].astype(np.float64)
    total = table.sum()
    pi = table.sum(axis=1)
    pj = table.sum(axis=0)
    if pi.size == 1 or pj.size == 1:
        return 0.0
    outer = pi[rows].astype(np.int64) * pj[cols].astype(np.int64)
    log_outer = -np.log(outer) + math.log(pi.sum()) + math.log(pj.sum())
    joint = values / total
    mi = joint * (np.log(values) - math.log(total)) + joint * log_outer
    mi = np.where(np.abs(mi) < _EPS, 0.0, mi)
    return float(np.clip(mi.sum(), 0.0, None))


def _both_trivial(labels_true: np.ndarray, labels_pred: np.ndarray) -> bool:
    n_true, n_pred = len(np.unique(labels_true)), len(np.unique(labels_pred))
    return n_true == n_pred and n_true in (0, 1)


def normalized_mutual_info(labels_true: np.ndarray, labels_pred: np.ndarray) -> float:
    """NMI with the arithmetic mean of the entropies (sklearn's default)."""
    if _both_trivial(labels_true, labels_pred):
        return 1.0
    mi = _mutual_info(_contingency(labels_true, labels_pred))
    if mi == 0:
        return 0.0
    return mi / float(np.mean([_entropy(labels_true), _entropy(labels_pred)]))


def _expected_mutual_info(table: np.ndarray, n: int) -> float:
    """Expected MI of two random labelings with the table's marginals (Vinh et al. 2010)."""
    a = table.sum(axis=1).astype(np.int64)
    b = table.sum(axis=0).astype(np.int64)
    if a.size == 1 or b.size == 1:
        return 0.0
    lg = math.lgamma
    emi = 0.0
    for ai in a:
        for bj in b:
            fixed = lg(ai + 1) + lg(bj + 1) + lg(n - ai + 1) + lg(n - bj + 1) - lg(n + 1)
            for nij in range(max(1, ai - n + bj), min(ai, bj) + 1):
                term2 = math.log(n) + math.log(nij) - math.log(ai) - math.log(bj)
                gln = (fixed - lg(nij + 1) - lg(ai - nij + 1) - lg(bj - nij + 1)
                       - lg(n - ai - bj + nij + 1))
                emi += (nij / n) * term2 * math.exp(gln)
    return emi


def _clamp_away_from_zero(x: float) -> float:
    return min(x, -_EPS) if x < 0 else max(x, _EPS)


def adjusted_mutual_info(labels_true: np.ndarray, labels_pred: np.ndarray) -> float:
    """AMI with arithmetic normalisation (sklearn's default)."""
    if _both_trivial(labels_true, labels_pred):
        return 1.0
    if len(np.unique(labels_true)) == 1 or len(np.unique(labels_pred)) == 1:
        return 0.0
    table = _contingency(labels_true, labels_pred)
    mi = _mutual_info(table)
    emi = _expected_mutual_info(table, len(labels_true))
    normalizer = float(np.mean([_entropy(labels_true), _entropy(labels_pred)]))
    return _clamp_away_from_zero(mi - emi) / _clamp_away_from_zero(normalizer - emi)


def adjusted_rand(labels_true: np.ndarray, labels_pred: np.ndarray) -> float:
    """Adjusted Rand index from the pair confusion matrix."""
    table = _contingency(labels_true, labels_pred)
    n = int(len(labels_true))
    sum_squares = int((table.astype(np.int64) ** 2).sum())
    n_c = table.sum(axis=1)
    n_k = table.sum(axis=0)
    tp = sum_squares - n
    fp = int((table @ n_k).sum()) - sum_squares
    fn = int((table.T @ n_c).sum()) - sum_squares
    tn = n * n - fp - fn - sum_squares
    if fn == 0 and fp == 0:
        return 1.0
    return 2.0 * (tp * tn - fn * fp) / ((tp + fn) * (fn + tn) + (tp + fp) * (fp + tn))


def v_measure(labels_true: np.ndarray, labels_pred: np.ndarray) -> float:
    """Harmonic mean of homogeneity and completeness (beta = 1)."""
    if len(labels_true) == 0:
        return 1.0
    h_true, h_pred = _entropy(labels_true), _entropy(labels_pred)
    mi = _mutual_info(_contingency(labels_true, labels_pred))
    homogeneity = mi / h_true if h_true else 1.0
    completeness = mi / h_pred if h_pred else 1.0
    if homogeneity + completeness == 0.0:
        return 0.0
    return 2.0 * homogeneity * completeness / (homogeneity + completeness)


def zero_one(labels_true: np.ndarray, labels_pred: np.ndarray) -> float:
    """1.0 when every raw label equals its predicted cluster index, else 0.0 (TF's 'const')."""
    return float(np.all(np.asarray(labels_true) == np.asarray(labels_pred)))


def score_function(margin_type: str) -> Callable[[np.ndarray, np.ndarray], float]:
    """Returns the score for ``margin_type``, clamped at 0 where TF clamps it.

    Raises:
        ValueError: Unknown ``margin_type``.
    """
    clamped = lambda fn: (lambda t, p: max(0.0, float(np.float32(fn(t, p)))))
    table = {
        "nmi": normalized_mutual_info,
        "ami": clamped(adjusted_mutual_info),
        "ari": clamped(adjusted_rand),
        "vmeasure": clamped(v_measure),
        "const": zero_one,
    }
    if margin_type not in table:
        raise ValueError(f"Unrecognized margin_type: {margin_type}")
    return table[margin_type]
