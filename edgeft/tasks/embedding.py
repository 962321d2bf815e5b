"""Contrastive sentence-embedding fine-tuning on unlabelled text: unsupervised SimCSE (Gao et al.
2021) through sentence-transformers' own trainer.

Each training text is paired with itself; the two copies go through the encoder in separate
passes with dropout on, so their embeddings differ a little (the noise is the augmentation), and
``MultipleNegativesRankingLoss`` pulls each pair together while pushing it away from the other
texts of the batch (in-batch negatives). Batches never hold the same text twice
(``BatchSamplers.NO_DUPLICATES``): a duplicate would be a negative that is in fact the positive.

The run folder is a sentence-transformers folder (``SentenceTransformer.save``: modules.json,
pooling, normalisation, the transformer's config.json at the top), so it is a ``--base`` for the
classifier, NER and SetFit (their encoder is this one, their head new), and ``edgeft export``
turns it into an ``embedding`` bundle whose runtime model ``embed``s texts.

There is no label to score, so the held-out texts give a collapse check rather than a quality
figure: uniformity (Wang & Isola 2020; log E exp(-2 |x - y|^2) over pairs of held-out texts, lower
is more spread out) and the mean cosine between different texts, before and after training.
A collapsed encoder (every text the same vector) scores uniformity 0 and mean cosine 1.
"""

from __future__ import annotations

import logging
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from edgeft_exporters.requirements import missing_distributions
from edgeft_runtime.constants import TASK_EMBEDDING

from ..config import EmbeddingConfig
from ..data.classification import TextExample
from ..data.corpus import Document, read_corpus, split_documents
from ..devices import TrainDevice
from ..errors import ConfigError, DataError
from .common import TrainResult, base_name, run_arguments
from .pipeline import Recipe, Run, library_versions, train
from .setfit import build_body

log = logging.getLogger(__name__)

METHOD = "simcse-unsupervised"
# Held-out texts the collapse check embeds (all pairs among them: 500 texts are 125k pairs).
MAX_CHECK_TEXTS = 500


def require_sentence_transformers() -> None:
    """ConfigError with the pip command when the libraries of this task are missing."""
    missing = missing_distributions({"sentence_transformers": "sentence-transformers", "datasets": "datasets"})
    if missing:
        raise ConfigError(f"edgeft train embedding needs {', '.join(missing)}: pip install 'edgeft[setfit]'")


def spread(embeddings: np.ndarray) -> dict[str, float]:
    """Uniformity and mean pairwise cosine of unit vectors (module docstring); float64 throughout."""
    x = np.asarray(embeddings, dtype=np.float64)
    x = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    n = len(x)
    if n < 2:
        return {"uniformity": float("nan"), "mean_cosine": float("nan")}
    cos = x @ x.T
    pairs = cos[np.triu_indices(n, k=1)]
    squared_distance = np.clip(2.0 - 2.0 * pairs, 0.0, None)
    return {"uniformity": round(float(np.log(np.mean(np.exp(-2.0 * squared_distance)))), 6), "mean_cosine": round(float(pairs.mean()), 6)}


@dataclass
class TextSplit:
    train: list[Document]
    eval: list[Document]
    eval_source: str


def load_texts(config: EmbeddingConfig) -> TextSplit:
    """The corpus (and held-out texts): ``--eval`` or a seeded share of the corpus; DataError when
    too few texts remain to form a batch with a negative."""
    read = dict(text_field=config.text_field, documents=config.documents)
    docs = read_corpus(config.corpus, **read)
    if config.eval:
        split = TextSplit(docs, read_corpus([config.eval], **read), str(Path(config.eval).resolve()))
    else:
        train_docs, held = split_documents(docs, config.eval_ratio, config.seed)
        log.info("holding out %d of %d texts for the collapse check and the export's parity data", len(held), len(docs))
        split = TextSplit(train_docs, held, f"{config.eval_ratio:.0%} of the corpus texts held out (seed {config.seed})")
    distinct = len({d.text for d in split.train})
    if distinct < 2:
        where = ", ".join(config.corpus)
        raise DataError(f"{where}: {distinct} distinct training text(s); contrastive training needs at least two (each text's negatives are the others)")
    return split


def training_arguments(config: EmbeddingConfig, device: TrainDevice, work: Path):
    """sentence-transformers' TrainingArguments: no evaluation or checkpoints (one pass, nothing to
    select on), batches without duplicate texts, seeded."""
    from sentence_transformers.base.sampler import BatchSamplers
    from sentence_transformers.sentence_transformer.training_args import SentenceTransformerTrainingArguments

    return SentenceTransformerTrainingArguments(
        **run_arguments(config, device, work),
        max_steps=config.max_steps or -1,
        batch_sampler=BatchSamplers.NO_DUPLICATES,
        eval_strategy="no",
        save_strategy="no",
    )


