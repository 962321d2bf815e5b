"""The run folder: what a finished training run writes beside its save_pretrained files."""

from __future__ import annotations

import datetime as _dt
import json
import platform
from pathlib import Path
from typing import Any

from edgeft_exporters.constants import (
    CONFIG_FILE,
    EVAL_DATA_FILE,
    METRICS_FILE,
    RUN_FILE,
    RUN_FORMAT,
    RUN_SCHEMA_VERSION,
)

from . import __version__
from .config import TrainConfig
from .config_loader import save_config
from .data.classification import TextExample


def library_versions() -> dict[str, str]:
    import tokenizers
    import torch
    import transformers

    return {
        "edgeft": __version__,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "tokenizers": tokenizers.__version__,
    }


def write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def write_eval_examples(path: Path, examples: list[TextExample] | list[Any]) -> None:
    """Keep the held-out data with the run, so export can check parity on it later."""
    with open(path, "w", encoding="utf-8") as f:
        for ex in examples:
            row = ex.to_json() if hasattr(ex, "to_json") else {"text": ex.text, "labels": ex.labels}
            f.write(json.dumps(row, ensure_ascii=False) + "\n")


def write_run(
    folder: Path,
    *,
    task: str,
    config: TrainConfig,
    info: dict[str, Any],
    metrics: dict[str, Any],
    eval_examples: list[TextExample] | list[Any] | None,
) -> None:
    """Write edgeft_run.json, train_config.json, metrics.json and eval.jsonl into ``folder``."""
    run = {
        "format": RUN_FORMAT,
        "schema_version": RUN_SCHEMA_VERSION,
        "task": task,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "versions": library_versions(),
        **info,
    }
    write_json(folder / RUN_FILE, run)
    save_config(config, folder / CONFIG_FILE)
    write_json(folder / METRICS_FILE, metrics)
    if eval_examples:
        write_eval_examples(folder / EVAL_DATA_FILE, eval_examples)


def read_run_config(folder: str | Path) -> dict[str, Any]:
    """The resolved training config saved with a run (empty when absent)."""
    path = Path(folder) / CONFIG_FILE
    if not path.is_file():
        return {}
    return json.loads(path.read_text(encoding="utf-8"))
