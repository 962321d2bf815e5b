"""Task metrics as small numpy functions, shared by training, the export parity gate and ``edgeft eval``.

All scores are fractions in [0, 1]; callers multiply by 100 to report points.
"""

from __future__ import annotations

import numpy as np

# The names of the metrics in every report (training, the export gate, the reference set,
# ``edgeft eval``, bench reports): written here once, imported everywhere else.
ACCURACY = "accuracy"
MACRO_F1 = "macro_f1"
MICRO_F1 = "micro_f1"
SUBSET_ACCURACY = "subset_accuracy"
ENTITY_F1 = "entity_f1"
ENTITY_PRECISION = "entity_precision"
ENTITY_RECALL = "entity_recall"
TOP1_ACCURACY = "top1_accuracy"
TOP5_ACCURACY = "top5_accuracy"
# Embeddings against the PyTorch original's vectors of the same texts (the gate's metric: the mean).
COSINE = "cosine"
MIN_COSINE = "min_cosine"
MEDIAN_COSINE = "median_cosine"
NEIGHBOUR_AGREEMENT = "neighbour_agreement"


def in_points(scores: dict[str, float]) -> dict[str, float]:
    """Fractions -> points (0-100), rounded as every report writes them."""
    return {key: round(100 * value, 4) for key, value in scores.items()}


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
    return {MICRO_F1: float(micro), MACRO_F1: float(np.mean(_f1(tp, fp, fn)))}


def classification_metrics(y_true: np.ndarray, y_pred: np.ndarray, num_labels: int, multi_label: bool) -> dict[str, float]:
    """The classifier's report: accuracy and macro-F1; for multi-label also micro-F1 (the headline)."""
    if multi_label:
        return {SUBSET_ACCURACY: accuracy(y_true, y_pred), **multilabel_f1(y_true, y_pred)}
    return {ACCURACY: accuracy(y_true, y_pred), MACRO_F1: macro_f1(y_true, y_pred, num_labels)}


def headline_metric(multi_label: bool) -> str:
    """The one number a parity gate compares: accuracy, or micro-F1 for multi-label."""
    return MICRO_F1 if multi_label else ACCURACY


def top_k_accuracy(top_ids: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    """Fill-mask: the share of masks whose hidden token is ranked first, and among the first five.

    top_ids: (masks, 5) token ids best first; truth: (masks,) the ids the masks hide."""
    ids, truth = np.asarray(top_ids), np.asarray(truth, dtype=np.int64)
    if len(truth) == 0:
        return {TOP1_ACCURACY: 0.0, TOP5_ACCURACY: 0.0}
    return {
        TOP1_ACCURACY: float(np.mean(ids[:, 0] == truth)),
        TOP5_ACCURACY: float(np.mean(np.any(ids[:, :5] == truth[:, None], axis=1))),
    }


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise cosine similarity of two (n, dim) arrays, in float64 (a zero row: 0)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    norms = np.maximum(np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1), 1e-12)
    return np.sum(a * b, axis=1) / norms


def nearest_neighbours(vectors: np.ndarray, chunk: int = 512) -> np.ndarray:
    """For each row, the index of the most cosine-similar other row (ties: the lower index); -1 for
    a set of one. In chunks: the full similarity matrix of 5000 texts would be 200 MB."""
    x = np.asarray(vectors, dtype=np.float64)
    x = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    n = len(x)
    if n < 2:
        return np.full(n, -1, dtype=np.int64)
    out: np.ndarray = np.empty(n, dtype=np.int64)
    for start in range(0, n, chunk):
        sims = x[start : start + chunk] @ x.T
        rows = np.arange(sims.shape[0])
        sims[rows, start + rows] = -np.inf  # a text is not its own neighbour
        out[start : start + chunk] = np.argmax(sims, axis=1)
    return out


def embedding_metrics(vectors: np.ndarray, reference: np.ndarray) -> dict[str, float]:
    """Embeddings against a reference model's vectors of the same texts: mean, minimum and median
    cosine per text, and the share of texts whose nearest neighbour in the set is the reference's."""
    if len(reference) == 0:
        return {COSINE: 0.0, MIN_COSINE: 0.0, MEDIAN_COSINE: 0.0, NEIGHBOUR_AGREEMENT: 0.0}
    c = cosines(vectors, reference)
    same = nearest_neighbours(vectors) == nearest_neighbours(reference)
    return {COSINE: float(c.mean()), MIN_COSINE: float(c.min()), MEDIAN_COSINE: float(np.median(c)), NEIGHBOUR_AGREEMENT: float(same.mean())}


