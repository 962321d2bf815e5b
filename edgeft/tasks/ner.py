"""Token classification (NER) with the Hugging Face Trainer.

Sentences are raw text plus character spans (edgeft/data/ner.py). Training tokenises the text
exactly as the runtime will (edgeft_runtime/ner.py: same tokenizer, same words, same stride
windows), labels each word from the spans (its first sub-token; the rest are left out of the
loss unless ``label_all_tokens``), and measures entity-level F1 on character spans, the way
`edgeft eval` and the export parity gate measure it. A word is a whitespace-delimited run of
characters (a pre-tokenised file's own tokens) or the tokenizer's pre-tokenizer word
(``word_split``); the run records which, and the bundle's runtime splits raw text the same way.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
from edgeft_exporters.staging import StagedDir
from edgeft_runtime import ner
from edgeft_runtime.metrics import entity_scores

from ..base_models import load_base_config
from ..config import NerConfig
from ..devices import select_device
from ..errors import ConfigError
from ..data.ner import NerExample, check_known_types, entity_types, iob2_labels, read_ner, split_sentences
from ..runs import write_run
from .common import TrainResult, base_name, finish_run_folder, quiet_transformers, resume_checkpoint, run_info, supervised_trainer, training_loop_time
from .tuning import prepare_model, save_trained

log = logging.getLogger(__name__)

HEADLINE = "entity_f1"


@dataclass
class NerData:
    train: list[NerExample]
    eval: list[NerExample]
    types: list[str]
    labels: list[str]
    eval_source: str
    scheme: str | None  # the training file's scheme before conversion to IOB2
    join: str


def load_ner_data(config: NerConfig) -> NerData:
    """Read train (and eval) files, derive the entity types, hold out eval sentences when no file is given."""
    config.require_io()
    read = dict(scheme=config.scheme, join=config.join, repair=config.repair_tags)
    train_file = read_ner(config.train, **read)
    train = train_file.examples
    types = entity_types(train)
    if not types:
        raise ConfigError(f"{config.train}: no entities in the training data; a tagger needs tagged entities")
    if config.eval:
        evaluation = read_ner(config.eval, **read).examples
        check_known_types(evaluation, types, config.eval)
        source = str(Path(config.eval).resolve())
    else:
        train, evaluation = split_sentences(train, config.eval_ratio, config.seed)
        source = f"{config.eval_ratio:.0%} of the sentences of {Path(config.train).resolve()} (seed {config.seed})"
        log.info("no --eval file: holding out %d of the training sentences for evaluation", len(evaluation))
    return NerData(train, evaluation, types, iob2_labels(types), source, train_file.scheme, train_file.join)


def read_eval_rows(
    path: str | Path,
    run: dict,
    run_config: dict,
    text_column: str | None = None,
    label_column: str | None = None,
) -> list[dict]:
    """A held-out NER file for `edgeft export --eval`, read with the run's scheme and join settings."""
    settings = run.get("ner") or {}
    examples = read_ner(
        path,
        scheme=run_config.get("scheme", "auto"),
        join=settings.get("join", run_config.get("join", "auto")),
        repair=bool(run_config.get("repair_tags", False)),
    ).examples
    check_known_types(examples, sorted({label[2:] for label in run["labels"] if label != "O"}), path)
    return [ex.to_json() for ex in examples]


def content_tokenizer(hf_tokenizer):
    """A ``tokenizers.Tokenizer`` copy of a fast HF tokenizer with truncation and padding off."""
    from tokenizers import Tokenizer

    if not getattr(hf_tokenizer, "is_fast", False):
        raise ConfigError("NER needs a fast (tokenizers) tokenizer for character offsets; this base model has none")
    tok = Tokenizer.from_str(hf_tokenizer.backend_tokenizer.to_str())
    tok.no_truncation()
    tok.no_padding()
    return tok


def word_tags(tokens: ner.TextTokens, spans: Sequence[tuple[int, int, str]]) -> tuple[list[str], int]:
    """IOB2 tag of each tokenizer word from character spans; also the number of spans whose
    boundaries fall inside a word (those cannot be reproduced exactly by a word tagger)."""
    offsets = ner.word_offsets(tokens.offsets, tokens.words)
    tags = ["O"] * len(offsets)
    starts, ends = offsets[:, 0], offsets[:, 1]
    misaligned = 0
    for start, end, type_ in spans:
        first, stop = np.searchsorted(starts, start, "left"), np.searchsorted(starts, end, "left")
        for w in range(first, stop):
            tags[w] = f"{'B' if w == first else 'I'}-{type_}"
        if first == stop or starts[first] != start or ends[stop - 1] != end:
            misaligned += 1
    return tags, misaligned


