"""`edgeft distill`: a finished classifier, NER or SetFit run (the teacher) -> a run with fewer
layers (the student) that learned to copy it.

The student is cut from the teacher (``edgeft.distill.students``: same architecture, K of its layers,
embeddings and head copied), trained on the teacher's training data plus any ``--unlabelled``
texts, and written as an ordinary run folder of the teacher's task, so `edgeft export --int8`
and its parity gate treat it like any other run. Its ``metrics.json`` adds the teacher's scores
on the same eval data and the difference; ``edgeft_run.json`` says where it came from
(``distillation``). The teacher's folder is only read.

Classifier and NER students learn from the teacher's logits (``edgeft.distill.loss``). SetFit students go
through setfit's own ``DistillationTrainer``: the body learns to reproduce the teacher's cosine
similarities between pairs of texts, then a fresh logistic-regression head is fitted on the
teacher's predicted labels; temperature and alpha do not apply there.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from edgeft_exporters.constants import CONFIG_FILE
from edgeft_exporters.run_folder import read_run
from edgeft_exporters.staging import StagedDir
from edgeft_runtime.constants import MULTI_LABEL, SINGLE_LABEL, TASK_SETFIT

from ..config import DistillConfig, TrainConfig
from ..config_loader import build_config
from ..data.corpus import read_corpus_file
from ..devices import select_device
from ..errors import ConfigError, DataError, ModelError
from ..runs import write_run
from ..tasks.common import TrainResult, finish_run_folder, quiet_transformers, run_info

log = logging.getLogger(__name__)

DISTILLABLE = ("classifier", "ner", TASK_SETFIT)


@dataclass
class Teacher:
    """A finished run read for distillation; ``config`` points at data files that exist."""

    folder: Path
    run: dict[str, Any]
    task: str
    config: TrainConfig  # the teacher's resolved config: data files, columns, split seed
    layers: int


def read_teacher(config: DistillConfig) -> Teacher:
    """The teacher run, its config and layer count; one-line errors for every way it is unusable."""
    config.require_io()
    folder = Path(config.teacher or "")
    run = read_run(folder)
    task = run["task"]
    if task not in DISTILLABLE:
        raise ModelError(f"{folder}: a {task} run cannot be distilled; distil a {', '.join(DISTILLABLE)} run")
    out = Path(config.out or "").resolve()
    if out == folder.resolve() or folder.resolve() in out.parents:
        raise ConfigError(f"--out {config.out}: is the teacher's folder or inside it; the teacher is never modified, choose another folder")
    from edgeft_exporters.adapters import is_adapter_only
    from transformers import AutoConfig

    from .students import teacher_layer_count

    if is_adapter_only(folder):
        raise ModelError(
            f"{folder}: this LoRA run keeps only its adapter (save_merged=false); re-train it with "
            "--set save_merged=true to distil it"
        )
    from ..tasks import get_task

    layers = teacher_layer_count(AutoConfig.from_pretrained(str(folder)))
    if not 1 <= (config.layers or 0) < layers:
        raise ConfigError(f"--layers {config.layers}: the student needs fewer layers than the teacher's {layers} (1 to {layers - 1})")
    if not (folder / CONFIG_FILE).is_file():
        raise ModelError(f"{folder}: no {CONFIG_FILE}; the run folder is incomplete, re-train the teacher")
    teacher_config = build_config(get_task(task).config_class, config_file=folder / CONFIG_FILE)
    train = config.train or run.get("train_file") or teacher_config.train
    # eval_source is the resolved eval file when the teacher had one, else a note on its hold-out.
    eval_ = config.eval or (run.get("eval_source") if teacher_config.eval else None)
    for path, flag, given in ((train, "--train", config.train), (eval_, "--eval", config.eval)):
        if path and not Path(path).is_file():
            whose = "" if given else f"the teacher's data (from {folder}); pass {flag} FILE with the same data"
            raise DataError(f"{path}: file not found" + (f"; it is {whose}" if whose else ""))
    teacher_config = dataclasses.replace(teacher_config, train=train, eval=eval_, out=config.out)
    return Teacher(folder, run, task, teacher_config, layers)


# The teacher's fine-tuning techniques do not carry over: every weight of the student trains (its
# layers are a fresh subset, so freezing or adapters would keep it from learning the teacher's
# outputs), and one student is trained per call (run distill once per seed).
STUDENT_TRAINS_IN_FULL = {"freeze": "none", "peft": "none", "layerwise_lr_decay": 1.0, "reinit_top_layers": 0}


def student_config(teacher: Teacher, config: DistillConfig) -> TrainConfig:
    """The teacher's config with the options given to distill (validated on construction)."""
    return dataclasses.replace(teacher.config, **STUDENT_TRAINS_IN_FULL, seeds=[], **config.overrides())


