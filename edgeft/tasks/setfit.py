"""SetFit few-shot classification with setfit's own Trainer: contrastive fine-tuning of a
sentence-transformer body on pairs of training texts, then a logistic-regression head on its
embeddings (Tunstall et al. 2022). Single-label and multi-label (one-vs-rest head).

The run folder holds the body as a sentence-transformers folder (``SentenceTransformer.save``)
and the head as ``setfit_head.safetensors`` + ``setfit_head.json``, never setfit's pickled
``model_head.pkl``; ``edgeft_exporters.setfit_head.load_setfit_model(run)`` rebuilds the
``SetFitModel`` from them.
"""

from __future__ import annotations

import logging
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
from edgeft_exporters.run_folder import CHECKPOINT_DIR
from edgeft_exporters.requirements import SETFIT_MODULES, missing_distributions
from edgeft_runtime.constants import MULTI_LABEL, SINGLE_LABEL, TASK_SETFIT
from edgeft_runtime.metrics import classification_metrics
from edgeft_runtime.ops import decisions

from ..config import SetFitConfig, parse_freeze
from ..devices import TrainDevice
from ..errors import ConfigError, DataError
from .classifier import encode_targets, load_classification_data
from .common import TrainResult, base_name
from .pipeline import Recipe, Run, library_versions, train

log = logging.getLogger(__name__)

# setfit decides multi-label predictions per label at probability 0.5 (logit 0); the bundle does the same.
SETFIT_THRESHOLD = 0.5


def require_setfit() -> None:
    """ConfigError with the pip command when the ``setfit`` extra is missing."""
    missing = missing_distributions({**SETFIT_MODULES, "datasets": "datasets"})
    if missing:
        raise ConfigError(f"edgeft train setfit needs {', '.join(missing)}: pip install 'edgeft[setfit]'")


def describe_body(body, *, built: bool) -> dict[str, Any]:
    """What the body computes after the transformer: its modules, pooling and normalisation."""
    from sentence_transformers.sentence_transformer.modules import Normalize, Pooling

    pooling = next((m.pooling_mode for m in body if isinstance(m, Pooling)), None)
    if isinstance(pooling, (list, tuple)):
        pooling = "+".join(pooling)
    return {
        "modules": [type(m).__name__ for m in body],
        "pooling": pooling,
        "normalize": any(isinstance(m, Normalize) for m in body),
        "max_seq_length": int(body.max_seq_length),
        # True: the base was a plain encoder folder and edgeft added mean pooling + normalisation.
        "built_by_edgeft": built,
    }


def build_body(base_path: str, max_length: int, device: str):
    """(SentenceTransformer, description) for a resolved ``--base`` (a folder or a hub id).

    A sentence-transformers folder or hub model is loaded as published (modules.json: pooling,
    normalisation, ...). A plain encoder folder (an `edgeft train mlm` run, any save_pretrained
    BERT) gets mean pooling and L2 normalisation, the recipe of all-MiniLM-L6-v2.
    """
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Normalize, Pooling, Transformer

    folder = Path(base_path)
    built = folder.is_dir() and not (folder / "modules.json").is_file()
    if built:
        transformer = Transformer(base_path, max_seq_length=max_length)
        modules = [transformer, Pooling(transformer.get_embedding_dimension(), "mean"), Normalize()]
        body = SentenceTransformer(modules=modules, device=device)
        log.info("%s is not a sentence-transformers folder: adding mean pooling + L2 normalisation", base_path)
    else:
        body = SentenceTransformer(base_path, device=device, local_files_only=folder.is_dir())
    # Training, the reference and the bundle's tokenizer all truncate at the run's max_length.
    body.max_seq_length = max_length
    return body, describe_body(body, built=built)


def training_arguments(config: SetFitConfig, device: TrainDevice, work: Path):
    """setfit.TrainingArguments from the config (the body's contrastive phase; the head is scikit-learn)."""
    from setfit import TrainingArguments

    return TrainingArguments(
        output_dir=str(work / CHECKPOINT_DIR),
        batch_size=config.batch_size,
        # (body epochs, head epochs): the second only trains differentiable heads, not used here.
        num_epochs=(config.epochs, 1),
        max_steps=config.max_steps or -1,
        num_iterations=config.num_iterations or None,
        sampling_strategy=config.sampling_strategy,
        body_learning_rate=config.lr,
        warmup_proportion=config.warmup_ratio,
        l2_weight=config.weight_decay,
        use_amp=device.precision != "fp32",  # setfit's mixed precision is fp16 autocast on the GPU
        seed=config.seed,
        report_to="none",
        logging_steps=config.logging_steps,
        eval_strategy="no",
        save_strategy="no",
        show_progress_bar=True,
    )


