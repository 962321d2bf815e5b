"""`edgeft predict BUNDLE TEXT...`: run a bundle on texts from the command line, stdin, or a file of any size."""

from __future__ import annotations

import contextlib
import json
import logging
import signal
import sys
from pathlib import Path
from typing import Annotated, Iterator, Optional

import typer

from . import options as opt
from .common import command, fail

log = logging.getLogger(__name__)


def _texts(texts: list[str] | None, file: Path | None) -> list[str]:
    if texts:
        return texts
    if file is not None:
        from ..data.classification import read_text_file

        return [line for line in read_text_file(file).splitlines() if line.strip()]
    if not sys.stdin.isatty():
        from ..data.rows import UTF8_BOM, not_utf8

        # Bytes, decoded here: a text-mode read of bad bytes raises without saying where they are.
        stream = getattr(sys.stdin, "buffer", None)
        raw = stream.read() if stream is not None else sys.stdin.read().encode("utf-8")
        raw = raw[len(UTF8_BOM) :] if raw.startswith(UTF8_BOM) else raw
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as e:
            raise not_utf8("stdin", raw[: e.start].count(b"\n") + 1, raw[e.start]) from None
        return [line for line in text.splitlines() if line.strip()]
    raise typer.BadParameter("give texts as arguments, --file FILE, lines on stdin, or --input FILE --output FILE", param_hint="TEXT")


_FILES = "Files of any size (--input)"
_RAY = "Ray engine (--engine ray)"


@command
def predict(
    bundle: Annotated[Path, typer.Argument(help="A bundle folder written by `edgeft export`, or its .zip/.tar.gz archive.", show_default=False)],
    texts: Annotated[Optional[list[str]], typer.Argument(help="Texts to run (or use --file / stdin / --input).", show_default=False)] = None,
    file: Annotated[Optional[Path], typer.Option("--file", "-f", help="A file with one text per line (read whole; for large files use --input).", show_default=False)] = None,
    variant: opt.Variant = "auto",
    threads: opt.Threads = None,
    input: Annotated[
        Optional[Path],
        typer.Option("--input", "-i", help="Input file, streamed in chunks: .txt (one text per line), .csv, .tsv, .jsonl or .parquet.", show_default=False, rich_help_panel=_FILES),
    ] = None,
    output: Annotated[
        Optional[Path],
        typer.Option("--output", "-o", help="Output file: .jsonl, .csv, .tsv or .parquet (input columns + prediction), in input order.", show_default=False, rich_help_panel=_FILES),
    ] = None,
    text_column: Annotated[str, typer.Option(help="Column/field with the text (.txt input: the output's name for it).", rich_help_panel=_FILES)] = "text",
    keep_columns: Annotated[
        Optional[str],
        typer.Option(help="Comma-separated input columns to carry into the output (default: all; '' for none).", show_default=False, rich_help_panel=_FILES),
    ] = None,
    skip_bad: Annotated[bool, typer.Option("--skip-bad", help="Skip (and count) rows with an empty text or bad UTF-8 instead of stopping.", rich_help_panel=_FILES)] = False,
    workers: Annotated[int, typer.Option(help="Processes: 1 runs in this process; N > 1 starts N workers with one thread each (unless --threads).", rich_help_panel=_FILES)] = 1,
    chunk_size: Annotated[int, typer.Option(help="Rows per chunk: the unit of work, of --resume and (Ray) of map_batches.", rich_help_panel=_FILES)] = 2048,
    resume: Annotated[bool, typer.Option("--resume", help="Continue an interrupted run after its last completed chunk.", rich_help_panel=_FILES)] = False,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace the output file if it exists (only once the new one is complete).", rich_help_panel=_FILES)] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar (there is none when stderr is not a terminal).", rich_help_panel=_FILES)] = False,
    engine: Annotated[str, typer.Option(help="local (this machine: this process or --workers) or ray (Ray Data: a local Ray, or a cluster with --ray-address).", rich_help_panel=_RAY)] = "local",
    ray_address: Annotated[
        Optional[str], typer.Option(help="Ray cluster to join (e.g. ray://head:10001 or auto); default: start a local Ray.", show_default=False, rich_help_panel=_RAY)
    ] = None,
    concurrency: Annotated[int, typer.Option(help="Ray actors, each loading the bundle once.", rich_help_panel=_RAY)] = 2,
    ship_bundle: Annotated[
        bool, typer.Option("--ship-bundle", help="Send the bundle to the workers as a .zip through Ray's object store (no shared storage needed).", rich_help_panel=_RAY)
    ] = False,
) -> None:
    """Predict with a bundle: one JSON result per text, or a whole file with --input/--output.

    \b
    Examples:
      edgeft predict models/sst2-int8 "a gripping, beautifully made film"
      cat reviews.txt | edgeft predict models/sst2-int8
      edgeft predict models/sst2-int8 --input tickets.csv --text-column body --output scored.parquet
      edgeft predict models/sst2-int8 --input big.jsonl --output out.jsonl --workers 4 --resume
      edgeft predict models/sst2-int8.zip --input big.parquet --output out.parquet --engine ray --ship-bundle
    """
    if input is not None or output is not None:
        _predict_file(**locals())
        return
    import edgeft_runtime
    from edgeft_runtime.options import THREADS, check_value

    check_value("--threads", threads, THREADS)
    model = edgeft_runtime.load(bundle, variant=variant, threads=threads)
    items = _texts(texts, file)
    try:
        results = model.run_task(items)
    except ValueError as e:  # the input does not fit the task, e.g. a fill-mask text without [MASK]
        fail(str(e))
    for text, result in zip(items, results):
        typer.echo(json.dumps({"text": text, "prediction": result}, ensure_ascii=False))


