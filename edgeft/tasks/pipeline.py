"""The one training pipeline: the steps every run takes, in order, around a task's recipe.

``train(recipe)`` reads the data first (a bad file fails before any model loads), resolves the
base model, picks the device, refuses an existing ``--out`` unless asked, seeds, then lets the
recipe build and fit its model inside a staged folder; in the main process it saves the model,
keeps the reported metrics, writes the run folder (``edgeft_run.json``, ``train_config.json``,
``metrics.json``, ``eval.jsonl``) and moves it into place. Other processes of a distributed
launch (torchrun, accelerate launch) stop after fitting.

A recipe (``Recipe``) says only what its task does differently: how it reads its data, builds
and fits its model, scores it and what it adds to the run's record. ``TrainerRecipe`` is the
common case, a Hugging Face ``Trainer`` evaluated every epoch; distillation
(``edgeft.distill.train``) wraps a recipe instead of copying it.
"""

from __future__ import annotations

import logging
import platform
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edgeft_exporters.run_folder import write_run
from edgeft_exporters.staging import StagedDir

from ..base_models import base_chain, load_base_config, load_task_model
from ..config import TrainConfig
from ..devices import TrainDevice, select_device
from .. import __version__
from .common import TrainResult, base_name, finish_run_folder, quiet_transformers, resume_checkpoint, run_info, supervised_trainer, training_loop_time
from .tuning import PreparedModel, prepare_model, save_trained

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Base:
    """The model a run starts from: what the run records, and the folder its weights load from."""

    path: str  # the resolved --base (a folder or a hub id), recorded as base_model_path
    config: Any  # its transformers config (the run records its model_type)
    load_from: str  # where tokenizer and model load: the base itself, or a teacher run when distilling


@dataclass(frozen=True)
class Run:
    """What the pipeline hands a recipe once the data is read and the device chosen."""

    config: TrainConfig
    base: Base
    device: TrainDevice


def library_versions() -> dict[str, str]:
    """The versions a run records of what trained it."""
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


def reported(scores: dict[str, Any], names: frozenset[str]) -> dict[str, Any]:
    """The Trainer's ``eval_*`` scores that a task reports, without the prefix."""
    return {k.removeprefix("eval_"): v for k, v in scores.items() if k.removeprefix("eval_") in names}


class Recipe:
    """One task's part in the pipeline; ``train`` calls the methods in the order they are listed."""

    task: str  # the run folder's task name
    reported: frozenset[str] = frozenset()  # the eval scores metrics.json keeps
    resumable = True  # keep the staged folder on failure, so --resume can continue from checkpoints

    def __init__(self, config: Any):
        self.config = config
        self.eval_source = ""  # the eval file, or how the eval data was held out
        self.eval_examples: list[Any] = []  # written to eval.jsonl: export's parity data

    def check(self, resume: bool) -> None:
        """Refuse what this task cannot do, before any file is read."""

    def load_data(self) -> None:
        raise NotImplementedError

    def base(self) -> Base:
        path, config = load_base_config(self.config.base)
        return Base(path, config, path)

    def check_device(self, device: TrainDevice) -> None:
        """Refuse a device this task cannot honour."""

    def quiet(self) -> None:
        """Silence the notices of libraries beyond transformers (whose own are silenced for all)."""

    def prepare(self, run: Run) -> None:
        """Build the tokenizer and model and encode the data (after seeding, before the staged folder)."""
        raise NotImplementedError

    def fit(self, run: Run, work: Path, resume: bool) -> dict[str, Any] | None:
        """Train in ``work``; the final eval scores, or None in a process other than the main one."""
        raise NotImplementedError

    def save(self, run: Run, work: Path) -> None:
        raise NotImplementedError

    def metrics(self, scores: dict[str, Any]) -> dict[str, Any]:
        """What metrics.json holds: the reported scores and the task's counts."""
        return {**self.reported_scores(scores), **self.extra_metrics()}

    def reported_scores(self, scores: dict[str, Any]) -> dict[str, Any]:
        return reported(scores, self.reported)

    def extra_metrics(self) -> dict[str, Any]:
        return {}

    def task_info(self) -> dict[str, Any]:
        """The task's own edgeft_run.json fields (labels, max_length, ...), written first."""
        return {}

    def sources(self) -> dict[str, Any]:
        return {"train_file": str(Path(self.config.train).resolve())}

    def trained(self) -> dict[str, Any] | None:
        """Which weights trained and how (parameters, tuning options, the training loop)."""
        return None

    def recorded_seconds(self, seconds: float) -> float:
        """The train_seconds the run records (the whole run, unless the task says otherwise)."""
        return seconds

    def closing_info(self) -> dict[str, Any]:
        """edgeft_run.json fields written last (they may replace the shared ones, e.g. versions)."""
        return {}


