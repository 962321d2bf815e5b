"""Exporting a SetFit run: ONE graph, token ids -> body -> pooling -> normalisation -> head ->
probabilities, with the sentence embedding as a second output.

How the graph is made: Optimum exports the sentence-transformers body (``feature-extraction``
with ``library_name="sentence_transformers"``), tracing the run's own modules (Transformer,
Pooling, Normalize, any Dense), so the ``sentence_embedding`` output is computed exactly as the
trained model computes it. The logistic-regression head is then appended to that graph as
MatMul + Add + Softmax/Sigmoid (see ``setfit_head.fold_head``). This keeps Optimum's export of the
transformer (dynamic axes, opset, the graph the onnxruntime fusion expects) instead of a second
export path through ``torch.onnx.export`` of a hand-written wrapper module, and the head needs
no tracing: it is four nodes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np
from edgeft_runtime.ops import decisions

from ..errors import ExportError
from ..onnx_export import export_with_optimum
from ..requirements import require_setfit_extra
from ..setfit_head import SIGMOID, LinearHead, load_linear_head, load_setfit_model
from .base import Reference
from .classifier import ClassifierExport

EMBEDDING_OUTPUT = "embeddings"
PROBABILITY_OUTPUT = "probabilities"
# The output of Optimum's sentence-transformers export that carries the pooled (and normalised) vector.
ST_EMBEDDING_OUTPUT = "sentence_embedding"


def append_head(src: Path, dst: Path, head: LinearHead) -> None:
    """Write ``src`` (a sentence-transformers graph) with ``head`` appended to ``dst``.

    Outputs of the result: ``probabilities`` (batch, labels) and ``embeddings`` (batch, dim); the
    per-token output of the body is dropped.
    """
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    model = onnx.load(str(src))
    graph = model.graph
    body_output = next((o for o in graph.output if o.name == ST_EMBEDDING_OUTPUT), None)
    if body_output is None:
        raise ExportError(f"{src}: the exported body has no {ST_EMBEDDING_OUTPUT!r} output; cannot attach the SetFit head")
    num_labels, dim = head.weight.shape
    # The batch axis as the body export declared it: symbolic, or fixed with --static-shape.
    batch_dim = body_output.type.tensor_type.shape.dim[0]
    batch = batch_dim.dim_value if batch_dim.HasField("dim_value") else (batch_dim.dim_param or "batch_size")
    weight = numpy_helper.from_array(np.ascontiguousarray(head.weight.T, dtype=np.float32), "setfit_head.weight")
    bias = numpy_helper.from_array(head.bias.astype(np.float32), "setfit_head.bias")
    graph.initializer.extend([weight, bias])
    activation = (
        helper.make_node("Sigmoid", ["setfit_head.logits"], [PROBABILITY_OUTPUT], name="setfit_head.sigmoid")
        if head.activation == SIGMOID
        else helper.make_node("Softmax", ["setfit_head.logits"], [PROBABILITY_OUTPUT], name="setfit_head.softmax", axis=-1)
    )
    graph.node.extend(
        [
            helper.make_node("Identity", [ST_EMBEDDING_OUTPUT], [EMBEDDING_OUTPUT], name="embeddings.output"),
            helper.make_node("MatMul", [ST_EMBEDDING_OUTPUT, weight.name], ["setfit_head.matmul"], name="setfit_head.matmul"),
            helper.make_node("Add", ["setfit_head.matmul", bias.name], ["setfit_head.logits"], name="setfit_head.add"),
            activation,
        ]
    )
    del graph.output[:]
    graph.output.extend(
        [
            helper.make_tensor_value_info(PROBABILITY_OUTPUT, TensorProto.FLOAT, [batch, num_labels]),
            helper.make_tensor_value_info(EMBEDDING_OUTPUT, TensorProto.FLOAT, [batch, dim]),
        ]
    )
    onnx.checker.check_model(model)
    onnx.save(model, str(dst))


class SetFitExport(ClassifierExport):
    """A SetFit run: probabilities out of the graph (no activation left to the runtime), plus embeddings.

    Parity outputs are ``[probabilities | embeddings]`` side by side, so the fp32 gate's atol
    covers both graph outputs; labels and metrics read the probability columns only.
    """

    optimum_task = "feature-extraction"
    output_name = PROBABILITY_OUTPUT
    # fp32 must predict the label SetFitModel.predict predicts for every held-out example.
    require_label_agreement = True

    def __init__(self, run: dict[str, Any], run_dir: Path):
        super().__init__(run, run_dir)
        require_setfit_extra()
        self.head = load_linear_head(run_dir)
        if self.head.weight.shape[0] != len(self.labels):
            raise ExportError(f"{run_dir}: the head has {self.head.weight.shape[0]} outputs but the run has {len(self.labels)} labels")
        self.body: dict[str, Any] = run.get("body") or {}

    def export_onnx(self, out_dir: Path, *, opset: int | None, static_shape: tuple[int, int] | None) -> Path:
        """The body through Optimum, then the head appended; returns the one graph."""
        raw = export_with_optimum(
            self.run_dir, out_dir / "body", self.optimum_task, opset=opset, static_shape=static_shape, library_name="sentence_transformers"
        )
        path = out_dir / "model.onnx"
        append_head(raw, path, self.head)
        return path

    def manifest_fields(self) -> dict[str, Any]:
        fields = super().manifest_fields()
        fields["outputs"] = {"probabilities": PROBABILITY_OUTPUT, "embeddings": EMBEDDING_OUTPUT}
        fields["pooling"] = self.body.get("pooling")
        fields["normalize"] = bool(self.body.get("normalize"))
        return fields

    def probabilities(self, outputs: np.ndarray) -> np.ndarray:
        """The probability columns: the graph applies the head's activation itself."""
        return np.asarray(outputs[:, : len(self.labels)], dtype=np.float64)

    def predictions(self, outputs: np.ndarray) -> np.ndarray:
        return decisions(outputs[:, : len(self.labels)], self.multi_label, self.threshold)

    def reference(self) -> Reference:
        """The SetFitModel reloaded from the run folder: body.encode, then the scikit-learn head.

        One encode feeds both ``head.predict_proba`` and ``head.predict``, which is what
        ``SetFitModel.predict_proba`` and ``SetFitModel.predict`` do; the labels of ``predict`` are
        checked against the rule applied to the bundle's probabilities, so agreeing with those
        labels is agreeing with ``SetFitModel.predict``.
        """
        import torch

        model = load_setfit_model(self.run_dir)
        # Truncate like the bundle's tokenizer (the export may lower max_length, e.g. --static-shape).
        model.model_body.max_seq_length = self.max_length

        @torch.inference_mode()
        def forward(texts: Sequence[str]) -> np.ndarray:
            texts = list(texts)
            if not texts:
                return np.zeros((0, len(self.labels) + self.head.weight.shape[1]), np.float32)
            embeddings = np.asarray(model.encode(texts, batch_size=32, show_progress_bar=False))
            probs = np.asarray(model.model_head.predict_proba(embeddings), dtype=np.float64)
            outputs = np.concatenate([probs, embeddings.astype(np.float64)], axis=1)
            predicted = model.model_head.predict(embeddings)
            predicted = np.asarray(predicted.todense() if hasattr(predicted, "todense") else predicted)
            mismatch = np.flatnonzero(np.any((predicted != self.predictions(outputs)).reshape(len(texts), -1), axis=1))
            if mismatch.size:
                raise ExportError(
                    f"{self.run_dir}: SetFitModel.predict and its probabilities disagree on {mismatch.size} example(s) "
                    f"(first: {texts[mismatch[0]]!r}); the exported decision rule would not match it"
                )
            return outputs

        return forward, lambda text: forward([text])

    def bundle_outputs(self, model, texts: Sequence[str]) -> np.ndarray:
        out = model.run_outputs(list(texts), [PROBABILITY_OUTPUT, EMBEDDING_OUTPUT])
        return np.concatenate([out[PROBABILITY_OUTPUT], out[EMBEDDING_OUTPUT]], axis=1)
