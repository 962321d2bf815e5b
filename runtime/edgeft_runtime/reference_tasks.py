"""What the reference set stores and compares, one object per bundle task (a small registry).

Each ``ReferenceTask`` turns a model's outputs into *observations* (the same functions at export,
from PyTorch's outputs, and on the device, from the bundle's), scores observations against gold
targets, compares two sets of observations (label agreement, max |difference| of probabilities),
cuts a set to its first texts and says when its parts do not fit together. ``edgeft_runtime.check``
and the export gate reach a task only through ``task_of``; a new bundle task adds one class here.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from . import metrics
from .constants import TASK_CLASSIFIER, TASK_EMBEDDING, TASK_FILL_MASK, TASK_NER, TASK_SETFIT
from .errors import BundleError
from .ops import agreement, decisions, l2_normalize, max_abs_diff, softmax, top_k_ids

TOP_K = 5  # fill-mask: how many of PyTorch's best tokens per mask are kept
_CHUNK = 256  # fill-mask: masks turned into probabilities at a time


class ReferenceTask:
    """One bundle task's part of the reference set."""

    name: str
    compared: str  # what "max |output difference|" compares (said in reports)
    agreement_unit: str  # what one unit of label agreement is
    per_text: str  # the observation with one entry per text
    # Every observation the check reads -> its form: "probabilities" (floats in 0..1), "ids" (ints
    # >= 0, of rank 1 or 2), "lists" (a JSON list per text), "vectors" (finite floats, one row per text).
    fields: dict[str, str] = {}

    def observe(self, model: Any, texts: Sequence[str], reference: Any = None) -> dict[str, Any]:
        """A loaded bundle model's observations on ``texts`` (``reference``: the set they are compared with)."""
        raise NotImplementedError

    def scores(self, observed: dict[str, Any], gold: Any, num_labels: int, multi_label: bool) -> dict[str, Any]:
        """The task's metrics in points (the figures the export gate reports), from observations."""
        raise NotImplementedError

    def headline(self, multi_label: bool) -> str:
        """The metric the limits apply to (the export gate's)."""
        raise NotImplementedError

    def agreement_and_difference(self, reference: dict[str, Any], observed: dict[str, Any]) -> tuple[float, float]:
        """(share of labels equal to the reference's, max |difference| of what ``compared`` names)."""
        raise NotImplementedError

    def head(self, observed: dict[str, Any], gold: Any, n: int) -> tuple[dict[str, Any], Any]:
        """Observations and gold targets of the first ``n`` texts."""
        obs = {key: value[:n] for key, value in observed.items()}
        return obs, None if gold is None else gold[:n]

    def gold_of(self, reference: Any) -> Any:
        """What a model's observations are scored against on the set ``reference``: its gold targets
        (None: the data had none, and only agreement and difference are checked)."""
        return reference.gold

    def misfit(self, observed: dict[str, Any], gold: Any, n: int) -> str | None:
        """What in a set of ``n`` texts is missing, out of range or does not fit together (a damaged
        or hand-edited bundle), or None."""
        wrong = _field_problem(self.fields, observed) or self.gold_problem(observed, gold)
        if wrong:
            return wrong
        if self.per_text not in observed or len(observed[self.per_text]) != n:
            return f"the reference set's {self.per_text} does not match its {n} texts"
        if gold is not None and len(gold) != n:
            return f"the reference set has {len(gold)} gold targets for {n} texts"
        return None


    def gold_problem(self, observed: dict[str, Any], gold: Any) -> str | None:
        """What is wrong with the gold targets' values (the task knows their form), or None."""
        return None


def _field_problem(fields: dict[str, str], observed: dict[str, Any]) -> str | None:
    missing = [key for key in fields if key not in observed]
    if missing:
        return f"the reference set has no {', '.join(repr(k) for k in missing)}"
    for key, form in fields.items():
        value = observed[key]
        if form == "lists":
            if not isinstance(value, list) or not all(isinstance(v, list) for v in value):
                return f"the reference set's {key!r} is not a list per text"
            continue
        if not isinstance(value, np.ndarray) or value.ndim not in (1, 2) or value.dtype.kind not in ("iu" if form == "ids" else "f"):
            return f"the reference set's {key!r} is not an array of {form}"
        if value.size and form == "probabilities" and not (np.isfinite(value).all() and value.min() >= -1e-4 and value.max() <= 1 + 1e-4):
            return f"the reference set's {key!r} holds values outside 0..1 (or nan)"
        if value.size and form == "vectors" and (value.ndim != 2 or not np.isfinite(value).all()):
            return f"the reference set's {key!r} is not a finite vector per text"
        if value.size and form == "ids" and value.min() < 0:
            return f"the reference set's {key!r} holds negative counts or ids"
    return None