def head_params(config: SetFitConfig) -> dict[str, Any]:
    return {"C": config.head_c, "max_iter": config.head_max_iter, "class_weight": config.head_class_weight, "random_state": config.seed}


def build_head(config: SetFitConfig):
    """The scikit-learn head setfit fits on the embeddings: logistic regression, one-vs-rest for multi-label."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.multiclass import OneVsRestClassifier

    head = LogisticRegression(**head_params(config))
    return OneVsRestClassifier(head) if config.multi_label else head


def freeze_body(body, spec: str) -> dict[str, Any]:
    """Apply ``freeze`` to the SetFit body's transformer; return what edgeft_run.json records.

    ``encoder`` freezes the whole body (the contrastive phase is then skipped). ``layers:N`` must
    leave at least one layer to train: the body's pooler, which ``freeze`` keeps as head in other
    tasks, is not used by sentence-transformers' pooling, so freezing every layer trains nothing.
    """
    from .freezing import apply_freeze, count_parameters, model_parts

    transformer = body[0].auto_model
    kind, count = parse_freeze(spec)
    depth = len(model_parts(transformer).layers)
    if kind == "layers" and count >= depth:
        raise ConfigError(
            f"config field freeze={spec!r} freezes every layer of the SetFit body ({depth}): the contrastive phase "
            "would train nothing; freeze fewer layers, or use freeze=encoder to fit only the head on frozen embeddings"
        )
    if kind == "encoder":
        for p in body.parameters():
            p.requires_grad_(False)
        frozen = depth
    else:
        frozen = apply_freeze(transformer, spec)
    return {"body": count_parameters(body), "freeze": spec, "frozen_layers": frozen}


def head_parameter_count(head) -> int:
    """Coefficients and intercepts of the fitted scikit-learn head (one estimator per label for one-vs-rest)."""
    estimators = getattr(head, "estimators_", [head])
    return int(sum(e.coef_.size + e.intercept_.size for e in estimators))


def show_progress_bar(trainer) -> None:
    """A progress bar over the pair steps: the underlying HF Trainer prints log lines instead when
    transformers' logging is quiet (quiet_transformers), which hides its notices, not progress."""
    from transformers.trainer_callback import PrinterCallback, ProgressCallback

    if trainer.st_trainer.pop_callback(PrinterCallback) is not None:
        trainer.st_trainer.add_callback(ProgressCallback)


def quiet_setfit() -> None:
    import datasets
    import setfit

    setfit.logging.set_verbosity_warning()
    datasets.disable_progress_bars()


def setfit_versions() -> dict[str, str]:
    """The library versions a SetFit run records: edgeft's, and those of setfit and its stack."""
    import sentence_transformers
    import setfit
    import sklearn

    return {
        **library_versions(),
        "setfit": setfit.__version__,
        "sentence_transformers": sentence_transformers.__version__,
        "scikit_learn": sklearn.__version__,
    }


