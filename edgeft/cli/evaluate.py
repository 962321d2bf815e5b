"""`edgeft eval BUNDLE --data FILE`: the task metric of a bundle on labelled data."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from . import options as opt
from .common import command


@command
def evaluate(
    bundle: opt.Bundle,
    data: Annotated[Path, typer.Option("--data", "-d", help="Labelled data (.csv, .tsv, .jsonl; NER: CoNLL, token<TAB>tag .tsv, .jsonl).", show_default=False)],
    text_column: opt.TextColumn = None,
    label_column: opt.LabelColumn = None,
    label_separator: Annotated[str, typer.Option(help="Separator of multi-label labels.")] = ";",
    scheme: Annotated[str, typer.Option(help="NER: tagging scheme of --data (auto, IOB1, IOB2, BIOES, BMES, BILOU).")] = "auto",
    repair_tags: Annotated[bool, typer.Option("--repair-tags", help="NER: read an I- tag that continues no entity as its start instead of refusing it.")] = False,
    aggregation: Annotated[Optional[str], typer.Option(help="NER: sub-word aggregation first, average or max. [default: the bundle's]", show_default=False)] = None,
    variant: opt.Variant = "auto",
    threads: opt.Threads = None,
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="Also write the metrics as JSON here.", show_default=False)] = None,
) -> None:
    """Evaluate a bundle on labelled data and print its metrics as JSON.

    \b
    Example:
      edgeft eval models/sst2-int8 --data test.csv
      edgeft eval models/conll-int8 --data test.conll          # NER: entity P/R/F1 per type
    """
    import edgeft_runtime
    from edgeft_runtime.ner import AGGREGATIONS
    from edgeft_runtime.options import THREADS, OneOf, check_value

    from ..evaluation import evaluate_bundle
    from ..data.ner import SCHEMES

    # Checked before the bundle is read: they must hold whatever its task (they matter for NER).
    if scheme.upper() not in ("AUTO", "BIO", "IOBES", *SCHEMES):  # the spellings normalize_scheme reads
        check_value("--scheme", scheme, (OneOf(("auto", *SCHEMES)),))
    check_value("--aggregation", aggregation, (OneOf(AGGREGATIONS),))
    check_value("--threads", threads, THREADS)
    model = edgeft_runtime.load(bundle, variant=variant, threads=threads)
    metrics = evaluate_bundle(
        model,
        data,
        scheme=scheme,
        repair=repair_tags,
        aggregation=aggregation,
        text_column=text_column or "text",
        label_column=label_column or "label",
        label_separator=label_separator,
    )
    text = json.dumps(metrics, indent=2)
    typer.echo(text)
    if out is not None:
        out.write_text(text + "\n", encoding="utf-8")
