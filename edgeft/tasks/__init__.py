"""Training tasks behind a small registry: name -> config class, recipe, held-out reader.

The task modules import torch and transformers inside their functions, so importing this
registry costs numpy and the runtime, never torch; `edgeft --help` does not import it at all
(the train and export commands do, inside their bodies).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from edgeft_runtime.metrics import headline_metric

from ..config import ClassifierConfig, EmbeddingConfig, MlmConfig, NerConfig, SetFitConfig, TrainConfig
from . import classifier, embedding, mlm, ner, pipeline, setfit
from .common import EvalFile, TrainResult
from .pipeline import Recipe

# A held-out file -> the rows the exporter's parity check takes (`edgeft export --eval FILE`).
EvalReader = Callable[[EvalFile], list[dict[str, Any]]]


@dataclass(frozen=True)
class TaskSpec:
    name: str
    summary: str
    config_class: type[TrainConfig]
    recipe: Callable[[Any], Recipe]  # config -> the task's recipe for the training pipeline
    eval_reader: EvalReader
    # config -> the metrics.json key that --seeds compares (higher is better); None: no --seeds.
    headline: Callable[[Any], str] | None = None

    def train(self, config: TrainConfig, *, overwrite: bool = False, resume: bool = False) -> TrainResult:
        """One run of this task through the training pipeline."""
        return pipeline.train(self.recipe(config), overwrite=overwrite, resume=resume)

    def read_eval_rows(
        self, path: str | Path, run: dict[str, Any], run_config: dict[str, Any], text_column: str | None = None, label_column: str | None = None
    ) -> list[dict[str, Any]]:
        """A held-out file read as this task's run (``run``: edgeft_run.json, ``run_config``: its
        train_config.json), the columns replaced when given."""
        return self.eval_reader(EvalFile(path, run, run_config, text_column, label_column))


_REGISTRY: dict[str, TaskSpec] = {}


def register(spec: TaskSpec) -> TaskSpec:
    """Add a task; names are unique and each entry is callable."""
    if spec.name in _REGISTRY:
        raise ValueError(f"task {spec.name!r} is already registered")
    for fn in (spec.recipe, spec.eval_reader):
        if not callable(fn):
            raise TypeError(f"task {spec.name!r}: {fn!r} is not callable")
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
    """Train task ``name``: one run, or with ``config.seeds`` one run per seed, or with
    ``config.search_trials`` a hyperparameter search; the best run kept."""
    spec = get_task(name)
    if config.search_trials:
        from .search import search

        return search(spec, config, **kwargs)
    if config.seeds:
        from .seeds import train_seeds

        return train_seeds(spec, config, **kwargs)
    return spec.train(config, **kwargs)


def _classification_headline(config: Any) -> str:
    return headline_metric(config.multi_label)


def _ner_headline(config: Any) -> str:
    return ner.NerRecipe.headline


_CLASSIFIER = "supervised text classification (multi-class or multi-label)"
_SETFIT = "few-shot text classification with SetFit (contrastive body fine-tuning + logistic-regression head)"
_NER = "token classification (named entities) from CoNLL, TSV or JSONL data"
_EMBEDDING = "sentence embeddings by unsupervised contrastive fine-tuning (SimCSE) on unlabelled text (a new --base too)"
_MLM = "masked-LM continued pretraining on unlabelled in-domain text (a new --base for the other tasks)"

for _spec in (
    TaskSpec("classifier", _CLASSIFIER, ClassifierConfig, classifier.ClassifierRecipe, classifier.read_eval_rows, _classification_headline),
    TaskSpec("setfit", _SETFIT, SetFitConfig, setfit.SetFitRecipe, classifier.read_eval_rows, _classification_headline),
    TaskSpec("ner", _NER, NerConfig, ner.NerRecipe, ner.read_eval_rows, _ner_headline),
    TaskSpec("mlm", _MLM, MlmConfig, mlm.MlmRecipe, mlm.read_eval_rows),
    # Held-out texts without labels are read as masked-LM's are: one row per text.
    TaskSpec("embedding", _EMBEDDING, EmbeddingConfig, embedding.EmbeddingRecipe, mlm.read_eval_rows),
):
    register(_spec)

__all__ = ["EvalReader", "TaskSpec", "TrainResult", "get_task", "register", "task_names", "train_task"]
