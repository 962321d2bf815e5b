"""Small pure numpy functions used after inference."""

from __future__ import annotations

import numpy as np


def softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    """Numerically stable softmax."""
    # ndarray methods rather than np.max/np.sum: a quarter of the cost on the tiny arrays of a
    # single prediction, where numpy's dispatch overhead is most of the time.
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    e /= e.sum(axis=axis, keepdims=True)
    return e


def sigmoid(x: np.ndarray) -> np.ndarray:
    """Logistic function, stable for large |x|."""
    return np.where(x >= 0, 1.0 / (1.0 + np.exp(-np.abs(x))), np.exp(-np.abs(x)) / (1.0 + np.exp(-np.abs(x))))


def labels_on(probabilities: np.ndarray, threshold: float) -> np.ndarray:
    """The multi-label rule everywhere in edgeft (training, the export gate, the reference set, the
    runtime's ``predict``): label i is on when its probability is >= ``threshold``.
    Returns a 0/1 int64 array of the probabilities' shape."""
    return (np.asarray(probabilities) >= threshold).astype(np.int64)


def multi_label_decisions(logits: np.ndarray, threshold: float) -> np.ndarray:
    """``labels_on`` of the sigmoid of ``logits`` (a multi-label classifier's raw outputs)."""
    return labels_on(sigmoid(logits), threshold)


def decisions(probabilities: np.ndarray, multi_label: bool, threshold: float) -> np.ndarray:
    """A classifier's labels from its probabilities: the best class per row (int64 indices), or
    for multi-label the 0/1 rows of ``labels_on``."""
    probs = np.asarray(probabilities)
    return labels_on(probs, threshold) if multi_label else probs.argmax(-1).astype(np.int64)


def top_k_ids(values: np.ndarray, k: int, chunk: int = 256) -> np.ndarray:
    """The ``k`` largest entries' indices of each row of a 2-D array, largest first; ties: the lower
    index first. Rows go ``chunk`` at a time: sorting (masks x vocabulary) at once would take
    several times the memory of the values themselves."""
    values = np.asarray(values)
    k = min(k, values.shape[-1]) if values.ndim == 2 else 0
    out = np.zeros((len(values), k), dtype=np.int64)
    for start in range(0, len(values) if k else 0, chunk):
        rows = values[start : start + chunk]
        part = np.argpartition(-rows, k - 1, axis=-1)[:, :k]
        order = np.lexsort((part, -np.take_along_axis(rows, part, axis=-1)), axis=-1)
        out[start : start + chunk] = np.take_along_axis(part, order, axis=-1)
    return out


def max_abs_diff(a: np.ndarray, b: np.ndarray) -> float:
    """The largest |a - b|, computed in float64 (0 for empty arrays): how far two models' outputs are."""
    return float(np.max(np.abs(np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)))) if np.size(a) else 0.0


def agreement(a: np.ndarray, b: np.ndarray) -> float:
    """The share of rows on which two models' labels agree (a whole row of a multi-label 0/1
    matrix must agree); 1 when there are none."""
    a, b = np.asarray(a), np.asarray(b)
    if len(a) == 0:
        return 1.0
    same = np.all(a == b, axis=1) if a.ndim == 2 else a == b
    return float(np.mean(same))


def l2_normalize(x: np.ndarray, axis: int = -1, eps: float = 1e-12) -> np.ndarray:
    """Scale rows to unit L2 norm (rows of zeros stay zero)."""
    norm = np.linalg.norm(x, axis=axis, keepdims=True)
    return x / np.maximum(norm, eps)


def mean_pool(hidden: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Average token vectors over the positions where ``mask`` is 1."""
    m = mask[..., None].astype(hidden.dtype)
    return (hidden * m).sum(axis=1) / np.maximum(m.sum(axis=1), 1e-9)
