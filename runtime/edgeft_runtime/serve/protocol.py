"""What a request may say and what the answer looks like, per task, with no HTTP in it.

Classifiers and embeddings follow Hugging Face text-embeddings-inference (TEI), so its clients
work unchanged: ``POST /predict {"inputs": "text"}`` answers every label with its probability,
best first (a list of such lists for a list of texts); ``POST /embed`` answers one vector per
text. NER and fill-mask answer with the runtime's own fields (``Tagger.tag``,
``FillMask.fill_mask``). Errors are TEI's body, ``{"error": ..., "error_type": ...}``, plus
``field`` naming the part of the request at fault.

Differences from TEI: a flat list of two strings is two texts here (TEI reads it as a text pair,
which single-text bundles cannot take); ``truncate`` is accepted but texts are always cut at the
bundle's ``max_length`` (right side), as the bundle was exported and checked.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from ..base import text_problem
from ..constants import TASK_CLASSIFIER, TASK_EMBEDDING, TASK_FILL_MASK, TASK_NER, TASK_SETFIT
from ..ops import l2_normalize

CLASSIFIER_TASKS = (TASK_CLASSIFIER, TASK_SETFIT)
MAX_TOP_K = 100


class ApiError(Exception):
    """An answer other than 200: HTTP status, TEI's ``error_type``, the field at fault, headers."""

    def __init__(self, status: int, message: str, error_type: str = "validation", field: str | None = None, headers: dict | None = None):
        super().__init__(message)
        self.status, self.message, self.error_type, self.field = status, message, error_type, field
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        body = {"error": self.message, "error_type": self.error_type}
        if self.field is not None:
            body["field"] = self.field
        return body


@dataclass(frozen=True)
class Limits:
    max_texts: int
    max_chars: int


@dataclass
class Job:
    """A parsed request: what to run (``key``), on which texts, and whether one string was sent."""

    key: tuple[Any, ...]
    texts: list[str]
    single: bool


def _bad(field: str, message: str, status: int = 400) -> ApiError:
    return ApiError(status, f"{field}: {message}", "validation", field)


def parse_inputs(value: Any, limits: Limits, required_tokens: Sequence[str] = ()) -> tuple[list[str], bool]:
    """TEI's ``inputs``: a string, a list of strings, or TEI's batch form (a list of one-string lists)."""
    if isinstance(value, str):
        texts, single = [value], True
    elif isinstance(value, list):
        if not value:
            raise _bad("inputs", "empty list; give a text or a list of texts")
        if len(value) > limits.max_texts:
            raise _bad("inputs", f"{len(value)} texts in one request; the most is {limits.max_texts} (--max-texts)", 413)
        texts, single = [], False
        for i, item in enumerate(value):
            if isinstance(item, list) and len(item) == 1:
                item = item[0]
            elif isinstance(item, list) and len(item) == 2 and all(isinstance(t, str) for t in item):
                raise _bad(f"inputs[{i}]", "text pairs are not supported; these bundles read one text at a time")
            if not isinstance(item, str):
                raise _bad(f"inputs[{i}]", f"is {_json_type(item)}; every input must be a string")
            texts.append(item)
    elif value is None:
        raise _bad("inputs", "missing; send {\"inputs\": \"a text\"} or {\"inputs\": [\"a text\", ...]}")
    else:
        raise _bad("inputs", f"is {_json_type(value)}; give a string or a list of strings")
    for i, text in enumerate(texts):
        where = "inputs" if single else f"inputs[{i}]"
        if len(text) > limits.max_chars:
            raise _bad(where, f"{len(text)} characters; the most is {limits.max_chars} (--max-chars)", 413)
        problem = text_problem(text, required_tokens)
        if problem:
            raise _bad(where, problem)
    return texts, single


def _json_type(value: Any) -> str:
    names = {dict: "an object", list: "a list", str: "a string", bool: "a boolean", int: "a number", float: "a number", type(None): "null"}
    return names.get(type(value), type(value).__name__)


