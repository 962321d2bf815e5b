"""Evaluating a loaded bundle on labelled data (used by `edgeft eval` and the benchmarks)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
from edgeft_runtime.metrics import classification_metrics
from edgeft_runtime.ops import decisions

from .data.classification import check_known_labels, read_classification
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
    else:
        gold = np.array([index[ex.labels[0]] for ex in examples])
    pred = decisions(probs, model.multi_label, model.threshold)
    metrics = classification_metrics(gold, pred, len(model.labels), model.multi_label)
    return {
        **{k: round(v, 6) for k, v in metrics.items()},
        "examples": len(examples),
        "variant": model.variant,
        "seconds": round(seconds, 3),
    }


def evaluate_ner(model, path: str | Path, *, scheme: str = "auto", repair: bool = False, aggregation: str | None = None) -> dict[str, Any]:
    """Entity-level precision/recall/F1 (micro and per type) of a NER bundle on a tagged file.

    The file's sentences are joined into text as at training (the bundle's ``ner.join``), tagged
    from raw text, and compared as character spans (type and both boundaries must match).
    """
    from edgeft_runtime.metrics import entity_metrics, entity_scores
    from edgeft_runtime.ner import entity_tuples

    from .data.ner import check_known_types, read_ner

    settings = model.manifest.get("ner") or {}
    examples = read_ner(path, scheme=scheme, join=settings.get("join") or "auto", repair=repair).examples
    check_known_types(examples, sorted({label[2:] for label in model.labels if label != "O"}), path)
    start = time.perf_counter()
    predicted = model.tag([ex.text for ex in examples], aggregation=aggregation)
    seconds = time.perf_counter() - start
    report = entity_scores([[(t, s, e) for s, e, t in ex.spans] for ex in examples], [entity_tuples(p) for p in predicted])
    rounded = {t: {k: round(v, 6) if isinstance(v, float) else v for k, v in r.items()} for t, r in report["per_type"].items()}
    return {
        **{k: round(v, 6) for k, v in entity_metrics(report).items()},
        "per_type": rounded,
        "entities": report["support"],
        "examples": len(examples),
        "aggregation": aggregation or model.aggregation,
        "word_split": model.word_split,
        "variant": model.variant,
        "seconds": round(seconds, 3),
    }


def evaluate_bundle(model, path: str | Path, *, scheme: str = "auto", repair: bool = False, aggregation: str | None = None, **columns: Any) -> dict[str, Any]:
    """Metrics of ``model`` on the labelled file ``path``, by the model's task.

    scheme / repair / aggregation apply to NER bundles; ``columns`` (text_column, label_column,
    label_separator) to classifiers.
    """
    if model.task in ("classifier", "setfit"):
        return evaluate_classifier(model, path, **columns)
    if model.task == "ner":
        return evaluate_ner(model, path, scheme=scheme, repair=repair, aggregation=aggregation)
    raise EdgeftError(f"edgeft eval does not support task {model.task!r} yet")