def read_unlabelled(config: DistillConfig) -> list[str]:
    """Texts of ``--unlabelled``: plain text, one per line, or JSONL with a "text" field."""
    if not config.unlabelled:
        return []
    path = Path(config.unlabelled)
    if not path.is_file():
        raise DataError(f"{path}: --unlabelled file not found")
    texts = [doc.text for doc in read_corpus_file(path, documents="line")]
    log.info("%s: %d unlabelled texts for the soft-target loss", path, len(texts))
    return texts


def distill(config: DistillConfig, *, overwrite: bool = False) -> TrainResult:
    """Train a ``config.layers``-layer student of the run ``config.teacher`` into ``config.out``."""
    teacher = read_teacher(config)
    student = student_config(teacher, config)
    if teacher.task == TASK_SETFIT:
        if config.kd_hidden:
            raise ConfigError("kd_hidden does not apply to SetFit runs (setfit's DistillationTrainer matches embeddings' similarities); leave it at 0")
        return _distil_setfit(config, teacher, student, overwrite=overwrite)
    if teacher.task == "ner":
        return _distil_ner(config, teacher, student, overwrite=overwrite)
    return _distil_classifier(config, teacher, student, overwrite=overwrite)


# --------------------------------------------------------------------------- shared pieces


def _check_labels(found: list[str], teacher: Teacher, what: str) -> None:
    if list(found) != list(teacher.run["labels"]):
        raise DataError(
            f"{teacher.config.train}: its {what} ({', '.join(found)}) differ from the teacher's "
            f"({', '.join(teacher.run['labels'])}); distil on the data the teacher was trained on"
        )


def _kd_settings(config: DistillConfig, teacher: Teacher, *, multi_label: bool, per_token: bool):
    from .loss import KdSettings
    from .students import hidden_state_pairs

    return KdSettings(
        temperature=config.kd_temperature,
        alpha=config.kd_alpha,
        hidden=config.kd_hidden,
        multi_label=multi_label,
        per_token=per_token,
        hidden_pairs=tuple(hidden_state_pairs(teacher.layers, config.layers or 0)),
    )


def _attach(rows: list[dict[str, Any]], logits: list[np.ndarray]) -> list[dict[str, Any]]:
    from .loss import TEACHER_LOGITS

    return [{**row, TEACHER_LOGITS: lg} for row, lg in zip(rows, logits)]


def compare_with_teacher(student: dict[str, Any], teacher: dict[str, float]) -> dict[str, Any]:
    """The student's metrics plus the teacher's on the same eval data and student minus teacher."""
    shared = [k for k, v in teacher.items() if isinstance(v, (int, float)) and isinstance(student.get(k), (int, float))]
    return {
        **student,
        "teacher": {k: teacher[k] for k in shared},
        "difference_vs_teacher": {k: round(float(student[k]) - float(teacher[k]), 6) for k in shared},
    }


def _distillation_info(config: DistillConfig, teacher: Teacher, mapping: list[int], unlabelled: int) -> dict[str, Any]:
    return {
        "teacher": str(teacher.folder.resolve()),
        "teacher_layers": teacher.layers,
        "student_layers": config.layers,
        "layer_map": mapping,
        "kd_temperature": config.kd_temperature,
        "kd_alpha": config.kd_alpha,
        "kd_hidden": config.kd_hidden,
        "unlabelled_file": str(Path(config.unlabelled).resolve()) if config.unlabelled else None,
        "unlabelled_texts": unlabelled,
    }


