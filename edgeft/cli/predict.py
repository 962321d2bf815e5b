"""`edgeft predict BUNDLE TEXT...`: run a bundle on texts from the command line, a file or stdin."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from . import options as opt
from .common import command, fail


def _texts(texts: list[str] | None, file: Path | None) -> list[str]:
    if texts:
        return texts
    if file is not None:
        from ..data import read_text_file

        return [line for line in read_text_file(file).splitlines() if line.strip()]
    if not sys.stdin.isatty():
        return [line for line in sys.stdin.read().splitlines() if line.strip()]
    raise typer.BadParameter("give texts as arguments, --file FILE, or lines on stdin", param_hint="TEXT")


@command
def predict(
    bundle: opt.Bundle,
    texts: Annotated[Optional[list[str]], typer.Argument(help="Texts to run (or use --file / stdin).", show_default=False)] = None,
    file: Annotated[Optional[Path], typer.Option("--file", "-f", help="A file with one text per line.", show_default=False)] = None,
    variant: opt.Variant = "auto",
    threads: opt.Threads = None,
) -> None:
    """Predict with a bundle; prints one JSON result per input line.

    \b
    Examples:
      edgeft predict models/sst2-int8 "a gripping, beautifully made film"
      cat reviews.txt | edgeft predict models/sst2-int8
    """
    import edgeft_runtime

    model = edgeft_runtime.load(bundle, variant=variant, threads=threads)
    items = _texts(texts, file)
    try:
        results = model.run_task(items)
    except ValueError as e:  # the input does not fit the task, e.g. a fill-mask text without [MASK]
        fail(str(e))
    for text, result in zip(items, results):
        typer.echo(json.dumps({"text": text, "prediction": result}, ensure_ascii=False))