class _Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the main thread is, so the run stops as on Ctrl-C: workers ended,
    completed chunks kept, one line saying so."""


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    def handler(signum: int, frame: object) -> None:
        raise _Terminated()

    try:
        previous = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread (an embedding app): leave its signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _resume_hint(output: Path, engine: str) -> str:
    partial = output.parent / f".{output.name}.partial"
    if engine != "local" or not partial.is_dir():
        return "run it again"
    return f"rerun with --resume to continue after the last completed chunk, or delete {partial}"


def _predict_file(*, bundle, texts, file, input, output, keep_columns, engine, ray_address, concurrency, ship_bundle, quiet, **options) -> None:
    from ..bulk import FileJob, predict_file

    if input is None or output is None:
        fail("--input and --output go together: --input FILE --output FILE (.jsonl, .csv, .tsv or .parquet)")
    if texts or file is not None:
        fail("give texts as arguments (or --file) or --input FILE, not both")
    from edgeft_runtime.options import Between, OneOf, Whole, check_value

    check_value("--engine", engine, (OneOf(("local", "ray")),))
    check_value("--concurrency", concurrency, (Whole(), Between(1, 4096)))
    keep = None if keep_columns is None else [c.strip() for c in keep_columns.split(",") if c.strip()]
    job = FileJob(bundle=bundle, input=input, output=output, keep_columns=keep, progress=not quiet, **options)
    try:
        with _sigterm_as_interrupt():
            if engine == "ray":
                from ..bulk.ray_engine import predict_file_ray

                result = predict_file_ray(job, address=ray_address, concurrency=concurrency, ship_bundle=ship_bundle)
            else:
                result = predict_file(job)
    except _Terminated:
        fail(f"terminated (SIGTERM); {output} is not written: {_resume_hint(output, engine)}", code=128 + signal.SIGTERM)
    except KeyboardInterrupt:
        fail(f"interrupted; {output} is not written: {_resume_hint(output, engine)}", code=130)
    skipped = f", {result.skipped} bad row(s) skipped" if result.skipped else ""
    resumed = f" ({result.resumed_rows} from the interrupted run)" if result.resumed_rows else ""
    log.info("wrote %d rows%s to %s in %.1f s%s", result.rows, resumed, result.output, result.seconds, skipped)
