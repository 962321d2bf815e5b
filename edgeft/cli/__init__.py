"""The `edgeft` command: each subcommand lives in its own module and is composed here.

Command modules import torch, transformers and optimum inside their bodies, so `edgeft --help`
stays fast.
"""

from __future__ import annotations

from typing import Annotated

import typer

from .. import __version__
from . import bench, bundle, check, compare, distill, evaluate, export, info, predict, serve, train, train_embedding, train_mlm, train_ner  # noqa: F401 (train_ner registers `train ner`)
from .common import set_debug

app = typer.Typer(
    name="edgeft",
    help="Fine-tune encoders, export checked int8 ONNX bundles, and benchmark them on the device at hand.\n\n"
    "Pipeline: edgeft train TASK -> edgeft export RUN --int8 -> edgeft predict / eval / bench BUNDLE.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"edgeft {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    debug: Annotated[bool, typer.Option("--debug", help="Show full tracebacks and debug logs.")] = False,
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")] = False,
) -> None:
    set_debug(debug)


train.app.command("mlm")(train_mlm.mlm)
train.app.command("embedding")(train_embedding.embedding)
app.add_typer(train.app, name="train")
app.command("distill")(distill.distill)
app.command("export")(export.export)
app.command("predict")(predict.predict)
app.command("eval")(evaluate.evaluate)
app.command("bench")(bench.bench)
app.command("compare")(compare.compare)
app.command("info")(info.info)
app.command("check")(check.check)
app.command("serve", context_settings=serve.CONTEXT, add_help_option=False)(serve.serve)
app.add_typer(bundle.app, name="bundle")


def main() -> None:
    app()