class SetFitRecipe(Recipe):
    """SetFit: setfit's own trainer (contrastive pairs for the body, then the head) instead of the
    HF Trainer; evaluated once, on probabilities, the way the bundle decides."""

    task = TASK_SETFIT
    resumable = False  # one pass of pairs, no checkpoints

    def __init__(self, config: SetFitConfig):
        super().__init__(config)
        self.multi_label = config.multi_label
        self.frozen: dict[str, Any] | None = None  # what freeze_body did (None: the body came from a teacher)
        self.pairs: int | None = None

    def check(self, resume: bool) -> None:
        if resume:
            raise ConfigError("--resume is not supported for setfit runs (they train one pass of pairs); start again")
        require_setfit()

    def load_data(self) -> None:
        config = self.config
        self.data = load_classification_data(config, shots=config.shots)
        self.labels = self.data.labels
        if self.multi_label and len(self.labels) < 2:
            raise DataError(f"{config.train}: multi-label SetFit needs at least two labels (found {', '.join(self.labels)})")
        self.eval_source, self.eval_examples = self.data.eval_source, self.data.eval

    def check_device(self, device: TrainDevice) -> None:
        import torch

        if device.kind == "cpu" and torch.cuda.is_available():
            raise ConfigError("device=cpu while a CUDA GPU is visible: setfit's trainer would use the GPU; hide it with CUDA_VISIBLE_DEVICES=")

    def quiet(self) -> None:
        quiet_setfit()

    def prepare(self, run: Run) -> None:
        from setfit import SetFitModel

        body, self.body_info = build_body(run.base.load_from, self.config.max_length, run.device.kind)
        self.frozen = freeze_body(body, self.config.freeze)
        self.model = SetFitModel(
            model_body=body,
            model_head=build_head(self.config),
            multi_target_strategy="one-vs-rest" if self.multi_label else None,
            labels=self.labels,
        )

    def fit(self, run: Run, work: Path, resume: bool) -> dict[str, Any] | None:
        from datasets import Dataset
        from setfit import Trainer

        targets = encode_targets(self.data.train, self.labels, self.multi_label)
        train_dataset = Dataset.from_dict({"text": [ex.text for ex in self.data.train], "label": targets.astype(int).tolist()})
        body_trains = parse_freeze(self.config.freeze)[0] != "encoder"
        trainer = Trainer(model=self.model, args=training_arguments(self.config, run.device, work), train_dataset=train_dataset)
        show_progress_bar(trainer)
        log.info(
            "SetFit: training %s on %d examples (%d labels, eval %d) on %s",
            base_name(run.base.path), len(self.data.train), len(self.labels), len(self.data.eval), run.device.kind,
        )
        fit_started = time.perf_counter()
        with warnings.catch_warnings():
            # setfit's DataLoader asks for pinned memory, which only matters (and is only honoured) on a GPU.
            warnings.filterwarnings("ignore", message=".*pin_memory.*")
            if body_trains:
                trainer.train()  # the body on pairs, then the head on the embeddings
            else:
                log.info("freeze=encoder: no contrastive phase; fitting the head on the frozen body's embeddings")
                trainer.train_classifier(*trainer.dataset_to_parameters(train_dataset))
        self.train_seconds = time.perf_counter() - fit_started
        self.pairs = len(trainer.st_trainer.train_dataset) if body_trains else 0
        return self.score_model(self.model)

    def score_model(self, model) -> dict[str, Any]:
        """Metrics of a SetFit model (the run's, or a teacher's) on the eval data."""
        probs = np.asarray(model.predict_proba([ex.text for ex in self.data.eval], as_numpy=True, show_progress_bar=False))
        preds = decisions(probs, self.multi_label, SETFIT_THRESHOLD)
        gold = encode_targets(self.data.eval, self.labels, self.multi_label).astype(np.int64)
        return classification_metrics(gold, preds, len(self.labels), self.multi_label)

    def reported_scores(self, scores: dict[str, Any]) -> dict[str, Any]:
        return dict(scores)

    def save(self, run: Run, work: Path) -> None:
        from edgeft_exporters.setfit_head import save_head

        self.model.model_body.save(str(work), create_model_card=False)
        self.head_spec = save_head(work, self.model.model_head, labels=self.labels, multi_label=self.multi_label, params=head_params(self.config))

    def extra_metrics(self) -> dict[str, Any]:
        counts = {"eval_examples": len(self.data.eval), "train_examples": len(self.data.train)}
        return counts if self.pairs is None else {**counts, "pairs": self.pairs}

    def recorded_seconds(self, seconds: float) -> float:
        return self.train_seconds  # fitting alone, body and head: no loading or eval

    def task_info(self) -> dict[str, Any]:
        info: dict[str, Any] = {
            "labels": self.labels,
            "problem_type": MULTI_LABEL if self.multi_label else SINGLE_LABEL,
            "threshold": SETFIT_THRESHOLD,
            "max_length": self.config.max_length,
            "body": self.body_info,
            "head": {k: self.head_spec[k] for k in ("kind", "multi_target_strategy", "activation", "params")},
            "shots": self.config.shots,
        }
        if self.frozen is not None:
            head = head_parameter_count(self.model.model_head)
            body = self.frozen["body"]
            info["parameters"] = {"trainable": body["trainable"] + head, "total": body["total"] + head, "body": body}
            info["tuning"] = {"freeze": self.config.freeze, "frozen_layers": self.frozen["frozen_layers"], "warmup_ratio": self.config.warmup_ratio}
        return info

    def closing_info(self) -> dict[str, Any]:
        return {"versions": setfit_versions()}


def train_setfit(config: SetFitConfig, *, overwrite: bool = False, resume: bool = False) -> TrainResult:
    """Train a SetFit model on ``config.train`` (optionally ``config.shots`` per label) and write a run folder."""
    return train(SetFitRecipe(config), overwrite=overwrite, resume=resume)
