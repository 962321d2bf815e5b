"""Supervised sequence classification with the Hugging Face Trainer (single- and multi-label)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from edgeft_runtime.constants import MULTI_LABEL, SINGLE_LABEL
from edgeft_runtime.metrics import classification_metrics, headline_metric
from edgeft_runtime.ops import multi_label_decisions

from ..config import ClassifierConfig, TextClassificationConfig
from ..data.classification import TextExample, check_known_labels, label_space, read_classification, sample_shots, split_holdout
from ..errors import DataError
from .common import IGNORE_INDEX, EvalFile, TrainResult
from .pipeline import Run, TrainerRecipe, train

log = logging.getLogger(__name__)


@dataclass
class ClassificationData:
    train: list[TextExample]
    eval: list[TextExample]
    labels: list[str]
    eval_source: str  # the eval file, or a note that it was held out of the training file


def load_classification_data(config: TextClassificationConfig, shots: int | None = None) -> ClassificationData:
    """Read train (and eval) files, derive the label set, hold out eval data when no file is given.

    shots: train on this many examples per label, sampled with ``config.seed``; without an eval
    file, the rows not sampled are the evaluation data.
    """
    config.require_io()
    read = dict(
        text_column=config.text_column,
        label_column=config.label_column,
        multi_label=config.multi_label,
        label_separator=config.label_separator,
        skip_empty=config.skip_empty,
    )
    train = read_classification(config.train, **read)
    labels = label_space(train, config.train, config.multi_label)
    rest: list[TextExample] = []
    if shots:
        train, rest = sample_shots(train, labels, shots, config.seed, config.train)
        log.info("--shots %d: sampled %d training examples (seed %d)", shots, len(train), config.seed)
    if config.eval:
        evaluation = read_classification(config.eval, **read)
        check_known_labels(evaluation, labels, config.eval)
        source = str(Path(config.eval).resolve())
    elif shots:
        if not rest:
            raise DataError(f"{config.train}: --shots {shots} took every row; pass --eval FILE to evaluate on")
        evaluation = rest
        source = f"the {len(rest)} rows of {Path(config.train).resolve()} not sampled by --shots {shots} (seed {config.seed})"
    else:
        train, evaluation = split_holdout(train, config.eval_ratio, config.seed, config.train)
        source = f"{config.eval_ratio:.0%} held out of {Path(config.train).resolve()} (seed {config.seed})"
        log.info("no --eval file: holding out %d of the training examples for evaluation", len(evaluation))
    absent = [label for label in labels if label not in {label for ex in evaluation for label in ex.labels}]
    if absent and not config.allow_missing_eval_labels:
        where = config.eval or (f"the rows of {config.train} not sampled by --shots" if shots else f"the held-out share of {config.train}")
        raise DataError(
            f"{where}: training label(s) {', '.join(map(repr, absent))} never occur in the eval data, so its "
            "metrics cannot measure them; add eval examples or pass --set allow_missing_eval_labels=true"
        )
    if absent:
        log.warning("labels never seen in the eval data (their F1 counts as 0): %s", ", ".join(absent))
    return ClassificationData(train, evaluation, labels, source)


def read_eval_rows(held: EvalFile) -> list[dict]:
    """A held-out file for `edgeft export --eval`, read with the run's columns and label format."""
    examples = read_classification(
        held.path,
        text_column=held.text_column or held.config.get("text_column", "text"),
        label_column=held.label_column or held.config.get("label_column", "label"),
        multi_label=held.run.get("problem_type") == MULTI_LABEL,
        label_separator=held.config.get("label_separator", ";"),
    )
    return [{"text": ex.text, "labels": ex.labels} for ex in examples]


def encode_targets(examples: list[TextExample], labels: list[str], multi_label: bool) -> np.ndarray:
    """Label strings -> class indices (single-label) or a float 0/1 matrix (multi-label)."""
    index = {label: i for i, label in enumerate(labels)}
    if multi_label:
        out = np.zeros((len(examples), len(labels)), dtype=np.float32)
        for row, ex in enumerate(examples):
            out[row, [index[label] for label in ex.labels]] = 1.0
        return out
    return np.array([index[ex.labels[0]] for ex in examples], dtype=np.int64)


