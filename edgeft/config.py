"""Typed training configs, one schema per task, validated when constructed.

``edgeft.config_loader.build_config`` layers defaults < TOML/JSON file < flags < ``--set``; the
resolved config is saved beside the run (``train_config.json``) and can be passed back with
``--config`` to repeat it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, ClassVar

from .data.corpus import DOCUMENT_MODES
from .errors import ConfigError

DEFAULT_BASE = "all-MiniLM-L6-v2"

FREEZE_CHOICES = "none, embeddings, encoder or layers:N"
PEFT_METHODS = ("none", "lora")
# The options of the Trainer-based tasks that change which weights train and how (freezing,
# adapters, stability recipes); tasks that train otherwise list the ones they do not use.
ADAPTER_KEYS = ("peft", "lora_r", "lora_alpha", "lora_dropout", "lora_target_modules", "save_merged")
STABILITY_KEYS = ("layerwise_lr_decay", "reinit_top_layers")


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

@dataclass
class TrainConfig:
    """Options every task shares."""

    # Inherited keys a task does not use: refused when given, left out of the saved config.
    not_applicable: ClassVar[tuple[str, ...]] = ()

    train: str | None = None
    eval: str | None = None
    out: str | None = None
    base: str = DEFAULT_BASE
    text_column: str = "text"
    label_column: str = "label"
    max_length: int = 128
    epochs: float = 3.0
    batch_size: int = 16
    lr: float = 5e-5
    weight_decay: float = 0.01
    warmup_ratio: float = 0.1
    seed: int = 42
    # Share of the training file held out for evaluation when no --eval file is given.
    eval_ratio: float = 0.1
    # Stop after this many evaluations without improvement (0: never stop early).
    early_stopping_patience: int = 2
    # Rows with empty text: refuse with the line number (false) or skip them, counted in a warning.
    skip_empty: bool = False
    device: str = "auto"  # auto | cpu | cuda
    mixed_precision: str = "auto"  # auto | no | fp16 | bf16 (auto: bf16 or fp16 on GPU, none on CPU)
    gradient_accumulation_steps: int = 1
    logging_steps: int = 50
    # One run per seed (e.g. [1, 2, 3]): mean and spread of the eval metric, the best run kept.
    # Empty: one run with ``seed``.
    seeds: list[int] = field(default_factory=list)

    # Which weights train. freeze: none | embeddings | encoder (only the task head trains) |
    # layers:N (the embeddings and the bottom N encoder layers are frozen).
    freeze: str = "none"
    # Parameter-efficient fine-tuning with the peft library: none | lora (adapters on
    # lora_target_modules, the task head trained in full).
    peft: str = "none"
    lora_r: int = 8
    lora_alpha: int = 16
    lora_dropout: float = 0.1
    # BERT-family attention projections; the LoRA paper adapts the query and value projections
    # (Hu et al. 2021), which BERT, RoBERTa, ELECTRA and MiniLM name "query" and "value".
    lora_target_modules: list[str] = field(default_factory=lambda: ["query", "value"])
    # Keep a merged save_pretrained copy beside the adapter (false: only the adapter; export merges).
    save_merged: bool = True
    # Stability recipes. Learning rate of encoder layer i (counted from the top, the top layer 1)
    # is lr * layerwise_lr_decay**i, the embeddings one step below the bottom layer; the head
    # trains at lr. 1.0: one rate for everything.
    layerwise_lr_decay: float = 1.0
    # Re-initialise the top N encoder layers (and the pooler) before training.
    reinit_top_layers: int = 0

    def __post_init__(self) -> None:
        # A config built in code (benchmarks, tests, notebooks) is checked like one from the CLI.
        self.validate()

    def validate(self) -> None:
        """Raise ConfigError naming the first field that is out of range."""
        checks = [
            ("max_length", 8 <= self.max_length <= 8192, "between 8 and 8192"),
            ("epochs", self.epochs > 0, "> 0"),
            ("batch_size", self.batch_size >= 1, ">= 1"),
            ("lr", 0 < self.lr < 1, "between 0 and 1"),
            ("weight_decay", self.weight_decay >= 0, ">= 0"),
            ("warmup_ratio", 0 <= self.warmup_ratio < 1, "in [0, 1)"),
            ("eval_ratio", 0 < self.eval_ratio < 1, "in (0, 1)"),
            ("early_stopping_patience", self.early_stopping_patience >= 0, ">= 0"),
            ("device", self.device in ("auto", "cpu", "cuda"), "one of auto, cpu, cuda"),
            ("mixed_precision", self.mixed_precision in ("auto", "no", "fp16", "bf16"), "one of auto, no, fp16, bf16"),
            ("gradient_accumulation_steps", self.gradient_accumulation_steps >= 1, ">= 1"),
            ("logging_steps", self.logging_steps >= 1, ">= 1"),
            ("seeds", len(set(self.seeds)) == len(self.seeds), "distinct seeds, e.g. 1,2,3"),
            ("peft", self.peft in PEFT_METHODS, f"one of {', '.join(PEFT_METHODS)}"),
            ("lora_r", self.lora_r >= 1, ">= 1"),
            ("lora_alpha", self.lora_alpha >= 1, ">= 1"),
            ("lora_dropout", 0 <= self.lora_dropout < 1, "in [0, 1)"),
            ("lora_target_modules", bool(self.lora_target_modules), "at least one module name, e.g. query,value"),
            ("layerwise_lr_decay", 0 < self.layerwise_lr_decay <= 1, "in (0, 1] (1: no decay)"),
            ("reinit_top_layers", self.reinit_top_layers >= 0, ">= 0"),
        ]
        for name, ok, rule in checks:
            if not ok:
                raise ConfigError(f"config field {name}={getattr(self, name)!r} must be {rule}")
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

    multi_label: bool = False
    # Multi-label rows list their labels separated by this (or as a JSON list).
    label_separator: str = ";"
    # Train on labels the eval data never shows (their eval F1 is 0); refused by default because it
    # usually means the wrong eval file.
    allow_missing_eval_labels: bool = False

    def validate(self) -> None:
        super().validate()
        if not self.label_separator:
            raise ConfigError("config field label_separator must not be empty")


@dataclass
class ClassifierConfig(TextClassificationConfig):
    """Supervised sequence classification, single- or multi-label."""

    # Multi-label decision threshold on each label's sigmoid probability.
    threshold: float = 0.5

    def validate(self) -> None:
        super().validate()
        if not 0 < self.threshold < 1:
            raise ConfigError(f"config field threshold={self.threshold!r} must be in (0, 1)")


SAMPLING_STRATEGIES = ("oversampling", "undersampling", "unique")


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
    not_applicable: ClassVar[tuple[str, ...]] = (*ADAPTER_KEYS, *STABILITY_KEYS)

    epochs: float = 1.0
    lr: float = 2e-5
    early_stopping_patience: int = 0
    # Train on this many examples per class, sampled from --train with --seed (all rows when unset).
    # Without --eval, the rows not sampled become the evaluation data.
    shots: int | None = None
    # Pairs generated per training example and per side (positive and negative), as in the SetFit
    # paper (20). Unset (none/0): sampling_strategy decides, which grows with the square of the data.
    num_iterations: int | None = 20
    sampling_strategy: str = "oversampling"  # oversampling | undersampling | unique
    # Stop the contrastive phase after this many steps (0: no cap).
    max_steps: int = 0
    # The logistic-regression head (scikit-learn): inverse regularisation strength and iterations.
    head_c: float = 1.0
    head_max_iter: int = 100
    # "balanced" reweights classes by inverse frequency; unset: every example counts once.
    head_class_weight: str | None = None

    def validate(self) -> None:
        super().validate()
        checks = [
            ("shots", self.shots is None or self.shots >= 1, ">= 1 (or unset for all rows)"),
            ("num_iterations", self.num_iterations is None or self.num_iterations >= 0, ">= 0"),
            ("sampling_strategy", self.sampling_strategy in SAMPLING_STRATEGIES, f"one of {', '.join(SAMPLING_STRATEGIES)}"),
            ("max_steps", self.max_steps >= 0, ">= 0"),
            ("head_c", self.head_c > 0, "> 0"),
            ("head_max_iter", self.head_max_iter >= 1, ">= 1"),
            ("head_class_weight", self.head_class_weight in (None, "balanced"), "balanced or unset"),
            ("early_stopping_patience", self.early_stopping_patience == 0, "0 (setfit does not evaluate while training)"),
            ("gradient_accumulation_steps", self.gradient_accumulation_steps == 1, "1 (setfit does not accumulate gradients)"),
        ]
        for name, ok, rule in checks:
            if not ok:
                raise ConfigError(f"config field {name}={getattr(self, name)!r} must be {rule}")


@dataclass
class NerConfig(TrainConfig):
    """Token classification (NER): CoNLL/TSV/JSONL data, any common scheme, trained as IOB2."""

    # The files' tagging scheme: auto (detected per file), IOB1, IOB2, BIOES, BMES or BILOU.
    scheme: str = "auto"
    # Tokens -> text: auto (no separator when every token is one character, e.g. Chinese), space, none.
    join: str = "auto"
    # An I- (or E-) tag that continues no entity: refuse with file:line (false) or start an entity there.
    repair_tags: bool = False
    # Label every sub-token of a word (false: only the first; the others are left out of the loss).
    label_all_tokens: bool = False
    # Tokens of overlap between the windows that long sentences are cut into (training and runtime);
    # default a quarter of max_length.
    stride: int | None = None
    # The bundle's default for turning sub-token scores into a word's label: first, average or max.
    aggregation: str = "first"
    # What a word is (the unit that carries a label, at training and in the runtime alike):
    # whitespace (runs of non-space characters: a pre-tokenised file's own tokens), tokenizer (the
    # tokenizer's pre-tokenizer words: punctuation split off, one word per CJK character) or auto
    # (tokenizer for text without spaces, join=none; else whitespace, unless whitespace words cut
    # through more training entities than the tokenizer's words do).
    word_split: str = "auto"

    def validate(self) -> None:
        super().validate()
        from .data.ner import JOINS, normalize_scheme

        from .errors import DataError

        try:
            self.scheme = normalize_scheme(self.scheme)
        except DataError as e:
            raise ConfigError(f"config field scheme: {e}") from None
        if self.join not in JOINS:
            raise ConfigError(f"config field join={self.join!r} must be one of {', '.join(JOINS)}")
        if self.stride is not None and not 0 <= self.stride < self.max_length // 2:
            raise ConfigError(f"config field stride={self.stride!r} must be >= 0 and < max_length / 2 ({self.max_length // 2})")
        if self.aggregation not in ("first", "average", "max"):
            raise ConfigError(f"config field aggregation={self.aggregation!r} must be one of first, average, max")
        if self.word_split not in ("auto", "whitespace", "tokenizer"):
            raise ConfigError(f"config field word_split={self.word_split!r} must be one of auto, whitespace, tokenizer")

    @property
    def window_stride(self) -> int:
        """``stride``, or a quarter of ``max_length`` when not set."""
        return self.stride if self.stride is not None else self.max_length // 4


@dataclass
class MlmConfig(TrainConfig):
    """Masked-LM continued pretraining on unlabelled text; ``max_length`` is the block size."""

    not_applicable: ClassVar[tuple[str, ...]] = (
        "train", "text_column", "label_column", "early_stopping_patience", "skip_empty", "seeds", "freeze",
        *ADAPTER_KEYS, *STABILITY_KEYS,
    )

    # Plain-text or JSONL files, or folders of them (several allowed).
    corpus: list[str] = field(default_factory=list)
    # JSONL field holding the text.
    text_field: str = "text"
    # Plain text: "line" (one document per line), "blank" (blank-line separated) or "auto".
    documents: str = "auto"
    # Share of tokens selected for prediction; of those 80% become [MASK], 10% a random token, 10% stay.
    mlm_probability: float = 0.15
    # Select whole words (all their word pieces together) instead of single tokens.
    whole_word_masking: bool = False
    # Steps that train only a newly initialised head (encoder frozen) before full training (0: none).
    head_warmup_steps: int = 0
    head_warmup_lr: float = 1e-3
    logging_steps: int = 20

    def validate(self) -> None:
        super().validate()
        checks = [
            ("mlm_probability", 0 < self.mlm_probability < 1, "in (0, 1)"),
            ("documents", self.documents in DOCUMENT_MODES, f"one of {', '.join(DOCUMENT_MODES)}"),
            ("text_field", bool(self.text_field), "a field name"),
            ("head_warmup_steps", self.head_warmup_steps >= 0, ">= 0"),
            ("head_warmup_lr", 0 < self.head_warmup_lr < 1, "between 0 and 1"),
        ]
        for name, ok, rule in checks:
            if not ok:
                raise ConfigError(f"config field {name}={getattr(self, name)!r} must be {rule}")

    def require_io(self) -> None:
        if not self.corpus:
            raise ConfigError("no corpus: pass --corpus FILE_OR_FOLDER (repeatable), or set corpus = [\"FILE\"] in the config file")
        if not self.out:
            raise ConfigError("no output folder: pass --out DIR (or set out = \"DIR\" in the config file)")


@dataclass
class DistillConfig:
    """`edgeft distill`: a student with fewer layers trained to copy a finished run (the teacher).

    The student's training options default to the teacher's (its saved train_config.json); the
    fields set here to something other than None replace them. Its data is the teacher's unless
    ``train``/``eval`` name other files.
    """

    teacher: str | None = None
    out: str | None = None
    # Transformer layers of the student; below the teacher's. Initialised from the teacher's
    # layers at evenly spaced positions (0, 2, 4 of 6 for 3).
    layers: int | None = None
    # Extra texts without labels: plain text (one per line) or JSONL with a "text" field. The
    # student learns the teacher's outputs on them (the soft-target loss only).
    unlabelled: str | None = None
    # Soft targets: teacher and student logits divided by this before softmax (loss scaled by T^2).
    kd_temperature: float = 2.0
    # Weight of the soft-target loss; 1 - kd_alpha goes to the gold labels.
    kd_alpha: float = 0.5
    # Weight of the mean squared error between student and teacher hidden states at mapped layers
    # (0: off; the teacher then runs once before training instead of at every step).
    kd_hidden: float = 0.0
    # Batch texts of similar length together (transformers' LengthGroupedSampler): on short texts
    # of mixed length about half of every random batch is padding.
    group_by_length: bool = True
    # Training options; None: the teacher's value.
    train: str | None = None
    eval: str | None = None
    epochs: float | None = None
    batch_size: int | None = None
    lr: float | None = None
    seed: int | None = None
    early_stopping_patience: int | None = None
    device: str | None = None

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise ConfigError naming the first field that is out of range."""
        checks = [
            ("layers", self.layers is None or self.layers >= 1, ">= 1"),
            ("kd_temperature", 0 < self.kd_temperature <= 100, "in (0, 100]"),
            ("kd_alpha", 0 <= self.kd_alpha <= 1, "in [0, 1]"),
            ("kd_hidden", self.kd_hidden >= 0, ">= 0"),
            ("epochs", self.epochs is None or self.epochs > 0, "> 0"),
            ("batch_size", self.batch_size is None or self.batch_size >= 1, ">= 1"),
            ("lr", self.lr is None or 0 < self.lr < 1, "between 0 and 1"),
            ("early_stopping_patience", self.early_stopping_patience is None or self.early_stopping_patience >= 0, ">= 0"),
            ("device", self.device in (None, "auto", "cpu", "cuda"), "one of auto, cpu, cuda"),
        ]
        for name, ok, rule in checks:
            if not ok:
                raise ConfigError(f"config field {name}={getattr(self, name)!r} must be {rule}")

    def require_io(self) -> None:
        if not self.teacher:
            raise ConfigError("no teacher: pass the run folder to distil, e.g. edgeft distill models/sst2 --layers 3 --out models/sst2-l3")
        if not self.layers:
            raise ConfigError("no --layers: pass the student's number of transformer layers, e.g. --layers 3")
        if not self.out:
            raise ConfigError("no output folder: pass --out DIR")

    def overrides(self) -> dict[str, Any]:
        """The training options given here, as fields of the teacher's task config."""
        names = ("train", "eval", "epochs", "batch_size", "lr", "seed", "early_stopping_patience", "device")
        return {name: getattr(self, name) for name in names if getattr(self, name) is not None}

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)