def _student_run_info(student_cfg: TrainConfig, teacher: Teacher, model_config: Any, device: Any, *, eval_source: str, seconds: float) -> dict[str, Any]:
    return run_info(
        student_cfg,
        teacher.run.get("base_model_path", ""),
        model_config,
        device,
        sources={"train_file": str(Path(student_cfg.train or "").resolve())},
        eval_source=eval_source,
        seconds=seconds,
    )


def _start_student(config: DistillConfig, student_cfg: TrainConfig, *, overwrite: bool) -> tuple[list[str], Any, StagedDir]:
    """(the --unlabelled texts, the training device, the staged output folder), each checked
    before any model is loaded: a bad file or an existing --out fails in a second."""
    unlabelled = read_unlabelled(config)
    device = select_device(student_cfg)
    stage = StagedDir(config.out or "", overwrite=overwrite)
    stage.check()
    return unlabelled, device, stage


def _student_trainer(
    config: DistillConfig, teacher: Teacher, student_cfg: TrainConfig, device: Any, work: Path, *, teacher_model: Any, student: Any, train_rows: list,
    eval_rows: list, collator: Any, tokenizer: Any, compute_metrics: Any, metric: str, multi_label: bool, per_token: bool,
) -> Any:
    """The Trainer that fits ``student`` to the teacher's soft targets attached to ``train_rows``
    (and, with ``kd_hidden``, to the teacher's hidden states)."""
    from .loss import WithTeacherLogits, distill_trainer_class
    from ..tasks.common import supervised_trainer

    return supervised_trainer(
        student_cfg,
        device,
        work,
        model=student,
        train_rows=train_rows,
        eval_rows=eval_rows,
        collator=WithTeacherLogits(collator),
        tokenizer=tokenizer,
        compute_metrics=compute_metrics,
        metric=metric,
        trainer_class=distill_trainer_class(),
        kd=_kd_settings(config, teacher, multi_label=multi_label, per_token=per_token),
        teacher=teacher_model if config.kd_hidden else None,
        group_by_length=config.group_by_length,
    )


def _train_and_compare(trainer: Any, work: Path, teacher_scores: dict[str, Any], reported: Any) -> dict[str, Any]:
    """Train, evaluate the kept student, save it into ``work``; its metrics next to the teacher's."""
    trainer.train()
    student_scores = trainer.evaluate()
    trainer.save_model(str(work))
    finish_run_folder(work)
    metrics: dict[str, Any] = {k.removeprefix("eval_"): v for k, v in student_scores.items() if k.removeprefix("eval_") in reported}
    return compare_with_teacher(metrics, {k: v for k, v in teacher_scores.items() if k in reported})


# --------------------------------------------------------------------------- classifier