def train(recipe: Recipe, *, overwrite: bool = False, resume: bool = False) -> TrainResult:
    """Run ``recipe`` through the pipeline and write its run folder to ``config.out``."""
    started = time.perf_counter()
    config = recipe.config
    recipe.check(resume)
    recipe.load_data()
    base = recipe.base()
    device = select_device(config)
    recipe.check_device(device)
    out = Path(config.out or "")
    stage = StagedDir(out, overwrite=overwrite, keep_partial=recipe.resumable, resume=resume and recipe.resumable)
    stage.check()

    from transformers import set_seed

    quiet_transformers()
    recipe.quiet()
    set_seed(config.seed)
    run = Run(config, base, device)
    recipe.prepare(run)
    with stage as work:
        scores = recipe.fit(run, work, resume)
        if scores is None:
            return TrainResult(out, {}, time.perf_counter() - started, main_process=False)
        recipe.save(run, work)
        finish_run_folder(work)
        metrics = recipe.metrics(scores)
        seconds = time.perf_counter() - started
        info = {
            **recipe.task_info(),
            **run_info(
                config, base.path, base.config, device,
                sources=recipe.sources(), eval_source=recipe.eval_source, seconds=recipe.recorded_seconds(seconds), trained=recipe.trained(),
            ),
            # The edgeft runs whose weights this one starts from, nearest first (a student: its teacher).
            "bases": base_chain(base.load_from),
            **recipe.closing_info(),
        }
        write_run(
            work, task=recipe.task, info=info, versions=library_versions(), config=config.to_dict(), metrics=metrics,
            eval_rows=[ex.to_json() if hasattr(ex, "to_json") else {"text": ex.text, "labels": ex.labels} for ex in recipe.eval_examples],
        )
        stage.commit()
    return TrainResult(out, metrics, seconds)


class TrainerRecipe(Recipe):
    """A task trained by the Hugging Face ``Trainer``: evaluated every epoch, the best checkpoint
    by ``headline`` kept. A subclass loads its tokenizer and model and encodes rows; the Trainer,
    the training loop, saving and the run's record of it are here."""

    headline: str  # the eval metric that picks the kept checkpoint
    per_token = False  # one output per token (NER) rather than per text: what distillation matches
    multi_label = False  # outputs are independent sigmoids (multi-label) rather than one softmax

    def __init__(self, config: Any):
        super().__init__(config)
        self.labels: list[str] = []  # set by load_data
        self.train_rows: list[dict[str, Any]] = []
        self.eval_rows: list[dict[str, Any]] = []
        # What distillation changes: the collator (teacher outputs ride along) and the Trainer class.
        self.collator_wrapper: Any = None
        self.trainer_options: dict[str, Any] = {}

    # --- what a task supplies

    def load_tokenizer(self, run: Run) -> Any:
        """The Hugging Face tokenizer of ``run.base.load_from`` (kept as ``self.tokenizer``)."""
        raise NotImplementedError

    def auto_model_class(self) -> Any:
        raise NotImplementedError

    def head_options(self) -> dict[str, Any]:
        """What ``from_pretrained`` needs to give the model a new head over ``self.labels``."""
        labels = self.labels
        return {"num_labels": len(labels), "id2label": dict(enumerate(labels)), "label2id": {label: i for i, label in enumerate(labels)}}

    def new_model(self, run: Run) -> Any:
        """The model to fine-tune, loaded from the base with this task's head."""
        return load_task_model(self.auto_model_class(), run.base.load_from, self.head_options(), fresh_head=self.config.fresh_head)

    def encode(self, run: Run) -> None:
        """Set ``train_rows`` and ``eval_rows``: the Trainer's features."""
        raise NotImplementedError

    def unlabelled_rows(self, texts: list[str]) -> list[dict[str, Any]]:
        """Rows for texts without labels (their labels ignored): distillation's extra texts."""
        raise NotImplementedError

    def collator(self) -> Any:
        raise NotImplementedError

    def score(self, logits: Any, label_ids: Any = None) -> dict[str, float]:
        """The task's metrics of the eval rows' logits (``label_ids``: their targets, if at hand)."""
        raise NotImplementedError

    def details(self) -> dict[str, Any]:
        """Structured results of the last ``score`` that are not single numbers (e.g. per type)."""
        return {}

    def describe(self, run: Run) -> str:
        """The log line that says what is about to train."""
        raise NotImplementedError

    # --- shared

    def prepare(self, run: Run, model: Any = None) -> None:
        """Tokenizer, the model (``model``, or a new one from the base) with the tuning options
        applied, and the encoded rows."""
        self.tokenizer = self.load_tokenizer(run)
        self.prepared: PreparedModel = prepare_model(model if model is not None else self.new_model(run), self.config, self.task)
        self.encode(run)

    def compute_metrics(self, prediction: Any) -> dict[str, float]:
        logits = prediction.predictions[0] if isinstance(prediction.predictions, tuple) else prediction.predictions
        return self.score(logits, prediction.label_ids)

    def final_scores(self, trainer: Any) -> dict[str, Any]:
        """The kept model's eval scores (by default, one more evaluation)."""
        return trainer.evaluate()

    def fit(self, run: Run, work: Path, resume: bool) -> dict[str, Any] | None:
        collator = self.collator()
        self.trainer = supervised_trainer(
            self.config,
            run.device,
            work,
            model=self.prepared.model,
            train_rows=self.train_rows,
            eval_rows=self.eval_rows,
            collator=self.collator_wrapper(collator) if self.collator_wrapper else collator,
            tokenizer=self.tokenizer,
            compute_metrics=self.compute_metrics,
            metric=self.headline,
            **self.trainer_options,
        )
        log.info("%s on %s/%s", self.describe(run), run.device.kind, run.device.precision)
        self.trainer.train(resume_from_checkpoint=resume_checkpoint(work, resume))
        scores = self.final_scores(self.trainer)
        return scores if self.trainer.is_world_process_zero() else None

    def save(self, run: Run, work: Path) -> None:
        save_trained(self.trainer, self.prepared, self.tokenizer, work, self.config)

    def trained(self) -> dict[str, Any] | None:
        return {**self.prepared.info, "training_loop": training_loop_time(self.trainer)}

    @staticmethod
    def base_label(run: Run) -> str:
        return base_name(run.base.path)
