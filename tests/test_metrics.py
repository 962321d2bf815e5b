"""The shared metric functions against hand-computed values and scikit-learn."""

from __future__ import annotations

import numpy as np
import pytest
from edgeft_runtime.metrics import accuracy, classification_metrics, macro_f1, multilabel_f1


def test_single_label_against_hand_values():
    y_true = np.array([0, 0, 1, 1, 2])
    y_pred = np.array([0, 1, 1, 1, 0])
    assert accuracy(y_true, y_pred) == pytest.approx(0.6)
    # per-class F1: class0 2*1/(2+1+1)=0.5, class1 2*2/(4+1+0)=0.8, class2 0
    assert macro_f1(y_true, y_pred, 3) == pytest.approx((0.5 + 0.8 + 0.0) / 3)


def test_matches_sklearn_on_random_data():
    from sklearn.metrics import f1_score

    rng = np.random.default_rng(0)
    t, p = rng.integers(0, 4, 200), rng.integers(0, 4, 200)
    assert macro_f1(t, p, 4) == pytest.approx(f1_score(t, p, average="macro"))
    tm, pm = rng.integers(0, 2, (100, 5)), rng.integers(0, 2, (100, 5))
    scores = multilabel_f1(tm, pm)
    assert scores["micro_f1"] == pytest.approx(f1_score(tm, pm, average="micro"))
    assert scores["macro_f1"] == pytest.approx(f1_score(tm, pm, average="macro", zero_division=0))


def test_multilabel_report_has_subset_accuracy():
    t = np.array([[1, 0], [1, 1]])
    p = np.array([[1, 0], [1, 0]])
    report = classification_metrics(t, p, 2, multi_label=True)
    assert report["subset_accuracy"] == 0.5
    assert report["micro_f1"] == pytest.approx(2 * 2 / (2 * 2 + 0 + 1))
