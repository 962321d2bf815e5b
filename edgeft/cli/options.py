"""Command-line options shared by several commands that are not a config's fields (training's
options are their config's fields: ``edgeft.config``, made into flags by ``declared.with_flags``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from ..config import TrainConfig

_D = TrainConfig()  # defaults for the help texts (the config object owns them)

TextColumn = Annotated[Optional[str], typer.Option(help=f"Column/field with the text. [default: {_D.text_column}]", show_default=False)]
LabelColumn = Annotated[Optional[str], typer.Option(help=f"Column/field with the label(s). [default: {_D.label_column}]", show_default=False)]
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
