"""Training tasks behind a small registry: name -> config class and training function.

Task modules import torch and transformers inside their functions, so the registry (and
``edgeft --help``) stays cheap to import.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from ..config import ClassifierConfig, MlmConfig, NerConfig, SetFitConfig, TrainConfig


@dataclass(frozen=True)
class TrainResult:
    """What a finished run returns to its caller."""

    out: Path
    metrics: dict[str, Any]
    seconds: float


@dataclass(frozen=True)
class TaskSpec:
    name: str
    summary: str
    config_class: type[TrainConfig]
    # "module:function" of the training entry point, imported on first use
    entry_point: str
    # "module:function" reading a held-out file into the rows the exporter's parity check takes:
    # (path, run_info, run_config, text_column=None, label_column=None) -> list[dict]
    eval_reader: str

    def train_fn(self) -> Callable[..., TrainResult]:
        return _resolve(self.entry_point)

    def eval_reader_fn(self) -> Callable[..., list[dict[str, Any]]]:
        return _resolve(self.eval_reader)


def _resolve(target: str) -> Callable[..., Any]:
    module, _, func = target.partition(":")
    return getattr(importlib.import_module(module), func)


_REGISTRY: dict[str, TaskSpec] = {}


def register(spec: TaskSpec) -> TaskSpec:
    """Add a task; names are unique and the entry point must be ``module:function``."""
    if spec.name in _REGISTRY:
        raise ValueError(f"task {spec.name!r} is already registered")
    for target in (spec.entry_point, spec.eval_reader):
        if ":" not in target:
            raise ValueError(f"task {spec.name!r}: entry points must be 'module:function', got {target!r}")
    if not issubclass(spec.config_class, TrainConfig):
        raise TypeError(f"task {spec.name!r}: config_class must subclass TrainConfig")
    _REGISTRY[spec.name] = spec
    return spec


def get_task(name: str) -> TaskSpec:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown task {name!r}; known: {', '.join(sorted(_REGISTRY))}") from None


def task_names() -> list[str]:
    return sorted(_REGISTRY)


register(
    TaskSpec(
        name="classifier",
        summary="supervised text classification (multi-class or multi-label)",
        config_class=ClassifierConfig,
        entry_point="edgeft.tasks.classifier:train_classifier",
        eval_reader="edgeft.tasks.classifier:read_eval_rows",
    )
)

register(
    TaskSpec(
        name="setfit",
        summary="few-shot text classification with SetFit (contrastive body fine-tuning + logistic-regression head)",
        config_class=SetFitConfig,
        entry_point="edgeft.tasks.setfit:train_setfit",
        eval_reader="edgeft.tasks.classifier:read_eval_rows",
    )
)

register(
    TaskSpec(
        name="ner",
        summary="token classification (named entities) from CoNLL, TSV or JSONL data",
        config_class=NerConfig,
        entry_point="edgeft.tasks.ner:train_ner",
        eval_reader="edgeft.tasks.ner:read_eval_rows",
    )
)

register(
    TaskSpec(
        name="mlm",
        summary="masked-LM continued pretraining on unlabelled in-domain text (a new --base for the other tasks)",
        config_class=MlmConfig,
        entry_point="edgeft.tasks.mlm:train_mlm",
        eval_reader="edgeft.tasks.mlm:read_eval_rows",
    )
)