def _distil_classifier(config: DistillConfig, teacher: Teacher, student_cfg: Any, *, overwrite: bool) -> TrainResult:
    started = time.perf_counter()
    from edgeft_runtime.metrics import classification_metrics, headline_metric

    from ..tasks.classifier import ClassifierRecipe, encode_rows, encode_targets, load_classification_data, logits_to_predictions

    data = load_classification_data(teacher.config)
    _check_labels(data.labels, teacher, "labels")
    unlabelled, device, stage = _start_student(config, student_cfg, overwrite=overwrite)

    from transformers import AutoModelForSequenceClassification, AutoTokenizer, DataCollatorWithPadding, set_seed

    from .loss import IGNORE, predict_logits
    from .students import shrink

    quiet_transformers()
    set_seed(student_cfg.seed)
    labels = data.labels
    multi = teacher.run.get("problem_type") == MULTI_LABEL
    threshold = float(teacher.run.get("threshold", 0.5))
    tokenizer = AutoTokenizer.from_pretrained(str(teacher.folder))
    teacher_model = AutoModelForSequenceClassification.from_pretrained(str(teacher.folder)).eval()
    student, mapping = shrink(teacher_model, config.layers or 0)

    max_length = int(teacher.run["max_length"])
    train_rows = encode_rows(tokenizer, data.train, labels, multi, max_length)
    if unlabelled:
        enc = tokenizer(unlabelled, truncation=True, max_length=max_length)
        no_label: Any = [IGNORE] * len(labels) if multi else IGNORE
        train_rows += [{**{k: enc[k][i] for k in enc.keys()}, "labels": no_label} for i in range(len(unlabelled))]
    eval_rows = encode_rows(tokenizer, data.eval, labels, multi, max_length)
    log.info("teacher: computing soft targets for %d training texts", len(train_rows))
    train_rows = _attach(train_rows, predict_logits(teacher_model, tokenizer, train_rows, per_token=False))
    gold = encode_targets(data.eval, labels, multi).astype(np.int64)

    def scores(logits: np.ndarray, label_ids: np.ndarray) -> dict[str, float]:
        preds = logits_to_predictions(logits, multi, threshold)
        return classification_metrics(label_ids.astype(np.int64), preds, len(labels), multi)

    def compute_metrics(prediction) -> dict[str, float]:
        logits = prediction.predictions[0] if isinstance(prediction.predictions, tuple) else prediction.predictions
        return scores(logits, prediction.label_ids)

    teacher_scores = scores(np.stack(predict_logits(teacher_model, tokenizer, eval_rows, per_token=False)), gold)
    metric = headline_metric(multi)
    with stage as work:
        log.info(
            "distilling %s (%d layers, %s %.4f) into %d layers (from teacher layers %s) on %d texts (%d unlabelled), eval %d",
            teacher.folder, teacher.layers, metric, teacher_scores[metric], config.layers, mapping, len(train_rows), len(unlabelled), len(data.eval),
        )
        trainer = _student_trainer(
            config, teacher, student_cfg, device, work, teacher_model=teacher_model, student=student, train_rows=train_rows, eval_rows=eval_rows,
            collator=DataCollatorWithPadding(tokenizer), tokenizer=tokenizer, compute_metrics=compute_metrics, metric=metric,
            multi_label=multi, per_token=False,
        )
        metrics = _train_and_compare(trainer, work, teacher_scores, ClassifierRecipe.reported)
        metrics.update(eval_examples=len(data.eval), train_examples=len(data.train), unlabelled_examples=len(unlabelled))
        seconds = time.perf_counter() - started
        info = {
            "labels": labels,
            "problem_type": MULTI_LABEL if multi else SINGLE_LABEL,
            "threshold": threshold,
            "max_length": max_length,
            **_student_run_info(student_cfg, teacher, student.config, device, eval_source=data.eval_source, seconds=seconds),
            "distillation": _distillation_info(config, teacher, mapping, len(unlabelled)),
        }
        write_run(work, task="classifier", config=student_cfg, info=info, metrics=metrics, eval_examples=data.eval)
        stage.commit()
    return TrainResult(Path(config.out or ""), metrics, seconds)


# --------------------------------------------------------------------------- NER


