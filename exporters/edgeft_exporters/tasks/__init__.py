"""Per-task knowledge of the export stage, one module per task, behind a small registry.

Each exporter class takes (run info, run folder) and provides: ``optimum_task``, ``output_name``,
``max_length``, ``metric_name``, ``manifest_fields()``, ``parse_examples(rows, source)``,
``reference()`` (the PyTorch original), ``bundle_outputs(model, texts)``, ``predictions(outputs)``
and ``score(outputs, gold)``. Optional: ``bundle_task`` (the manifest's task when it differs from
the run's) and ``compare(reference_outputs, outputs)`` (extra parity figures for the report).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from edgeft_runtime.constants import TASK_CLASSIFIER, TASK_NER

from ..errors import ExportError
from .classifier import ClassifierExport
from .fill_mask import FillMaskExport
from .ner import NerExport

EXPORTERS: dict[str, type] = {
    TASK_CLASSIFIER: ClassifierExport,
    TASK_NER: NerExport,
    "mlm": FillMaskExport,  # a masked-LM run exports as a fill-mask bundle
}


def exporter_for(run: dict[str, Any], run_dir: Path):
    cls = EXPORTERS.get(run["task"])
    if cls is None:
        raise ExportError(f"{run_dir}: task {run['task']!r} cannot be exported (supported: {', '.join(sorted(EXPORTERS))})")
    return cls(run, run_dir)
