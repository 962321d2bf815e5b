"""Exporting a masked-LM run as a fill-mask bundle: vocabulary logits out of the graph.

Parity is checked at mask tokens in held-out sentences: single-token words of the held-out text
are replaced by the mask token (seeded), and PyTorch and ONNX logits are compared there. The task
metric is masked-token top-1 accuracy (the original word ranked first), in points.
"""

from __future__ import annotations

import logging
import random
import re
from pathlib import Path
from typing import Any, Sequence

import numpy as np
from edgeft_runtime.constants import TASK_FILL_MASK
from edgeft_runtime.metrics import TOP1_ACCURACY, in_points, top_k_accuracy
from edgeft_runtime.ops import top_k_ids
from edgeft_runtime.reference_tasks import TOP_K, fill_mask_observation

from ..errors import ExportError
from ..onnx_export import quiet_transformers_loading
from .base import ExporterDefaults, Reference

log = logging.getLogger(__name__)

# Every masked position keeps a vocabulary-sized row of logits per model compared, so the check
# caps the number of sentences (about 120 MB per model with a 30k vocabulary).
MAX_SENTENCES = 1000
MASKS_PER_SENTENCE = 2
MIN_WORDS = 6
SEED = 0
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_WORD = re.compile(r"[^\W\d_]{2,}")  # letters only: masking numbers or punctuation says little