def _labels_problem(gold: Any, width: int | None) -> str | None:
    """Gold as label indices below ``width`` or 0/1 rows of that width (``width`` None: token ids)."""
    if not isinstance(gold, list):
        return "the reference set's gold targets are not a list"
    for item in gold:
        if isinstance(item, (list, np.ndarray)):
            item = list(item)
            if width is None or len(item) != width or any(v not in (0, 1) for v in item):
                return f"the reference set's gold targets hold a row {item!r:.40} that is not {width} zeros and ones"
        elif not isinstance(item, (int, np.integer)) or isinstance(item, bool) or item < 0 or (width is not None and item >= width):
            return f"the reference set's gold targets hold {item!r:.40}, not a label index" + (f" below {width}" if width is not None else "")
    return None


def classifier_observation(probabilities: np.ndarray, multi_label: bool, threshold: float) -> dict[str, Any]:
    """Class probabilities and the labels the runtime decides from them (``Classifier.predict``'s rule)."""
    probs = np.asarray(probabilities, dtype=np.float32)
    return {"probabilities": probs, "labels": decisions(probs, multi_label, threshold)}


class Classes(ReferenceTask):
    """Text classification (the supervised classifier and SetFit): ``probabilities`` (texts,
    labels) float32 and the decided ``labels`` (texts,) int64, or 0/1 rows for multi-label."""

    compared = "class probabilities"
    agreement_unit = "text"
    per_text = "probabilities"
    fields = {"probabilities": "probabilities", "labels": "ids"}

    def gold_problem(self, observed: dict[str, Any], gold: Any) -> str | None:
        return None if gold is None else _labels_problem(gold, observed["probabilities"].shape[-1])

    def __init__(self, name: str):
        self.name = name

    def observe(self, model: Any, texts: Sequence[str], reference: Any = None) -> dict[str, Any]:
        return classifier_observation(model.predict_proba(list(texts)), model.multi_label, model.threshold)

    def scores(self, observed: dict[str, Any], gold: Any, num_labels: int, multi_label: bool) -> dict[str, Any]:
        return metrics.in_points(metrics.classification_metrics(np.asarray(gold), observed["labels"], num_labels, multi_label))

    def headline(self, multi_label: bool) -> str:
        return metrics.headline_metric(multi_label)

    def agreement_and_difference(self, reference: dict[str, Any], observed: dict[str, Any]) -> tuple[float, float]:
        return agreement(reference["labels"], observed["labels"]), max_abs_diff(reference["probabilities"], observed["probabilities"])


def ner_observation(texts: Sequence[str], tokens: Sequence[Any], token_logits: Sequence[np.ndarray], labels: Sequence[str], aggregation: str) -> dict[str, Any]:
    """Per-word probabilities (the bundle's aggregation), word counts and entities with offsets.

    tokens: ``ner.TextTokens`` of each text; token_logits: each text's merged per-token logits.
    """
    from . import ner

    words = [ner.word_scores(lg, tok.words, aggregation) for tok, lg in zip(tokens, token_logits)]
    entities = [
        [[e["entity"], e["start"], e["end"]] for e in ner.tag_text(text, tok, lg, list(labels), aggregation)]
        for text, tok, lg in zip(texts, tokens, token_logits)
    ]
    width = len(labels)
    return {
        "word_probabilities": np.concatenate(words).astype(np.float32) if words else np.zeros((0, width), np.float32),
        "word_counts": np.asarray([len(w) for w in words], dtype=np.int64),
        "entities": entities,
    }


