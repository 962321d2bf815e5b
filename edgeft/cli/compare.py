"""`edgeft compare REPORTS...`: bench reports side by side, as a table and a plot."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from .common import command


@command
def compare(
    reports: Annotated[list[Path], typer.Argument(help="Reports written by `edgeft bench --out` (any devices).", show_default=False)],
    plot: Annotated[Optional[Path], typer.Option("--plot", help="Also draw a PNG: latency vs length per device/variant, accuracy vs latency.", show_default=False)] = None,
) -> None:
    """Compare bench reports from several devices and variants side by side.

    Reports of another major schema version are refused; reports of different models are
    flagged in a note and a model column.

    \b
    Example:
      edgeft compare laptop.json pi-like.json phone.json --plot latency.png
    """
    from ..bench.compare import collect_rows, format_comparison, plot_comparison

    rows, notes = collect_rows(reports)
    typer.echo(format_comparison(rows, notes))
    if plot is not None:
        plot.parent.mkdir(parents=True, exist_ok=True)
        series = plot_comparison(rows, plot)
        typer.echo(f"wrote {plot} ({len(series)} series)")
