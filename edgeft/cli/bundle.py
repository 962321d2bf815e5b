"""`edgeft bundle ...`: changes to an existing bundle (today: removing its reference set)."""

from __future__ import annotations

import typer

from . import options as opt
from .common import command

app = typer.Typer(help="Change an existing bundle.", no_args_is_help=True, rich_markup_mode=None)


@app.command("strip-reference")
@command
def strip_reference(bundle: opt.Bundle) -> None:
    """Remove the reference set (held-out texts with PyTorch's answers) from a bundle.

    The texts of the reference set ship with the bundle; remove them when they must not leave
    your hands. The manifest and model card are rewritten, the bundle stays loadable and verified;
    `edgeft check` then has nothing to check against.
    """
    from edgeft_exporters.strip import strip_reference as strip

    manifest = strip(bundle)
    typer.echo(f"removed the reference set from {bundle}; {len(manifest['files'])} files remain, verified")
