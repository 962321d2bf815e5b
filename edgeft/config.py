"""Typed training configs, one schema per task: each option declared once, in its field.

A field is an ``option(default, help, *checks)`` (``edgeft_runtime.options``, as the export's
options): its name is the config key (``--set lr=3e-5``, a ``--config`` file, the saved
``train_config.json``), its flag is made from it (``--lr``, ``edgeft.cli.declared.with_flags``; a
field with ``cli=False`` is set by ``--set`` or a file only), and the checks run whenever a config
is constructed, so a config built in code (benchmarks, notebooks) meets them too.
``edgeft.config_loader.build_config`` layers defaults < TOML/JSON file < flags < ``--set``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, ClassVar

from edgeft_runtime.options import Check, Distinct, Interval, NotEmpty, OneOf, WholeValue, first_failure, like, option

from .data.corpus import DOCUMENT_MODES
from .errors import ConfigError

DEFAULT_BASE = "all-MiniLM-L6-v2"

FREEZE_CHOICES = "none, embeddings, encoder or layers:N"
PEFT_METHODS = ("none", "lora")
# The options of the Trainer-based tasks that change which weights train and how (freezing,
# adapters, stability recipes); tasks that train otherwise list the ones they do not use.
ADAPTER_KEYS = ("peft", "lora_r", "lora_alpha", "lora_dropout", "lora_target_modules", "save_merged")
STABILITY_KEYS = ("layerwise_lr_decay", "reinit_top_layers")
# The hyperparameter search's options: tasks without a metric to maximise (masked-LM) leave them out.
SEARCH_KEYS = (
    "search_trials", "search_backend", "search_trial_cpus", "search_lr", "search_batch_size", "search_epochs",
    "search_warmup_ratio", "search_weight_decay",
)
SEARCH_BACKENDS = ("optuna", "ray")
SAMPLING_STRATEGIES = ("oversampling", "undersampling", "unique")

# numpy's and torch's seeds are unsigned 32-bit numbers.
SEED = Interval(0, 2**32 - 1)
EVAL_RATIO = 0.1
# Bounds that only stop a slip of the keyboard (1e308 epochs would run until killed).
EPOCHS = Interval(0, 10_000, low_open=True)
STEPS = Interval(0, 1_000_000)  # a step count past the data's end repeats it: 1e20 steps never ends
BETWEEN_0_AND_1 = Interval(0, 1, low_open=True, high_open=True)  # a share, probability or learning rate
FROM_0_BELOW_1 = Interval(0, 1, high_open=True)


def parse_freeze(spec: str) -> tuple[str, int]:
    """``freeze`` -> (kind, bottom layers frozen): ("none", 0), ("embeddings", 0), ("encoder", 0)
    or ("layers", N). ConfigError for anything else."""
    text = spec.strip().lower()
    if text in ("none", "embeddings", "encoder"):
        return text, 0
    kind, sep, count = text.partition(":")
    if kind == "layers" and sep and count.strip().isdigit():
        return "layers", int(count)
    raise ConfigError(f"config field freeze={spec!r} must be {FREEZE_CHOICES} (N: how many bottom encoder layers)")


@dataclass(frozen=True)
class FreezeSpec(Check):
    """A ``freeze`` value that ``parse_freeze`` reads."""

    def problem(self, value: Any) -> str | None:
        try:
            parse_freeze(str(value))
        except ConfigError:
            return f"choose {self.describe()}"
        return None

    def describe(self) -> str:
        return FREEZE_CHOICES


@dataclass(frozen=True)
class SearchRange(WholeValue):
    """A searched range: empty (not searched) or low,high with low < high."""

    example: str

    def problem(self, value: Any) -> str | None:
        ok = not value or (len(value) == 2 and value[0] < value[1])
        return None if ok else f"give {self.describe()}"

    def describe(self) -> str:
        return f"low,high with low < high (e.g. {self.example}), or nothing to keep the option as set"


class FieldError(ConfigError):
    """A config field's value fails its declared check; ``key`` names the field (the loader adds
    where the value came from: the flag, ``--set`` or the file)."""

    def __init__(self, key: str, message: str):
        super().__init__(message)
        self.key = key


def check_config(config: Any) -> None:
    """Every declared field of ``config`` against its checks: FieldError naming the first that fails."""
    failure = first_failure(config)
    if failure:
        f, value, check, _ = failure
        raise FieldError(f.name, f"config field {f.name}={value!r} must be {check.describe()}")


@dataclass
class TrainConfig:
    """Options every task shares."""

    # Inherited keys a task does not use: refused when given, left out of the saved config and the flags.
    not_applicable: ClassVar[tuple[str, ...]] = ()

    train: str | None = option(None, "Training data file.", flags=("--train",), metavar="FILE")
    eval: str | None = option(
        None, "Held-out data for early stopping, metrics and the export's parity check.", flags=("--eval",), metavar="FILE",
        default_text=f"{EVAL_RATIO:.0%} of --train",
    )
    out: str | None = option(None, "Output folder for the run.", flags=("--out", "-o"), metavar="DIR")
    base: str = option(
        DEFAULT_BASE,
        f"Base model: {DEFAULT_BASE} (offline default), a local folder (e.g. an `edgeft train mlm` run) or a hub id.",
        NotEmpty("a model name or folder"),
    )
    text_column: str = option("text", "Column/field with the text.", NotEmpty("a column name"))
    label_column: str = option("label", "Column/field with the label(s).", NotEmpty("a column name"))
    max_length: int = option(128, "Max tokens per text (longer texts are truncated).", Interval(8, 8192))
    epochs: float = option(3.0, "Training epochs.", EPOCHS)
    batch_size: int = option(16, "Batch size per device.", Interval(1))
    lr: float = option(5e-5, "Peak learning rate.", BETWEEN_0_AND_1, flags=("--lr",))
    # AdamW shrinks each weight by lr * weight_decay per step: above 1 no setting makes sense.
    weight_decay: float = option(0.01, "AdamW weight decay.", Interval(0, 1), cli=False)
    warmup_ratio: float = option(0.1, "Share of the steps over which the learning rate warms up from 0.", FROM_0_BELOW_1)
    seed: int = option(42, "Random seed (data order, init, hold-out split).", SEED)
    eval_ratio: float = option(EVAL_RATIO, "Share of the training file held out for evaluation when no --eval file is given.", BETWEEN_0_AND_1, cli=False)
    early_stopping_patience: int = option(
        2, "Stop after this many evaluations without improvement (0: never stop early).", Interval(0), cli=False
    )
    skip_empty: bool = option(False, "Rows with empty text: refuse with the line number (false) or skip them, counted in a warning.", cli=False)
    device: str = option("auto", "Where to train: auto (a CUDA GPU when present), cpu or cuda.", OneOf(("auto", "cpu", "cuda")), cli=False)
    mixed_precision: str = option(
        "auto", "auto (bf16 or fp16 on a GPU, none on the CPU), no, fp16 or bf16.", OneOf(("auto", "no", "fp16", "bf16")), cli=False
    )
    # More batches per step than a run has would train nothing at all, silently.
    gradient_accumulation_steps: int = option(1, "Batches whose gradients add up to one optimiser step.", Interval(1, 10_000), cli=False)
    logging_steps: int = option(50, "Log the training loss every this many steps.", Interval(1), cli=False)
    seeds: list[int] = option(
        [],
        "Train one run per seed (e.g. 1,2,3): mean and spread of the eval metric in metrics.json, the best run kept.",
        SEED, Distinct("1,2,3"), default_text="one run with --seed",
    )

    # Which weights train, and the recipes that make small-data fine-tuning stable.
    freeze: str = option(
        "none",
        "Freeze weights: none, embeddings, encoder (only the task head trains) or layers:N (the embeddings and the bottom N encoder layers).",
        FreezeSpec(), default_text="none",
    )
    peft: str = option(
        "none", "Parameter-efficient fine-tuning (peft library): none or lora (adapters; the task head trains in full).", OneOf(PEFT_METHODS),
        default_text="none",
    )
    lora_r: int = option(8, "LoRA rank.", Interval(1, 4096))
    lora_alpha: int = option(16, "LoRA scaling alpha (the update is scaled by alpha / r).", Interval(1, 65536))
    lora_dropout: float = option(0.1, "Dropout on the LoRA adapters' input.", FROM_0_BELOW_1, cli=False)
    # BERT-family attention projections; the LoRA paper adapts the query and value projections
    # (Hu et al. 2021), which BERT, RoBERTa, ELECTRA and MiniLM name "query" and "value".
    lora_target_modules: list[str] = option(
        ["query", "value"], "Comma-separated linear modules that get adapters.", NotEmpty("at least one module name, e.g. query,value"),
        NotEmpty("a module name"), flags=("--lora-target-modules",),
    )
    save_merged: bool = option(
        True, "Keep a merged save_pretrained copy beside the adapter (false: only the adapter; export merges).", cli=False
    )
    layerwise_lr_decay: float = option(
        1.0,
        "Learning-rate factor per encoder layer from the top (e.g. 0.9: layer i from the top trains at lr * 0.9**i, the "
        "embeddings one step below the bottom layer); the head at --lr.",
        Interval(0, 1, low_open=True), default_text="1, no decay",
    )
    reinit_top_layers: int = option(0, "Re-initialise the top N encoder layers (and the pooler) before training.", Interval(0))
    fresh_head: bool = option(
        False, "Start the task head afresh even when the --base run's head fits (the same task and labels); a head that does "
        "not fit is always replaced.", cli=False,
    )

    # Hyperparameter search (edgeft/tasks/search.py): the ranges are searched when search_trials > 0.
    search_trials: int = option(
        0,
        "Hyperparameter search: train this many trials (Optuna's TPE sampler over the search_* ranges; a trial behind the "
        "median after an epoch is stopped) and keep the best as the run; every trial's settings and metric go into its "
        "search.jsonl.",
        Interval(0, 1000), default_text="0, one run",
    )
    search_backend: str = option(
        "optuna",
        "Where the search's trials run: optuna (one after another in this process; reproducible) or ray (Ray Tune trials "
        "wherever the Ray cluster has room, several at once, one GPU each on a GPU cluster; edgeft[ray]).",
        OneOf(SEARCH_BACKENDS),
    )
    search_trial_cpus: int = option(
        1, "CPUs each Ray Tune trial asks for on a cluster without GPUs (--search-backend ray).", Interval(1, 4096), cli=False
    )
    search_lr: list[float] = option(
        [1e-5, 1e-4], "Learning rates searched: low,high on a log scale (empty: keep lr).", SearchRange("1e-5,1e-4"), BETWEEN_0_AND_1, cli=False
    )
    search_batch_size: list[int] = option(
        [8, 16, 32], "Batch sizes searched, as choices (empty: keep batch_size).", Distinct("8,16,32"), Interval(1, 65536), cli=False
    )
    search_epochs: list[int] = option([1, 5], "Epochs searched: low,high, whole epochs (empty: keep epochs).", SearchRange("1,5"), Interval(1, 10_000), cli=False)
    search_warmup_ratio: list[float] = option(
        [0.0, 0.2], "Warm-up shares searched: low,high (empty: keep warmup_ratio).", SearchRange("0,0.2"), FROM_0_BELOW_1, cli=False
    )
    search_weight_decay: list[float] = option(
        [0.0, 0.1], "Weight decays searched: low,high (empty: keep weight_decay).", SearchRange("0,0.1"), Interval(0, 1), cli=False
    )

    def __post_init__(self) -> None:
        # A config built in code (benchmarks, tests, notebooks) is checked like one from the CLI.
        self.validate()

    def validate(self) -> None:
        """Raise ConfigError naming the first field that fails its check, or options that do not combine."""
        check_config(self)
        self.check_combinations()

    def check_combinations(self) -> None:
        """Options whose values are fine alone but not together."""
        kind, _ = parse_freeze(self.freeze)
        if self.peft != "none" and kind != "none":
            raise ConfigError(
                f"config fields freeze={self.freeze!r} and peft={self.peft!r} do not combine: {self.peft} already freezes "
                "the base model and trains its adapters and the task head; choose one"
            )
        if self.peft != "none" and self.reinit_top_layers:
            raise ConfigError(
                f"config field reinit_top_layers={self.reinit_top_layers} with peft={self.peft!r}: {self.peft} freezes the "
                "re-initialised layers, so they would stay random; use one or the other"
            )
        if self.search_trials and self.seeds:
            raise ConfigError(
                "config fields search_trials and seeds do not combine: search first, then train the best settings "
                "(the search's train_config.json) with --seeds"
            )
        if not self.save_merged and self.peft == "none":
            raise ConfigError("config field save_merged=false needs peft=lora: without an adapter the model itself is the run")

    @property
    def run_seeds(self) -> list[int]:
        """The seeds to train: ``seeds``, or ``[seed]`` for a single run."""
        return list(self.seeds) or [self.seed]

    def require_io(self) -> None:
        """Training needs its data and an output folder (printing a config does not)."""
        if not self.train:
            raise ConfigError("no training data: pass --train FILE (or set train = \"FILE\" in the config file)")
        if not self.out:
            raise ConfigError("no output folder: pass --out DIR (or set out = \"DIR\" in the config file)")

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in dataclasses.asdict(self).items() if k not in self.not_applicable}


@dataclass
class TextClassificationConfig(TrainConfig):
    """Options of every task that learns labels of texts (the classifier, SetFit)."""

    flags_first: ClassVar[tuple[str, ...]] = ("train", "eval", "out", "base", "text_column", "label_column", "multi_label", "label_separator")

    train: str | None = like(TrainConfig, "train", None, help="Training data: .csv, .tsv or .jsonl.")
    multi_label: bool = option(
        False, "Each text may have several labels ('a;b' or a JSON list).", flags=("--multi-label/--single-label",), default_text="single"
    )
    label_separator: str = option(";", "Separator of multi-label labels (or give them as a JSON list).", NotEmpty("a separator, e.g. ;"))
    allow_missing_eval_labels: bool = option(
        False,
        "Train on labels the eval data never shows (their eval F1 is 0); refused by default because it usually means the wrong eval file.",
        cli=False,
    )


@dataclass
class ClassifierConfig(TextClassificationConfig):
    """Supervised sequence classification, single- or multi-label."""

    threshold: float = option(0.5, "Multi-label decision threshold on each label's sigmoid probability.", BETWEEN_0_AND_1, cli=False)


@dataclass
class SetFitConfig(TextClassificationConfig):
    """SetFit few-shot classification: contrastive fine-tuning of a sentence-transformer body on
    pairs of training texts (same label or not), then a logistic-regression head on its embeddings.

    ``epochs``, ``lr`` and ``batch_size`` apply to the body's contrastive phase (pairs per step);
    ``warmup_ratio`` and ``weight_decay`` too. Early stopping and gradient accumulation do not
    apply (setfit trains its pairs without evaluating, then fits the head): they must stay off.
    ``freeze`` applies to the body; ``freeze=encoder`` skips the contrastive phase and fits the
    head on the frozen body's embeddings.
    """

    # LoRA and the layer-wise recipes are wired into edgeft's own Trainer set-up, not setfit's.
    not_applicable: ClassVar[tuple[str, ...]] = (*ADAPTER_KEYS, *STABILITY_KEYS, "fresh_head")

    epochs: float = like(TrainConfig, "epochs", 1.0, help="Epochs over the pairs (body).")
    batch_size: int = like(TrainConfig, "batch_size", 16, help="Pairs per step.")
    lr: float = like(TrainConfig, "lr", 2e-5, help="Body learning rate.")
    warmup_ratio: float = like(TrainConfig, "warmup_ratio", 0.1, cli=False)
    early_stopping_patience: int = like(TrainConfig, "early_stopping_patience", 0)
    freeze: str = like(
        TrainConfig, "freeze", "none",
        help="Freeze the body: none, embeddings, layers:N (the embeddings and the bottom N layers) or encoder (no "
        "contrastive phase: the head is fitted on the frozen body's embeddings).",
    )
    shots: int | None = option(
        None,
        "Train on N examples per label sampled from --train with --seed; without --eval the other rows are the eval data.",
        Interval(1), default_text="all rows",
    )
    num_iterations: int | None = option(
        20,
        "Pairs per training example and side (positive/negative), as in the SetFit paper (20); 0: --set "
        "sampling_strategy decides, which grows with the square of the data.",
        Interval(0, 1000),
    )
    sampling_strategy: str = option(
        "oversampling", "How pairs are drawn when --num-iterations is 0: oversampling, undersampling or unique.",
        OneOf(SAMPLING_STRATEGIES), cli=False,
    )
    max_steps: int = option(0, "Stop the contrastive phase after this many steps (0: no cap).", STEPS, cli=False)
    head_c: float = option(
        1.0, "The logistic-regression head's inverse regularisation strength (scikit-learn C).",
        Interval(0, 1e6, low_open=True), cli=False,
    )
    head_max_iter: int = option(100, "The logistic-regression head's iterations.", Interval(1), cli=False)
    head_class_weight: str | None = option(
        None, "balanced: reweight classes by inverse frequency; unset: every example counts once.", OneOf(("balanced",)), cli=False
    )

    def check_combinations(self) -> None:
        super().check_combinations()
        # setfit trains its pairs without evaluating, then fits the head: these must stay off.
        if self.early_stopping_patience != 0:
            raise FieldError("early_stopping_patience", f"config field early_stopping_patience={self.early_stopping_patience!r} must be 0 (setfit does not evaluate while training)")
        if self.gradient_accumulation_steps != 1:
            raise FieldError(
                "gradient_accumulation_steps",
                f"config field gradient_accumulation_steps={self.gradient_accumulation_steps!r} must be 1 (setfit does not accumulate gradients)",
            )


@dataclass
class NerConfig(TrainConfig):
    """Token classification (NER): CoNLL/TSV/JSONL data, any common scheme, trained as IOB2."""

    flags_first: ClassVar[tuple[str, ...]] = ("train", "eval", "out", "base", "scheme", "label_all_tokens", "stride", "aggregation", "word_split")

    train: str | None = like(TrainConfig, "train", None, help="Training data: CoNLL (.conll/.txt/...), token<TAB>tag .tsv, or .jsonl.")
    text_column: str = like(TrainConfig, "text_column", "text", cli=False)
    label_column: str = like(TrainConfig, "label_column", "label", cli=False)
    max_length: int = like(TrainConfig, "max_length", 128, help="Tokens per window (longer sentences are windowed, not cut).")
    scheme: str = option("auto", "Tagging scheme of the files: auto, IOB1, IOB2, BIOES, BMES or BILOU (all trained as IOB2).")
    join: str = option(
        "auto", "Tokens -> text: auto (no separator when every token is one character, e.g. Chinese), space or none.", cli=False
    )
    repair_tags: bool = option(
        False, "An I- (or E-) tag that continues no entity: refuse with file:line (false) or start an entity there.", cli=False
    )
    label_all_tokens: bool = option(
        False, "Label every sub-token of a word, or only its first (the rest left out of the loss).",
        flags=("--label-all-tokens/--label-first-token",), default_text="first",
    )
    stride: int | None = option(
        None, "Tokens of overlap between the windows long sentences are cut into (training and runtime).", Interval(0),
        default_text="max-length / 4",
    )
    aggregation: str = option("first", "The bundle's default sub-word aggregation: first, average or max.", OneOf(("first", "average", "max")))
    word_split: str = option(
        "auto",
        "What a word is, at training and in the bundle's runtime: whitespace (the data's own tokens), tokenizer "
        "(punctuation split off, one word per CJK character) or auto (tokenizer for text without spaces; else "
        "whitespace, unless its words cut through more training entities than the tokenizer's).",
        OneOf(("auto", "whitespace", "tokenizer")),
    )

    def check_combinations(self) -> None:
        super().check_combinations()
        from edgeft_runtime.ner import stride_fits  # numpy, as .data.ner: not for `edgeft --help`

        from .data.ner import JOINS, normalize_scheme
        from .errors import DataError

        try:
            self.scheme = normalize_scheme(self.scheme)
        except DataError as e:
            raise FieldError("scheme", f"config field scheme: {e}") from None
        if self.join not in JOINS:
            raise FieldError("join", f"config field join={self.join!r} must be one of {', '.join(JOINS)}")
        if self.stride is not None and not stride_fits(self.stride, self.max_length):
            raise FieldError("stride", f"config field stride={self.stride!r} must be >= 0 and < max_length / 2 ({self.max_length // 2})")

    @property
    def window_stride(self) -> int:
        """``stride``, or the runtime's default for windows of ``max_length`` tokens when not set."""
        from edgeft_runtime.ner import default_stride

        return self.stride if self.stride is not None else default_stride(self.max_length)


