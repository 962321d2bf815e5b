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
from edgeft_exporters.run_folder import CONFIG_FILE, read_run
from edgeft_runtime import ner
from edgeft_runtime.constants import TASK_SETFIT
from edgeft_runtime.metrics import headline_metric

from ..config import DistillConfig, TrainConfig
from ..config_loader import build_config
from ..data.corpus import read_corpus_file
from ..errors import ConfigError, DataError, ModelError
from ..tasks.common import TrainResult
from ..tasks.ner import NerRecipe
from ..tasks.pipeline import Base, Recipe, Run, TrainerRecipe, train

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
    model_config: Any = None  # its transformers config (read_teacher always sets it)


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

    model_config = AutoConfig.from_pretrained(str(folder))
    layers = teacher_layer_count(model_config)
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
    return Teacher(folder, run, task, teacher_config, layers, model_config)


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
    from ..tasks import get_task

    inner = get_task(teacher.task).recipe(student_config(teacher, config))
    if isinstance(inner, NerRecipe):
        # The student reads text in the teacher's word units (runs written before word_split
        # existed were trained on the tokenizer's words).
        inner.settings = {"word_split": ner.LEGACY_WORD_SPLIT, **teacher.run["ner"]}
    if isinstance(inner, TrainerRecipe):
        return train(TrainerDistillation(inner, teacher, config), overwrite=overwrite)
    if config.kd_hidden:
        raise ConfigError("kd_hidden does not apply to SetFit runs (setfit's DistillationTrainer matches embeddings' similarities); leave it at 0")
    return train(SetFitDistillation(inner, teacher, config), overwrite=overwrite)


def compare_with_teacher(student: dict[str, Any], teacher: dict[str, float]) -> dict[str, Any]:
    """The student's metrics plus the teacher's on the same eval data and student minus teacher."""
    shared = [k for k, v in teacher.items() if isinstance(v, (int, float)) and isinstance(student.get(k), (int, float))]
    return {
        **student,
        "teacher": {k: teacher[k] for k in shared},
        "difference_vs_teacher": {k: round(float(student[k]) - float(teacher[k]), 6) for k in shared},
    }


class Distillation(Recipe):
    """A task's recipe, trained as a student of a teacher run: the teacher's data and settings, a
    student cut from the teacher, the teacher's scores beside the student's, and where it came from.
    Subclasses say how the student learns from the teacher."""

    resumable = False

    def __init__(self, inner: Any, teacher: Teacher, config: DistillConfig):
        super().__init__(inner.config)
        self.inner, self.teacher, self.distil = inner, teacher, config
        self.task, self.reported = inner.task, inner.reported
        self.teacher_scores: dict[str, Any] = {}
        self.teacher_details: dict[str, Any] = {}
        self.mapping: list[int] = []

    def check(self, resume: bool) -> None:
        self.inner.check(False)

    def load_data(self) -> None:
        inner, teacher = self.inner, self.teacher
        inner.load_data()
        if list(inner.labels) != list(teacher.run["labels"]):
            what = "entity tags" if teacher.task == "ner" else "labels"
            raise DataError(
                f"{teacher.config.train}: its {what} ({', '.join(inner.labels)}) differ from the teacher's "
                f"({', '.join(teacher.run['labels'])}); distil on the data the teacher was trained on"
            )
        self.unlabelled = read_unlabelled(self.distil)
        self.eval_source, self.eval_examples = inner.eval_source, inner.eval_examples

    def base(self) -> Base:
        return Base(self.teacher.run.get("base_model_path", ""), self.teacher.model_config, str(self.teacher.folder))

    def check_device(self, device: Any) -> None:
        self.inner.check_device(device)

    def quiet(self) -> None:
        self.inner.quiet()

    def log_start(self, rows: int) -> None:
        teacher, metric = self.teacher, self.headline()
        log.info(
            "distilling %s (%d layers, %s %.4f) into %d layers (from teacher layers %s) on %d training rows (%d unlabelled texts), eval %d",
            teacher.folder, teacher.layers, metric, self.teacher_scores[metric], self.distil.layers, self.mapping, rows, len(self.unlabelled),
            len(self.inner.eval_examples),
        )

    def headline(self) -> str:
        return getattr(self.inner, "headline", None) or headline_metric(self.inner.multi_label)

    def save(self, run: Run, work: Path) -> None:
        self.inner.save(run, work)

    def metrics(self, scores: dict[str, Any]) -> dict[str, Any]:
        inner = self.inner
        metrics = compare_with_teacher(inner.reported_scores(scores), inner.reported_scores(self.teacher_scores))
        metrics["teacher"].update(self.teacher_details)
        return {**metrics, **inner.extra_metrics(), "unlabelled_examples": len(self.unlabelled)}

    def task_info(self) -> dict[str, Any]:
        return self.inner.task_info()

    def sources(self) -> dict[str, Any]:
        return self.inner.sources()

    def trained(self) -> dict[str, Any] | None:
        return self.inner.trained()

    def recorded_seconds(self, seconds: float) -> float:
        return self.inner.recorded_seconds(seconds)

    def closing_info(self) -> dict[str, Any]:
        config, teacher = self.distil, self.teacher
        info = {
            "teacher": str(teacher.folder.resolve()),
            "teacher_layers": teacher.layers,
            "student_layers": config.layers,
            "layer_map": self.mapping,
            "kd_temperature": config.kd_temperature,
            "kd_alpha": config.kd_alpha,
            "kd_hidden": config.kd_hidden,
            "unlabelled_file": str(Path(config.unlabelled).resolve()) if config.unlabelled else None,
            "unlabelled_texts": len(self.unlabelled),
        }
        return {"distillation": info, **self.inner.closing_info()}


