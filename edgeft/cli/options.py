"""Command-line options shared by several commands, declared once."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from ..config import ClassifierConfig

_D = ClassifierConfig()  # defaults for the help texts (the config object owns them)

Train = Annotated[Optional[Path], typer.Option("--train", help="Training data: .csv, .tsv or .jsonl.", show_default=False)]
Eval = Annotated[
    Optional[Path],
    typer.Option("--eval", help=f"Held-out data for early stopping, metrics and the export's parity check. [default: {_D.eval_ratio:.0%} of --train]", show_default=False),
]
Out = Annotated[Optional[Path], typer.Option("--out", "-o", help="Output folder for the run.", show_default=False)]
Base = Annotated[
    Optional[str],
    typer.Option("--base", help=f"Base model: {_D.base} (offline default), a local folder (e.g. an `edgeft train mlm` run) or a hub id. [default: {_D.base}]", show_default=False),
]
TextColumn = Annotated[Optional[str], typer.Option(help=f"Column/field with the text. [default: {_D.text_column}]", show_default=False)]
LabelColumn = Annotated[Optional[str], typer.Option(help=f"Column/field with the label(s). [default: {_D.label_column}]", show_default=False)]
Epochs = Annotated[Optional[float], typer.Option(help=f"Training epochs. [default: {_D.epochs:g}]", show_default=False)]
BatchSize = Annotated[Optional[int], typer.Option(help=f"Batch size per device. [default: {_D.batch_size}]", show_default=False)]
Lr = Annotated[Optional[float], typer.Option("--lr", help=f"Peak learning rate. [default: {_D.lr:g}]", show_default=False)]
MaxLength = Annotated[Optional[int], typer.Option(help=f"Max tokens per text (longer texts are truncated). [default: {_D.max_length}]", show_default=False)]
Seed = Annotated[Optional[int], typer.Option(help=f"Random seed (data order, init, hold-out split). [default: {_D.seed}]", show_default=False)]
ConfigFile = Annotated[
    Optional[Path], typer.Option("--config", "-c", help="TOML (or JSON) file of config keys; flags and --set override it.", show_default=False)
]
Set = Annotated[
    Optional[list[str]],
    typer.Option("--set", help="Override any config key: --set warmup_ratio=0.06 (repeatable). --print-config lists every key.", show_default=False),
]
Overwrite = Annotated[bool, typer.Option("--overwrite", help="Replace the output folder if it exists (only once the new one is complete).")]
Resume = Annotated[bool, typer.Option("--resume", help="Continue an interrupted run from its last checkpoint.")]
Bundle = Annotated[Path, typer.Argument(help="A bundle folder written by `edgeft export`.", show_default=False)]
Variant = Annotated[str, typer.Option(help="Model variant in the bundle: auto (its default), fp32 or int8.")]
Threads = Annotated[Optional[int], typer.Option(help="onnxruntime intra-op threads. [default: one per core]", show_default=False)]

# Which weights train, and the recipes that make small-data fine-tuning stable.
Freeze = Annotated[
    Optional[str],
    typer.Option(help="Freeze weights: none, embeddings, encoder (only the task head trains) or layers:N (the embeddings and the bottom N encoder layers). [default: none]", show_default=False),
]
Peft = Annotated[
    Optional[str], typer.Option(help="Parameter-efficient fine-tuning (peft library): none or lora (adapters; the task head trains in full). [default: none]", show_default=False)
]
LoraR = Annotated[Optional[int], typer.Option(help=f"LoRA rank. [default: {_D.lora_r}]", show_default=False)]
LoraAlpha = Annotated[Optional[int], typer.Option(help=f"LoRA scaling alpha (the update is scaled by alpha / r). [default: {_D.lora_alpha}]", show_default=False)]
LoraTargets = Annotated[
    Optional[str],
    typer.Option("--lora-target-modules", help=f"Comma-separated linear modules that get adapters. [default: {','.join(_D.lora_target_modules)}]", show_default=False),
]
LayerwiseLrDecay = Annotated[
    Optional[float],
    typer.Option(help="Learning-rate factor per encoder layer from the top (e.g. 0.9); the head at --lr. [default: 1, no decay]", show_default=False),
]
ReinitTopLayers = Annotated[Optional[int], typer.Option(help="Re-initialise the top N encoder layers (and the pooler) before training. [default: 0]", show_default=False)]
WarmupRatio = Annotated[Optional[float], typer.Option(help=f"Share of the steps over which the learning rate warms up from 0. [default: {_D.warmup_ratio:g}]", show_default=False)]
Seeds = Annotated[
    Optional[str],
    typer.Option(help="Train one run per seed (e.g. 1,2,3): mean and spread of the eval metric in metrics.json, the best run kept. [default: one run with --seed]", show_default=False),
]
