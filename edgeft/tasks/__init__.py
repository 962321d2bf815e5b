"""Training tasks behind a small registry: name -> config class, training function, held-out reader.

The task modules import torch and transformers inside their functions, so importing this
registry costs numpy and the runtime, never torch; `edgeft --help` does not import it at all
(the train and export commands do, inside their bodies).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from ..config import ClassifierConfig, MlmConfig, NerConfig, SetFitConfig, TrainConfig
from . import classifier, mlm, ner, setfit
from .common import TrainResult

# (path, run_info, run_config, text_column=None, label_column=None) -> the rows the exporter's
# parity check takes (held-out data given to `edgeft export --eval FILE`).
EvalReader = Callable[..., list[dict[str, Any]]]


@dataclass(frozen=True)
class TaskSpec:
    name: str
    summary: str
    config_class: type[TrainConfig]
    train: Callable[..., TrainResult]  # (config, *, overwrite, resume...) -> TrainResult
    read_eval_rows: EvalReader


_REGISTRY: dict[str, TaskSpec] = {}


def register(spec: TaskSpec) -> TaskSpec:
    """Add a task; names are unique and each entry is callable."""
    if spec.name in _REGISTRY:
        raise ValueError(f"task {spec.name!r} is already registered")
    for fn in (spec.train, spec.read_eval_rows):
        if not callable(fn):
            raise TypeError(f"task {spec.name!r}: {fn!r} is not a function")
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
        train=classifier.train_classifier,
        read_eval_rows=classifier.read_eval_rows,
    )
)

register(
    TaskSpec(
        name="setfit",
        summary="few-shot text classification with SetFit (contrastive body fine-tuning + logistic-regression head)",
        config_class=SetFitConfig,
        train=setfit.train_setfit,
        read_eval_rows=classifier.read_eval_rows,
    )
)

register(
    TaskSpec(
        name="ner",
        summary="token classification (named entities) from CoNLL, TSV or JSONL data",
        config_class=NerConfig,
        train=ner.train_ner,
        read_eval_rows=ner.read_eval_rows,
    )
)

register(
    TaskSpec(
        name="mlm",
        summary="masked-LM continued pretraining on unlabelled in-domain text (a new --base for the other tasks)",
        config_class=MlmConfig,
        train=mlm.train_mlm,
        read_eval_rows=mlm.read_eval_rows,
    )
)

__all__ = ["EvalReader", "TaskSpec", "TrainResult", "get_task", "register", "task_names"]
