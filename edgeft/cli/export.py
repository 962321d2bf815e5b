"""`edgeft export RUN`: ONNX bundle with a parity gate against the PyTorch original."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from edgeft_exporters.options import ExportOptions

from .common import command
from .declared import with_options


def read_calibration(run: Path, run_info: dict, given: Path | None) -> tuple[list[str] | None, str | None]:
    """Static int8's calibration texts: ``given``, else the run's training file (as saved in its
    train_config.json, relative to here or to the run's folder); (None, None) when that file is
    gone, and the export then calibrates on the held-out texts and says so."""
    from edgeft_exporters.run_folder import read_run_config
    from edgeft_exporters.static_quant import CALIBRATION_TEXTS

    from ..tasks import get_task

    config = read_run_config(run)
    path = given
    if path is None:
        train = config.get("train")
        found = [p for p in (Path(train), run.parent / train) if p.is_file()] if train else []
        if not found:
            return None, None
        path = found[0]
    elif not path.is_file():
        raise typer.BadParameter(f"{path}: no such file", param_hint="--calibration")
    rows = get_task(run_info["task"]).read_eval_rows(path, run_info, config)
    texts = [row["text"] for row in rows if isinstance(row.get("text"), str)]
    texts = texts[:: max(1, len(texts) // CALIBRATION_TEXTS)][:CALIBRATION_TEXTS]  # spread over the file: files are often sorted
    return texts, f"{path} ({'--calibration' if given else 'the training file'})"


@command
@with_options(ExportOptions)
def export(
    run: Annotated[Path, typer.Argument(help="A run folder written by `edgeft train`.", show_default=False)],
    options: ExportOptions,
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="Bundle folder. [default: RUN-int8 or RUN-onnx]", show_default=False)] = None,
    eval: Annotated[
        Optional[Path],
        typer.Option("--eval", help="Held-out data for the parity check. [default: the run's own eval data]", show_default=False),
    ] = None,
    text_column: Annotated[Optional[str], typer.Option(help="Text column of --eval. [default: the run's]", show_default=False)] = None,
    label_column: Annotated[Optional[str], typer.Option(help="Label column of --eval. [default: the run's]", show_default=False)] = None,
    calibration: Annotated[
        Optional[Path],
        typer.Option(help="Texts static int8 measures activation ranges on (a file in the run's data format). [default: the run's training file]", show_default=False),
    ] = None,
    prune_vocab: Annotated[
        Optional[Path],
        typer.Option(
            help="Shrink the vocabulary to the WordPiece tokens CORPUS uses (plain text, one text per line, or JSONL "
            "with a \"text\" field; a folder of them), plus every one-character piece so other words are spelled out: "
            "a smaller embedding matrix, half of a small int8 bundle. The gate then also holds every variant to "
            "--max-drop against the unpruned run, on the held-out data. Classifier and NER runs; the run is not modified.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Export a trained run to an ONNX bundle (fp32, plus int8 with --int8) and check it.

    The parity gate runs the PyTorch original and the exported model on held-out data and
    compares labels, outputs, the task metric and latency. When fp32 differs by more than --atol
    or int8 loses more than --max-drop points, no bundle is written and the command says why.

    \b
    Examples:
      edgeft export models/sst2 --int8 --out models/sst2-int8
      edgeft export models/sst2 --int8 --eval test.csv --max-drop 0.5
      edgeft export models/sst2 --int8 --mobile --out models/sst2-mobile
      edgeft export models/sst2 --int8 --static-shape 1x128 --out models/sst2-static
      edgeft export models/sst2 --int8 --target arm64,avx2 --out models/sst2-phone-and-pc
      edgeft export models/sst2 --int8 --prune-vocab data/domain_texts.txt --out models/sst2-small
      edgeft export models/sst2 --int8 --fp16 --format transformers.js --out models/sst2-web
    """
    from edgeft_exporters.api import export_run
    from edgeft_exporters.run_folder import read_run, read_run_config
    from edgeft_runtime.parity_record import parity_lines
    from edgeft_runtime.reference import reference_files

    run_info = read_run(run)
    eval_rows, eval_source = None, None
    if eval is not None:
        from ..tasks import get_task

        reader = get_task(run_info["task"]).read_eval_rows
        eval_rows = reader(eval, run_info, read_run_config(run), text_column=text_column, label_column=label_column)
        eval_source = str(eval)
    out = out or run.parent / f"{run.name}-{'int8' if options.int8 else 'onnx'}"
    calibration_texts, calibration_source = (
        read_calibration(run, run_info, calibration) if options.int8 and (options.int8_method != "dynamic" or options.openvino != "off") else (None, None)
    )
    if prune_vocab is not None:
        from ..data.corpus import read_corpus
        from ..export.prune_vocab import export_pruned

        corpus = [doc.text for doc in read_corpus([prune_vocab])]
        result = export_pruned(run, out, options, corpus, f"{prune_vocab} ({len(corpus)} texts)", eval_rows=eval_rows, eval_source=eval_source, run=run_info)
    else:
        result = export_run(
            run, out, options, eval_rows=eval_rows, eval_source=eval_source, calibration_texts=calibration_texts, calibration_source=calibration_source
        )
    typer.echo(f"wrote bundle {result.out}" + (f" and {result.archive}" if result.archive else ""))
    typer.echo("\n".join(f"  {line}" for line in parity_lines(result.manifest)))
    reference = result.manifest.get("reference")
    if reference:
        size = sum(result.manifest["files"][f]["bytes"] for f in reference_files(reference)) / 1e3
        typer.echo(
            f"  reference set: {reference['samples']} held-out texts with PyTorch's answers ({size:.0f} kB); they ship "
            "with the bundle (remove them with `edgeft bundle strip-reference`)"
        )
    typer.echo(f"next: edgeft check {result.out} on the target device; edgeft bench {result.out} --reference {run}")