def _fields(body: Any, allowed: Sequence[str]) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise _bad("body", f"is {_json_type(body)}; send a JSON object such as {{\"inputs\": \"a text\"}}")
    unknown = [k for k in body if k not in allowed]
    if unknown:
        raise _bad(unknown[0], f"unknown field; this endpoint takes {', '.join(allowed)}")
    return body


def _flag(body: dict, name: str, default: bool) -> bool:
    value = body.get(name, default)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise _bad(name, f"is {_json_type(value)}; give true or false")
    return value


def _truncation(body: dict) -> None:
    _flag(body, "truncate", True)
    direction = body.get("truncation_direction")
    if direction is not None and (not isinstance(direction, str) or direction.lower() != "right"):
        raise _bad("truncation_direction", "only 'right' is supported: texts are cut at the end, as the bundle was exported")


def embed_output(model: Any) -> str | None:
    """The graph output holding sentence embeddings, or None when the bundle has none."""
    return (model.manifest.get("outputs") or {}).get("embeddings")


def predict_fields(model: Any) -> tuple[str, ...]:
    if model.task in CLASSIFIER_TASKS:
        return ("inputs", "raw_scores", "truncate", "truncation_direction")
    if model.task == TASK_NER:
        return ("inputs", "aggregation")
    return ("inputs", "top_k", "truncate", "truncation_direction")


def predict_job(model: Any, body: Any, limits: Limits) -> Job:
    """``POST /predict``: the task's answer (classifier: TEI's; NER, fill-mask: the runtime's)."""
    if model.task == TASK_EMBEDDING:
        # As TEI answers an embedding model's /predict: 424, the model cannot do it.
        raise ApiError(424, "this embedding bundle answers POST /embed, not /predict", "validation")
    body = _fields(body, predict_fields(model))
    texts, single = parse_inputs(body.get("inputs"), limits, model.required_tokens)
    if model.task in CLASSIFIER_TASKS:
        _truncation(body)
        raw = _flag(body, "raw_scores", False)
        if raw and "logits" not in (model.manifest.get("outputs") or {}):
            raise _bad("raw_scores", "this bundle's graph ends in probabilities; it has no raw scores")
        return Job(("raw",) if raw else ("proba",), texts, single)
    if model.task == TASK_NER:
        from ..ner import AGGREGATIONS

        aggregation = body.get("aggregation") or model.aggregation
        if aggregation not in AGGREGATIONS:
            raise _bad("aggregation", f"{aggregation!r} is not one of {', '.join(AGGREGATIONS)}")
        return Job(("tag", aggregation), texts, single)
    _truncation(body)
    top_k = body.get("top_k", 5)
    if isinstance(top_k, bool) or not isinstance(top_k, int) or not 1 <= top_k <= MAX_TOP_K:
        raise _bad("top_k", f"{top_k!r}: give an integer from 1 to {MAX_TOP_K}")
    return Job(("fill", top_k), texts, single)


def embed_job(model: Any, body: Any, limits: Limits) -> Job:
    """``POST /embed``: TEI's embeddings, for bundles that export them (embedding, SetFit)."""
    if embed_output(model) is None:
        # TEI answers 424 when the model is not an embedding model.
        raise ApiError(424, f"this {model.task} bundle exports no sentence embeddings; use /predict (embedding and SetFit bundles embed)", "validation")
    body = _fields(body, ("inputs", "normalize", "truncate", "truncation_direction", "prompt_name"))
    if body.get("prompt_name") is not None:
        raise _bad("prompt_name", "prompts are not supported; put the prompt in the text")
    _truncation(body)
    texts, single = parse_inputs(body.get("inputs"), limits)
    return Job(("embed", _flag(body, "normalize", True)), texts, single)


def _ranked(row: np.ndarray, labels: Sequence[str]) -> bytes:
    order = np.argsort(-row, kind="stable")
    return json.dumps([{"label": labels[i], "score": float(row[i])} for i in order]).encode()


# What one session run costs beyond its rows, in padded tokens: a run of rows x tokens costs about
# RUN_COST_TOKENS + rows x tokens token-rows. Chosen on VM-C (2026-12-07, MiniLM-L6 int8, random
# batches of 8, 16 and 32 demo texts of 7-17 tokens, cuts priced at 0, 4, 8, 16, 32 tokens and
# never): 16 gave the least CPU per text at every batch size. The effect on the server's worker
# path: benchmarks/RESULTS.md, serving section (model_cpu_per_text in its results files).
RUN_COST_TOKENS = 16


