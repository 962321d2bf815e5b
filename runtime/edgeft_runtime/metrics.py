"""Task metrics as small numpy functions, shared by training, the export parity gate and ``edgeft eval``.

All scores are fractions in [0, 1]; callers multiply by 100 to report points.
"""

from __future__ import annotations

import numpy as np


def accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Share of exact matches (for multi-label indicator rows: exact-set matches)."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if len(y_true) == 0:
        return 0.0
    if y_true.ndim == 2:
        return float(np.mean(np.all(y_true == y_pred, axis=1)))
    return float(np.mean(y_true == y_pred))


def _f1(tp: np.ndarray, fp: np.ndarray, fn: np.ndarray) -> np.ndarray:
    denom = 2 * tp + fp + fn
    return np.divide(2 * tp, denom, out=np.zeros_like(denom, dtype=float), where=denom > 0)


def macro_f1(y_true: np.ndarray, y_pred: np.ndarray, num_labels: int) -> float:
    """Unweighted mean of per-class F1 over ``num_labels`` classes (single-label indices)."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    classes = np.arange(num_labels)[:, None]
    tp = np.sum((y_pred == classes) & (y_true == classes), axis=1)
    fp = np.sum((y_pred == classes) & (y_true != classes), axis=1)
    fn = np.sum((y_pred != classes) & (y_true == classes), axis=1)
    return float(np.mean(_f1(tp, fp, fn)))


def multilabel_f1(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    """Micro and macro F1 over 0/1 indicator matrices of shape (n, num_labels)."""
    t, p = np.asarray(y_true).astype(bool), np.asarray(y_pred).astype(bool)
    tp, fp, fn = (t & p).sum(0), (~t & p).sum(0), (t & ~p).sum(0)
    micro = _f1(np.array([tp.sum()]), np.array([fp.sum()]), np.array([fn.sum()]))[0]
    return {"micro_f1": float(micro), "macro_f1": float(np.mean(_f1(tp, fp, fn)))}


def classification_metrics(y_true: np.ndarray, y_pred: np.ndarray, num_labels: int, multi_label: bool) -> dict[str, float]:
    """The classifier's report: accuracy and macro-F1; for multi-label also micro-F1 (the headline)."""
    if multi_label:
        return {"subset_accuracy": accuracy(y_true, y_pred), **multilabel_f1(y_true, y_pred)}
    return {"accuracy": accuracy(y_true, y_pred), "macro_f1": macro_f1(y_true, y_pred, num_labels)}


def headline_metric(multi_label: bool) -> str:
    """The one number a parity gate compares: accuracy, or micro-F1 for multi-label."""
    return "micro_f1" if multi_label else "accuracy"
