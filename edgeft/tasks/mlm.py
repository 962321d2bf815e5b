"""Masked-LM continued pretraining: adapt an encoder to a domain's unlabelled text.

The corpus is tokenised, documents are joined with the separator token and cut into full blocks of
``max_length`` tokens (``[CLS] ... [SEP]``), so no compute goes to padding. Masking follows BERT:
``mlm_probability`` of the non-special tokens (or of whole words) are selected; 80% of those become
the mask token, 10% a random token, 10% stay. Perplexity is exp(mean cross-entropy over the masked
tokens) of the held-out blocks, masked once with a fixed seed so before and after see the same masks.

The run folder is a ``save_pretrained`` masked-LM checkpoint: a valid ``--base`` for every other
task (they load its encoder) and exportable as a fill-mask bundle.
"""

from __future__ import annotations

import json
import logging
import math
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ..config import MlmConfig
from ..data.classification import TextExample
from ..data.corpus import Document, read_corpus, read_corpus_file, split_documents
from ..errors import DataError, ModelError
from .common import IGNORE_INDEX, EvalFile, ListDataset, TrainResult, resume_checkpoint, training_arguments
from .pipeline import Recipe, Run, train

log = logging.getLogger(__name__)

NO_WORD = -1  # word id of special tokens
# The held-out blocks are masked with seed + this, apart from the training stream's masks.
EVAL_MASK_SEED_OFFSET = 10_007
EVAL_BATCH_SIZE = 16


# --- blocks -----------------------------------------------------------------------------------


@dataclass
class Blocks:
    """Full-length blocks of token ids, with the corpus-wide word index of every token."""

    input_ids: np.ndarray  # (n, block_size) int64
    word_ids: np.ndarray  # (n, block_size) int64, NO_WORD at special tokens
    corpus_tokens: int  # tokens of the documents (separators excluded)
    dropped_tokens: int  # tokens after the last full block, not used

    def __len__(self) -> int:
        return len(self.input_ids)

    def rows(self) -> list[dict[str, list[int]]]:
        return [{"input_ids": ids.tolist(), "word_ids": words.tolist()} for ids, words in zip(self.input_ids, self.word_ids)]


def tokenize_documents(tokenizer, texts: Sequence[str]) -> tuple[list[list[int]], list[list[int]]]:
    """Token ids of each document (no special tokens) and, per token, its word's index in the document."""
    ids: list[list[int]] = []
    words: list[list[int]] = []
    for start in range(0, len(texts), 256):
        enc = tokenizer(list(texts[start : start + 256]), add_special_tokens=False)
        for i, row in enumerate(enc["input_ids"]):
            ids.append(list(row))
            words.append([NO_WORD if w is None else w for w in enc.word_ids(i)])
    return ids, words


def group_blocks(
    doc_ids: Sequence[Sequence[int]],
    doc_words: Sequence[Sequence[int]],
    block_size: int,
    *,
    cls_id: int,
    sep_id: int,
) -> Blocks:
    """Join the documents with ``sep_id`` between them and cut the stream into
    ``[CLS] <block_size - 2 tokens> [SEP]`` blocks; the incomplete tail is dropped, so nothing is padded."""
    if block_size < 3:
        raise ValueError("block_size must leave room for at least one token between [CLS] and [SEP]")
    stream: list[int] = []
    stream_words: list[int] = []
    offset = 0  # word indices are made corpus-wide so equal ids always mean the same word
    for n, (ids, words) in enumerate(zip(doc_ids, doc_words)):
        if not ids:
            continue
        if stream:
            stream.append(sep_id)
            stream_words.append(NO_WORD)
        stream.extend(ids)
        stream_words.extend(offset + w if w != NO_WORD else NO_WORD for w in words)
        offset += max((w for w in words if w != NO_WORD), default=-1) + 1
    body = block_size - 2
    count = len(stream) // body
    ids = np.asarray(stream[: count * body], dtype=np.int64).reshape(count, body)
    wids = np.asarray(stream_words[: count * body], dtype=np.int64).reshape(count, body)
    column = lambda value: np.full((count, 1), value, dtype=np.int64)  # noqa: E731
    return Blocks(
        input_ids=np.hstack([column(cls_id), ids, column(sep_id)]),
        word_ids=np.hstack([column(NO_WORD), wids, column(NO_WORD)]),
        corpus_tokens=sum(len(d) for d in doc_ids),
        dropped_tokens=len(stream) - count * body,
    )


def build_blocks(tokenizer, docs: Sequence[Document], block_size: int) -> Blocks:
    ids, words = tokenize_documents(tokenizer, [d.text for d in docs])
    return group_blocks(ids, words, block_size, cls_id=tokenizer.cls_token_id, sep_id=tokenizer.sep_token_id)


