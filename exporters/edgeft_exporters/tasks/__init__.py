"""Per-task knowledge of the export stage, one module per task, behind a small registry.

Each exporter class is built from (run info, run folder) and satisfies ``base.TaskExporter``; most
inherit ``base.ExporterDefaults``. A masked-LM run (task ``mlm``) exports as a fill-mask bundle,
an embedding run as an ``embedding`` bundle.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from edgeft_runtime.constants import TASK_CLASSIFIER, TASK_EMBEDDING, TASK_NER, TASK_SETFIT

from ..errors import ExportError
from .base import TaskExporter
from .classifier import ClassifierExport
from .embedding import EmbeddingExport
from .fill_mask import FillMaskExport
from .ner import NerExport
from .setfit import SetFitExport

# Run task -> the exporter for it; typed so that the type checker proves each one is a TaskExporter.
EXPORTERS: dict[str, Callable[[dict[str, Any], Path], TaskExporter]] = {
    TASK_CLASSIFIER: ClassifierExport,
    TASK_SETFIT: SetFitExport,
    TASK_NER: NerExport,
    "mlm": FillMaskExport,  # a masked-LM run exports as a fill-mask bundle
    TASK_EMBEDDING: EmbeddingExport,
}


def exporter_for(run: dict[str, Any], run_dir: Path) -> TaskExporter:
    cls = EXPORTERS.get(run["task"])
    if cls is None:
        raise ExportError(f"{run_dir}: task {run['task']!r} cannot be exported (supported: {', '.join(sorted(EXPORTERS))})")
    return cls(run, run_dir)