class Words(ReferenceTask):
    """NER: ``word_probabilities`` (words of every text, labels) float32 with the bundle's sub-word
    aggregation, ``word_counts`` (texts,) int64, and ``entities`` (per text ``[[type, start, end],
    ...]``, character offsets); gold: the annotated spans in the same form."""

    name = TASK_NER
    compared = "per-word label probabilities"
    agreement_unit = "word"
    per_text = "word_counts"
    fields = {"word_probabilities": "probabilities", "word_counts": "ids", "entities": "lists"}

    def observe(self, model: Any, texts: Sequence[str], reference: Any = None) -> dict[str, Any]:
        tokens, logits = model.token_logits(list(texts))
        return ner_observation(texts, tokens, logits, model.labels, model.aggregation)

    def scores(self, observed: dict[str, Any], gold: Any, num_labels: int, multi_label: bool) -> dict[str, Any]:
        gold_spans = [[tuple(e) for e in text] for text in gold]
        found = [[tuple(e) for e in text] for text in observed["entities"]]
        return metrics.in_points(metrics.entity_metrics(metrics.entity_scores(gold_spans, found)))

    def headline(self, multi_label: bool) -> str:
        return metrics.ENTITY_F1

    def agreement_and_difference(self, reference: dict[str, Any], observed: dict[str, Any]) -> tuple[float, float]:
        a, b = reference["word_probabilities"], observed["word_probabilities"]
        if a.shape != b.shape:
            raise BundleError(f"the reference set has {len(a)} words but this runtime splits the texts into {len(b)}; re-export the bundle")
        return agreement(a.argmax(-1), b.argmax(-1)), max_abs_diff(a, b)

    def head(self, observed: dict[str, Any], gold: Any, n: int) -> tuple[dict[str, Any], Any]:
        words = int(np.sum(observed["word_counts"][:n]))
        obs = {**observed, "word_probabilities": observed["word_probabilities"][:words], "word_counts": observed["word_counts"][:n], "entities": observed["entities"][:n]}
        return obs, None if gold is None else gold[:n]

    def misfit(self, observed: dict[str, Any], gold: Any, n: int) -> str | None:
        wrong = super().misfit(observed, gold, n)
        if wrong is None and (int(np.sum(observed["word_counts"])) != len(observed["word_probabilities"]) or len(observed["entities"]) != n):
            return "the reference set's word counts do not match its word probabilities"
        return wrong


def fill_mask_observation(mask_logits: Sequence[np.ndarray], at_ids: np.ndarray | None = None) -> dict[str, Any]:
    """Top-k token ids and probabilities at every mask (texts in order, masks left to right).

    mask_logits: per text, its (masks, vocab) logits. at_ids: (masks, k) token ids at which to
    also report this model's probabilities (the reference's top tokens, for the output difference).
    """
    counts = np.asarray([len(m) for m in mask_logits], dtype=np.int64)
    rows = [m for m in mask_logits if len(m)]
    logits = np.concatenate(rows) if rows else np.zeros((0, TOP_K), np.float32)
    ids: np.ndarray = np.zeros((len(logits), TOP_K), np.int64)
    top: np.ndarray = np.zeros((len(logits), TOP_K), np.float32)
    at: np.ndarray | None = None
    wanted: np.ndarray = np.zeros((0, TOP_K), np.int64)
    if at_ids is not None:
        wanted, at = np.asarray(at_ids, dtype=np.int64), np.zeros((len(logits), TOP_K), np.float32)
    # A few hundred masks at a time: the probabilities of every mask at once, in float64, would
    # take twice the memory of the logits (a 30k vocabulary: 240 kB per mask).
    for start in range(0, len(logits), _CHUNK):
        part = slice(start, start + _CHUNK)
        probs = softmax(logits[part].astype(np.float64), axis=-1)
        ids[part] = top_k_ids(probs, TOP_K)
        top[part] = np.take_along_axis(probs, ids[part], axis=-1)
        if at is not None:
            at[part] = np.take_along_axis(probs, wanted[part], axis=-1)
    out = {"top_ids": ids, "top_probabilities": top, "mask_counts": counts}
    return out if at is None else {**out, "probabilities_at": at}


