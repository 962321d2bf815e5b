"""Pieces every Trainer-based task shares: datasets from lists, training arguments, checkpoints."""

from __future__ import annotations

import logging
import re
import shutil
import time
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edgeft_exporters.run_folder import CHECKPOINT_DIR
from edgeft_runtime.ner import IGNORE_INDEX  # noqa: F401  (the label the loss skips: one value for every task)

from ..config import TrainConfig
from ..devices import TrainDevice
from ..errors import ConfigError

log = logging.getLogger(__name__)

# Callbacks added to every Trainer built while set (the hyperparameter search's pruning,
# edgeft/tasks/search.py): a context variable, so that no task's signature carries them.
EXTRA_CALLBACKS: ContextVar[tuple[Any, ...]] = ContextVar("edgeft_extra_trainer_callbacks", default=())


@dataclass(frozen=True)
class TrainResult:
    """What a finished run returns to its caller."""

    out: Path
    metrics: dict[str, Any]
    seconds: float
    # False in the other processes of a distributed run (torchrun, accelerate launch): only the
    # main one writes the run folder and reports it.
    main_process: bool = True


@dataclass(frozen=True)
class EvalFile:
    """A held-out file given to `edgeft export --eval`, with what the run says about reading it."""

    path: str | Path
    run: dict[str, Any]  # edgeft_run.json
    config: dict[str, Any]  # train_config.json (empty when absent)
    text_column: str | None = None  # --text-column: replaces the run's
    label_column: str | None = None  # --label-column: replaces the run's


class ListDataset:
    """A torch-style map dataset over a list of feature dicts (what the HF collators expect)."""

    def __init__(self, rows: list[dict[str, Any]]):
        self.rows = rows

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i: int) -> dict[str, Any]:
        return self.rows[i]


def last_checkpoint(work_dir: Path) -> Path | None:
    """The newest complete ``checkpoint-N`` folder under the run's checkpoint dir, if any. The
    Trainer writes ``trainer_state.json`` last, so a folder without it was cut off mid-save (a kill
    while checkpointing) and cannot be resumed from."""
    folder = work_dir / CHECKPOINT_DIR
    if not folder.is_dir():
        return None
    found = [
        (int(m.group(1)), p) for p in folder.iterdir()
        if (m := re.fullmatch(r"checkpoint-(\d+)", p.name)) and (p / "trainer_state.json").is_file()
    ]
    return max(found)[1] if found else None


def resume_checkpoint(work_dir: Path, resume: bool) -> str | None:
    """The checkpoint to resume from when ``--resume`` was given; ConfigError if there is none."""
    if not resume:
        return None
    checkpoint = last_checkpoint(work_dir)
    if checkpoint is None:
        raise ConfigError(f"--resume: no checkpoint in {work_dir}; start without --resume")
    log.info("resuming from %s", checkpoint)
    return str(checkpoint)


def run_arguments(config: TrainConfig, device: TrainDevice, work_dir: Path) -> dict[str, Any]:
    """The Trainer arguments every task takes from its config the same way (transformers' and
    sentence-transformers' TrainingArguments alike): schedule, batch, seeds, device, quiet reporting."""
    return dict(
        output_dir=str(work_dir / CHECKPOINT_DIR),
        num_train_epochs=config.epochs,
        per_device_train_batch_size=config.batch_size,
        gradient_accumulation_steps=config.gradient_accumulation_steps,
        learning_rate=config.lr,
        weight_decay=config.weight_decay,
        warmup_ratio=config.warmup_ratio,
        logging_steps=config.logging_steps,
        seed=config.seed,
        data_seed=config.seed,
        report_to="none",
        dataloader_num_workers=0,
        disable_tqdm=False,
        **device.trainer_kwargs(),
    )


def training_arguments(
    config: TrainConfig,
    device: TrainDevice,
    work_dir: Path,
    *,
    metric: str | None,
    has_eval: bool,
    **overrides: Any,
):
    """TrainingArguments for a run: evaluate and checkpoint each epoch, keep the best, seed everything."""
    from transformers import TrainingArguments

    strategy = "epoch" if has_eval else "no"
    kwargs: dict[str, Any] = dict(
        **run_arguments(config, device, work_dir),
        per_device_eval_batch_size=max(config.batch_size, 32),
        eval_strategy=strategy,
        save_strategy="epoch",
        save_total_limit=2,
        load_best_model_at_end=has_eval and metric is not None,
        metric_for_best_model=metric if has_eval else None,
        greater_is_better=True,
    )
    kwargs.update(overrides)
    return TrainingArguments(**kwargs)