def token_labels(tokens: ner.TextTokens, tags: Sequence[str], index: dict[str, int], label_all: bool) -> np.ndarray:
    """Label id of each token: the word's tag on its first sub-token; the others ignored
    (IGNORE_INDEX) or, with ``label_all``, given the word's tag as I- (a word starts only once)."""
    labels = np.full(len(tokens), ner.IGNORE_INDEX, dtype=np.int64)
    starts = ner.word_starts(tokens.words)
    labels[starts] = [index[t] for t in tags]
    if label_all:
        inside = [index["I-" + t[2:]] if t != "O" else index["O"] for t in tags]
        rest = np.setdiff1d(np.arange(len(tokens)), starts)
        labels[rest] = np.asarray(inside, dtype=np.int64)[tokens.words[rest]]
    return labels


@dataclass
class Encoded:
    tokens: list[ner.TextTokens]
    windows: list[ner.Window]
    rows: list[dict[str, Any]]
    misaligned: int


def encode_examples(
    tokenizer,
    specials: ner.Specials,
    examples: Sequence[NerExample],
    labels: list[str],
    *,
    max_length: int,
    stride: int,
    label_all: bool,
    type_ids: bool,
    word_split: str,
) -> Encoded:
    """Training features: one row per window, each token labelled only in the window where it is most central."""
    index = {label: i for i, label in enumerate(labels)}
    tokens = ner.text_tokens(tokenizer, [ex.text for ex in examples], word_split)
    wins = ner.windows(tokens, specials, max_length, stride)
    by_text: dict[int, list[int]] = {}
    for i, w in enumerate(wins):
        by_text.setdefault(w.text, []).append(i)
    rows: list[dict[str, Any]] = [{} for _ in wins]
    misaligned = 0
    prefix, suffix = len(specials.prefix_ids), len(specials.suffix_ids)
    for t, (ex, tok) in enumerate(zip(examples, tokens)):
        tags, bad = word_tags(tok, ex.spans)
        misaligned += bad
        labels_t = token_labels(tok, tags, index, label_all)
        ws = by_text[t]
        owner = ner.central_owner([(wins[i].start, wins[i].end) for i in ws], len(tok))
        for k, i in enumerate(ws):
            w = wins[i]
            own = np.where(owner[w.start : w.end] == k, labels_t[w.start : w.end], ner.IGNORE_INDEX)
            row = {
                "input_ids": w.ids.tolist(),
                "attention_mask": [1] * len(w.ids),
                "labels": [ner.IGNORE_INDEX] * prefix + own.tolist() + [ner.IGNORE_INDEX] * suffix,
            }
            if type_ids:
                row["token_type_ids"] = w.type_ids.tolist()
            rows[i] = row
    return Encoded(tokens, wins, rows, misaligned)


def entities_from_window_logits(
    examples: Sequence[NerExample],
    encoded: Encoded,
    window_logits: Sequence[np.ndarray],
    prefix: int,
    labels: list[str],
    aggregation: str = "first",
) -> list[list[dict]]:
    """Decode every example's entities from its windows' logits (the runtime's decoding)."""
    merged = ner.merge_text_windows(encoded.windows, window_logits, encoded.tokens, prefix)
    return [ner.tag_text(ex.text, tok, lg, labels, aggregation) for ex, tok, lg in zip(examples, encoded.tokens, merged)]


def score_entities(examples: Sequence[NerExample], predicted: Sequence[Sequence[dict]]) -> dict[str, Any]:
    """Entity precision/recall/F1 (micro and per type) of predictions against the examples' spans."""
    gold = [[(t, s, e) for s, e, t in ex.spans] for ex in examples]
    return entity_scores(gold, [ner.entity_tuples(p) for p in predicted])


def resolve_word_split(config: NerConfig, join: str, tokenizer, examples: Sequence[NerExample]) -> str:
    """The configured word split, with ``auto`` resolved: the tokenizer's words for text without
    spaces (join none); otherwise whitespace words, unless they cut through more training
    entities than the tokenizer's words do (span data whose entities sit inside longer runs,
    e.g. "(Paris)")."""
    if config.word_split != "auto":
        return config.word_split
    if join == "none":
        return "tokenizer"
    texts = [ex.text for ex in examples]
    cut = {
        split: sum(word_tags(tok, ex.spans)[1] for tok, ex in zip(ner.text_tokens(tokenizer, texts, split), examples))
        for split in ner.WORD_SPLITS
    }
    if cut["whitespace"] > cut["tokenizer"]:
        log.info(
            "word_split auto: tokenizer words (whitespace words would cut through %d training entities, the tokenizer's %d)",
            cut["whitespace"],
            cut["tokenizer"],
        )
        return "tokenizer"
    return "whitespace"


def flat_scores(report: dict[str, Any]) -> dict[str, float]:
    return {"entity_precision": report["precision"], "entity_recall": report["recall"], HEADLINE: report["f1"]}


