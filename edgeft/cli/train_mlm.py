"""`edgeft train mlm`: masked-LM continued pretraining on unlabelled in-domain text."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from ..config import MlmConfig
from . import options as opt
from .common import command
from .train import PrintConfig, configure_and_train

_D = MlmConfig()

Corpus = Annotated[
    Optional[list[Path]],
    typer.Option(
        "--corpus",
        metavar="FILE_OR_FOLDER",
        help="Unlabelled text: a .txt file (one document per line, or blank-line separated), a .jsonl file "
        "(see --text-field) or a folder of them. Repeatable.",
        show_default=False,
    ),
]


@command
def mlm(
    corpus: Corpus = None,
    eval: Annotated[
        Optional[Path],
        typer.Option("--eval", help=f"Held-out corpus file for perplexity. [default: {_D.eval_ratio:.0%} of the --corpus documents]", show_default=False),
    ] = None,
    out: opt.Out = None,
    base: opt.Base = None,
    text_field: Annotated[Optional[str], typer.Option(help=f"Field with the text in JSONL files. [default: {_D.text_field}]", show_default=False)] = None,
    eval_ratio: Annotated[Optional[float], typer.Option(help=f"Share of the documents held out for perplexity. [default: {_D.eval_ratio:g}]", show_default=False)] = None,
    whole_word_masking: Annotated[
        Optional[bool],
        typer.Option("--whole-word-masking/--token-masking", help="Mask all pieces of a word together. [default: token masking]", show_default=False),
    ] = None,
    mlm_probability: Annotated[
        Optional[float],
        typer.Option(help=f"Share of tokens predicted (80% masked, 10% random, 10% kept). [default: {_D.mlm_probability:g}]", show_default=False),
    ] = None,
    epochs: opt.Epochs = None,
    batch_size: opt.BatchSize = None,
    lr: opt.Lr = None,
    max_length: Annotated[
        Optional[int],
        typer.Option(help=f"Block size: the corpus is cut into blocks of exactly this many tokens. [default: {_D.max_length}]", show_default=False),
    ] = None,
    seed: opt.Seed = None,
    config: opt.ConfigFile = None,
    set_: opt.Set = None,
    overwrite: opt.Overwrite = False,
    resume: opt.Resume = False,
    print_config_: PrintConfig = False,
) -> None:
    """Continue pretraining the encoder with masked-LM on unlabelled in-domain text.

    The output folder is a valid --base for the other tasks, and `edgeft export` turns it into a
    fill-mask bundle. Held-out perplexity before and after training goes to metrics.json.

    \b
    Examples:
      edgeft train mlm --corpus abstracts.txt --out models/bio-base
      edgeft train mlm --corpus notes/ --corpus extra.jsonl --text-field body --whole-word-masking --out models/notes-base
      edgeft train ner --base models/bio-base --train ... --out models/bio-ner
      edgeft export models/bio-base --out models/bio-fillmask
    """
    flags = dict(
        corpus=[str(p) for p in corpus] if corpus else None,
        eval=str(eval) if eval else None,
        out=str(out) if out else None,
        base=base,
        text_field=text_field,
        eval_ratio=eval_ratio,
        whole_word_masking=whole_word_masking,
        mlm_probability=mlm_probability,
        epochs=epochs,
        batch_size=batch_size,
        lr=lr,
        max_length=max_length,
        seed=seed,
    )
    configure_and_train(
        "mlm", MlmConfig, flags=flags, config_file=config, overrides=set_, print_only=print_config_,
        next_step=lambda result: (
            f"edgeft train classifier --base {result.out} ... (or ner, setfit); edgeft export {result.out} --out {result.out}-fillmask"
        ),
        overwrite=overwrite, resume=resume,
    )
