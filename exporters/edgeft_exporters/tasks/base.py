"""The contract every task's exporter meets (``TaskExporter``), and the defaults most share.

``api.export_run`` talks to a task only through ``TaskExporter``; the type checker (mypy, run by
the tests) checks that every class in the registry satisfies it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Protocol, Sequence

import numpy as np

from ..onnx_export import export_with_optimum

# (texts -> outputs of every text, one text -> anything): the reference's batch function for the
# gate and its single-text function for latency.
Reference = tuple[Callable[[Sequence[str]], np.ndarray], Callable[[str], Any]]


class TaskExporter(Protocol):
    """What the export stage needs to know about one task."""

    optimum_task: str  # Optimum's task name for the ONNX export
    output_name: str  # the graph output the gate compares and the latency call reads
    metric_name: str  # the headline key of ``score``: the int8 gate's metric
    bundle_task: str  # the manifest's task (a masked-LM run exports as a fill-mask bundle)
    max_length: int  # tokens; the export may lower it (fixed shapes)
    # The fp32 gate also requires 100% label agreement with the reference, not only outputs within atol.
    require_label_agreement: bool

    def export_onnx(self, out_dir: Path, *, opset: int | None, static_shape: tuple[int, int] | None) -> Path:
        """Write the task's ONNX graph under ``out_dir``; return its path."""
        ...

    def manifest_fields(self) -> dict[str, Any]:
        """The task's fields of ``edgeft.json`` (labels, outputs, task settings)."""
        ...

    def parse_examples(self, rows: Sequence[dict[str, Any]], source: str) -> tuple[list[str], Any]:
        """Held-out rows -> (texts, gold targets); ExportError naming ``source`` for bad rows."""
        ...

    def reference(self) -> Reference:
        """The PyTorch original."""
        ...

    def bundle_outputs(self, model: Any, texts: Sequence[str]) -> np.ndarray:
        """A loaded bundle variant's outputs on ``texts``, shaped as the reference's."""
        ...

    def predictions(self, outputs: np.ndarray) -> np.ndarray:
        """Outputs -> the labels whose agreement the gate reports."""
        ...

    def score(self, outputs: np.ndarray, gold: Any) -> dict[str, Any]:
        """Task metrics in points; ``metric_name`` is one of the keys."""
        ...

    def compare(self, reference: np.ndarray, outputs: np.ndarray) -> dict[str, float]:
        """Extra parity figures for the report (may be empty)."""
        ...

    def observe(self, outputs: np.ndarray, against: dict[str, Any] | None = None) -> dict[str, Any]:
        """Outputs on every held-out text as the observations of ``edgeft_runtime.reference`` (what
        the reference set stores and the device check reproduces, in probabilities). against: the
        reference's observations, where the task compares at their positions (fill-mask: its top
        tokens)."""
        ...

    def gold_record(self, gold: Any) -> Any:
        """The gold targets of ``parse_examples`` as JSON values, as the reference set stores them."""
        ...


class ExporterDefaults:
    """Defaults of ``TaskExporter`` that most tasks keep: Optimum's export of ``optimum_task``, the
    run's own task name, no label-agreement requirement and no extra parity figures."""

    optimum_task: str
    require_label_agreement = False

    def __init__(self, run: dict[str, Any], run_dir: Path):
        self.run = run
        self.run_dir = run_dir
        self.max_length = int(run["max_length"])
        self.bundle_task = str(run["task"])

    def export_onnx(self, out_dir: Path, *, opset: int | None, static_shape: tuple[int, int] | None) -> Path:
        return export_with_optimum(self.run_dir, out_dir, self.optimum_task, opset=opset, static_shape=static_shape)

    def compare(self, reference: np.ndarray, outputs: np.ndarray) -> dict[str, float]:
        return {}