class TrainerDistillation(Distillation):
    """A Trainer recipe's student: it trains on the teacher's logits for every training row (and the
    ``--unlabelled`` texts), with the distillation loss (``edgeft.distill.loss``)."""

    def prepare(self, run: Run) -> None:
        from .loss import TEACHER_LOGITS, KdSettings, WithTeacherLogits, distill_trainer_class, predict_logits
        from .students import hidden_state_pairs, shrink

        inner, config = self.inner, self.distil
        teacher_model = inner.auto_model_class().from_pretrained(run.base.load_from).eval()
        student, self.mapping = shrink(teacher_model, config.layers or 0)
        inner.prepare(run, model=student)
        rows = inner.train_rows + (inner.unlabelled_rows(self.unlabelled) if self.unlabelled else [])
        log.info("teacher: computing soft targets for %d training rows", len(rows))
        soft = predict_logits(teacher_model, inner.tokenizer, rows, per_token=inner.per_token)
        inner.train_rows = [{**row, TEACHER_LOGITS: logits} for row, logits in zip(rows, soft)]
        self.teacher_scores = inner.score(predict_logits(teacher_model, inner.tokenizer, inner.eval_rows, per_token=inner.per_token))
        self.teacher_details = inner.details()
        inner.collator_wrapper = WithTeacherLogits
        pairs = tuple(hidden_state_pairs(self.teacher.layers, config.layers or 0))
        inner.trainer_options = dict(
            trainer_class=distill_trainer_class(),
            kd=KdSettings(config.kd_temperature, config.kd_alpha, config.kd_hidden, inner.multi_label, inner.per_token, pairs),
            teacher=teacher_model if config.kd_hidden else None,
            group_by_length=config.group_by_length,
        )
        self.rows = len(rows)

    def fit(self, run: Run, work: Path, resume: bool) -> dict[str, Any] | None:
        self.log_start(self.rows)
        return self.inner.fit(run, work, resume=False)


class SetFitDistillation(Distillation):
    """A SetFit student through setfit's own ``DistillationTrainer``: the body learns the teacher's
    cosine similarities between pairs of texts, then a fresh head is fitted on the teacher's labels."""

    def prepare(self, run: Run) -> None:
        from edgeft_exporters.setfit_head import load_setfit_model
        from sentence_transformers import SentenceTransformer
        from setfit import SetFitModel

        from ..tasks.setfit import build_head, describe_body
        from .students import shrink

        inner, device = self.inner, run.device.kind
        self.teacher_model = load_setfit_model(self.teacher.folder, device=device)
        # Class indices, not label names: the student's head is fitted on the teacher's predictions
        # and the exporter expects a head over classes 0..n-1.
        self.teacher_model.labels = None
        body = SentenceTransformer(run.base.load_from, device=device, local_files_only=True)
        transformer = body[0]
        small, self.mapping = shrink(transformer.auto_model, self.distil.layers or 0)
        if isinstance(getattr(type(transformer), "auto_model", None), property):
            transformer.model = small  # sentence-transformers 5: auto_model reads .model
        else:
            transformer.auto_model = small
        multi = inner.multi_label
        inner.model = SetFitModel(model_body=body, model_head=build_head(inner.config), multi_target_strategy="one-vs-rest" if multi else None)
        inner.body_info = describe_body(body, built=bool((self.teacher.run.get("body") or {}).get("built_by_edgeft", False)))
        self.teacher_scores = inner.score_model(self.teacher_model)

    def fit(self, run: Run, work: Path, resume: bool) -> dict[str, Any] | None:
        from datasets import Dataset
        from setfit import DistillationTrainer

        from ..tasks.setfit import training_arguments

        inner, labels = self.inner, self.inner.labels
        texts = [ex.text for ex in inner.data.train] + self.unlabelled
        trainer = DistillationTrainer(
            teacher_model=self.teacher_model,
            student_model=inner.model,
            args=training_arguments(inner.config, run.device, work),
            train_dataset=Dataset.from_dict({"text": texts}),
        )
        self.log_start(len(texts))
        started = time.perf_counter()
        trainer.train()  # the body on pairs scored by the teacher, then the head on its labels
        inner.train_seconds = time.perf_counter() - started
        predicted = {int(c) for c in np.asarray(getattr(inner.model.model_head, "classes_", range(len(labels)))).ravel()}
        if not inner.multi_label and predicted != set(range(len(labels))):
            missing = [labels[i] for i in range(len(labels)) if i not in predicted]
            raise DataError(f"the teacher never predicts {', '.join(missing)} on the training texts, so the student's head cannot learn it; add texts with --unlabelled")
        return inner.score_model(inner.model)

    def closing_info(self) -> dict[str, Any]:
        info = super().closing_info()
        info["distillation"]["method"] = "setfit.DistillationTrainer"
        return info
