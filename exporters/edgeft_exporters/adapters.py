"""Runs that keep only a LoRA adapter (``save_merged=false``): merge it into its base model in a
temporary folder, so that everything downstream reads an ordinary ``save_pretrained`` run and
exports the same graph as a fully fine-tuned model."""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from .constants import ADAPTER_DIR
from .errors import ExportError
from .requirements import require_peft_extra

log = logging.getLogger(__name__)

ADAPTER_CONFIG_FILE = "adapter_config.json"


def is_adapter_only(run_dir: str | Path) -> bool:
    """A run folder with a LoRA adapter and no merged model beside it."""
    run_dir = Path(run_dir)
    return not (run_dir / "config.json").is_file() and (run_dir / ADAPTER_DIR / ADAPTER_CONFIG_FILE).is_file()


def adapter_base_path(run_dir: Path, run: dict[str, Any]) -> str:
    """The base model folder the adapter was trained on: the run's record, else the adapter's own."""
    adapter_config = json.loads((run_dir / ADAPTER_DIR / ADAPTER_CONFIG_FILE).read_text(encoding="utf-8"))
    candidates = [run.get("base_model_path"), adapter_config.get("base_model_name_or_path")]
    for candidate in candidates:
        if candidate and (Path(candidate) / "config.json").is_file():
            return str(candidate)
    raise ExportError(
        f"{run_dir}: keeps only a LoRA adapter (save_merged=false), and its base model is not here "
        f"({' or '.join(str(c) for c in candidates if c)}); install the base model there, or re-train with "
        "--set save_merged=true"
    )


def merge_adapter_run(run_dir: str | Path, run: dict[str, Any], out: str | Path) -> Path:
    """Write ``out``: the run's files with the adapter merged into its base as ``save_pretrained`` weights."""
    require_peft_extra()
    import torch
    import transformers
    from peft import PeftModel
    from transformers import AutoModelForSequenceClassification, AutoModelForTokenClassification

    run_dir, out = Path(run_dir), Path(out)
    labels = list(run["labels"])
    heads = {"classifier": AutoModelForSequenceClassification, "ner": AutoModelForTokenClassification}
    if run["task"] not in heads:
        raise ExportError(f"{run_dir}: a LoRA adapter for task {run['task']!r} cannot be merged (supported: classifier, ner)")
    kwargs: dict[str, Any] = dict(num_labels=len(labels), id2label=dict(enumerate(labels)), label2id={label: i for i, label in enumerate(labels)})
    if run["task"] == "classifier":
        multi = run.get("problem_type") == "multi_label"
        kwargs["problem_type"] = "multi_label_classification" if multi else "single_label_classification"
    base = adapter_base_path(run_dir, run)
    log.info("merging the LoRA adapter of %s into its base %s", run_dir, base)
    verbosity = transformers.logging.get_verbosity()
    transformers.logging.set_verbosity_error()  # the new head "should be trained": the adapter holds it
    try:
        model = heads[run["task"]].from_pretrained(base, **kwargs)
    finally:
        transformers.logging.set_verbosity(verbosity)
    with torch.no_grad():
        merged = PeftModel.from_pretrained(model, str(run_dir / ADAPTER_DIR)).merge_and_unload()
    out.mkdir(parents=True, exist_ok=True)
    for item in run_dir.iterdir():
        if item.is_file():
            shutil.copy2(item, out / item.name)
    merged.save_pretrained(str(out))
    return out


@contextmanager
def model_folder(run_dir: str | Path, run: dict[str, Any]) -> Iterator[Path]:
    """The run folder itself, or for an adapter-only run a temporary merged copy of it (same name,
    removed on exit)."""
    run_dir = Path(run_dir)
    if not is_adapter_only(run_dir):
        yield run_dir
        return
    with tempfile.TemporaryDirectory(prefix="edgeft-merged-") as tmp:
        yield merge_adapter_run(run_dir, run, Path(tmp) / run_dir.name)