class Masks(ReferenceTask):
    """Fill-mask: ``top_ids`` and ``top_probabilities`` (masks, 5) of every mask token in order,
    ``mask_counts`` (texts,) int64; gold: the token id each mask hides."""

    name = TASK_FILL_MASK
    compared = f"probabilities of PyTorch's top-{TOP_K} tokens at each mask"
    agreement_unit = "mask (top-1)"
    per_text = "mask_counts"
    fields = {"top_ids": "ids", "top_probabilities": "probabilities", "mask_counts": "ids"}

    def gold_problem(self, observed: dict[str, Any], gold: Any) -> str | None:
        return None if gold is None else _labels_problem(list(gold), None)

    def observe(self, model: Any, texts: Sequence[str], reference: Any = None) -> dict[str, Any]:
        at = reference.observed["top_ids"] if reference is not None else None
        return fill_mask_observation(model.mask_logits(list(texts)), at)

    def scores(self, observed: dict[str, Any], gold: Any, num_labels: int, multi_label: bool) -> dict[str, Any]:
        return metrics.in_points(metrics.top_k_accuracy(observed["top_ids"], gold))

    def headline(self, multi_label: bool) -> str:
        return metrics.TOP1_ACCURACY

    def agreement_and_difference(self, reference: dict[str, Any], observed: dict[str, Any]) -> tuple[float, float]:
        top1 = agreement(reference["top_ids"][:, 0], observed["top_ids"][:, 0])
        return top1, max_abs_diff(reference["top_probabilities"], observed["probabilities_at"])

    def head(self, observed: dict[str, Any], gold: Any, n: int) -> tuple[dict[str, Any], Any]:
        masks = int(np.sum(observed["mask_counts"][:n]))
        obs = {**observed, "top_ids": observed["top_ids"][:masks], "top_probabilities": observed["top_probabilities"][:masks], "mask_counts": observed["mask_counts"][:n]}
        return obs, None if gold is None else gold[:masks]

    def misfit(self, observed: dict[str, Any], gold: Any, n: int) -> str | None:
        # Gold here is one token id per mask, not per text.
        wrong = super().misfit(observed, None, n) or self.gold_problem(observed, gold)
        if wrong is None and int(np.sum(observed["mask_counts"])) != len(observed["top_ids"]):
            return "the reference set's mask counts do not match its top tokens"
        return wrong


class Vectors(ReferenceTask):
    """Sentence embeddings: ``embeddings`` (texts, dim) float32, unit length, as ``embed`` returns
    them. There are no gold labels: a vector's target is PyTorch's vector of the same text, so the
    metric is the cosine to it (mean, min, median, in points) and agreement is nearest-neighbour
    agreement (each text's most similar other text in the set is PyTorch's)."""

    name = TASK_EMBEDDING
    compared = "cosine distance (1 - cosine) to PyTorch's vector"
    agreement_unit = "text (nearest neighbour)"
    per_text = "embeddings"
    fields = {"embeddings": "vectors"}

    def observe(self, model: Any, texts: Sequence[str], reference: Any = None) -> dict[str, Any]:
        return embedding_observation(model.embed(list(texts)))

    def gold_of(self, reference: Any) -> Any:
        return reference.observed["embeddings"]

    def scores(self, observed: dict[str, Any], gold: Any, num_labels: int, multi_label: bool) -> dict[str, Any]:
        return metrics.in_points(metrics.embedding_metrics(observed["embeddings"], np.asarray(gold)))

    def headline(self, multi_label: bool) -> str:
        return metrics.COSINE

    def agreement_and_difference(self, reference: dict[str, Any], observed: dict[str, Any]) -> tuple[float, float]:
        a, b = reference["embeddings"], observed["embeddings"]
        if a.shape != b.shape:
            raise BundleError(f"the reference set has vectors of shape {a.shape} but this model gives {b.shape}; re-export the bundle")
        same = agreement(metrics.nearest_neighbours(a), metrics.nearest_neighbours(b))
        return same, float(np.max(1.0 - metrics.cosines(a, b))) if len(a) else 0.0


def embedding_observation(vectors: np.ndarray) -> dict[str, Any]:
    """Vectors as ``embed`` returns them (unit length, float32)."""
    return {"embeddings": l2_normalize(np.asarray(vectors, dtype=np.float64)).astype(np.float32)}


TASKS: dict[str, ReferenceTask] = {
    TASK_CLASSIFIER: Classes(TASK_CLASSIFIER), TASK_SETFIT: Classes(TASK_SETFIT), TASK_NER: Words(), TASK_FILL_MASK: Masks(), TASK_EMBEDDING: Vectors(),
}


def task_of(name: str, where: Any = None) -> ReferenceTask:
    """The reference-set knowledge of bundle task ``name``; BundleError (naming ``where``) when none."""
    task = TASKS.get(name)
    if task is None:
        raise BundleError(f"{where or 'bundle'}: task {name!r} has no reference-set check in this runtime")
    return task
