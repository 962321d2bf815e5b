"""Per-task knowledge of the export stage, one module per task, behind a small registry.

Each exporter class takes (run info, run folder) and provides: ``optimum_task``, ``output_name``,
``max_length``, ``metric_name``, ``manifest_fields()``, ``parse_examples(rows, source)``,
``reference()`` (the PyTorch original), ``bundle_outputs(model, texts)``, ``predictions(outputs)``
and ``score(outputs, gold)``. Optional:

- ``bundle_task``: the manifest's task when it differs from the run's (a masked-LM run
  exports as a fill-mask bundle);
- ``compare(reference_outputs, outputs)``: extra parity figures for the report;
- ``export_onnx(out_dir, opset=..., static_shape=...) -> Path``: the task writes the ONNX graph
  itself (e.g. the body through Optimum plus layers of its own) instead of Optimum's export for
  ``optimum_task``;
- ``require_label_agreement = True``: the fp32 gate also requires 100% label agreement with the
  reference, not only outputs within ``atol``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from edgeft_runtime.constants import TASK_CLASSIFIER, TASK_NER, TASK_SETFIT

from ..errors import ExportError
from .classifier import ClassifierExport
from .fill_mask import FillMaskExport
from .ner import NerExport
from .setfit import SetFitExport

EXPORTERS: dict[str, type] = {
    TASK_CLASSIFIER: ClassifierExport,
    TASK_SETFIT: SetFitExport,
    TASK_NER: NerExport,
    "mlm": FillMaskExport,  # a masked-LM run exports as a fill-mask bundle
}


def exporter_for(run: dict[str, Any], run_dir: Path):
    cls = EXPORTERS.get(run["task"])
    if cls is None:
        raise ExportError(f"{run_dir}: task {run['task']!r} cannot be exported (supported: {', '.join(sorted(EXPORTERS))})")
    return cls(run, run_dir)
