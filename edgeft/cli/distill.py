"""`edgeft distill RUN --layers K --out STUDENT`: a smaller run trained to copy a finished one."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from ..config import DistillConfig
from . import options as opt
from .common import command
from .declared import with_flags


@command
@with_flags(DistillConfig)
def distill(
    teacher: Annotated[Path, typer.Argument(help="The run to distil (a classifier, ner or setfit run folder).", show_default=False)],
    flags: dict[str, Any],
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
    from .train import export_next_step, report

    cfg = build_config(DistillConfig, config_file=config, flags={**flags, "teacher": str(teacher)}, overrides=set_)
    result = run_distill(cfg, overwrite=overwrite)
    report(result, export_next_step(result))
