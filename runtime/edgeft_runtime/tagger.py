"""NER bundles: raw text in, entity spans with exact character offsets out."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
from tokenizers import Tokenizer

from . import ner
from .base import BundleModel, as_text_list
from .errors import BundleError


class Tagger(BundleModel):
    """Token classification (NER) on raw text.

    ``tag(texts)`` returns, per text, a list of entities
    ``{"entity": "PER", "text": "Angela Merkel", "start": 0, "end": 13, "score": 0.99}`` where
    ``text == input[start:end]``, offsets in characters (Python string indices) of the input.
    Texts longer than the bundle's ``max_length`` are run in overlapping windows (the manifest's
    ``ner.stride``), never cut. Entities are made of whole words, split from the raw text as at
    training (the manifest's ``ner.word_split``: whitespace runs, or the tokenizer's words).
    """

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        settings = self.manifest.get("ner") or {}
        self.scheme: str = settings.get("scheme", "IOB2")
        if self.scheme != "IOB2":
            raise BundleError(f"{self.bundle_dir}: manifest ner.scheme {self.scheme!r} is not supported; this runtime decodes IOB2")
        self.aggregation: str = settings.get("aggregation", "first")
        if self.aggregation not in ner.AGGREGATIONS:
            raise BundleError(f"{self.bundle_dir}: manifest ner.aggregation {self.aggregation!r} is not one of {', '.join(ner.AGGREGATIONS)}")
        # What a word is; bundles written before the field existed were trained on the tokenizer's words.
        self.word_split: str = settings.get("word_split", ner.LEGACY_WORD_SPLIT)
        if self.word_split not in ner.WORD_SPLITS:
            raise BundleError(f"{self.bundle_dir}: manifest ner.word_split {self.word_split!r} is not one of {', '.join(ner.WORD_SPLITS)}")
        output = (self.manifest.get("outputs") or {}).get("logits")
        if not isinstance(output, str) or output not in self._output_names:
            raise BundleError(f"{self.bundle_dir}: manifest outputs.logits {output!r} is not an output of the model graph")
        self._output: str = output
        if not self.labels or "O" not in self.labels:
            raise BundleError(f"{self.bundle_dir}: manifest 'labels' must list the IOB2 tags, including 'O'")
        # Windows are cut here, so this copy of the tokenizer neither truncates nor pads.
        self._content_tokenizer = Tokenizer.from_str(self.tokenizer.tokenizer.to_str())
        self._content_tokenizer.no_truncation()
        self._content_tokenizer.no_padding()
        self._specials = ner.specials_of(self._content_tokenizer)
        self.max_length = self.tokenizer.max_length
        window = self.max_length - self._specials.count
        self.stride = int(settings.get("stride", ner.default_stride(window)))
        if window < 1 or not 0 <= self.stride < window:
            raise BundleError(f"{self.bundle_dir}: manifest ner.stride {self.stride} does not fit windows of {window} tokens")

    def token_logits(self, texts: str | Sequence[str], batch_size: int = 32) -> tuple[list[ner.TextTokens], list[np.ndarray]]:
        """Tokens of each text and their logits, shape (tokens, num_labels), windows merged."""
        items, _ = as_text_list(texts)
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        tokens = ner.text_tokens(self._content_tokenizer, items, self.word_split) if items else []
        wins = ner.windows(tokens, self._specials, self.max_length, self.stride)
        # Every window's slot is filled below (each index is in exactly one batch).
        outputs: list[np.ndarray] = [np.empty((0, 0), np.float32)] * len(wins)
        size = self.static_batch or batch_size
        # Windows of similar length share a batch: padding is compute spent on nothing.
        order = np.argsort([len(w.ids) for w in wins], kind="stable")
        for start in range(0, len(order), size):
            idx = order[start : start + size]
            (logits,) = self._run([wins[i] for i in idx], [self._output])
            for row, i in enumerate(idx):
                outputs[i] = logits[row]
        return tokens, ner.merge_text_windows(wins, outputs, tokens, len(self._specials.prefix_ids))

    def tag(self, texts: str | Sequence[str], aggregation: str | None = None, batch_size: int = 32) -> Any:
        """Entities of each text; one list per text (a single list for a single string).

        aggregation: how sub-word scores become a word's label: "first" (the first sub-token, as
        trained), "average" (mean probabilities) or "max" (the most confident sub-token).
        Default: the bundle's (manifest ``ner.aggregation``).
        """
        items, single = as_text_list(texts)
        aggregation = aggregation or self.aggregation
        if aggregation not in ner.AGGREGATIONS:
            raise ValueError(f"aggregation must be one of {', '.join(ner.AGGREGATIONS)}, got {aggregation!r}")
        tokens, logits = self.token_logits(items, batch_size=batch_size)
        results = [ner.tag_text(text, tok, lg, self.labels, aggregation) for text, tok, lg in zip(items, tokens, logits)]
        return results[0] if single else results

    def run_task(self, texts: str | Sequence[str], batch_size: int | None = None) -> Any:
        """``tag`` with the bundle's aggregation."""
        return self.tag(texts, batch_size=batch_size or self.default_batch_size)