# --- Entity-level metrics for NER, with seqeval's conventions (default mode) -------------------
#
# seqeval 1.2.2 (``seqeval.metrics.f1_score`` etc. without ``mode="strict"``) extracts chunks with
# ``get_entities`` and compares them as (type, start, end) sets. ``tag_entities`` reproduces that
# extraction; ``entity_scores`` compares entity sets, whether their positions are word indices or
# character offsets. tests/test_ner_metrics.py checks both against seqeval itself.


def _split_tag(tag: str) -> tuple[str, str]:
    """``"B-PER"`` -> ``("B", "PER")``; ``"O"`` -> ``("O", "_")`` (seqeval's reading of the prefix)."""
    return tag[0], tag[1:].split("-", maxsplit=1)[-1] or "_"


def _end_of_chunk(prev_tag: str, tag: str, prev_type: str, type_: str) -> bool:
    if prev_tag in ("E", "S"):
        return True
    if prev_tag in ("B", "I") and tag in ("B", "S", "O"):
        return True
    return prev_tag not in ("O", ".") and prev_type != type_


def _start_of_chunk(prev_tag: str, tag: str, prev_type: str, type_: str) -> bool:
    if tag in ("B", "S"):
        return True
    if prev_tag in ("E", "S", "O") and tag in ("E", "I"):
        return True
    return tag not in ("O", ".") and prev_type != type_


def tag_entities(tags: list[str]) -> list[tuple[str, int, int]]:
    """Entities of one tag sequence as ``(type, first, last)`` with inclusive indices.

    Same chunking as seqeval's ``get_entities`` in its default (lenient) mode: an ``I-X`` after
    ``O`` or after another type starts a new entity, a change of type ends one.
    """
    chunks: list[tuple[str, int, int]] = []
    prev_tag, prev_type, begin = "O", "", 0
    for i, chunk in enumerate(list(tags) + ["O"]):
        tag, type_ = _split_tag(chunk)
        if _end_of_chunk(prev_tag, tag, prev_type, type_):
            chunks.append((prev_type, begin, i - 1))
        if _start_of_chunk(prev_tag, tag, prev_type, type_):
            begin = i
        prev_tag, prev_type = tag, type_
    return chunks


def entity_scores(gold: list, pred: list) -> dict:
    """Entity-level precision, recall and F1: micro-averaged and per type (fractions in [0, 1]).

    gold, pred: one collection of entities per sentence; an entity is ``(type, start, end)`` with
    any consistent positions (tag indices or character offsets). An entity counts as found only
    when type and both boundaries match exactly. Zero denominators give 0, as seqeval reports.
    """
    if len(gold) != len(pred):
        raise ValueError(f"gold has {len(gold)} sentences, predictions {len(pred)}")
    true_by_type: dict[str, set] = {}
    pred_by_type: dict[str, set] = {}
    for sentence, (g, p) in enumerate(zip(gold, pred)):
        for type_, start, end in g:
            true_by_type.setdefault(type_, set()).add((sentence, start, end))
        for type_, start, end in p:
            pred_by_type.setdefault(type_, set()).add((sentence, start, end))

    def prf(tp: int, n_pred: int, n_true: int) -> dict:
        precision = tp / n_pred if n_pred else 0.0
        recall = tp / n_true if n_true else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        return {"precision": precision, "recall": recall, "f1": f1, "support": n_true}

    per_type = {}
    totals = [0, 0, 0]
    for type_ in sorted(set(true_by_type) | set(pred_by_type)):
        t, p = true_by_type.get(type_, set()), pred_by_type.get(type_, set())
        per_type[type_] = prf(len(t & p), len(p), len(t))
        totals[0] += len(t & p)
        totals[1] += len(p)
        totals[2] += len(t)
    micro = prf(*totals)
    return {**micro, "per_type": per_type}


def entity_metrics(report: dict) -> dict[str, float]:
    """An ``entity_scores`` report as the named metrics every NER report carries (fractions)."""
    return {ENTITY_PRECISION: report["precision"], ENTITY_RECALL: report["recall"], ENTITY_F1: report["f1"]}


def tag_scores(y_true: list[list[str]], y_pred: list[list[str]]) -> dict:
    """``entity_scores`` over tag sequences (IOB2, IOB1 or BIOES): seqeval's default-mode report."""
    if any(len(t) != len(p) for t, p in zip(y_true, y_pred)):
        raise ValueError("every predicted sequence must have as many tags as its gold sequence")
    return entity_scores([tag_entities(t) for t in y_true], [tag_entities(p) for p in y_pred])