def encode_rows(tokenizer, examples: list[TextExample], labels: list[str], multi_label: bool, max_length: int) -> list[dict]:
    """Trainer rows: the tokenizer's features (truncated to ``max_length``) and the target."""
    enc = tokenizer([ex.text for ex in examples], truncation=True, max_length=max_length)
    targets = encode_targets(examples, labels, multi_label)
    return [
        {**{k: enc[k][i] for k in enc.keys()}, "labels": targets[i].tolist() if multi_label else int(targets[i])}
        for i in range(len(examples))
    ]


def logits_to_predictions(logits: np.ndarray, multi_label: bool, threshold: float) -> np.ndarray:
    if multi_label:
        return multi_label_decisions(logits, threshold)
    return logits.argmax(-1)


class ClassifierRecipe(TrainerRecipe):
    """Sequence classification: one softmax over the labels, or one sigmoid per label (multi-label)."""

    task = "classifier"
    reported = frozenset({"accuracy", "macro_f1", "micro_f1", "subset_accuracy", "loss"})

    def __init__(self, config: ClassifierConfig):
        super().__init__(config)
        self.multi_label = config.multi_label
        self.headline = headline_metric(config.multi_label)

    def load_data(self) -> None:
        self.data = load_classification_data(self.config)
        self.labels = self.data.labels
        self.eval_source, self.eval_examples = self.data.eval_source, self.data.eval

    def load_tokenizer(self, run: Run):
        from transformers import AutoTokenizer

        return AutoTokenizer.from_pretrained(run.base.load_from)

    def auto_model_class(self):
        from transformers import AutoModelForSequenceClassification

        return AutoModelForSequenceClassification

    def head_options(self) -> dict[str, Any]:
        problem = "multi_label_classification" if self.multi_label else "single_label_classification"
        return {**super().head_options(), "problem_type": problem}

    def encode(self, run: Run) -> None:
        self.train_rows = encode_rows(self.tokenizer, self.data.train, self.labels, self.multi_label, self.config.max_length)
        self.eval_rows = encode_rows(self.tokenizer, self.data.eval, self.labels, self.multi_label, self.config.max_length)

    def unlabelled_rows(self, texts: list[str]) -> list[dict]:
        enc = self.tokenizer(texts, truncation=True, max_length=self.config.max_length)
        no_label: Any = [IGNORE_INDEX] * len(self.labels) if self.multi_label else IGNORE_INDEX
        return [{**{k: enc[k][i] for k in enc.keys()}, "labels": no_label} for i in range(len(texts))]

    def collator(self):
        from transformers import DataCollatorWithPadding

        return DataCollatorWithPadding(self.tokenizer)

    def score(self, logits, label_ids=None) -> dict[str, float]:
        if label_ids is None:
            label_ids = encode_targets(self.data.eval, self.labels, self.multi_label)
        preds = logits_to_predictions(np.asarray(logits), self.multi_label, self.config.threshold)
        return classification_metrics(np.asarray(label_ids).astype(np.int64), preds, len(self.labels), self.multi_label)

    def describe(self, run: Run) -> str:
        data = self.data
        return f"training {self.base_label(run)} on {len(data.train)} examples ({len(self.labels)} labels, eval {len(data.eval)})"

    def extra_metrics(self) -> dict[str, Any]:
        return {"eval_examples": len(self.data.eval), "train_examples": len(self.data.train)}

    def task_info(self) -> dict[str, Any]:
        return {
            "labels": self.labels,
            "problem_type": MULTI_LABEL if self.multi_label else SINGLE_LABEL,
            "threshold": self.config.threshold,
            "max_length": self.config.max_length,
            "train_steps": self.trainer.state.global_step,
        }


def train_classifier(config: ClassifierConfig, *, overwrite: bool = False, resume: bool = False) -> TrainResult:
    """Fine-tune ``config.base`` on the classification data and write a run folder to ``config.out``."""
    return train(ClassifierRecipe(config), overwrite=overwrite, resume=resume)