def train_ner(config: NerConfig, *, overwrite: bool = False, resume: bool = False) -> TrainResult:
    """Fine-tune ``config.base`` for token classification and write a run folder to ``config.out``."""
    started = time.perf_counter()
    data = load_ner_data(config)
    base_path, base_config = load_base_config(config.base)
    device = select_device(config)
    stage = StagedDir(config.out, overwrite=overwrite, keep_partial=True, resume=resume)
    stage.check()

    from transformers import (
        AutoModelForTokenClassification,
        AutoTokenizer,
        DataCollatorForTokenClassification,
        set_seed,
    )

    quiet_transformers()
    set_seed(config.seed)
    labels = data.labels
    hf_tokenizer = AutoTokenizer.from_pretrained(base_path, use_fast=True)
    tokenizer = content_tokenizer(hf_tokenizer)
    specials = ner.specials_of(tokenizer)
    stride = config.window_stride
    if stride >= config.max_length - specials.count:
        raise ConfigError(f"config field stride={stride} must be below the window of {config.max_length - specials.count} tokens")
    model = AutoModelForTokenClassification.from_pretrained(
        base_path,
        num_labels=len(labels),
        id2label=dict(enumerate(labels)),
        label2id={label: i for i, label in enumerate(labels)},
    )
    word_split = resolve_word_split(config, data.join, tokenizer, data.train)
    prepared = prepare_model(model, config, "ner")
    encode = dict(
        max_length=config.max_length,
        stride=stride,
        label_all=config.label_all_tokens,
        type_ids="token_type_ids" in hf_tokenizer.model_input_names,
        word_split=word_split,
    )
    train_enc = encode_examples(tokenizer, specials, data.train, labels, **encode)
    eval_enc = encode_examples(tokenizer, specials, data.eval, labels, **encode)
    if train_enc.misaligned:
        log.warning(
            "%d training entities start or end inside a word (%s words); the tagger learns the words they cover",
            train_enc.misaligned,
            word_split,
        )
    long_texts = len(train_enc.windows) - len(data.train)
    if long_texts:
        log.info("%d extra windows for training sentences longer than %d tokens (stride %d)", long_texts, config.max_length, stride)
    prefix = len(specials.prefix_ids)
    last_report: dict[str, Any] = {}

    def compute_metrics(prediction) -> dict[str, float]:
        logits = prediction.predictions[0] if isinstance(prediction.predictions, tuple) else prediction.predictions
        predicted = entities_from_window_logits(data.eval, eval_enc, list(logits), prefix, labels, config.aggregation)
        report = score_entities(data.eval, predicted)
        last_report.clear()
        last_report.update(report)
        return flat_scores(report)

    with stage as work:
        trainer = supervised_trainer(
            config,
            device,
            work,
            model=prepared.model,
            train_rows=train_enc.rows,
            eval_rows=eval_enc.rows,
            collator=DataCollatorForTokenClassification(hf_tokenizer),
            tokenizer=hf_tokenizer,
            compute_metrics=compute_metrics,
            metric=HEADLINE,
        )
        log.info(
            "training %s on %d sentences (%d entity types, %s tags read as IOB2, %s words; eval %d) on %s/%s",
            base_name(base_path),
            len(data.train),
            len(data.types),
            data.scheme or "span",
            word_split,
            len(data.eval),
            device.kind,
            device.precision,
        )
        trainer.train(resume_from_checkpoint=resume_checkpoint(work, resume))
        evals = [entry for entry in trainer.state.log_history if f"eval_{HEADLINE}" in entry]
        if evals and last_report and evals[-1][f"eval_{HEADLINE}"] == trainer.state.best_metric:
            scores = evals[-1]  # the last evaluation scored the model that was kept: no second pass
        else:
            scores = trainer.evaluate()
        if not trainer.is_world_process_zero():
            return TrainResult(Path(config.out), {}, time.perf_counter() - started, main_process=False)
        save_trained(trainer, prepared, hf_tokenizer, work, config)
        finish_run_folder(work)
        metrics: dict[str, Any] = {k.removeprefix("eval_"): v for k, v in scores.items() if k.removeprefix("eval_") in _REPORTED}
        metrics["per_type"] = last_report.get("per_type", {})
        metrics["eval_examples"] = len(data.eval)
        metrics["train_examples"] = len(data.train)
        metrics["misaligned_train_entities"] = train_enc.misaligned
        metrics["misaligned_eval_entities"] = eval_enc.misaligned
        seconds = time.perf_counter() - started
        info = {
            "labels": labels,
            "max_length": config.max_length,
            "ner": {
                "scheme": "IOB2",
                "source_scheme": data.scheme,
                "join": data.join,
                "aggregation": config.aggregation,
                "stride": stride,
                "label_all_tokens": config.label_all_tokens,
                "word_split": word_split,
            },
            **run_info(
                config, base_path, base_config, device,
                sources={"train_file": str(Path(config.train).resolve())}, eval_source=data.eval_source, seconds=seconds,
                trained={**prepared.info, "training_loop": training_loop_time(trainer)},
            ),
        }
        write_run(work, task="ner", config=config, info=info, metrics=metrics, eval_examples=data.eval)
        stage.commit()
    return TrainResult(Path(config.out), metrics, seconds)


_REPORTED = {"entity_f1", "entity_precision", "entity_recall", "loss"}
