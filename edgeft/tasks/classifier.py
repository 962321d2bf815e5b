"""Supervised sequence classification with the Hugging Face Trainer (single- and multi-label)."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from edgeft_exporters.staging import StagedDir
from edgeft_runtime.constants import MULTI_LABEL, SINGLE_LABEL
from edgeft_runtime.metrics import classification_metrics, headline_metric
from edgeft_runtime.ops import multi_label_decisions

from ..base_models import load_base_config
from ..config import ClassifierConfig, TextClassificationConfig
from ..data.classification import TextExample, check_known_labels, label_space, read_classification, sample_shots, split_holdout
from ..devices import select_device
from ..errors import DataError
from ..runs import write_run
from .common import TrainResult, base_name, finish_run_folder, quiet_transformers, resume_checkpoint, run_info, supervised_trainer, training_loop_time
from .tuning import prepare_model, save_trained

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


def read_eval_rows(
    path: str | Path,
    run: dict,
    run_config: dict,
    text_column: str | None = None,
    label_column: str | None = None,
) -> list[dict]:
    """A held-out file for `edgeft export --eval`, read with the run's columns and label format."""
    examples = read_classification(
        path,
        text_column=text_column or run_config.get("text_column", "text"),
        label_column=label_column or run_config.get("label_column", "label"),
        multi_label=run.get("problem_type") == MULTI_LABEL,
        label_separator=run_config.get("label_separator", ";"),
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


def train_classifier(config: ClassifierConfig, *, overwrite: bool = False, resume: bool = False) -> TrainResult:
    """Fine-tune ``config.base`` on the classification data and write a run folder to ``config.out``."""
    started = time.perf_counter()
    data = load_classification_data(config)
    base_path, base_config = load_base_config(config.base)
    device = select_device(config)
    stage = StagedDir(config.out, overwrite=overwrite, keep_partial=True, resume=resume)
    stage.check()

    from transformers import (
        AutoModelForSequenceClassification,
        AutoTokenizer,
        DataCollatorWithPadding,
        set_seed,
    )

    quiet_transformers()
    set_seed(config.seed)
    multi = config.multi_label
    labels = data.labels
    tokenizer = AutoTokenizer.from_pretrained(base_path)
    model = AutoModelForSequenceClassification.from_pretrained(
        base_path,
        num_labels=len(labels),
        id2label=dict(enumerate(labels)),
        label2id={label: i for i, label in enumerate(labels)},
        problem_type="multi_label_classification" if multi else "single_label_classification",
    )
    prepared = prepare_model(model, config, "classifier")

    def compute_metrics(prediction) -> dict[str, float]:
        logits = prediction.predictions[0] if isinstance(prediction.predictions, tuple) else prediction.predictions
        preds = logits_to_predictions(logits, multi, config.threshold)
        return classification_metrics(prediction.label_ids.astype(np.int64), preds, len(labels), multi)

    metric = headline_metric(multi)
    with stage as work:
        trainer = supervised_trainer(
            config,
            device,
            work,
            model=prepared.model,
            train_rows=encode_rows(tokenizer, data.train, labels, multi, config.max_length),
            eval_rows=encode_rows(tokenizer, data.eval, labels, multi, config.max_length),
            collator=DataCollatorWithPadding(tokenizer),
            tokenizer=tokenizer,
            compute_metrics=compute_metrics,
            metric=metric,
        )
        log.info(
            "training %s on %d examples (%d labels, eval %d) on %s/%s",
            base_name(base_path),
            len(data.train),
            len(labels),
            len(data.eval),
            device.kind,
            device.precision,
        )
        trainer.train(resume_from_checkpoint=resume_checkpoint(work, resume))
        scores = trainer.evaluate()
        if not trainer.is_world_process_zero():
            return TrainResult(Path(config.out), {}, time.perf_counter() - started, main_process=False)
        save_trained(trainer, prepared, tokenizer, work, config)
        finish_run_folder(work)
        metrics = {k.removeprefix("eval_"): v for k, v in scores.items() if k.removeprefix("eval_") in _REPORTED}
        metrics["eval_examples"] = len(data.eval)
        metrics["train_examples"] = len(data.train)
        seconds = time.perf_counter() - started
        info = {
            "labels": labels,
            "problem_type": MULTI_LABEL if multi else SINGLE_LABEL,
            "threshold": config.threshold,
            "max_length": config.max_length,
            "train_steps": trainer.state.global_step,
            **run_info(
                config, base_path, base_config, device,
                sources={"train_file": str(Path(config.train).resolve())}, eval_source=data.eval_source, seconds=seconds,
                trained={**prepared.info, "training_loop": training_loop_time(trainer)},
            ),
        }
        write_run(work, task="classifier", config=config, info=info, metrics=metrics, eval_examples=data.eval)
        stage.commit()
    return TrainResult(Path(config.out), metrics, seconds)


_REPORTED = {"accuracy", "macro_f1", "micro_f1", "subset_accuracy", "loss"}