def length_groups(lengths: Sequence[int], run_cost: float = RUN_COST_TOKENS) -> list[list[int]]:
    """Split one batch into runs of near-equal token length: indices into ``lengths``, shortest
    texts first, cut where padding the shorter texts to the longer would cost more than a run.

    Why: a batch pads every text to its longest, and a served batch is whatever requests queued
    together, so its lengths are mixed: 32 texts of 7 to 17 tokens (11 on average) padded to 17 spend
    a third of the model's work on padding. Exact minimum of sum(run_cost + rows x longest) over cuts of the
    sorted lengths, by dynamic programming over the distinct lengths (at most the bundle's
    max_length of them).
    """
    order = sorted(range(len(lengths)), key=lengths.__getitem__)
    ordered = [lengths[i] for i in order]
    # bounds[g]: where the g-th run of equal lengths starts; runs are cut only between them.
    bounds = [0] + [i for i in range(1, len(ordered)) if ordered[i] != ordered[i - 1]] + [len(ordered)]
    best, cut = [0.0] + [math.inf] * (len(bounds) - 1), [0] * len(bounds)
    for end in range(1, len(bounds)):
        longest = ordered[bounds[end] - 1]
        for start in range(end):
            cost = best[start] + run_cost + (bounds[end] - bounds[start]) * longest
            if cost < best[end]:
                best[end], cut[end] = cost, start
    groups, end = [], len(bounds) - 1
    while end > 0:
        groups.append(order[bounds[cut[end]] : bounds[end]])
        end = cut[end]
    return groups[::-1]


def run_batch(model: Any, key: tuple[Any, ...], texts: list[str], batch_size: int) -> list[bytes]:
    """Run one batch in the worker thread; one JSON answer (bytes) per text, in order.

    The texts run in groups of near-equal length (``length_groups``; a bundle exported for a fixed
    batch size runs whole). The answers are serialised here, off the event loop, which then only
    joins them.
    """
    if len(texts) == 1 or getattr(model, "static_batch", None):
        return run_texts(model, key, texts, batch_size)
    lengths = [len(e.ids) for e in model.tokenizer.encode(texts)]
    answers: list[bytes] = [b""] * len(texts)
    for group in length_groups(lengths):
        for i, answer in zip(group, run_texts(model, key, [texts[i] for i in group], batch_size)):
            answers[i] = answer
    return answers


def run_texts(model: Any, key: tuple[Any, ...], texts: list[str], batch_size: int) -> list[bytes]:
    """One JSON answer (bytes) per text, in order, for what ``key`` asks."""
    kind = key[0]
    if kind == "proba":
        return [_ranked(row, model.labels) for row in model.predict_proba(texts, batch_size=batch_size)]
    if kind == "raw":
        logits = model.run_output(texts, model.manifest["outputs"]["logits"], batch_size=batch_size)
        return [_ranked(row, model.labels) for row in logits]
    if kind == "embed":
        values = model.run_output(texts, embed_output(model), batch_size=batch_size)
        if key[1]:
            values = l2_normalize(values).astype(np.float32, copy=False)
        return [json.dumps(row.tolist()).encode() for row in values]
    if kind == "tag":
        return [json.dumps(entities).encode() for entities in model.tag(texts, aggregation=key[1], batch_size=batch_size)]
    if kind == "fill":
        # Vocabulary logits are large (texts x tokens x vocab): keep the fill-mask model's own batch cap.
        size = min(batch_size, model.default_batch_size)
        return [json.dumps(masks).encode() for masks in model.fill_mask(texts, top_k=key[1], batch_size=size)]
    raise ValueError(f"unknown job {key!r}")


def answer_bytes(job: Job, answers: Sequence[bytes], endpoint: str) -> bytes:
    """The response body: one answer for one string (TEI's embeddings are always a list)."""
    if job.single and endpoint != "embed":
        return answers[0]
    return b"[" + b",".join(answers) + b"]"
