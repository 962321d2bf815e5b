"""`edgeft check BUNDLE`: the bundle's variants against PyTorch's stored answers, on this device."""

from __future__ import annotations

import json
from typing import Annotated, Optional

import typer

from . import options as opt
from .common import command, fail


@command
def check(
    bundle: opt.Bundle,
    variant: Annotated[Optional[list[str]], typer.Option(help="Variant(s) to check. [default: all in the bundle]", show_default=False)] = None,
    max_drop: Annotated[
        Optional[float], typer.Option(help="Most points of the task metric a variant may lose against PyTorch. [default: the export gate's]", show_default=False)
    ] = None,
    min_agreement: Annotated[Optional[float], typer.Option(help="Least label agreement with PyTorch, in percent. [default: not checked]", show_default=False)] = None,
    threads: opt.Threads = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Check a bundle's accuracy on this device against the PyTorch original.

    Runs every variant on the reference set stored in the bundle (held-out texts with PyTorch's
    answers) and reports label agreement, the largest output difference, and the task metric next
    to PyTorch's on the same examples. Exits 1 with one line when a variant is outside the limits.
    Same as `python -m edgeft_runtime.check`, which needs only edgeft-runtime.

    \b
    Examples:
      edgeft check models/sst2-int8
      edgeft check models/sst2-int8 --variant int8 --max-drop 0.5 --min-agreement 99
    """
    from edgeft_runtime.check import check_bundle, failure_line, format_report

    report = check_bundle(bundle, variants=variant, max_drop=max_drop, min_agreement=min_agreement, threads=threads)
    typer.echo(json.dumps(report, indent=2) if as_json else format_report(report))
    line = failure_line(report)
    if line:
        fail(line)