def supervised_trainer(
    config: TrainConfig,
    device: TrainDevice,
    work_dir: Path,
    *,
    model,
    train_rows: list[dict[str, Any]],
    eval_rows: list[dict[str, Any]],
    collator,
    tokenizer,
    compute_metrics,
    metric: str,
    trainer_class=None,
    **trainer_kwargs: Any,
):
    """The HF Trainer for a labelled task: evaluate each epoch, keep the best by ``metric``, stop
    early if asked; with ``layerwise_lr_decay`` below 1, each encoder layer at its own rate.

    trainer_class: a Trainer subclass (e.g. one with its own loss), built with ``trainer_kwargs`` too.
    """
    from transformers import EarlyStoppingCallback, Trainer

    from .layerwise import layerwise_trainer_class

    callbacks = [EarlyStoppingCallback(config.early_stopping_patience)] if config.early_stopping_patience else []
    callbacks.append(loop_timer())
    callbacks.extend(EXTRA_CALLBACKS.get())
    base_class = trainer_class or Trainer
    if config.layerwise_lr_decay < 1:
        base_class = layerwise_trainer_class(config.layerwise_lr_decay, base_class)
    return base_class(
        model=model,
        args=training_arguments(config, device, work_dir, metric=metric, has_eval=True),
        train_dataset=ListDataset(train_rows),
        eval_dataset=ListDataset(eval_rows),
        data_collator=collator,
        processing_class=tokenizer,
        compute_metrics=compute_metrics,
        callbacks=callbacks,
        **trainer_kwargs,
    )


def loop_timer():
    """A Trainer callback that adds up the seconds of the training epochs alone (the evaluation
    and checkpoint after each epoch run after ``on_epoch_end``): what freezing and adapters change."""
    from transformers import TrainerCallback

    class LoopTimer(TrainerCallback):
        def __init__(self) -> None:
            self.seconds = 0.0
            self.started: float | None = None

        def on_epoch_begin(self, args, state, control, **kwargs):
            self.started = time.perf_counter()

        def on_epoch_end(self, args, state, control, **kwargs):
            if self.started is not None:
                self.seconds += time.perf_counter() - self.started
                self.started = None

    return LoopTimer()


def training_loop_time(trainer) -> dict[str, Any]:
    """What edgeft_run.json records of the training loop: its seconds without evaluation, and the
    optimizer steps and epochs (fractional) it ran in them (in this process: a resumed run counts
    the resumed part)."""
    timer = next((cb for cb in trainer.callback_handler.callbacks if type(cb).__name__ == "LoopTimer"), None)
    seconds = timer.seconds if timer is not None else 0.0
    return {"seconds": round(seconds, 2), "steps": trainer.state.global_step, "epochs": round(float(trainer.state.epoch or 0), 4)}


def run_info(
    config: TrainConfig,
    base_path: str,
    base_config: Any,
    device: TrainDevice,
    *,
    sources: dict[str, Any],
    eval_source: str | None,
    seconds: float,
    trained: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The ``edgeft_run.json`` fields every task writes: the base model, the data the run read
    (``sources``, e.g. ``{"train_file": ...}``), the device and threads it trained on, its time,
    and which weights trained (``trained``: trainable/total parameters and the tuning options)."""
    import torch

    return {
        "base_model": config.base,
        "base_model_path": base_path,
        "model_type": base_config.model_type,
        **sources,
        "eval_source": eval_source,
        "device": {"kind": device.kind, "name": device.name, "precision": device.precision},
        "train_seconds": round(seconds, 1),
        "torch_threads": torch.get_num_threads(),
        # Processes that trained together (torchrun / accelerate launch): each saw 1/world_size of every epoch.
        "world_size": torch.distributed.get_world_size() if torch.distributed.is_available() and torch.distributed.is_initialized() else 1,
        **(trained or {}),
    }


def base_name(base_path: str) -> str:
    """How a log line names the base model: the folder name of a local path, else the hub id."""
    return Path(base_path).name if Path(base_path).exists() else base_path


def finish_run_folder(work_dir: Path) -> None:
    """Drop what only training needed: checkpoints, and the Trainer's pickled arguments
    (training_args.bin; the resolved config is saved as JSON instead, and edgeft never writes
    pickles into its outputs)."""
    shutil.rmtree(work_dir / CHECKPOINT_DIR, ignore_errors=True)
    (work_dir / "training_args.bin").unlink(missing_ok=True)


def quiet_transformers() -> None:
    """Silence transformers' expected notices (new heads "should be trained"): edgeft is training them."""
    import transformers

    transformers.logging.set_verbosity_error()
