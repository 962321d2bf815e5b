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


def multi_label_decisions(logits: np.ndarray, threshold: float) -> np.ndarray:
    """The multi-label rule everywhere in edgeft: label i is on when sigmoid(logit i) >= threshold.
    Returns a 0/1 int64 array of the logits' shape."""
    return (sigmoid(logits) >= threshold).astype(np.int64)


def l2_normalize(x: np.ndarray, axis: int = -1, eps: float = 1e-12) -> np.ndarray:
    """Scale rows to unit L2 norm (rows of zeros stay zero)."""
    norm = np.linalg.norm(x, axis=axis, keepdims=True)
    return x / np.maximum(norm, eps)


def mean_pool(hidden: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Average token vectors over the positions where ``mask`` is 1."""
    m = mask[..., None].astype(hidden.dtype)
    return (hidden * m).sum(axis=1) / np.maximum(m.sum(axis=1), 1e-9)
