"""Training tasks behind a small registry: name -> config class, training function, held-out reader.

The task modules import torch and transformers inside their functions, so importing this
registry costs numpy and the runtime, never torch; `edgeft --help` does not import it at all
(the train and export commands do, inside their bodies).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from edgeft_runtime.metrics import headline_metric

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
    # config -> the metrics.json key that --seeds compares (higher is better); None: no --seeds.
    headline: Callable[[Any], str] | None = None


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


def train_task(name: str, config: TrainConfig, **kwargs: Any) -> TrainResult:
    """Train task ``name``: one run, or with ``config.seeds`` one run per seed, the best kept."""
    spec = get_task(name)
    if config.seeds:
        from .seeds import train_seeds

        return train_seeds(spec, config, **kwargs)
    return spec.train(config, **kwargs)


def _classification_headline(config: Any) -> str:
    return headline_metric(config.multi_label)


register(
    TaskSpec(
        name="classifier",
        summary="supervised text classification (multi-class or multi-label)",
        config_class=ClassifierConfig,
        train=classifier.train_classifier,
        read_eval_rows=classifier.read_eval_rows,
        headline=_classification_headline,
    )
)

register(
    TaskSpec(
        name="setfit",
        summary="few-shot text classification with SetFit (contrastive body fine-tuning + logistic-regression head)",
        config_class=SetFitConfig,
        train=setfit.train_setfit,
        read_eval_rows=classifier.read_eval_rows,
        headline=_classification_headline,
    )
)

register(
    TaskSpec(
        name="ner",
        summary="token classification (named entities) from CoNLL, TSV or JSONL data",
        config_class=NerConfig,
        train=ner.train_ner,
        read_eval_rows=ner.read_eval_rows,
        headline=lambda config: ner.HEADLINE,
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

__all__ = ["EvalReader", "TaskSpec", "TrainResult", "get_task", "register", "task_names", "train_task"]
