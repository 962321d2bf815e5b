"""Exporting a sentence-embedding run (``edgeft train embedding``, or any sentence-transformers
folder recorded as such): ONE graph, token ids -> transformer -> pooling -> normalisation ->
``embeddings``, exported as SetFit bodies are (Optimum's ``feature-extraction`` with
``library_name="sentence_transformers"``, which traces the run's own modules), less the head.

The parity gate has no labels to score: a vector's target is PyTorch's vector of the same text.
The metric is the cosine to it (mean over the held-out texts, in points: 100 is identical; the
int8 gate lets the mean fall by at most ``--max-drop`` points), reported with the minimum and
median cosine and nearest-neighbour agreement (each text's most similar other held-out text is
PyTorch's), which is the gate's label agreement.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np
from edgeft_runtime.constants import TASK_EMBEDDING
from edgeft_runtime.metrics import COSINE, embedding_metrics, in_points, nearest_neighbours
from edgeft_runtime.reference_tasks import embedding_observation

from ..errors import ExportError
from ..onnx_export import export_with_optimum
from ..requirements import missing_distributions
from .base import ExporterDefaults, Reference
from .setfit import EMBEDDING_OUTPUT, ST_EMBEDDING_OUTPUT


def keep_embedding_output(src: Path, dst: Path) -> None:
    """Write ``src`` (Optimum's sentence-transformers graph) to ``dst`` with one output,
    ``embeddings`` (batch, dim): the per-token output is dropped, as in the SetFit graph."""
    import onnx
    from onnx import TensorProto, helper

    model = onnx.load(str(src))
    graph = model.graph
    body_output = next((o for o in graph.output if o.name == ST_EMBEDDING_OUTPUT), None)
    if body_output is None:
        raise ExportError(f"{src}: the exported model has no {ST_EMBEDDING_OUTPUT!r} output; is the run a sentence-transformers folder?")
    dims = body_output.type.tensor_type.shape.dim
    shape = [d.dim_value if d.HasField("dim_value") else (d.dim_param or name) for d, name in zip(dims, ("batch_size", "dim"))]
    graph.node.append(helper.make_node("Identity", [ST_EMBEDDING_OUTPUT], [EMBEDDING_OUTPUT], name="embeddings.output"))
    del graph.output[:]
    graph.output.append(helper.make_tensor_value_info(EMBEDDING_OUTPUT, TensorProto.FLOAT, shape))
    onnx.checker.check_model(model)
    onnx.save(model, str(dst))


class EmbeddingExport(ExporterDefaults):
    """An embedding run -> an ``embedding`` bundle (module docstring)."""

    optimum_task = "feature-extraction"
    output_name = EMBEDDING_OUTPUT
    metric_name = COSINE

    def __init__(self, run: dict[str, Any], run_dir: Path):
        super().__init__(run, run_dir)
        self.bundle_task = TASK_EMBEDDING
        missing = missing_distributions({"sentence_transformers": "sentence-transformers"})
        if missing:
            raise ExportError(f"exporting an embedding run needs {', '.join(missing)}: pip install 'edgeft[setfit]'")
        self.body: dict[str, Any] = run.get("body") or {}
        # PyTorch's vector of each held-out text, filled by the reference's pass over them (the
        # gate runs it before it scores anything): the target every variant is scored against.
        self._pytorch: dict[str, np.ndarray] = {}

    def export_onnx(self, out_dir: Path, *, opset: int | None, static_shape: tuple[int, int] | None) -> Path:
        raw = export_with_optimum(
            self.run_dir, out_dir / "body", self.optimum_task, opset=opset, static_shape=static_shape, library_name="sentence_transformers"
        )
        path = out_dir / "model.onnx"
        keep_embedding_output(raw, path)
        return path

    def manifest_fields(self) -> dict[str, Any]:
        return {
            "outputs": {"embeddings": EMBEDDING_OUTPUT},
            "pooling": self.body.get("pooling"),
            "normalize": bool(self.body.get("normalize")),
            "embedding_dim": self.run.get("embedding_dim"),
        }

    def parse_examples(self, rows: Sequence[dict[str, Any]], source: str) -> tuple[list[str], list[str]]:
        """Held-out rows -> (texts, texts): an embedding's target is PyTorch's vector of its text."""
        texts = []
        for n, row in enumerate(rows, start=1):
            text = row.get("text")
            if not isinstance(text, str) or not text.strip():
                raise ExportError(f"{source}: example {n} has no text")
            texts.append(text)
        return texts, list(texts)

    def reference(self) -> Reference:
        """The run's SentenceTransformer: ``encode`` as trained (its Normalize module included)."""
        import torch
        from sentence_transformers import SentenceTransformer

        model = SentenceTransformer(str(self.run_dir), device="cpu", local_files_only=True)
        model.max_seq_length = self.max_length  # truncate like the bundle's tokenizer

        @torch.inference_mode()
        def forward(texts: Sequence[str]) -> np.ndarray:
            texts = list(texts)
            if not texts:
                return np.zeros((0, model.get_embedding_dimension() or 0), np.float32)
            vectors = np.asarray(model.encode(texts, batch_size=32, show_progress_bar=False, convert_to_numpy=True), dtype=np.float32)
            self._pytorch.update(zip(texts, vectors))
            return vectors

        return forward, lambda text: forward([text])

    def bundle_outputs(self, model, texts: Sequence[str]) -> np.ndarray:
        return model.run_output(list(texts), self.output_name)

    def predictions(self, outputs: np.ndarray) -> np.ndarray:
        """Each text's nearest other held-out text: what label agreement compares."""
        return nearest_neighbours(outputs)

    def targets(self, texts: Sequence[str]) -> np.ndarray:
        missing = [t for t in texts if t not in self._pytorch]
        if missing:
            raise ExportError(f"no PyTorch vector for {len(missing)} held-out text(s) (first: {missing[0]!r:.60}); the reference has not run on them")
        return np.stack([self._pytorch[t] for t in texts]) if texts else np.zeros((0, 0), np.float32)

    def score(self, outputs: np.ndarray, gold: list[str]) -> dict[str, float]:
        return in_points(embedding_metrics(outputs, self.targets(gold)))

    def observe(self, outputs: np.ndarray, against: dict[str, Any] | None = None) -> dict[str, Any]:
        return embedding_observation(outputs)

    def gold_record(self, gold: list[str]) -> None:
        """None: the reference set's gold is PyTorch's vectors, which it stores as its observations."""
        return None
