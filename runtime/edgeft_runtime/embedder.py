"""Sentence-embedding bundles (task ``embedding``, e.g. an ``edgeft train embedding`` run): one
graph from token ids to the sentence vector, pooling and normalisation inside it as trained."""

from __future__ import annotations

from typing import Any, Sequence

from .classifier import SentenceEmbeddings
from .errors import BundleError


class Embedder(SentenceEmbeddings):
    """``embed(texts)``: unit-length float32 vectors, shape ``(n, dim)`` (``(dim,)`` for one string),
    what ``SentenceTransformer.encode(texts, normalize_embeddings=True)`` gives for the trained model.
    A dot product of two of them is their cosine similarity."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        if "embeddings" not in self.manifest["outputs"]:
            raise BundleError(f"{self.bundle_dir}: manifest 'outputs' names no 'embeddings'; an embedding bundle needs its vector output")
        self._init_embeddings()

    @property
    def dimension(self) -> int:
        """The length of each vector (the manifest's ``embedding_dim``, else the graph's)."""
        stated = self.manifest.get("embedding_dim")
        if isinstance(stated, int):
            return stated
        shape = self.session.get_outputs()[self._output_names.index(str(self._embedding_output))].shape
        return int(shape[-1])

    def run_task(self, texts: str | Sequence[str], batch_size: int | None = None) -> Any:
        """``embed``, as lists of floats (JSON)."""
        return self.embed(texts, batch_size=batch_size or self.default_batch_size).tolist()
