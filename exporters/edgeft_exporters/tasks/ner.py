"""Exporting a token classifier (NER): per-token logits out of the graph; the gate compares entity F1.

Token accuracy hides a collapsed NER model (most tokens are O), so the parity gate decodes
entities from both models on the held-out sentences and compares entity-level micro-F1. Both
models see the same inputs: raw text cut into the runtime's windows (edgeft_runtime.ner), so
the reference and the bundle differ only in the graph that runs.

Outputs passed around by the gate are the per-token logits of every text, windows merged,
concatenated into one (total tokens, labels) array (so ``max_abs_diff`` compares them directly);
``predictions`` are the word tags of every word, so label agreement is per word.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np
from edgeft_runtime import ner
from edgeft_runtime.metrics import ENTITY_F1, entity_metrics, entity_scores, in_points
from edgeft_runtime.reference_tasks import ner_observation

from ..errors import ExportError
from ..run_folder import read_run_metrics
from .base import ExporterDefaults, Reference


class NerExport(ExporterDefaults):
    """Token classification: logits (batch, tokens, labels); IOB2 decoding done by the runtime."""

    optimum_task = "token-classification"
    output_name = "logits"
    metric_name = ENTITY_F1

    def __init__(self, run: dict[str, Any], run_dir: Path):
        super().__init__(run, run_dir)
        self.labels: list[str] = list(run["labels"])
        self.settings: dict[str, Any] = dict(run.get("ner") or {})
        self.aggregation = self.settings.get("aggregation", "first")
        # Runs from before word_split existed were trained on the tokenizer's words.
        self.word_split: str = self.settings.get("word_split", ner.LEGACY_WORD_SPLIT)
        if self.word_split not in ner.WORD_SPLITS:
            raise ExportError(f"{run_dir}: run ner.word_split {self.word_split!r} is not one of {', '.join(ner.WORD_SPLITS)}")
        self._stride = int(self.settings.get("stride", ner.default_stride(self.max_length)))
        self._texts: list[str] = []
        self._tokens: list[ner.TextTokens] = []
        self._tokenizer = None

    @property
    def stride(self) -> int:
        """The run's stride, unless a fixed sequence length (``--static-shape``) made the windows too small for it."""
        return self._stride if ner.stride_fits(self._stride, self.max_length) else ner.default_stride(self.max_length)

    def manifest_fields(self) -> dict[str, Any]:
        fields: dict[str, Any] = {
            "labels": self.labels,
            "outputs": {"logits": self.output_name},
            "ner": {
                "scheme": "IOB2",
                "aggregation": self.aggregation,
                "stride": self.stride,
                "label_all_tokens": bool(self.settings.get("label_all_tokens", False)),
                "word_split": self.word_split,
                "source_scheme": self.settings.get("source_scheme"),
                "join": self.settings.get("join"),
            },
        }
        metrics = read_run_metrics(self.run_dir)
        if metrics is not None:
            fields["metrics"] = metrics
        return fields

    def _content_tokenizer(self):
        if self._tokenizer is None:
            from tokenizers import Tokenizer
            from transformers import AutoTokenizer

            hf = AutoTokenizer.from_pretrained(str(self.run_dir), use_fast=True)
            tok = Tokenizer.from_str(hf.backend_tokenizer.to_str())
            tok.no_truncation()
            tok.no_padding()
            self._tokenizer = tok
            self._specials = ner.specials_of(tok)
            self._type_ids = "token_type_ids" in hf.model_input_names
            self._pad_id = hf.pad_token_id if hf.pad_token_id is not None else 0
        return self._tokenizer

    def parse_examples(self, rows: Sequence[dict[str, Any]], source: str) -> tuple[list[str], list[list[tuple]]]:
        """Rows of {"text", "spans": [[start, end, type], ...]} -> texts and gold entity tuples."""
        known = {label[2:] for label in self.labels if label != "O"}
        texts, gold = [], []
        for n, row in enumerate(rows, start=1):
            if not isinstance(row.get("text"), str) or not isinstance(row.get("spans"), list):
                raise ExportError(f"{source}: example {n} is not {{\"text\", \"spans\"}}; NER held-out data is read by `edgeft train ner`")
            spans = [(str(t), int(s), int(e)) for s, e, t in row["spans"]]
            unknown = [t for t, _, _ in spans if t not in known]
            if unknown:
                raise ExportError(f"{source}: example {n} has entity type {unknown[0]!r}, which the model was not trained on")
            texts.append(row["text"])
            gold.append(spans)
        self._texts = texts
        self._tokens = ner.text_tokens(self._content_tokenizer(), texts, self.word_split) if texts else []
        return texts, gold

    def _split(self, flat: np.ndarray) -> list[np.ndarray]:
        lengths = [len(t) for t in self._tokens]
        if flat.shape[0] != sum(lengths):
            raise ExportError(f"internal: {flat.shape[0]} token rows for {sum(lengths)} tokens of the held-out texts")
        return np.split(flat, np.cumsum(lengths)[:-1]) if lengths else []

    def predictions(self, logits: np.ndarray) -> np.ndarray:
        """The label index of every word of every held-out text (the bundle's aggregation)."""
        words = [
            ner.word_scores(lg, tok.words, self.aggregation).argmax(-1) for lg, tok in zip(self._split(logits), self._tokens)
        ]
        return np.concatenate(words) if words else np.zeros(0, dtype=np.int64)

    def entities(self, logits: np.ndarray) -> list[list[dict]]:
        return [
            ner.tag_text(text, tok, lg, self.labels, self.aggregation)
            for text, tok, lg in zip(self._texts, self._tokens, self._split(logits))
        ]

    def score(self, logits: np.ndarray, gold: list[list[tuple]]) -> dict[str, Any]:
        """Entity-level micro precision/recall/F1 and per-type F1, in points."""
        report = entity_scores(gold, [ner.entity_tuples(e) for e in self.entities(logits)])
        per_type = in_points({t: r["f1"] for t, r in report["per_type"].items()})
        return {**in_points(entity_metrics(report)), "per_type_f1": per_type}

    def reference(self) -> Reference:
        """The PyTorch original on the runtime's windows: (texts -> concatenated token logits, one-text function)."""
        import torch
        from transformers import AutoModelForTokenClassification

        tokenizer = self._content_tokenizer()
        model = AutoModelForTokenClassification.from_pretrained(str(self.run_dir)).eval()
        prefix = len(self._specials.prefix_ids)
        pad_id = self._pad_id

        @torch.inference_mode()
        def run_windows(wins: list[ner.Window]) -> list[np.ndarray]:
            out: list[np.ndarray] = [None] * len(wins)  # type: ignore[list-item]
            order = np.argsort([len(w.ids) for w in wins], kind="stable")
            for start in range(0, len(order), 32):
                idx = order[start : start + 32]
                width = max(len(wins[i].ids) for i in idx)
                ids: np.ndarray = np.full((len(idx), width), pad_id, dtype=np.int64)
                mask = np.zeros_like(ids)
                types = np.zeros_like(ids)
                for row, i in enumerate(idx):
                    k = len(wins[i].ids)
                    ids[row, :k], mask[row, :k], types[row, :k] = wins[i].ids, 1, wins[i].type_ids
                feed = {"input_ids": torch.from_numpy(ids), "attention_mask": torch.from_numpy(mask)}
                if self._type_ids:
                    feed["token_type_ids"] = torch.from_numpy(types)
                logits = model(**feed).logits.float().numpy()
                for row, i in enumerate(idx):
                    out[i] = logits[row]
            return out

        def forward(texts: Sequence[str]) -> np.ndarray:
            tokens = ner.text_tokens(tokenizer, list(texts), self.word_split) if texts else []
            wins = ner.windows(tokens, self._specials, self.max_length, self.stride)
            merged = ner.merge_text_windows(wins, run_windows(wins) if wins else [], tokens, prefix)
            return np.concatenate(merged) if merged else np.zeros((0, len(self.labels)), np.float32)

        return forward, lambda text: forward([text])

    def bundle_outputs(self, model, texts: Sequence[str]) -> np.ndarray:
        _, merged = model.token_logits(list(texts))
        return np.concatenate(merged) if merged else np.zeros((0, len(self.labels)), np.float32)

    def observe(self, outputs: np.ndarray, against: dict[str, Any] | None = None) -> dict[str, Any]:
        """Word probabilities (the bundle's aggregation) and entities of every held-out text."""
        return ner_observation(self._texts, self._tokens, self._split(outputs), self.labels, self.aggregation)

    def gold_record(self, gold: list[list[tuple]]) -> list[Any]:
        """Gold spans as [type, start, end]."""
        return [[[t, s, e] for t, s, e in spans] for spans in gold]
