"""Fill-mask bundles: the most likely tokens for each mask token in a text."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from .base import BundleModel, as_text_list
from .errors import BundleError
from .ops import softmax, top_k_ids

# Logits cover the whole vocabulary at every position (batch x tokens x vocab floats), so batches
# are kept small: 8 texts of 128 tokens with a 30k vocabulary are about 125 MB.
DEFAULT_BATCH_SIZE = 8


class FillMask(BundleModel):
    """A masked-LM bundle.

    ``fill_mask("... [MASK] ...")`` returns, for each mask token of the text (left to right), the
    ``top_k`` most likely tokens: ``{"score", "token", "token_str", "sequence"}`` as transformers'
    fill-mask pipeline names them: ``score`` is the softmax probability over the vocabulary,
    ``token`` the token id, ``token_str`` its vocabulary entry (``##s`` for a word-piece
    continuation) and ``sequence`` the text with that mask filled in.
    """

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        spec = self.manifest.get("fill_mask") or {}
        self.mask_token: str = spec.get("mask_token") or "[MASK]"
        self.mask_token_id = self.tokenizer.tokenizer.token_to_id(self.mask_token)
        if self.mask_token_id is None:
            raise BundleError(f"{self.bundle_dir}: mask token {self.mask_token!r} is not in the bundle's tokenizer")
        if "mask_token_id" in spec and int(spec["mask_token_id"]) != self.mask_token_id:
            raise BundleError(
                f"{self.bundle_dir}: manifest mask_token_id {spec['mask_token_id']} does not match the tokenizer's "
                f"{self.mask_token_id}; re-export the bundle"
            )
        output = (self.manifest.get("outputs") or {}).get("logits")
        if not isinstance(output, str) or output not in self._output_names:
            raise BundleError(f"{self.bundle_dir}: manifest 'outputs.logits' is not an output of the model graph")
        self._output: str = output
        model = self.tokenizer.tokenizer.model
        self._continuation = getattr(model, "continuing_subword_prefix", None) or None

    default_batch_size = DEFAULT_BATCH_SIZE

    @property
    def required_tokens(self) -> tuple[str, ...]:
        return (self.mask_token,)

    def run_task(self, texts: str | Sequence[str], batch_size: int | None = None) -> Any:
        """``fill_mask`` with the default ``top_k``."""
        return self.fill_mask(texts, batch_size=batch_size or self.default_batch_size)

    def mask_logits(self, texts: str | Sequence[str], batch_size: int = DEFAULT_BATCH_SIZE) -> list[np.ndarray]:
        """Vocabulary logits at the mask tokens: per text an array ``(masks in the text, vocab)``."""
        items, _ = as_text_list(texts)
        result: list[np.ndarray] = [np.zeros((0, 0), np.float32)] * len(items)
        for idx, encodings, (logits,) in self._batches(items, batch_size, [self._output]):
            for row, (i, enc) in enumerate(zip(idx, encodings)):
                positions = [p for p, t in enumerate(enc.ids) if t == self.mask_token_id]
                result[int(i)] = logits[row, positions]
        return result

    def fill_mask(self, texts: str | Sequence[str], top_k: int = 5, batch_size: int = DEFAULT_BATCH_SIZE) -> Any:
        """Candidates for every mask token: for one string a list (one entry per mask, left to
        right) of ``top_k`` dicts best first; for a list of strings, one such list per string."""
        if top_k < 1:
            raise ValueError(f"top_k must be >= 1, got {top_k}")
        items, single = as_text_list(texts)
        encodings = self.tokenizer.encode(items)
        for i, (text, enc) in enumerate(zip(items, encodings)):
            found = sum(1 for t in enc.ids if t == self.mask_token_id)
            if found == 0:
                where = "the text" if single else f"texts[{i}]"
                cut = f" within the first {self.tokenizer.max_length} tokens" if self.mask_token in text else ""
                raise ValueError(f"{where} has no {self.mask_token}{cut}; put {self.mask_token} where a word should be predicted")
        results = []
        for text, enc, logits in zip(items, encodings, self.mask_logits(items, batch_size)):
            spans = [enc.offsets[p] for p, t in enumerate(enc.ids) if t == self.mask_token_id]
            probs = softmax(logits.astype(np.float64), axis=-1)
            results.append([self._candidates(text, span, row, top_k) for span, row in zip(spans, probs)])
        return results[0] if single else results

    def _candidates(self, text: str, span: tuple[int, int], probs: np.ndarray, k: int) -> list[dict[str, Any]]:
        out = []
        for token_id in top_k_ids(probs[None], k)[0]:
            token = self.tokenizer.tokenizer.id_to_token(int(token_id))
            # The field names and order of transformers' fill-mask pipeline (token = the id).
            out.append(
                {
                    "score": float(probs[token_id]),
                    "token": int(token_id),
                    "token_str": token,
                    "sequence": self._fill(text, span, token, int(token_id)),
                }
            )
        return out

    def _fill(self, text: str, span: tuple[int, int], token: str, token_id: int) -> str:
        """``text`` with the mask at ``span`` replaced by ``token``; a word-piece continuation
        (e.g. ``##s``) is joined to the word before it."""
        start, end = span
        if self._continuation and token.startswith(self._continuation) and len(token) > len(self._continuation):
            return text[:start].rstrip() + token[len(self._continuation):] + text[end:]
        word = self.tokenizer.tokenizer.decode([token_id])
        return text[:start] + (word or token) + text[end:]