@dataclass
class MlmConfig(TrainConfig):
    """Masked-LM continued pretraining on unlabelled text; ``max_length`` is the block size."""

    not_applicable: ClassVar[tuple[str, ...]] = (
        "train", "text_column", "label_column", "early_stopping_patience", "skip_empty", "seeds", "freeze",
        *ADAPTER_KEYS, *STABILITY_KEYS, *SEARCH_KEYS, "fresh_head",
    )
    flags_first: ClassVar[tuple[str, ...]] = ("corpus",)  # its --train

    eval: str | None = like(
        TrainConfig, "eval", None, help="Held-out corpus file for perplexity.", default_text=f"{EVAL_RATIO:.0%} of the --corpus documents"
    )
    max_length: int = like(TrainConfig, "max_length", 128, help="Block size: the corpus is cut into blocks of exactly this many tokens.")
    eval_ratio: float = like(TrainConfig, "eval_ratio", EVAL_RATIO, help="Share of the documents held out for perplexity.", cli=True)
    warmup_ratio: float = like(TrainConfig, "warmup_ratio", 0.1, cli=False)
    logging_steps: int = like(TrainConfig, "logging_steps", 20)
    corpus: list[str] = option(
        [],
        "Unlabelled text: a .txt file (one document per line, or blank-line separated), a .jsonl, .csv or .tsv file "
        "(its --text-field; e.g. a task's own training file) or a folder of them. Repeatable.",
        flags=("--corpus",), repeat=True, metavar="FILE_OR_FOLDER",
    )
    text_field: str = option("text", "Field (JSONL) or column (CSV/TSV) with the text.", NotEmpty("a field name"))
    documents: str = option(
        "auto", "Plain text: line (one document per line), blank (blank-line separated) or auto.", OneOf(DOCUMENT_MODES), cli=False
    )
    mlm_probability: float = option(0.15, "Share of tokens predicted (80% masked, 10% random, 10% kept).", BETWEEN_0_AND_1)
    whole_word_masking: bool = option(
        False, "Mask all pieces of a word together.", flags=("--whole-word-masking/--token-masking",), default_text="token masking"
    )
    head_warmup_steps: int = option(
        0, "Steps that train only a newly initialised head (encoder frozen) before full training (0: none).", STEPS, cli=False
    )
    head_warmup_lr: float = option(1e-3, "Learning rate of the head warm-up steps.", BETWEEN_0_AND_1, cli=False)

    def require_io(self) -> None:
        if not self.corpus:
            raise ConfigError("no corpus: pass --corpus FILE_OR_FOLDER (repeatable), or set corpus = [\"FILE\"] in the config file")
        if not self.out:
            raise ConfigError("no output folder: pass --out DIR (or set out = \"DIR\" in the config file)")