class FillMaskExport(ExporterDefaults):
    """A masked-LM run (task ``mlm``) -> a ``fill-mask`` bundle."""

    optimum_task = "fill-mask"
    output_name = "logits"
    metric_name = TOP1_ACCURACY

    def __init__(self, run: dict[str, Any], run_dir: Path):
        super().__init__(run, run_dir)
        self.bundle_task = TASK_FILL_MASK  # a masked-LM run exports as a fill-mask bundle
        self._tokenizer = None
        self._mask_counts: list[int] = []  # masks per held-out sentence (parse_examples)

    @property
    def tokenizer(self):
        if self._tokenizer is None:
            from transformers import AutoTokenizer

            self._tokenizer = AutoTokenizer.from_pretrained(str(self.run_dir))
            if self._tokenizer.mask_token_id is None:
                raise ExportError(f"{self.run_dir}: the tokenizer has no mask token; it cannot be a fill-mask bundle")
        return self._tokenizer

    def manifest_fields(self) -> dict[str, Any]:
        tok = self.tokenizer
        return {
            "outputs": {"logits": self.output_name},
            "fill_mask": {"mask_token": tok.mask_token, "mask_token_id": tok.mask_token_id, "vocab_size": len(tok)},
        }

    def parse_examples(self, rows: Sequence[dict[str, Any]], source: str) -> tuple[list[str], np.ndarray]:
        """Held-out documents -> sentences with mask tokens, and the token ids they hide (in order)."""
        texts: list[str] = []
        gold: list[int] = []
        rng = random.Random(SEED)
        for n, row in enumerate(rows, start=1):
            text = row.get("text")
            if not isinstance(text, str):
                raise ExportError(f"{source}: example {n} has no 'text'")
            for sentence in _SENTENCE_END.split(text):
                masked = self._mask_sentence(sentence, rng)
                if masked is not None:
                    texts.append(masked[0])
                    gold.extend(masked[1])
                if len(texts) >= MAX_SENTENCES:
                    break
            if len(texts) >= MAX_SENTENCES:
                log.info("fill-mask parity: using the first %d masked sentences", MAX_SENTENCES)
                break
        if not texts:
            raise ExportError(
                f"{source}: no held-out sentence of {MIN_WORDS}+ words with a single-token word to mask; "
                "pass --eval with more text"
            )
        # The masks as the model sees them: one row of logits each, sentence by sentence.
        mask_id = self.tokenizer.mask_token_id
        ids = self.tokenizer(texts, truncation=True, max_length=self.max_length)["input_ids"]
        self._mask_counts = [sum(1 for t in row if t == mask_id) for row in ids]
        return texts, np.asarray(gold, dtype=np.int64)

    def _mask_sentence(self, sentence: str, rng: random.Random) -> tuple[str, list[int]] | None:
        """Replace up to MASKS_PER_SENTENCE single-token words by the mask token; None when the
        sentence is too short, has no such word, or would be truncated."""
        tok = self.tokenizer
        if len(sentence.split()) < MIN_WORDS:
            return None
        enc = tok(sentence, add_special_tokens=False, return_offsets_mapping=True)
        if len(enc["input_ids"]) + tok.num_special_tokens_to_add() > self.max_length:
            return None
        # A word is maskable when exactly one token covers exactly its characters.
        by_span = {tuple(span): token_id for token_id, span in zip(enc["input_ids"], enc["offset_mapping"])}
        candidates = [(m.start(), m.end(), by_span[(m.start(), m.end())]) for m in _WORD.finditer(sentence) if (m.start(), m.end()) in by_span]
        if not candidates:
            return None
        chosen = sorted(rng.sample(candidates, min(MASKS_PER_SENTENCE, len(candidates))))
        pieces, last = [], 0
        for start, end, _ in chosen:
            pieces += [sentence[last:start], tok.mask_token]
            last = end
        pieces.append(sentence[last:])
        return "".join(pieces), [token_id for _, _, token_id in chosen]

    def predictions(self, logits: np.ndarray) -> np.ndarray:
        return logits.argmax(-1)

    def score(self, logits: np.ndarray, gold: np.ndarray) -> dict[str, float]:
        return in_points(top_k_accuracy(top_k_ids(logits, TOP_K), gold))

    def compare(self, reference: np.ndarray, logits: np.ndarray) -> dict[str, float]:
        """Mean share of PyTorch's top-5 tokens that the exported model also ranks in its top 5."""
        a, b = top_k_ids(reference, TOP_K), top_k_ids(logits, TOP_K)
        overlap = [len(set(x) & set(y)) / TOP_K for x, y in zip(a.tolist(), b.tolist())]
        return {"top5_overlap": round(float(np.mean(overlap)), 4) if overlap else 1.0}

    def reference(self) -> Reference:
        """The PyTorch original: (batch function -> logits at the mask tokens, single-text function)."""
        import torch
        from transformers import AutoModelForMaskedLM

        tokenizer = self.tokenizer
        with quiet_transformers_loading():
            model = AutoModelForMaskedLM.from_pretrained(str(self.run_dir)).eval()
        mask_id = tokenizer.mask_token_id

        @torch.inference_mode()
        def forward(texts: Sequence[str]) -> np.ndarray:
            out = []
            for start in range(0, len(texts), 16):
                enc = tokenizer(
                    list(texts[start : start + 16]), truncation=True, max_length=self.max_length, padding=True, return_tensors="pt"
                )
                logits = model(**enc).logits
                out.append(logits[enc["input_ids"] == mask_id].float().numpy())
            return np.concatenate(out) if out else np.zeros((0, len(tokenizer)), np.float32)

        return forward, lambda text: forward([text])

    def bundle_outputs(self, model, texts: Sequence[str]) -> np.ndarray:
        rows = model.mask_logits(list(texts))
        return np.concatenate(rows) if rows else np.zeros((0, 0), np.float32)

    def observe(self, logits: np.ndarray, against: dict[str, Any] | None = None) -> dict[str, Any]:
        """Top-5 tokens and their probabilities at every mask of the held-out sentences (and this
        model's probabilities of ``against``'s top tokens)."""
        counts = self._mask_counts
        rows = np.split(logits[: sum(counts)], np.cumsum(counts)[:-1]) if counts else []
        return fill_mask_observation(rows, None if against is None else against["top_ids"])

    def gold_record(self, gold: np.ndarray) -> list[int]:
        """The token id each mask hides, masks in order."""
        return np.asarray(gold).tolist()