def _distil_ner(config: DistillConfig, teacher: Teacher, student_cfg: Any, *, overwrite: bool) -> TrainResult:
    started = time.perf_counter()
    from edgeft_runtime import ner

    from ..data.ner import NerExample
    from ..tasks.ner import _REPORTED, HEADLINE, content_tokenizer, encode_examples, entities_from_window_logits, flat_scores, load_ner_data, score_entities

    data = load_ner_data(teacher.config)
    _check_labels(data.labels, teacher, "entity tags")
    unlabelled, device, stage = _start_student(config, student_cfg, overwrite=overwrite)

    from transformers import AutoModelForTokenClassification, AutoTokenizer, DataCollatorForTokenClassification, set_seed

    from .loss import IGNORE, predict_logits
    from .students import shrink

    quiet_transformers()
    set_seed(student_cfg.seed)
    labels = data.labels
    # The student reads text in the teacher's word units (runs written before word_split existed
    # were trained on the tokenizer's words).
    settings = {"word_split": ner.LEGACY_WORD_SPLIT, **teacher.run["ner"]}
    hf_tokenizer = AutoTokenizer.from_pretrained(str(teacher.folder), use_fast=True)
    tokenizer = content_tokenizer(hf_tokenizer)
    specials = ner.specials_of(tokenizer)
    teacher_model = AutoModelForTokenClassification.from_pretrained(str(teacher.folder)).eval()
    student, mapping = shrink(teacher_model, config.layers or 0)
    encode = dict(
        max_length=int(teacher.run["max_length"]),
        stride=int(settings["stride"]),
        label_all=bool(settings.get("label_all_tokens", False)),
        type_ids="token_type_ids" in hf_tokenizer.model_input_names,
        word_split=settings["word_split"],
    )
    train_enc = encode_examples(tokenizer, specials, data.train, labels, **encode)
    train_rows = list(train_enc.rows)
    if unlabelled:
        extra = encode_examples(tokenizer, specials, [NerExample(t, [], 0) for t in unlabelled], labels, **encode)
        train_rows += [{**row, "labels": [IGNORE] * len(row["labels"])} for row in extra.rows]
    eval_enc = encode_examples(tokenizer, specials, data.eval, labels, **encode)
    log.info("teacher: computing soft targets for %d training windows", len(train_rows))
    train_rows = _attach(train_rows, predict_logits(teacher_model, hf_tokenizer, train_rows, per_token=True))
    prefix = len(specials.prefix_ids)
    aggregation = settings.get("aggregation", "first")
    last_report: dict[str, Any] = {}

    def scores(window_logits: list[np.ndarray]) -> dict[str, float]:
        predicted = entities_from_window_logits(data.eval, eval_enc, window_logits, prefix, labels, aggregation)
        report = score_entities(data.eval, predicted)
        last_report.clear()
        last_report.update(report)
        return flat_scores(report)

    def compute_metrics(prediction) -> dict[str, float]:
        logits = prediction.predictions[0] if isinstance(prediction.predictions, tuple) else prediction.predictions
        return scores(list(logits))

    teacher_scores = scores(predict_logits(teacher_model, hf_tokenizer, eval_enc.rows, per_token=True))
    teacher_per_type = dict(last_report.get("per_type", {}))
    with stage as work:
        log.info(
            "distilling %s (%d layers, entity F1 %.4f) into %d layers (from teacher layers %s) on %d windows (%d unlabelled texts), eval %d sentences",
            teacher.folder, teacher.layers, teacher_scores[HEADLINE], config.layers, mapping, len(train_rows), len(unlabelled), len(data.eval),
        )
        trainer = _student_trainer(
            config, teacher, student_cfg, device, work, teacher_model=teacher_model, student=student, train_rows=train_rows, eval_rows=eval_enc.rows,
            collator=DataCollatorForTokenClassification(hf_tokenizer), tokenizer=hf_tokenizer, compute_metrics=compute_metrics,
            metric=HEADLINE, multi_label=False, per_token=True,
        )
        metrics = _train_and_compare(trainer, work, teacher_scores, _REPORTED)  # leaves the kept model's per-type report in last_report
        metrics["per_type"] = last_report.get("per_type", {})
        metrics["teacher"]["per_type"] = teacher_per_type
        metrics.update(eval_examples=len(data.eval), train_examples=len(data.train), unlabelled_examples=len(unlabelled))
        seconds = time.perf_counter() - started
        info = {
            "labels": labels,
            "max_length": int(teacher.run["max_length"]),
            "ner": dict(settings),
            **_student_run_info(student_cfg, teacher, student.config, device, eval_source=data.eval_source, seconds=seconds),
            "distillation": _distillation_info(config, teacher, mapping, len(unlabelled)),
        }
        write_run(work, task="ner", config=student_cfg, info=info, metrics=metrics, eval_examples=data.eval)
        stage.commit()
    return TrainResult(Path(config.out or ""), metrics, seconds)


# --------------------------------------------------------------------------- SetFit