# --- masking ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Masking:
    """What masking needs to know about the vocabulary, and how much to mask."""

    mask_id: int
    special_ids: tuple[int, ...]
    vocab_size: int
    probability: float = 0.15
    whole_word: bool = False

    @classmethod
    def for_tokenizer(cls, tokenizer, probability: float, whole_word: bool) -> "Masking":
        return cls(
            mask_id=tokenizer.mask_token_id,
            special_ids=tuple(sorted(set(tokenizer.all_special_ids))),
            vocab_size=len(tokenizer),
            probability=probability,
            whole_word=whole_word,
        )

    def random_token_ids(self) -> np.ndarray:
        """Replacement candidates for the 10% random tokens: the vocabulary without special tokens."""
        return np.setdiff1d(np.arange(self.vocab_size, dtype=np.int64), np.asarray(self.special_ids, dtype=np.int64))


def mask_tokens(
    input_ids: np.ndarray,
    word_ids: np.ndarray | None,
    masking: Masking,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """BERT masking of a batch: returns (masked input ids, labels with IGNORE_INDEX where not predicted).

    Each non-special token (or, with whole-word masking, each word with all its pieces) is selected
    with ``masking.probability``; each selected token becomes the mask token with probability 0.8, a
    random non-special token with 0.1, and stays itself with 0.1.
    """
    ids = np.asarray(input_ids, dtype=np.int64)
    special = np.isin(ids, np.asarray(masking.special_ids, dtype=np.int64))
    if masking.whole_word:
        if word_ids is None:
            raise ValueError("whole-word masking needs the word id of every token")
        words = np.asarray(word_ids, dtype=np.int64)
        unique, inverse = np.unique(words, return_inverse=True)
        chosen = rng.random(len(unique)) < masking.probability
        selected = chosen[inverse.reshape(words.shape)] & (words != NO_WORD)
    else:
        selected = rng.random(ids.shape) < masking.probability
    selected &= ~special
    labels = np.where(selected, ids, IGNORE_INDEX)
    draw = rng.random(ids.shape)
    to_mask = selected & (draw < 0.8)
    to_random = selected & (draw >= 0.8) & (draw < 0.9)
    masked = ids.copy()
    masked[to_mask] = masking.mask_id
    masked[to_random] = rng.choice(masking.random_token_ids(), size=int(to_random.sum()))
    return masked, labels


class MaskingCollator:
    """Masks each batch anew (dynamic masking), reproducibly from ``seed``."""

    def __init__(self, masking: Masking, seed: int, with_token_types: bool = True):
        self.masking = masking
        self.rng = np.random.default_rng(seed)
        self.with_token_types = with_token_types

    def __call__(self, features: list[dict[str, Any]]) -> dict[str, Any]:
        import torch

        ids = np.asarray([f["input_ids"] for f in features], dtype=np.int64)
        words = np.asarray([f["word_ids"] for f in features], dtype=np.int64) if self.masking.whole_word else None
        masked, labels = mask_tokens(ids, words, self.masking, self.rng)
        batch = {
            "input_ids": torch.from_numpy(masked),
            "attention_mask": torch.ones(masked.shape, dtype=torch.long),
            "labels": torch.from_numpy(labels),
        }
        if self.with_token_types:
            batch["token_type_ids"] = torch.zeros(masked.shape, dtype=torch.long)
        return batch


# --- the model and its head -------------------------------------------------------------------


def checkpoint_weight_names(folder: str | Path) -> set[str] | None:
    """Names of the weights saved in a local checkpoint folder (read from file headers, no tensors
    loaded); None when it is not a local folder with weights edgeft can list."""
    folder = Path(folder)
    if not folder.is_dir():
        return None
    for index in ("model.safetensors.index.json", "pytorch_model.bin.index.json"):
        if (folder / index).is_file():
            return set(json.loads((folder / index).read_text(encoding="utf-8"))["weight_map"])
    if (folder / "model.safetensors").is_file():
        from safetensors import safe_open

        with safe_open(str(folder / "model.safetensors"), framework="pt") as f:
            return set(f.keys())
    if (folder / "pytorch_model.bin").is_file():
        import torch

        return set(torch.load(folder / "pytorch_model.bin", map_location="cpu", weights_only=True, mmap=True))
    return None


def head_parameter_names(model) -> set[str]:
    """Parameters of a masked-LM model outside its encoder (tied ones are listed once, under the encoder)."""
    prefix = model.base_model_prefix + "."
    return {name for name, _ in model.named_parameters() if not name.startswith(prefix)}


def decoder_is_tied(model) -> bool:
    out = model.get_output_embeddings()
    return out is not None and out.weight is model.get_input_embeddings().weight


@dataclass(frozen=True)
class HeadInfo:
    initialised: bool  # True: the base had no masked-LM head and a new one was made
    missing: tuple[str, ...]


def load_masked_lm(base_path: str, base_name: str):
    """``AutoModelForMaskedLM`` from the base; when its checkpoint has no masked-LM head, the new
    head's decoder is tied to the word embeddings (and a warning says so). Returns (model, HeadInfo)."""
    from transformers import AutoModelForMaskedLM

    model, loading = AutoModelForMaskedLM.from_pretrained(base_path, output_loading_info=True)
    head = head_parameter_names(model)
    saved = checkpoint_weight_names(base_path)
    missing = sorted(head - saved) if saved is not None else sorted(head & set(loading["missing_keys"]))
    if not missing:
        return model, HeadInfo(False, ())
    if not decoder_is_tied(model):
        model.config.tie_word_embeddings = True
        model.tie_weights()
    if not decoder_is_tied(model):
        raise ModelError(
            f"--base {base_name}: has no masked-LM head and its output layer cannot be tied to the word "
            "embeddings; pass a base with a masked-LM head"
        )
    what = "no masked-LM head" if len(missing) == len(head) else f"an incomplete masked-LM head (missing {', '.join(missing)})"
    log.warning(
        "base %s has %s; initialised a new one tied to the word embeddings. perplexity_before measures "
        "this untrained head, so expect it to be very large",
        base_name,
        what,
    )
    return model, HeadInfo(True, tuple(missing))


def mlm_head(model):
    """The module mapping encoder states to vocabulary logits, when the model has exactly one
    (BERT's ``cls``, RoBERTa's ``lm_head``); None otherwise."""
    children = [module for name, module in model.named_children() if name != model.base_model_prefix]
    return children[0] if len(children) == 1 else None


def masked_lm_loss(model, batch: dict[str, Any], reduction: str = "mean"):
    """Cross-entropy over the masked positions only. Where the head is one module, it is applied
    to the masked positions alone: the vocabulary projection of the other ~85% of positions would
    cost as much as the whole encoder and does not change the loss."""
    import torch
    import torch.nn.functional as F
    from transformers import PreTrainedModel

    labels = batch["labels"]
    inputs = {k: v for k, v in batch.items() if k != "labels"}
    selected = labels != IGNORE_INDEX
    head = mlm_head(model) if isinstance(model, PreTrainedModel) else None
    if head is not None:
        hidden = model.base_model(**inputs)[0]
        logits = head(hidden[selected])
    else:
        logits = model(**inputs).logits[selected]
    if logits.shape[0] == 0:
        return torch.zeros((), device=labels.device, requires_grad=logits.requires_grad)
    return F.cross_entropy(logits.float(), labels[selected], reduction=reduction)


def perplexity(model, batches: Sequence[dict[str, Any]]) -> dict[str, float]:
    """exp(mean masked-token cross-entropy) over pre-masked batches; also the loss and token count."""
    import torch

    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    total, count = 0.0, 0
    with torch.inference_mode():
        for batch in batches:
            batch = {k: v.to(device) for k, v in batch.items()}
            total += float(masked_lm_loss(model, batch, reduction="sum"))
            count += int((batch["labels"] != IGNORE_INDEX).sum())
    model.train(was_training)
    loss = total / max(count, 1)
    return {"perplexity": math.exp(min(loss, 700.0)), "loss": loss, "masked_tokens": count}


def _trainer_class():
    from transformers import Trainer

    class MaskedLmTrainer(Trainer):
        """The HF Trainer with the masked-positions-only loss."""

        def __init__(self, *args: Any, **kwargs: Any):
            super().__init__(*args, **kwargs)
            # The loss is a per-batch mean; the Trainer scales it for gradient accumulation.
            self.model_accepts_loss_kwargs = False

        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            loss = masked_lm_loss(model, inputs)
            return (loss, None) if return_outputs else loss

    return MaskedLmTrainer


def carry_over_pooler(base_path: str, run_dir: Path, prefix: str) -> list[str]:
    """Copy the base's pooler weights into the run's weights file.

    Masked-LM models have no pooler, so without this a classifier trained from the run would start
    from a random pooler instead of the base's. Returns the names added (none when the base has none).
    """
    src, dst = Path(base_path) / "model.safetensors", run_dir / "model.safetensors"
    if not (src.is_file() and dst.is_file()):
        return []
    from safetensors import safe_open
    from safetensors.torch import load_file, save_file

    with safe_open(str(src), framework="pt") as f:
        pooler = {name: f.get_tensor(name) for name in f.keys() if name.startswith(("pooler.", prefix + ".pooler."))}
    if not pooler:
        return []
    weights = load_file(str(dst))
    added = {}
    for name, tensor in pooler.items():
        target = name if name.startswith(prefix + ".") else f"{prefix}.{name}"
        if target not in weights:
            added[target] = tensor.contiguous()
    if added:
        save_file({**weights, **added}, str(dst), metadata={"format": "pt"})
    return sorted(added)


# --- data -------------------------------------------------------------------------------------


def read_eval_rows(held: EvalFile) -> list[dict]:
    """A held-out corpus file for `edgeft export --eval`: one row per document (no labels)."""
    docs = read_corpus_file(held.path, text_field=held.text_column or held.config.get("text_field", "text"), documents=held.config.get("documents", "auto"))
    return [{"text": d.text} for d in docs]


@dataclass
class CorpusSplit:
    train: list[Document]
    eval: list[Document]
    eval_source: str


def load_corpus(config: MlmConfig) -> CorpusSplit:
    read = dict(text_field=config.text_field, documents=config.documents)
    docs = read_corpus(config.corpus, **read)
    if config.eval:
        return CorpusSplit(docs, read_corpus([config.eval], **read), str(Path(config.eval).resolve()))
    train, held = split_documents(docs, config.eval_ratio, config.seed)
    log.info("holding out %d of %d documents for perplexity", len(held), len(docs))
    return CorpusSplit(train, held, f"{config.eval_ratio:.0%} of the corpus documents held out (seed {config.seed})")


def _check_blocks(blocks: Blocks, block_size: int, what: str, fix: str) -> None:
    if len(blocks) == 0:
        raise DataError(
            f"{what} has {blocks.corpus_tokens} tokens, fewer than one block of {block_size} "
            f"(--max-length); {fix}"
        )


# --- training ---------------------------------------------------------------------------------


class MlmRecipe(Recipe):
    """Masked-LM continued pretraining: full blocks of the corpus, perplexity before and after."""

    task = "mlm"

    def load_data(self) -> None:
        self.config.require_io()
        self.corpus = load_corpus(self.config)
        self.eval_source = self.corpus.eval_source
        self.eval_examples = [TextExample(text=d.text, labels=[], line=d.line) for d in self.corpus.eval]

    def sources(self) -> dict[str, Any]:
        return {"corpus": [str(Path(p).resolve()) for p in self.config.corpus]}

    def prepare(self, run: Run) -> None:
        from transformers import AutoTokenizer

        config = self.config
        tokenizer = self.tokenizer = AutoTokenizer.from_pretrained(run.base.load_from)
        if tokenizer.mask_token_id is None or tokenizer.cls_token_id is None or tokenizer.sep_token_id is None:
            raise ModelError(f"--base {config.base}: its tokenizer has no mask, CLS or SEP token; masked-LM needs all three")
        limit = getattr(run.base.config, "max_position_embeddings", None)
        if limit and config.max_length > limit:
            raise DataError(f"--max-length {config.max_length} is longer than the base model's {limit} positions")
        block_size = config.max_length
        self.train_blocks = build_blocks(tokenizer, self.corpus.train, block_size)
        self.eval_blocks = build_blocks(tokenizer, self.corpus.eval, block_size)
        _check_blocks(self.train_blocks, block_size, "the training corpus", "add text or lower --max-length")
        _check_blocks(self.eval_blocks, block_size, "the held-out share", "raise --eval-ratio, pass --eval FILE or lower --max-length")
        log.info(
            "%d training blocks of %d tokens (%d tokens of the incomplete last block unused), %d held-out blocks",
            len(self.train_blocks), block_size, self.train_blocks.dropped_tokens, len(self.eval_blocks),
        )
        self.model, self.head = load_masked_lm(run.base.load_from, config.base)
        self.masking = Masking.for_tokenizer(tokenizer, config.mlm_probability, config.whole_word_masking)
        self.token_types = "token_type_ids" in tokenizer.model_input_names
        eval_collator = MaskingCollator(self.masking, config.seed + EVAL_MASK_SEED_OFFSET, self.token_types)
        eval_rows = self.eval_blocks.rows()
        self.eval_batches = [eval_collator(eval_rows[i : i + EVAL_BATCH_SIZE]) for i in range(0, len(eval_rows), EVAL_BATCH_SIZE)]
        self.model.to("cuda" if run.device.kind == "cuda" else "cpu")
        before = perplexity(self.model, self.eval_batches)
        log.info("held-out perplexity before training: %.2f (%d masked tokens)", before["perplexity"], before["masked_tokens"])
        self.scores: dict[str, Any] = {"perplexity_before": before["perplexity"], "eval_loss_before": before["loss"]}

    def fit(self, run: Run, work: Path, resume: bool) -> dict[str, Any] | None:
        config, device, scores = self.config, run.device, self.scores
        Trainer = _trainer_class()
        checkpoint = resume_checkpoint(work, resume)
        if config.head_warmup_steps and checkpoint is None:
            collator = MaskingCollator(self.masking, config.seed + 1, self.token_types)
            warm = head_warmup(self.model, Trainer, config, device, work, self.train_blocks, collator, self.tokenizer)
            after_warmup = perplexity(self.model, self.eval_batches)
            scores["perplexity_after_head_warmup"] = after_warmup["perplexity"]
            log.info("held-out perplexity after %d head-only steps: %.2f (%.1f s)", config.head_warmup_steps, after_warmup["perplexity"], warm)
        self.trainer = Trainer(
            model=self.model,
            args=training_arguments(config, device, work, metric=None, has_eval=False, remove_unused_columns=False),
            train_dataset=ListDataset(self.train_blocks.rows()),
            data_collator=MaskingCollator(self.masking, config.seed, self.token_types),
            processing_class=self.tokenizer,
        )
        log.info(
            "masked-LM training of %s on %d blocks (%s masking, p=%.2f) on %s/%s",
            config.base,
            len(self.train_blocks),
            "whole-word" if config.whole_word_masking else "token",
            config.mlm_probability,
            device.kind,
            device.precision,
        )
        output = self.trainer.train(resume_from_checkpoint=checkpoint)
        if not self.trainer.is_world_process_zero():
            return None
        after = perplexity(self.trainer.model, self.eval_batches)
        log.info("held-out perplexity after training: %.2f", after["perplexity"])
        scores.update(
            perplexity_after=after["perplexity"],
            eval_loss_after=after["loss"],
            train_loss=output.training_loss,
            eval_masked_tokens=after["masked_tokens"],
        )
        return scores

    def save(self, run: Run, work: Path) -> None:
        self.trainer.save_model(str(work))
        self.pooler = carry_over_pooler(run.base.path, work, self.model.base_model_prefix)

    def metrics(self, scores: dict[str, Any]) -> dict[str, Any]:
        metrics = {
            **scores,
            "eval_blocks": len(self.eval_blocks),
            "train_blocks": len(self.train_blocks),
            "train_tokens": self.train_blocks.corpus_tokens,
            "train_documents": len(self.corpus.train),
            "eval_documents": len(self.corpus.eval),
            "head_initialised": self.head.initialised,
        }
        if self.head.initialised:
            metrics["note"] = (
                "the base had no masked-LM head: a new one (decoder tied to the word embeddings) was "
                "initialised, so perplexity_before is that of an untrained head"
            )
        return metrics

    def task_info(self) -> dict[str, Any]:
        return {
            "max_length": self.config.max_length,
            "mask_token": self.tokenizer.mask_token,
            "masked_lm_head": "initialised" if self.head.initialised else "from the base",
            "pooler_from_base": self.pooler,
        }


def train_mlm(config: MlmConfig, *, overwrite: bool = False, resume: bool = False) -> TrainResult:
    """Continue pretraining ``config.base`` with masked-LM on ``config.corpus``; write a run folder."""
    return train(MlmRecipe(config), overwrite=overwrite, resume=resume)


def head_warmup(model, Trainer, config: MlmConfig, device, work: Path, blocks: Blocks, collator, tokenizer) -> float:
    """Train only the head (encoder and tied embeddings frozen) for ``head_warmup_steps`` steps, so
    a new head is not random when the encoder starts to learn from its gradients."""
    started = time.perf_counter()
    frozen = [p for p in model.base_model.parameters() if p.requires_grad]
    for p in frozen:
        p.requires_grad_(False)
    try:
        args = training_arguments(
            config, device, work / "head-warmup", metric=None, has_eval=False, remove_unused_columns=False,
            max_steps=config.head_warmup_steps, learning_rate=config.head_warmup_lr, warmup_ratio=0.0,
            save_strategy="no", load_best_model_at_end=False,
        )
        Trainer(model=model, args=args, train_dataset=ListDataset(blocks.rows()), data_collator=collator, processing_class=tokenizer).train()
    finally:
        for p in frozen:
            p.requires_grad_(True)
        shutil.rmtree(work / "head-warmup", ignore_errors=True)
    return time.perf_counter() - started
