"""Tokenisation for a bundle: the baked ``tokenizer.json`` plus numpy batching with dynamic padding."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
from tokenizers import Encoding, Tokenizer

from .errors import BundleError


class BundleTokenizer:
    """Wraps ``tokenizers.Tokenizer`` with the settings the exporter baked into the bundle.

    Truncation comes from the file (falling back to ``max_length``). Padding is read from the file
    but applied here, per batch: to the longest row of the batch (dynamic) or, for bundles exported
    with fixed shapes, to the baked length.
    """

    def __init__(self, path: str | Path, max_length: int, fixed_length: int | None = None):
        try:
            self._tok = Tokenizer.from_file(str(path))
        except Exception as e:  # tokenizers raises a bare Exception for malformed JSON
            raise BundleError(f"{path}: not a readable tokenizers file ({e}); re-export the bundle") from e
        trunc = self._tok.truncation
        self.max_length = int(trunc["max_length"]) if trunc else int(max_length)
        if fixed_length is not None:
            self.max_length = min(self.max_length, int(fixed_length))
        self._tok.enable_truncation(self.max_length)
        padding = self._tok.padding or {}
        self.pad_id = int(padding.get("pad_id", self._tok.token_to_id("[PAD]") or 0))
        self.pad_type_id = int(padding.get("pad_type_id", 0))
        self.fixed_length = fixed_length
        # Padding is done per batch below, after length bucketing; the tokenizer must not pad.
        self._tok.no_padding()

    @property
    def tokenizer(self) -> Tokenizer:
        """The underlying ``tokenizers.Tokenizer`` (truncation on, padding off)."""
        return self._tok

    def encode(self, texts: Sequence[str]) -> list[Encoding]:
        """Tokenise without padding; one Encoding per text, with character offsets."""
        if len(texts) == 1:
            return [self._tok.encode(texts[0])]
        return self._tok.encode_batch(list(texts))

    def to_arrays(self, encodings: Sequence[Encoding], dtype=np.int64) -> dict[str, np.ndarray]:
        """Pad a batch to its longest row (or the fixed length) -> input_ids, attention_mask, token_type_ids."""
        n = len(encodings)
        width = self.fixed_length or max(len(e.ids) for e in encodings)
        ids = np.full((n, width), self.pad_id, dtype=dtype)
        mask = np.zeros((n, width), dtype=dtype)
        types = np.full((n, width), self.pad_type_id, dtype=dtype)
        for i, e in enumerate(encodings):
            k = len(e.ids)
            ids[i, :k] = e.ids
            mask[i, :k] = 1
            types[i, :k] = e.type_ids
        return {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
