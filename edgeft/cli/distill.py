"""`edgeft distill RUN --layers K --out STUDENT`: a smaller run trained to copy a finished one."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from ..config import DistillConfig
from . import options as opt
from .common import command

_D = DistillConfig()


@command
def distill(
    teacher: Annotated[Path, typer.Argument(help="The run to distil (a classifier, ner or setfit run folder).", show_default=False)],
    layers: Annotated[Optional[int], typer.Option("--layers", "-k", help="Transformer layers of the student (fewer than the teacher's).", show_default=False)] = None,
    out: opt.Out = None,
    unlabelled: Annotated[
        Optional[Path],
        typer.Option("--unlabelled", help="More texts without labels (one per line, or .jsonl with a \"text\" field): the student learns the teacher's outputs on them.", show_default=False),
    ] = None,
    kd_temperature: Annotated[Optional[float], typer.Option(help=f"Temperature of the soft targets. [default: {_D.kd_temperature:g}]", show_default=False)] = None,
    kd_alpha: Annotated[Optional[float], typer.Option(help=f"Weight of the soft-target loss; the rest goes to the gold labels. [default: {_D.kd_alpha:g}]", show_default=False)] = None,
    kd_hidden: Annotated[
        Optional[float], typer.Option(help=f"Weight of the hidden-state loss (MSE at mapped layers; 0: off). [default: {_D.kd_hidden:g}]", show_default=False)
    ] = None,
    train: Annotated[Optional[Path], typer.Option("--train", help="Training data. [default: the teacher's]", show_default=False)] = None,
    eval: Annotated[Optional[Path], typer.Option("--eval", help="Eval data. [default: the teacher's]", show_default=False)] = None,
    epochs: Annotated[Optional[float], typer.Option(help="Training epochs. [default: the teacher's]", show_default=False)] = None,
    batch_size: Annotated[Optional[int], typer.Option(help="Batch size. [default: the teacher's]", show_default=False)] = None,
    lr: Annotated[Optional[float], typer.Option("--lr", help="Peak learning rate. [default: the teacher's]", show_default=False)] = None,
    seed: Annotated[Optional[int], typer.Option(help="Random seed of the student's training (the data split keeps the teacher's). [default: the teacher's]", show_default=False)] = None,
    config: opt.ConfigFile = None,
    set_: opt.Set = None,
    overwrite: opt.Overwrite = False,
) -> None:
    """Distil a finished run into a student with fewer transformer layers.

    The student keeps the teacher's architecture, embeddings and head; its layers start from the
    teacher's at evenly spaced depths (0, 2, 4 of 6 for --layers 3). It trains on the teacher's
    data (and --unlabelled texts) against the teacher's soft outputs at --kd-temperature, mixed
    with the gold labels by --kd-alpha, and writes an ordinary run folder: export it with
    `edgeft export STUDENT --int8`. Its metrics.json holds the teacher's scores on the same eval
    data. SetFit runs use setfit's DistillationTrainer. The teacher folder is only read.

    \b
    Examples:
      edgeft distill models/sst2 --layers 3 --out models/sst2-l3
      edgeft distill models/conll --layers 2 --kd-hidden 1 --out models/conll-l2
      edgeft distill models/tickets --layers 3 --unlabelled tickets_unlabelled.txt --out models/tickets-l3
    """
    from ..config_loader import build_config
    from ..distill.train import distill as run_distill
    from .train import report

    flags = dict(
        teacher=str(teacher),
        layers=layers,
        out=str(out) if out else None,
        unlabelled=str(unlabelled) if unlabelled else None,
        kd_temperature=kd_temperature,
        kd_alpha=kd_alpha,
        kd_hidden=kd_hidden,
        train=str(train) if train else None,
        eval=str(eval) if eval else None,
        epochs=epochs,
        batch_size=batch_size,
        lr=lr,
        seed=seed,
    )
    cfg = build_config(DistillConfig, config_file=config, flags=flags, overrides=set_)
    result = run_distill(cfg, overwrite=overwrite)
    report(result, f"edgeft export {result.out} --int8 --out {result.out}-int8")
