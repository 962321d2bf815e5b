"""The reference set a bundle carries: held-out texts, their gold targets, and the PyTorch
original's answers on them, so that any device can check the bundle without torch
(``edgeft_runtime.check``).

The answers are stored as *observations*: what this module computes from a model's raw outputs,
by the same functions at export (from PyTorch's outputs) and on the device (from the bundle's).
So the device compares like with like, and computes PyTorch's metric on the same examples with
the same code as its own.

Per task (arrays are ``.npy`` files, loaded with ``allow_pickle=False``; the rest is JSON):

- classifier, setfit: ``probabilities`` (texts, labels) float32 and the decided ``labels``
  (texts,) int64, or a 0/1 (texts, labels) matrix for multi-label; gold: label indices or 0/1 rows.
- ner: ``word_probabilities`` (words of every text, labels) float32 with the bundle's sub-word
  aggregation, ``word_counts`` (texts,) int64, and ``entities`` (JSON: per text
  ``[[type, start, end], ...]``, character offsets); gold: the annotated spans, same form.
- fill-mask: ``top_ids`` and ``top_probabilities`` (masks, 5) of every mask token in order,
  ``mask_counts`` (texts,) int64; gold: the token id each mask hides.

On disk: ``reference/texts.json`` (``{"texts", "gold", ...JSON observations}``) and
``reference/<name>.npy``; the manifest's ``reference`` entry names them, and ``files`` lists them
with their sha256 like every other file.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from .constants import MANIFEST_FILE, REFERENCE_DIR, REFERENCE_TEXTS_FILE, TASK_CLASSIFIER, TASK_FILL_MASK, TASK_NER, TASK_SETFIT
from .errors import BundleError
from .ops import decisions, softmax, top_k_ids

TOP_K = 5  # fill-mask: how many of PyTorch's best tokens per mask are kept
_CHUNK = 256  # fill-mask: masks turned into probabilities at a time

# What "max |output difference|" compares, per task (said in reports).
COMPARED = {
    TASK_CLASSIFIER: "class probabilities",
    TASK_SETFIT: "class probabilities",
    TASK_NER: "per-word label probabilities",
    TASK_FILL_MASK: f"probabilities of PyTorch's top-{TOP_K} tokens at each mask",
}
# What one unit of label agreement is, per task.
AGREEMENT_UNIT = {TASK_CLASSIFIER: "text", TASK_SETFIT: "text", TASK_NER: "word", TASK_FILL_MASK: "mask (top-1)"}


@dataclass
class ReferenceSet:
    """Texts, gold targets (None where the data had none) and the reference's observations."""

    task: str
    texts: list[str]
    gold: Any
    observed: dict[str, Any]
    info: dict[str, Any] = field(default_factory=dict)  # the manifest's ``reference`` entry

    def __len__(self) -> int:
        return len(self.texts)

    def head(self, n: int) -> "ReferenceSet":
        """The first ``n`` examples (a shorter check, e.g. on a slow device or under emulation)."""
        if n >= len(self):
            return self
        obs, gold = dict(self.observed), self.gold
        if self.task == TASK_NER:
            words = int(np.sum(obs["word_counts"][:n]))
            obs.update(word_probabilities=obs["word_probabilities"][:words], word_counts=obs["word_counts"][:n], entities=obs["entities"][:n])
        elif self.task == TASK_FILL_MASK:
            masks = int(np.sum(obs["mask_counts"][:n]))
            obs.update(top_ids=obs["top_ids"][:masks], top_probabilities=obs["top_probabilities"][:masks], mask_counts=obs["mask_counts"][:n])
            gold = gold[:masks] if gold is not None else None
        else:
            obs.update(probabilities=obs["probabilities"][:n], labels=obs["labels"][:n])
        if gold is not None and self.task != TASK_FILL_MASK:
            gold = gold[:n]
        # The exporting machine's figures are for the whole set, not for its first n examples.
        info = {key: value for key, value in self.info.items() if key != "exporter"}
        return ReferenceSet(self.task, self.texts[:n], gold, obs, {**info, "samples": n})


# --- Observations: raw outputs -> what the reference set stores -------------------------------


