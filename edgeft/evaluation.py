"""Evaluating a loaded bundle on labelled data (used by `edgeft eval` and the benchmarks)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
from edgeft_runtime.metrics import classification_metrics

from .data import check_known_labels, read_classification
from .errors import EdgeftError


def evaluate_classifier(model, path: str | Path, *, text_column: str, label_column: str, label_separator: str) -> dict[str, Any]:
    examples = read_classification(
        path,
        text_column=text_column,
        label_column=label_column,
        multi_label=model.multi_label,
        label_separator=label_separator,
    )
    check_known_labels(examples, model.labels, path)
    index = {label: i for i, label in enumerate(model.labels)}
    start = time.perf_counter()
    probs = model.predict_proba([ex.text for ex in examples])
    seconds = time.perf_counter() - start
    if model.multi_label:
        gold = np.zeros((len(examples), len(model.labels)), dtype=np.int64)
        for row, ex in enumerate(examples):
            gold[row, [index[label] for label in ex.labels]] = 1
        pred = (probs >= model.threshold).astype(np.int64)
    else:
        gold = np.array([index[ex.labels[0]] for ex in examples])
        pred = probs.argmax(-1)
    metrics = classification_metrics(gold, pred, len(model.labels), model.multi_label)
    return {
        **{k: round(v, 6) for k, v in metrics.items()},
        "examples": len(examples),
        "variant": model.variant,
        "seconds": round(seconds, 3),
    }


def evaluate_bundle(model, path: str | Path, **columns: Any) -> dict[str, Any]:
    """Metrics of ``model`` on the labelled file ``path``, by the model's task."""
    if model.task in ("classifier", "setfit"):
        return evaluate_classifier(model, path, **columns)
    raise EdgeftError(f"edgeft eval does not support task {model.task!r} yet")
