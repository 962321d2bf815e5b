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
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
from edgeft_runtime import ner
from edgeft_runtime.metrics import ENTITY_F1, ENTITY_PRECISION, ENTITY_RECALL, entity_metrics, entity_scores

from ..config import NerConfig
from ..data.ner import NerExample, check_known_types, entity_types, iob2_labels, read_ner, split_sentences
from ..errors import ConfigError
from .common import EvalFile, TrainResult
from .pipeline import Run, TrainerRecipe, train

log = logging.getLogger(__name__)

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


def read_eval_rows(held: EvalFile) -> list[dict]:
    """A held-out NER file for `edgeft export --eval`, read with the run's scheme and join settings."""
    settings = held.run.get("ner") or {}
    examples = read_ner(
        held.path,
        scheme=held.config.get("scheme", "auto"),
        join=settings.get("join", held.config.get("join", "auto")),
        repair=bool(held.config.get("repair_tags", False)),
    ).examples
    check_known_types(examples, sorted({label[2:] for label in held.run["labels"] if label != "O"}), held.path)
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


class NerRecipe(TrainerRecipe):
    """Token classification: IOB2 tags per word, scored by entity F1 on character spans.

    settings: the run's NER settings (``ner`` in edgeft_run.json) when they are fixed already (a
    teacher's, when distilling); otherwise they come from the config and the training data.
    """

    task = "ner"
    headline = ENTITY_F1
    reported = frozenset({ENTITY_F1, ENTITY_PRECISION, ENTITY_RECALL, "loss"})
    per_token = True

    def __init__(self, config: NerConfig, settings: dict[str, Any] | None = None):
        super().__init__(config)
        self.settings = dict(settings) if settings is not None else None
        self.last_report: dict[str, Any] = {}

    def load_data(self) -> None:
        self.data = load_ner_data(self.config)
        self.labels = self.data.labels
        self.eval_source, self.eval_examples = self.data.eval_source, self.data.eval

    def load_tokenizer(self, run: Run):
        from transformers import AutoTokenizer

        hf_tokenizer = AutoTokenizer.from_pretrained(run.base.load_from, use_fast=True)
        self.content = content_tokenizer(hf_tokenizer)
        self.specials = ner.specials_of(self.content)
        stride = int(self.settings["stride"]) if self.settings else self.config.window_stride
        if stride >= self.config.max_length - self.specials.count:
            raise ConfigError(f"config field stride={stride} must be below the window of {self.config.max_length - self.specials.count} tokens")
        return hf_tokenizer

    def auto_model_class(self):
        from transformers import AutoModelForTokenClassification

        return AutoModelForTokenClassification

    def resolve_settings(self) -> dict[str, Any]:
        config, data = self.config, self.data
        return {
            "scheme": "IOB2",
            "source_scheme": data.scheme,
            "join": data.join,
            "aggregation": config.aggregation,
            "stride": config.window_stride,
            "label_all_tokens": config.label_all_tokens,
            "word_split": resolve_word_split(config, data.join, self.content, data.train),
        }

    def encode(self, run: Run) -> None:
        if self.settings is None:
            self.settings = self.resolve_settings()
        settings, data = self.settings, self.data
        self.encoding = dict(
            max_length=self.config.max_length,
            stride=int(settings["stride"]),
            label_all=bool(settings.get("label_all_tokens", False)),
            type_ids="token_type_ids" in self.tokenizer.model_input_names,
            word_split=settings["word_split"],
        )
        self.train_enc = encode_examples(self.content, self.specials, data.train, self.labels, **self.encoding)
        self.eval_enc = encode_examples(self.content, self.specials, data.eval, self.labels, **self.encoding)
        self.train_rows, self.eval_rows = list(self.train_enc.rows), self.eval_enc.rows
        if self.train_enc.misaligned:
            log.warning(
                "%d training entities start or end inside a word (%s words); the tagger learns the words they cover",
                self.train_enc.misaligned,
                settings["word_split"],
            )
        long_texts = len(self.train_enc.windows) - len(data.train)
        if long_texts:
            log.info("%d extra windows for training sentences longer than %d tokens (stride %d)", long_texts, self.config.max_length, settings["stride"])

    def unlabelled_rows(self, texts: list[str]) -> list[dict[str, Any]]:
        extra = encode_examples(self.content, self.specials, [NerExample(t, [], 0) for t in texts], self.labels, **self.encoding)
        return [{**row, "labels": [ner.IGNORE_INDEX] * len(row["labels"])} for row in extra.rows]

    def collator(self):
        from transformers import DataCollatorForTokenClassification

        return DataCollatorForTokenClassification(self.tokenizer)

    def score(self, logits, label_ids=None) -> dict[str, float]:
        prefix = len(self.specials.prefix_ids)
        aggregation = (self.settings or {}).get("aggregation", "first")
        predicted = entities_from_window_logits(self.data.eval, self.eval_enc, list(logits), prefix, self.labels, aggregation)
        self.last_report = score_entities(self.data.eval, predicted)
        return entity_metrics(self.last_report)

    def details(self) -> dict[str, Any]:
        return {"per_type": self.last_report.get("per_type", {})}

    def final_scores(self, trainer) -> dict[str, Any]:
        evals = [entry for entry in trainer.state.log_history if f"eval_{ENTITY_F1}" in entry]
        if evals and self.last_report and evals[-1][f"eval_{ENTITY_F1}"] == trainer.state.best_metric:
            return evals[-1]  # the last evaluation scored the model that was kept: no second pass
        return trainer.evaluate()

    def describe(self, run: Run) -> str:
        data = self.data
        return (
            f"training {self.base_label(run)} on {len(data.train)} sentences ({len(data.types)} entity types, "
            f"{data.scheme or 'span'} tags read as IOB2, {self.encoding['word_split']} words; eval {len(data.eval)})"
        )

    def extra_metrics(self) -> dict[str, Any]:
        return {
            **self.details(),
            "eval_examples": len(self.data.eval),
            "train_examples": len(self.data.train),
            "misaligned_train_entities": self.train_enc.misaligned,
            "misaligned_eval_entities": self.eval_enc.misaligned,
        }

    def task_info(self) -> dict[str, Any]:
        return {"labels": self.labels, "max_length": self.config.max_length, "ner": dict(self.settings or {})}


def train_ner(config: NerConfig, *, overwrite: bool = False, resume: bool = False) -> TrainResult:
    """Fine-tune ``config.base`` for token classification and write a run folder to ``config.out``."""
    return train(NerRecipe(config), overwrite=overwrite, resume=resume)