def classifier_observation(probabilities: np.ndarray, multi_label: bool, threshold: float) -> dict[str, Any]:
    """Class probabilities and the labels the runtime decides from them (``Classifier.predict``'s rule)."""
    probs = np.asarray(probabilities, dtype=np.float32)
    return {"probabilities": probs, "labels": decisions(probs, multi_label, threshold)}


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


def observe(model: Any, texts: Sequence[str], reference: ReferenceSet | None = None) -> dict[str, Any]:
    """A loaded bundle model's observations on ``texts``, as the reference set stores them."""
    task = model.task
    if task in (TASK_CLASSIFIER, TASK_SETFIT):
        return classifier_observation(model.predict_proba(list(texts)), model.multi_label, model.threshold)
    if task == TASK_NER:
        tokens, logits = model.token_logits(list(texts))
        return ner_observation(texts, tokens, logits, model.labels, model.aggregation)
    if task == TASK_FILL_MASK:
        at = reference.observed["top_ids"] if reference is not None else None
        return fill_mask_observation(model.mask_logits(list(texts)), at)
    raise BundleError(f"{model.bundle_dir}: task {task!r} has no reference-set check in this runtime")


# --- Scores: observations against gold, and against each other -------------------------------


def scores(task: str, observed: dict[str, Any], gold: Any, num_labels: int, multi_label: bool) -> dict[str, Any]:
    """The task's metrics in points (the same figures the export gate reports), from observations."""
    from . import metrics

    if task in (TASK_CLASSIFIER, TASK_SETFIT):
        return metrics.in_points(metrics.classification_metrics(np.asarray(gold), observed["labels"], num_labels, multi_label))
    if task == TASK_NER:
        gold_spans = [[tuple(e) for e in text] for text in gold]
        found = [[tuple(e) for e in text] for text in observed["entities"]]
        return metrics.in_points(metrics.entity_metrics(metrics.entity_scores(gold_spans, found)))
    if task == TASK_FILL_MASK:
        return metrics.in_points(metrics.top_k_accuracy(observed["top_ids"], gold))
    raise BundleError(f"task {task!r} has no reference-set metrics in this runtime")


def headline(task: str, multi_label: bool) -> str:
    """The metric the limits apply to (the export gate's)."""
    from .metrics import ENTITY_F1, TOP1_ACCURACY, headline_metric

    return {TASK_NER: ENTITY_F1, TASK_FILL_MASK: TOP1_ACCURACY}.get(task) or headline_metric(multi_label)


def agreement_and_difference(task: str, reference: dict[str, Any], observed: dict[str, Any]) -> tuple[float, float]:
    """(share of labels equal to the reference's, max |output difference| in ``COMPARED[task]``)."""
    if task in (TASK_CLASSIFIER, TASK_SETFIT):
        a, b = reference["labels"], observed["labels"]
        same = np.all(a == b, axis=1) if a.ndim == 2 else a == b
        diff = _max_abs(reference["probabilities"], observed["probabilities"])
    elif task == TASK_NER:
        a, b = reference["word_probabilities"], observed["word_probabilities"]
        if a.shape != b.shape:
            raise BundleError(f"the reference set has {len(a)} words but this runtime splits the texts into {len(b)}; re-export the bundle")
        same = a.argmax(-1) == b.argmax(-1) if len(a) else np.ones(0, bool)
        diff = _max_abs(a, b)
    else:
        same = reference["top_ids"][:, 0] == observed["top_ids"][:, 0] if len(reference["top_ids"]) else np.ones(0, bool)
        diff = _max_abs(reference["top_probabilities"], observed["probabilities_at"])
    return (float(np.mean(same)) if len(same) else 1.0), diff


def _max_abs(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.max(np.abs(a.astype(np.float64) - b.astype(np.float64)))) if np.size(a) else 0.0


# --- Files -------------------------------------------------------------------------------------


