"""Text classification bundles (the supervised classifier and SetFit): labels, probabilities and,
for bundles that export them (SetFit), sentence embeddings."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from .base import BundleModel, as_text_list
from .constants import MULTI_LABEL
from .errors import BundleError
from .ops import l2_normalize, labels_on, sigmoid, softmax


class SentenceEmbeddings(BundleModel):
    """``embed()`` for bundles whose manifest names an ``outputs["embeddings"]`` graph output: the
    sentence vector the model computes (pooling and normalisation inside the graph, as trained)."""

    def _init_embeddings(self) -> None:
        self._embedding_output: str | None = self.manifest["outputs"].get("embeddings")
        if self._embedding_output is not None and self._embedding_output not in self._output_names:
            raise BundleError(f"{self.bundle_dir}: output {self._embedding_output!r} is not an output of the model graph")

    @property
    def has_embeddings(self) -> bool:
        """Whether this bundle exports sentence embeddings (``embed`` works)."""
        return self._embedding_output is not None

    def embed(self, texts: str | Sequence[str], batch_size: int = 32, normalize: bool = True) -> np.ndarray:
        """Sentence embeddings, shape ``(n, dim)`` (``(dim,)`` for a single string), float32.

        normalize: scale each vector to unit L2 norm, so that a dot product is the cosine
        similarity. Bundles whose model normalises (manifest ``normalize``) already are; then
        this only removes rounding. False returns the graph output as is.
        """
        if self._embedding_output is None:
            raise BundleError(
                f"{self.bundle_dir}: this {self.task} bundle exports no sentence embeddings "
                "(manifest outputs name no 'embeddings'); SetFit and embedding bundles do"
            )
        items, single = as_text_list(texts)
        (values,) = self._run_rows(items, batch_size, [self._embedding_output])
        if normalize:
            values = l2_normalize(values).astype(np.float32, copy=False)
        return values[0] if single else values


class Classifier(SentenceEmbeddings):
    """Single- or multi-label classifier.

    ``predict`` returns ``{"label", "score"}`` per text for single-label bundles, and a list of
    ``{"label", "score"}`` (every label whose probability reaches ``threshold``, best first) for
    multi-label bundles. ``predict_proba`` returns the full ``(n, num_labels)`` array. SetFit
    bundles also ``embed`` texts (see :class:`SentenceEmbeddings`).
    """

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        outputs = self.manifest["outputs"]
        self.multi_label = self.manifest.get("problem_type") == MULTI_LABEL
        self.threshold = float(self.manifest.get("threshold", 0.5))
        if "probabilities" in outputs:
            # SetFit graphs end in softmax/sigmoid already: nothing to apply here.
            self._output, self._activation = outputs["probabilities"], None
        elif "logits" in outputs:
            self._output, self._activation = outputs["logits"], (sigmoid if self.multi_label else softmax)
        else:
            raise BundleError(f"{self.bundle_dir}: manifest 'outputs' names neither 'logits' nor 'probabilities'")
        if self._output not in self._output_names:
            raise BundleError(f"{self.bundle_dir}: output {self._output!r} is not an output of the model graph")
        if not self.labels:
            raise BundleError(f"{self.bundle_dir}: manifest field 'labels' is empty; a classifier bundle needs its labels")
        self._init_embeddings()

    def predict_proba(self, texts: str | Sequence[str], batch_size: int = 32) -> np.ndarray:
        """Probabilities, shape ``(n, num_labels)``, columns in ``self.labels`` order."""
        items, _ = as_text_list(texts)
        (values,) = self._run_rows(items, batch_size, [self._output])
        if values.shape[0] == 0:
            return np.zeros((0, len(self.labels)), dtype=np.float32)
        return self._activation(values) if self._activation else values

    def predict(self, texts: str | Sequence[str], batch_size: int = 32) -> Any:
        """Labels with scores; one result per text (a single result for a single string)."""
        items, single = as_text_list(texts)
        probs = self.predict_proba(items, batch_size=batch_size)
        results = [self._decode(row) for row in probs]
        return results[0] if single else results

    def run_task(self, texts: str | Sequence[str], batch_size: int | None = None) -> Any:
        """``predict``."""
        return self.predict(texts, batch_size=batch_size or self.default_batch_size)

    def _decode(self, row: np.ndarray) -> Any:
        if self.multi_label:
            chosen = np.flatnonzero(labels_on(row, self.threshold))
            chosen = chosen[np.argsort(-row[chosen], kind="stable")]
            return [{"label": self.labels[i], "score": float(row[i])} for i in chosen]
        best = int(np.argmax(row))
        return {"label": self.labels[best], "score": float(row[best])}
