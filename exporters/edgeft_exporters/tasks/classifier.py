"""Exporting a sequence classifier: logits out of the graph, softmax/sigmoid applied by the runtime."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np
from edgeft_runtime.constants import MULTI_LABEL
from edgeft_runtime.metrics import classification_metrics, headline_metric, in_points
from edgeft_runtime.ops import multi_label_decisions, sigmoid, softmax
from edgeft_runtime.reference_tasks import classifier_observation

from ..errors import ExportError
from .base import ExporterDefaults, Reference


class ClassifierExport(ExporterDefaults):
    """Sequence classification: logits out of the graph, softmax/sigmoid applied by the runtime."""

    optimum_task = "text-classification"
    output_name = "logits"

    def __init__(self, run: dict[str, Any], run_dir: Path):
        super().__init__(run, run_dir)
        self.labels: list[str] = list(run["labels"])
        self.multi_label = run.get("problem_type") == MULTI_LABEL
        self.threshold = float(run.get("threshold", 0.5))
        self.metric_name = headline_metric(self.multi_label)

    def manifest_fields(self) -> dict[str, Any]:
        fields = {
            "labels": self.labels,
            "problem_type": self.run.get("problem_type"),
            "outputs": {"logits": self.output_name},
        }
        if self.multi_label:
            fields["threshold"] = self.threshold
        return fields

    def parse_examples(self, rows: Sequence[dict[str, Any]], source: str) -> tuple[list[str], np.ndarray]:
        """Rows of {"text", "labels"} -> texts and gold targets (indices or a 0/1 matrix)."""
        index = {label: i for i, label in enumerate(self.labels)}
        texts: list[str] = []
        gold: list[Any] = []  # class indices, or 0/1 rows for multi-label
        for n, row in enumerate(rows, start=1):
            labels = row.get("labels", [])
            unknown = [label for label in labels if label not in index]
            if unknown:
                raise ExportError(f"{source}: example {n} has label {unknown[0]!r}, which the model was not trained on")
            texts.append(row["text"])
            if self.multi_label:
                vec: np.ndarray = np.zeros(len(self.labels), dtype=np.int64)
                vec[[index[label] for label in labels]] = 1
                gold.append(vec)
            else:
                gold.append(index[labels[0]])
        return texts, np.array(gold)

    def predictions(self, logits: np.ndarray) -> np.ndarray:
        if self.multi_label:
            return multi_label_decisions(logits, self.threshold)
        return logits.argmax(-1)

    def score(self, logits: np.ndarray, gold: np.ndarray) -> dict[str, float]:
        return in_points(classification_metrics(gold, self.predictions(logits), len(self.labels), self.multi_label))

    def reference(self) -> Reference:
        """The PyTorch original: (batch function -> logits, single-text function for latency)."""
        import torch
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(str(self.run_dir))
        model = AutoModelForSequenceClassification.from_pretrained(str(self.run_dir)).eval()

        @torch.inference_mode()
        def forward(texts: Sequence[str]) -> np.ndarray:
            out = []
            for start in range(0, len(texts), 32):
                enc = tokenizer(
                    list(texts[start : start + 32]),
                    truncation=True,
                    max_length=self.max_length,
                    padding=True,
                    return_tensors="pt",
                )
                out.append(model(**enc).logits.float().numpy())
            return np.concatenate(out) if out else np.zeros((0, len(self.labels)), np.float32)

        return forward, lambda text: forward([text])

    def bundle_outputs(self, model, texts: Sequence[str]) -> np.ndarray:
        return model.run_output(list(texts), self.output_name)

    def probabilities(self, outputs: np.ndarray) -> np.ndarray:
        """The reference's outputs as the runtime's ``predict_proba`` gives them."""
        logits = np.asarray(outputs, dtype=np.float64)
        return sigmoid(logits) if self.multi_label else softmax(logits)

    def observe(self, outputs: np.ndarray, against: dict[str, Any] | None = None) -> dict[str, Any]:
        return classifier_observation(self.probabilities(outputs), self.multi_label, self.threshold)

    def gold_record(self, gold: np.ndarray) -> list[Any]:
        return np.asarray(gold).tolist()