def save_reference(folder: str | Path, task: str, texts: Sequence[str], gold: Any, observed: dict[str, Any], info: dict[str, Any]) -> dict[str, Any]:
    """Write the reference set into a bundle folder being built; return the manifest's ``reference`` entry.

    info: what else the entry says (where the texts came from, the metric, the limits).
    """
    folder = Path(folder)
    (folder / REFERENCE_DIR).mkdir(exist_ok=True)
    arrays = {k: v for k, v in observed.items() if isinstance(v, np.ndarray)}
    document = {"texts": list(texts), "gold": _jsonable(gold), **{k: v for k, v in observed.items() if k not in arrays}}
    (folder / REFERENCE_TEXTS_FILE).write_text(json.dumps(document, ensure_ascii=False) + "\n", encoding="utf-8")
    files = {}
    for name, array in arrays.items():
        rel = f"{REFERENCE_DIR}/{name}.npy"
        np.save(folder / rel, np.ascontiguousarray(array), allow_pickle=False)
        files[name] = rel
    return {"task": task, "samples": len(texts), "texts": REFERENCE_TEXTS_FILE, "arrays": files, "gold": gold is not None, **info}


def _jsonable(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, np.ndarray):
        return value.tolist()
    return [_jsonable(v) if isinstance(v, np.ndarray) else v for v in value]


def reference_files(entry: dict[str, Any]) -> list[str]:
    """Every file a manifest's ``reference`` entry names."""
    return [entry["texts"], *entry.get("arrays", {}).values()]


def load_reference(bundle_dir: str | Path, manifest: dict[str, Any]) -> ReferenceSet | None:
    """The bundle's reference set, its files verified against the manifest; None when it has none."""
    from .manifest import verify_file

    entry = manifest.get("reference")
    if not entry:
        return None
    bundle_dir = Path(bundle_dir)
    where = bundle_dir / MANIFEST_FILE
    try:
        texts_path = verify_file(bundle_dir, entry["texts"], manifest)
        document = json.loads(texts_path.read_text(encoding="utf-8"))
        observed: dict[str, Any] = {k: v for k, v in document.items() if k not in ("texts", "gold")}
        for name, rel in entry.get("arrays", {}).items():
            data = verify_file(bundle_dir, rel, manifest).read_bytes()
            observed[name] = np.load(io.BytesIO(data), allow_pickle=False)
    except (KeyError, TypeError, AttributeError) as e:
        raise BundleError(f"{where}: field 'reference' is malformed ({e!r}); re-export the bundle or strip the reference set") from None
    except (ValueError, json.JSONDecodeError, UnicodeDecodeError) as e:
        raise BundleError(f"{where}: a reference-set file cannot be read ({e}); re-export the bundle") from None
    texts = document.get("texts")
    if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
        raise BundleError(f"{bundle_dir / entry['texts']}: 'texts' is not a list of strings; re-export the bundle")
    reference = ReferenceSet(manifest["task"], texts, document.get("gold"), observed, dict(entry))
    _check_shapes(reference, where)
    return reference


def _check_shapes(ref: ReferenceSet, where: Path) -> None:
    """Refuse a reference set whose parts do not fit together (a damaged or hand-edited bundle)."""
    n, obs = len(ref), ref.observed
    expected: dict[str, tuple[str, int]] = {
        TASK_CLASSIFIER: ("probabilities", n),
        TASK_SETFIT: ("probabilities", n),
        TASK_NER: ("word_counts", n),
        TASK_FILL_MASK: ("mask_counts", n),
    }
    key, rows = expected.get(ref.task, ("", -1))
    if key not in obs or len(obs[key]) != rows:
        raise BundleError(f"{where}: the reference set's {key or 'task'} does not match its {n} texts; re-export the bundle")
    if ref.task == TASK_NER and (int(np.sum(obs["word_counts"])) != len(obs["word_probabilities"]) or len(obs["entities"]) != n):
        raise BundleError(f"{where}: the reference set's word counts do not match its word probabilities; re-export the bundle")
    if ref.task == TASK_FILL_MASK and int(np.sum(obs["mask_counts"])) != len(obs["top_ids"]):
        raise BundleError(f"{where}: the reference set's mask counts do not match its top tokens; re-export the bundle")
    if ref.gold is not None and ref.task != TASK_FILL_MASK and len(ref.gold) != n:
        raise BundleError(f"{where}: the reference set has {len(ref.gold)} gold targets for {n} texts; re-export the bundle")
