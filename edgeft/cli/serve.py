"""`edgeft serve BUNDLE [BUNDLE...]`: the runtime's HTTP service (`python -m edgeft_runtime.serve`).

The options are the runtime's own (declared once in `edgeft_runtime/serve/options.py`): this
command hands its arguments over unchanged, `--help` included.
"""

from __future__ import annotations

import typer

# Every argument, --help included, goes to the runtime's parser.
CONTEXT = {"allow_extra_args": True, "ignore_unknown_options": True, "help_option_names": []}


def serve(ctx: typer.Context) -> None:
    """Serve bundles over HTTP: text-embeddings-inference's /predict and /embed, dynamic batching,
    /health, /ready (device check at start-up), /metrics. Options: edgeft serve --help."""
    try:
        from edgeft_runtime.serve.cli import main
    except ImportError as e:  # an edgeft-runtime older than the service
        typer.echo(f"error: this edgeft-runtime has no service ({e}); pip install -U 'edgeft-runtime[serve]'", err=True)
        raise typer.Exit(1) from None
    raise typer.Exit(main(list(ctx.args), prog="edgeft serve"))