@dataclass
class EmbeddingConfig(TrainConfig):
    """Contrastive sentence-embedding fine-tuning on unlabelled text, unsupervised SimCSE (Gao et
    al. 2021) as sentence-transformers trains it: each text is its own positive (two passes whose
    dropout differs), the other texts of the batch its negatives (MultipleNegativesRankingLoss).

    There is no label and no metric to select on, so early stopping, --seeds and the search do not
    apply; the held-out texts give a collapse check (uniformity, mean pairwise cosine) and the
    export's parity data. ``freeze`` and the Trainer-only recipes (LoRA, layer-wise rates) do not
    apply either: the body trains in full, as in the SimCSE paper.
    """

    not_applicable: ClassVar[tuple[str, ...]] = (
        "train", "text_column", "label_column", "early_stopping_patience", "skip_empty", "seeds", "freeze",
        *ADAPTER_KEYS, *STABILITY_KEYS, *SEARCH_KEYS, "fresh_head",
    )
    flags_first: ClassVar[tuple[str, ...]] = ("corpus", "text_field", "eval", "out", "base")

    corpus: list[str] = like(
        MlmConfig, "corpus", [],
        help="Unlabelled text: a .txt file (one text per line, or blank-line separated), a .jsonl, .csv or .tsv file "
        "(its --text-field; e.g. a task's own training file) or a folder of them. Repeatable.",
    )
    text_field: str = like(MlmConfig, "text_field", "text")
    documents: str = like(MlmConfig, "documents", "auto", help="Plain text: line (one text per line), blank (blank-line separated) or auto.")
    eval: str | None = like(
        TrainConfig, "eval", None, help="Held-out texts (same formats) for the collapse check and the export's parity data.",
        default_text=f"{EVAL_RATIO:.0%} of the --corpus texts",
    )
    eval_ratio: float = like(TrainConfig, "eval_ratio", EVAL_RATIO, help="Share of the texts held out when no --eval is given.", cli=True)
    epochs: float = like(TrainConfig, "epochs", 1.0, help="Epochs over the texts (SimCSE: 1).")
    # SimCSE's unsupervised BERT recipe: batch 64, lr 3e-5 (Gao et al. 2021, table D.1).
    batch_size: int = like(TrainConfig, "batch_size", 64, help="Texts per step: each text's negatives are the other texts of its batch.")
    lr: float = like(TrainConfig, "lr", 3e-5, help="Peak learning rate.")
    warmup_ratio: float = like(TrainConfig, "warmup_ratio", 0.1, cli=False)
    # scale = 1 / temperature; SimCSE's temperature 0.05 is sentence-transformers' default scale 20.
    scale: float = option(
        20.0, "Similarity scale of the contrastive loss (1 / temperature; SimCSE: 20).", Interval(0, 1000, low_open=True), cli=False
    )
    max_steps: int = option(0, "Stop after this many steps (0: no cap).", STEPS, cli=False)

    def require_io(self) -> None:
        if not self.corpus:
            raise ConfigError("no corpus: pass --corpus FILE_OR_FOLDER (repeatable), or set corpus = [\"FILE\"] in the config file")
        if not self.out:
            raise ConfigError("no output folder: pass --out DIR (or set out = \"DIR\" in the config file)")


