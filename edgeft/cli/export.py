"""`edgeft export RUN`: ONNX bundle with a parity gate against the PyTorch original."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from .common import command


def parse_static_shape(text: str) -> tuple[int, int]:
    """``"1x128"`` -> ``(1, 128)``."""
    parts = text.lower().split("x")
    if len(parts) != 2 or not all(p.isdigit() and int(p) > 0 for p in parts):
        raise typer.BadParameter(f"{text!r}: expected BATCHxSEQUENCE, e.g. 1x128", param_hint="--static-shape")
    return int(parts[0]), int(parts[1])


@command
def export(
    run: Annotated[Path, typer.Argument(help="A run folder written by `edgeft train`.", show_default=False)],
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="Bundle folder. [default: RUN-int8 or RUN-onnx]", show_default=False)] = None,
    int8: Annotated[bool, typer.Option("--int8", help="Add a dynamic int8 variant (the bundle's default) next to fp32.")] = False,
    eval: Annotated[
        Optional[Path],
        typer.Option("--eval", help="Held-out data for the parity check. [default: the run's own eval data]", show_default=False),
    ] = None,
    text_column: Annotated[Optional[str], typer.Option(help="Text column of --eval. [default: the run's]", show_default=False)] = None,
    label_column: Annotated[Optional[str], typer.Option(help="Label column of --eval. [default: the run's]", show_default=False)] = None,
    max_drop: Annotated[
        float,
        typer.Option(help="int8 gate: the most points of the task metric int8 may lose against PyTorch (with --prune-vocab, also every variant against the unpruned run)."),
    ] = 1.0,
    atol: Annotated[float, typer.Option(help="fp32 gate: the largest |output difference| allowed against PyTorch.")] = 1e-4,
    target: Annotated[
        str,
        typer.Option(
            "--target", "--preset",
            help="The CPU(s) that will run the int8 bundle, comma-separated: arm64, avx2 (x86 without VNNI: 7-bit weights), "
            "avx512_vnni, or auto (this machine). Targets that quantise differently get one int8 variant each; "
            "the runtime's load() picks the one that suits its CPU.",
        ),
    ] = "auto",
    per_channel: Annotated[str, typer.Option(help="Per-channel weight scales: auto (quantise both ways, keep the better), on or off.")] = "auto",
    reduce_range: Annotated[
        str,
        typer.Option(
            help="7-bit int8 weights: auto (the target's preset: 7 bits for avx2; exported on an avx2 machine, 8 bits are "
            "tried too and the better on the held-out data kept), on or off.",
        ),
    ] = "auto",
    optimize: Annotated[bool, typer.Option("--optimize/--no-optimize", help="Fuse attention/LayerNorm/GELU before quantising.")] = True,
    opset: Annotated[Optional[int], typer.Option(help="ONNX opset. [default: Optimum's choice]", show_default=False)] = None,
    parity_samples: Annotated[int, typer.Option(help="Use at most this many held-out examples for the parity check.")] = 5000,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace the bundle folder if it exists (only once the new one passed).")] = False,
    mobile: Annotated[bool, typer.Option("--mobile", help="Add the ORT-format model (runtime optimisations saved) and required_operators.config for onnxruntime mobile/minimal builds.")] = False,
    static_shape: Annotated[
        Optional[str],
        typer.Option(help="Fixed BATCHxSEQUENCE input shape (e.g. 1x128) for providers that need static shapes (NNAPI, CoreML); the runtime pads to it.", show_default=False),
    ] = None,
    archive: Annotated[Optional[str], typer.Option(help="Also write the bundle as one file, OUT.zip or OUT.tar.gz: zip or tar.gz.", show_default=False)] = None,
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
    reference_samples: Annotated[
        int,
        typer.Option(
            help="Store this many held-out examples with PyTorch's answers in the bundle, so `edgeft check` can run on "
            "any device (0: none). The texts then ship with the bundle; `edgeft bundle strip-reference` removes them.",
        ),
    ] = 256,
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
    """
    from edgeft_exporters.api import ExportOptions, export_run
    from edgeft_exporters.run_folder import read_run
    from edgeft_runtime.parity_record import parity_lines
    from edgeft_runtime.reference import reference_files

    run_info = read_run(run)
    if per_channel not in ("auto", "on", "off"):
        raise typer.BadParameter("choose auto, on or off", param_hint="--per-channel")
    shape = parse_static_shape(static_shape) if static_shape else None
    eval_rows, eval_source = None, None
    if eval is not None:
        from ..runs import read_run_config
        from ..tasks import get_task

        reader = get_task(run_info["task"]).read_eval_rows
        eval_rows = reader(eval, run_info, read_run_config(run), text_column=text_column, label_column=label_column)
        eval_source = str(eval)
    out = out or run.parent / f"{run.name}-{'int8' if int8 else 'onnx'}"
    options = ExportOptions(
        int8=int8,
        max_drop=max_drop,
        atol=atol,
        target=target,
        per_channel=per_channel,
        reduce_range=reduce_range,
        optimize=optimize,
        opset=opset,
        parity_samples=parity_samples,
        overwrite=overwrite,
        archive=archive,
        static_shape=shape,
        mobile=mobile,
        reference_samples=reference_samples,
    )
    if prune_vocab is not None:
        from ..data.corpus import read_corpus
        from ..export.prune_vocab import export_pruned

        corpus = [doc.text for doc in read_corpus([prune_vocab])]
        result = export_pruned(run, out, options, corpus, f"{prune_vocab} ({len(corpus)} texts)", eval_rows=eval_rows, eval_source=eval_source)
    else:
        result = export_run(run, out, options, eval_rows=eval_rows, eval_source=eval_source)
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
