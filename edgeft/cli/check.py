"""`edgeft check BUNDLE`: the bundle's variants against PyTorch's stored answers, on this device."""

from __future__ import annotations

import json

import typer
from edgeft_runtime.check import CheckOptions

from . import options as opt
from .common import command, fail
from .declared import with_options


@command
@with_options(CheckOptions)
def check(bundle: opt.Bundle, options: CheckOptions) -> None:
    """Check a bundle's accuracy on this device against the PyTorch original.

    Runs every variant on the reference set stored in the bundle (held-out texts with PyTorch's
    answers) and reports label agreement, the largest output difference, and the task metric next
    to PyTorch's on the same examples. Exits 1 with one line when a variant is outside the limits.
    Same as `python -m edgeft_runtime.check` (the same options), which needs only edgeft-runtime.

    \b
    Examples:
      edgeft check models/sst2-int8
      edgeft check models/sst2-int8 --variant int8 --max-drop 0.5 --min-agreement 99
    """
    from edgeft_runtime.check import check_bundle, failure_line, format_report

    report = check_bundle(bundle, options)
    typer.echo(json.dumps(report, indent=2) if options.as_json else format_report(report))
    line = failure_line(report)
    if line:
        fail(line)