THE_TEACHERS = "the teacher's"


@dataclass
class DistillConfig:
    """`edgeft distill`: a student with fewer layers trained to copy a finished run (the teacher).

    The student's training options default to the teacher's (its saved train_config.json); the
    fields set here to something other than None replace them. Its data is the teacher's unless
    ``train``/``eval`` name other files.
    """

    teacher: str | None = option(None, "The run to distil (a classifier, ner or setfit run folder).", cli=False)
    out: str | None = like(TrainConfig, "out", None, help="Output folder for the student run.")
    layers: int | None = option(
        None,
        "Transformer layers of the student (fewer than the teacher's), initialised from the teacher's layers at evenly "
        "spaced positions (0, 2, 4 of 6 for 3).",
        Interval(1), flags=("--layers", "-k"),
    )
    unlabelled: str | None = option(
        None,
        "More texts without labels (one per line, or .jsonl with a \"text\" field): the student learns the teacher's outputs on them.",
        flags=("--unlabelled",), metavar="FILE",
    )
    kd_temperature: float = option(
        2.0, "Temperature of the soft targets (teacher and student logits divided by it; the loss scaled by T^2).",
        Interval(0, 100, low_open=True),
    )
    kd_alpha: float = option(0.5, "Weight of the soft-target loss; the rest goes to the gold labels.", Interval(0, 1))
    kd_hidden: float = option(
        0.0,
        "Weight of the hidden-state loss (MSE at mapped layers; 0: off, and the teacher runs once before training "
        "instead of at every step).",
        Interval(0, 1000),
    )
    group_by_length: bool = option(
        True, "Batch texts of similar length together: on short texts of mixed length about half of a random batch is padding.",
        cli=False,
    )
    # Training options; None: the teacher's value (their help and checks are the task configs').
    train: str | None = like(TrainConfig, "train", None, default_text=THE_TEACHERS)
    eval: str | None = like(TrainConfig, "eval", None, default_text=THE_TEACHERS)
    epochs: float | None = like(TrainConfig, "epochs", None, default_text=THE_TEACHERS)
    batch_size: int | None = like(TrainConfig, "batch_size", None, default_text=THE_TEACHERS)
    lr: float | None = like(TrainConfig, "lr", None, default_text=THE_TEACHERS)
    seed: int | None = like(
        TrainConfig, "seed", None, help="Random seed of the student's training (the data split keeps the teacher's).", default_text=THE_TEACHERS
    )
    early_stopping_patience: int | None = like(TrainConfig, "early_stopping_patience", None, default_text=THE_TEACHERS)
    device: str | None = like(TrainConfig, "device", None, default_text=THE_TEACHERS)

    # The fields above that are the student's training options (the rest are distillation's own).
    TRAINING: ClassVar[tuple[str, ...]] = ("train", "eval", "epochs", "batch_size", "lr", "seed", "early_stopping_patience", "device")

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise ConfigError naming the first field that fails its check."""
        check_config(self)

    def require_io(self) -> None:
        if not self.teacher:
            raise ConfigError("no teacher: pass the run folder to distil, e.g. edgeft distill models/sst2 --layers 3 --out models/sst2-l3")
        if not self.layers:
            raise ConfigError("no --layers: pass the student's number of transformer layers, e.g. --layers 3")
        if not self.out:
            raise ConfigError("no output folder: pass --out DIR")

    def overrides(self) -> dict[str, Any]:
        """The training options given here, as fields of the teacher's task config."""
        return {name: getattr(self, name) for name in self.TRAINING if getattr(self, name) is not None}

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)