class EmbeddingRecipe(Recipe):
    """Unsupervised SimCSE with sentence-transformers' trainer; the collapse check before and after."""

    task = TASK_EMBEDDING
    resumable = False  # no checkpoints: one pass over the texts

    def check(self, resume: bool) -> None:
        if resume:
            raise ConfigError("--resume is not supported for embedding runs (they keep no checkpoints); start again")
        require_sentence_transformers()

    def load_data(self) -> None:
        self.config.require_io()
        self.texts = load_texts(self.config)
        self.eval_source = self.texts.eval_source
        self.eval_examples = [TextExample(text=d.text, labels=[], line=d.line) for d in self.texts.eval]

    def sources(self) -> dict[str, Any]:
        return {"corpus": [str(Path(p).resolve()) for p in self.config.corpus]}

    def quiet(self) -> None:
        import datasets

        datasets.disable_progress_bars()  # the Dataset built from a list needs none; training shows its own

    def prepare(self, run: Run) -> None:
        self.body, self.body_info = build_body(run.base.load_from, self.config.max_length, run.device.kind)
        self.check_texts = [d.text for d in self.texts.eval[:MAX_CHECK_TEXTS]]
        self.scores: dict[str, Any] = {f"{k}_before": v for k, v in self.spread().items()}
        log.info("held-out texts before training: uniformity %.3f, mean cosine %.3f", self.scores["uniformity_before"], self.scores["mean_cosine_before"])

    def spread(self) -> dict[str, float]:
        vectors = self.body.encode(self.check_texts, batch_size=64, show_progress_bar=False, convert_to_numpy=True)
        return spread(vectors)

    def fit(self, run: Run, work: Path, resume: bool) -> dict[str, Any] | None:
        from datasets import Dataset
        from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss

        texts = [d.text for d in self.texts.train]
        # The same text as anchor and positive: the two passes differ only by dropout (SimCSE).
        dataset = Dataset.from_dict({"anchor": texts, "positive": texts})
        loss = MultipleNegativesRankingLoss(self.body, scale=self.config.scale)
        self.trainer = trainer_class()(model=self.body, args=training_arguments(self.config, run.device, work), train_dataset=dataset, loss=loss)
        show_progress_bar(self.trainer)
        log.info(
            "SimCSE: training %s on %d texts (batch %d, scale %g) on %s/%s",
            base_name(run.base.path), len(texts), self.config.batch_size, self.config.scale, run.device.kind, run.device.precision,
        )
        started = time.perf_counter()
        with warnings.catch_warnings():
            # The DataLoader asks for pinned memory, which only matters (and is only honoured) on a GPU.
            warnings.filterwarnings("ignore", message=".*pin_memory.*")
            output = self.trainer.train()
        self.train_seconds = time.perf_counter() - started
        if not self.trainer.is_world_process_zero():
            return None
        after = self.spread()
        log.info("held-out texts after training: uniformity %.3f, mean cosine %.3f", after["uniformity"], after["mean_cosine"])
        return {**self.scores, **{f"{k}_after": v for k, v in after.items()}, "train_loss": round(float(output.training_loss), 6)}

    def save(self, run: Run, work: Path) -> None:
        self.body.save(str(work), create_model_card=False)

    def metrics(self, scores: dict[str, Any]) -> dict[str, Any]:
        return {
            **scores,
            "train_texts": len(self.texts.train),
            "eval_texts": len(self.texts.eval),
            "checked_texts": len(self.check_texts),
            "steps": int(self.trainer.state.global_step),
        }

    def recorded_seconds(self, seconds: float) -> float:
        return self.train_seconds  # the training loop alone: no loading or collapse check

    def task_info(self) -> dict[str, Any]:
        return {
            "method": METHOD,
            "max_length": self.config.max_length,
            "embedding_dim": int(self.body.get_embedding_dimension()),
            "body": self.body_info,
            "loss": {"name": "MultipleNegativesRankingLoss", "scale": self.config.scale, "negatives": "in-batch"},
        }

    def closing_info(self) -> dict[str, Any]:
        return {"versions": embedding_versions()}


def trainer_class() -> Any:
    """sentence-transformers' trainer without its model-card callback: the run writes no model card
    (``save(create_model_card=False)``), and the callback embeds sample texts at start-up to draw one."""
    from sentence_transformers import SentenceTransformerTrainer

    class Trainer(SentenceTransformerTrainer):
        def add_model_card_callback(self, default_args_dict: dict[str, Any]) -> None:
            return None

    return Trainer


def show_progress_bar(trainer: Any) -> None:
    """A progress bar over the steps: the HF Trainer prints log lines instead when transformers'
    logging is quiet (quiet_transformers), which hides its notices, not progress."""
    from transformers.trainer_callback import PrinterCallback, ProgressCallback

    if trainer.pop_callback(PrinterCallback) is not None:
        trainer.add_callback(ProgressCallback)


def embedding_versions() -> dict[str, str]:
    """The library versions an embedding run records: edgeft's, and sentence-transformers'."""
    import sentence_transformers

    return {**library_versions(), "sentence_transformers": sentence_transformers.__version__}


def train_embedding(config: EmbeddingConfig, *, overwrite: bool = False, resume: bool = False) -> TrainResult:
    """Fine-tune ``config.base`` into a sentence embedder on ``config.corpus``; write a run folder."""
    return train(EmbeddingRecipe(config), overwrite=overwrite, resume=resume)