def _distil_setfit(config: DistillConfig, teacher: Teacher, student_cfg: Any, *, overwrite: bool) -> TrainResult:
    from ..tasks.setfit import require_setfit

    require_setfit()
    started = time.perf_counter()
    from edgeft_runtime.metrics import classification_metrics

    from ..tasks.classifier import encode_targets, load_classification_data
    from ..tasks.setfit import SETFIT_THRESHOLD, _quiet_setfit, build_head, describe_body, head_params, training_arguments

    data = load_classification_data(teacher.config, shots=getattr(teacher.config, "shots", None))
    _check_labels(data.labels, teacher, "labels")
    unlabelled, device, stage = _start_student(config, student_cfg, overwrite=overwrite)

    import sentence_transformers
    import setfit
    import sklearn
    from datasets import Dataset
    from edgeft_exporters.setfit_head import load_setfit_model, save_head
    from sentence_transformers import SentenceTransformer
    from setfit import DistillationTrainer, SetFitModel
    from transformers import set_seed

    from ..runs import library_versions
    from .students import shrink

    quiet_transformers()
    _quiet_setfit()
    set_seed(student_cfg.seed)
    labels, multi = data.labels, student_cfg.multi_label
    teacher_model = load_setfit_model(teacher.folder, device=device.kind)
    # Class indices, not label names: the student's head is fitted on the teacher's predictions
    # and the exporter expects a head over classes 0..n-1.
    teacher_model.labels = None
    body = SentenceTransformer(str(teacher.folder), device=device.kind, local_files_only=True)
    transformer = body[0]
    small, mapping = shrink(transformer.auto_model, config.layers or 0)
    if isinstance(getattr(type(transformer), "auto_model", None), property):
        transformer.model = small  # sentence-transformers 5: auto_model reads .model
    else:
        transformer.auto_model = small
    student = SetFitModel(model_body=body, model_head=build_head(student_cfg), multi_target_strategy="one-vs-rest" if multi else None)
    texts = [ex.text for ex in data.train] + unlabelled

    def scores(model) -> dict[str, float]:
        probs = np.asarray(model.predict_proba([ex.text for ex in data.eval], as_numpy=True, show_progress_bar=False))
        preds = (probs >= SETFIT_THRESHOLD).astype(np.int64) if multi else probs.argmax(-1)
        return classification_metrics(encode_targets(data.eval, labels, multi).astype(np.int64), preds, len(labels), multi)

    teacher_scores = scores(teacher_model)
    with stage as work:
        trainer = DistillationTrainer(
            teacher_model=teacher_model,
            student_model=student,
            args=training_arguments(student_cfg, device, work),
            train_dataset=Dataset.from_dict({"text": texts}),
        )
        log.info(
            "distilling SetFit run %s (%d layers) into %d layers (from teacher layers %s) on %d texts (%d unlabelled), eval %d",
            teacher.folder, teacher.layers, config.layers, mapping, len(texts), len(unlabelled), len(data.eval),
        )
        fit_started = time.perf_counter()
        trainer.train()  # the body on pairs scored by the teacher, then the head on its labels
        train_seconds = time.perf_counter() - fit_started
        predicted = {int(c) for c in np.asarray(getattr(student.model_head, "classes_", range(len(labels)))).ravel()}
        if not multi and predicted != set(range(len(labels))):
            missing = [labels[i] for i in range(len(labels)) if i not in predicted]
            raise DataError(f"the teacher never predicts {', '.join(missing)} on the training texts, so the student's head cannot learn it; add texts with --unlabelled")
        metrics: dict[str, Any] = compare_with_teacher(scores(student), teacher_scores)
        metrics.update(eval_examples=len(data.eval), train_examples=len(data.train), unlabelled_examples=len(unlabelled))
        student.model_body.save(str(work), create_model_card=False)
        head_spec = save_head(work, student.model_head, labels=labels, multi_label=multi, params=head_params(student_cfg))
        finish_run_folder(work)
        seconds = time.perf_counter() - started
        built = bool((teacher.run.get("body") or {}).get("built_by_edgeft", False))
        info = {
            "labels": labels,
            "problem_type": MULTI_LABEL if multi else SINGLE_LABEL,
            "threshold": SETFIT_THRESHOLD,
            "max_length": int(teacher.run["max_length"]),
            "body": describe_body(student.model_body, built=built),
            "head": {k: head_spec[k] for k in ("kind", "multi_target_strategy", "activation", "params")},
            "shots": getattr(student_cfg, "shots", None),
            **_student_run_info(student_cfg, teacher, small.config, device, eval_source=data.eval_source, seconds=train_seconds),
            "distillation": {**_distillation_info(config, teacher, mapping, len(unlabelled)), "method": "setfit.DistillationTrainer"},
            "versions": {
                **library_versions(),
                "setfit": setfit.__version__,
                "sentence_transformers": sentence_transformers.__version__,
                "scikit_learn": sklearn.__version__,
            },
        }
        write_run(work, task=TASK_SETFIT, config=student_cfg, info=info, metrics=metrics, eval_examples=data.eval)
        stage.commit()
    return TrainResult(Path(config.out or ""), metrics, seconds)
