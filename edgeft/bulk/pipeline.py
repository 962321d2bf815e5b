"""``predict_file``: a bundle over a file of any size, in chunks, with bounded memory and resume.

    read records ─► chunks of N ─► bad rows refused or skipped ─► runner (this process or a
    pool of workers, results in input order) ─► one part file per chunk ─► join ─► rename

Memory holds a few chunks at a time whatever the input's length; the output appears only when
complete (see ``resume.PartialOutput``), and ``resume=True`` continues after the last completed
chunk of an interrupted run of the same job, giving the same bytes as an uninterrupted run.
"""

from __future__ import annotations

import itertools
import logging
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from edgeft_runtime.errors import BundleError
from edgeft_runtime.options import THREADS, Between, OptionError, Whole, check_value

from ..errors import ConfigError, DataError, EdgeftError
from .readers import InputFile, Record, open_input
from .resume import Chunk, PartialOutput, StoppedRun
from .workers import start_runner
from .writers import PREDICTION, merge, open_writer, output_format

log = logging.getLogger(__name__)

DEFAULT_CHUNK_SIZE = 2048
MAX_CHUNK_SIZE = 10_000_000  # rows held in memory at once, per chunk in flight


@dataclass
class FileJob:
    """What to run on which file; the defaults are `edgeft predict`'s."""

    bundle: Path
    input: Path
    output: Path
    text_column: str = "text"
    keep_columns: list[str] | None = None  # None: carry every input column through
    skip_bad: bool = False
    variant: str = "auto"
    threads: int | None = None
    workers: int = 1
    chunk_size: int = DEFAULT_CHUNK_SIZE
    batch_size: int | None = None  # texts per session run (the model's default when None)
    resume: bool = False
    overwrite: bool = False
    progress: bool = True


@dataclass
class FileResult:
    output: Path
    rows: int
    skipped: int
    resumed_rows: int
    seconds: float


def check_output(job: FileJob) -> str:
    """The output format; refuses an existing output without ``overwrite`` (``resume`` counts as consent)."""
    fmt = output_format(job.output)
    if job.output.exists() and not (job.overwrite or job.resume):
        raise ConfigError(f"{job.output}: already exists; pass --overwrite to replace it, or choose another --output")
    if job.output.exists() and job.output.is_dir():
        raise ConfigError(f"{job.output}: is a folder; --output takes a file name")
    check_value("--chunk-size", job.chunk_size, (Whole(), Between(1, MAX_CHUNK_SIZE)))
    check_value("--batch-size", job.batch_size, (Whole(), Between(1, MAX_CHUNK_SIZE)))
    check_value("--threads", job.threads, THREADS)
    if not job.text_column.strip():
        raise OptionError("--text-column", job.text_column, "give the name of the column (or, for .txt input, of the output's text field)")
    return fmt


def carried_columns(source: InputFile, keep: list[str] | None, text_column: str) -> list[str] | None:
    """The input columns the output carries (None: all of each record's, as they come)."""
    if keep is None:
        columns = source.columns
    else:
        if source.columns is not None:
            missing = [c for c in keep if c not in source.columns]
            if missing:
                raise DataError(
                    f"{source.path}: --keep-columns {', '.join(missing)}: no such column (columns: {', '.join(source.columns)})"
                )
        columns = keep
    if columns is not None and PREDICTION in columns:
        raise DataError(f"{source.path}: has a column {PREDICTION!r}, which the output adds; drop it with --keep-columns")
    if source.columns is not None and text_column not in source.columns:
        raise DataError(
            f"{source.path}: no column {text_column!r} (columns: {', '.join(source.columns) or '(none)'}); pass --text-column NAME"
        )
    return columns


def job_fingerprint(job: FileJob, fmt: str) -> dict[str, Any]:
    """What must be the same for ``--resume`` to continue: the input (path, size, time), the bundle
    (its manifest's hash: the manifest lists every file's hash) and every option that changes bytes."""
    from edgeft_runtime.constants import MANIFEST_FILE
    from edgeft_runtime.manifest import sha256_file

    stat = job.input.stat()
    manifest = job.bundle / MANIFEST_FILE if job.bundle.is_dir() else job.bundle
    return {
        "input": str(job.input.resolve()),
        "input size": stat.st_size,
        "input time": stat.st_mtime_ns,
        "bundle": sha256_file(manifest) if manifest.is_file() else str(job.bundle),
        "variant": job.variant,
        "text column": job.text_column,
        "kept columns": job.keep_columns,
        "skip-bad": job.skip_bad,
        "chunk size": job.chunk_size,
        "output format": fmt,
    }


class RowFilter:
    """The training readers' rule for bad rows: refuse with one line naming file:line, or skip and count."""

    def __init__(self, source: InputFile, text_column: str, required_tokens: tuple[str, ...], skip_bad: bool):
        self.source = source
        self.text_column = text_column
        self.required_tokens = required_tokens
        self.skip_bad = skip_bad
        self.first_skipped: int | None = None

    def where(self, line: int) -> str:
        return f"{self.source.path}:{line}" if self.source.where == "line" else f"{self.source.path}: row {line}"

    def problem(self, record: Record) -> str | None:
        from edgeft_runtime.base import text_problem

        if record.bad_byte is not None:
            return f"{self.where(record.bad_line)}: byte 0x{record.bad_byte:02x} is not valid UTF-8; re-save the file as UTF-8"
        if self.text_column not in record.values:
            columns = ", ".join(map(str, record.values)) or "(none)"
            raise DataError(f"{self.where(record.line)}: no column {self.text_column!r} (columns: {columns}); pass --text-column NAME")
        text = record.values[self.text_column]
        if text is not None and not isinstance(text, str):
            raise DataError(f"{self.where(record.line)}: column {self.text_column!r} must be text, got {text!r}")
        problem = text_problem(text, self.required_tokens)
        if problem is None:
            return None
        if problem == "empty text":
            return f"{self.where(record.line)}: empty text in column {self.text_column!r}; remove the row"
        return f"{self.where(record.line)}: {problem} in column {self.text_column!r}; fix or remove the row"

    def split(self, records: list[Record]) -> tuple[list[Record], int]:
        """(records to predict, number skipped); raises DataError for a bad row without --skip-bad."""
        good, skipped = [], 0
        for record in records:
            problem = self.problem(record)
            if problem is None:
                good.append(record)
            elif self.skip_bad:
                skipped += 1
                if self.first_skipped is None:
                    self.first_skipped = record.line
            else:
                raise DataError(f"{problem} or pass --skip-bad")
        return good, skipped


def _chunks(records: Iterator[Record], size: int) -> Iterator[list[Record]]:
    while True:
        chunk = list(itertools.islice(records, size))
        if not chunk:
            return
        yield chunk


def _progress(job: FileJob, source: InputFile) -> Any:
    from tqdm import tqdm

    quiet = not job.progress or not sys.stderr.isatty()
    total = source.size if source.kind == "parquet" else None
    return tqdm(total=total, unit=" texts", unit_scale=True, dynamic_ncols=True, disable=quiet, file=sys.stderr, smoothing=0.1)


def predict_file(job: FileJob) -> FileResult:
    """Run ``job.bundle`` over every row of ``job.input`` and write ``job.output`` (see module doc).

    A run stopped by bad input removes its partial output (fixing the input changes it, so it
    could not be resumed); a run stopped by anything else (an interrupt, a dead worker, a full
    disk) keeps its completed chunks for ``--resume`` and its error says so.
    """
    started = time.perf_counter()
    fmt = check_output(job)
    source = open_input(job.input, job.text_column)
    columns = carried_columns(source, job.keep_columns, job.text_column)
    workers = worker_count(job.workers, source, job.chunk_size)
    partial = PartialOutput(job.output, job_fingerprint(job, fmt))
    partial.start(job.resume)
    try:
        written, skipped, resumed = _run_chunks(job, fmt, source, columns, partial, workers)
        merged = partial.folder / f"joined{job.output.suffix}"
        merge(partial.parts(), merged, fmt, fields=partial.fields or ([*(columns or [job.text_column]), PREDICTION]))
        partial.commit(merged)
    except StoppedRun as e:
        raise StoppedRun(f"{e}; {kept_chunks(partial)}") from None
    except (EdgeftError, BundleError, OptionError):
        partial.discard()  # bad input, bundle or option: the fix changes the job, so no resume
        raise
    except OSError as e:
        if not partial.chunks:
            partial.discard()
            raise
        raise StoppedRun(f"{e.filename or job.output}: {e.strerror or e}; {kept_chunks(partial)}") from None
    except BaseException:
        if not partial.chunks:
            partial.discard()  # nothing worth resuming
        elif not isinstance(sys.exc_info()[1], KeyboardInterrupt):
            log.warning("%s", kept_chunks(partial))
        raise
    return FileResult(job.output, written, skipped, resumed, time.perf_counter() - started)


def kept_chunks(partial: PartialOutput) -> str:
    """What to do with the partial output an interrupted run leaves behind."""
    done = len(partial.chunks)
    return f"{done} completed chunk(s) are kept in {partial.folder}: rerun with --resume to continue, or delete that folder"


def worker_count(requested: int, source: InputFile, chunk_size: int) -> int:
    """The processes to start: ``--workers`` within this machine's cores and the input's chunks.

    Each worker loads its own copy of the model (hundreds of MB) and inference is CPU-bound, so
    workers beyond the cores only compete for them; a count far beyond them is refused as a slip.
    """
    cores = available_cores()
    if requested < 1:
        raise ConfigError(f"--workers {requested}: give 1 or more (1 runs in this process)")
    if requested > 4 * cores:
        raise ConfigError(f"--workers {requested}: this machine has {cores} core(s); use at most {cores} (each worker loads its own copy of the model)")
    count = min(requested, cores)
    if source.kind == "parquet" and source.size is not None:
        count = max(1, min(count, -(-source.size // chunk_size)))  # no more workers than chunks
    if count < requested:
        why = f"{cores} core(s)" + (f", {source.size} rows in chunks of {chunk_size}" if source.kind == "parquet" else "")
        log.info("--workers %d: starting %d (%s)", requested, count, why)
    return count


def available_cores() -> int:
    """Cores this process may run on (its CPU affinity where the OS tells, e.g. in a container)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)


def _run_chunks(
    job: FileJob, fmt: str, source: InputFile, columns: list[str] | None, partial: PartialOutput, workers: int
) -> tuple[int, int, int]:
    """Predict every chunk not yet done into its part; (rows written, rows skipped, rows resumed)."""
    resumed = sum(c.rows for c in partial.chunks)
    written, skipped = resumed, sum(c.skipped for c in partial.chunks)
    records = source.records
    if partial.records_done:
        # Re-read (and drop) what earlier runs finished: chunks must fall on the same records.
        consumed = sum(1 for _ in itertools.islice(records, partial.records_done))
        if consumed != partial.records_done:
            raise ConfigError(f"--resume: {job.input} has fewer rows than the interrupted run read; start without --resume")
        log.info("resuming after %d completed chunk(s) (%d rows written)", len(partial.chunks), resumed)

    runner = start_runner(job.bundle, job.variant, job.threads, workers, job.batch_size)
    completed = False
    try:
        facts = runner.describe()
        rows_filter = RowFilter(source, job.text_column, facts["required_tokens"], job.skip_bad)
        writer_options = _writer_options(fmt, facts["manifest"], source, columns)
        bar = _progress(job, source)
        bar.update(partial.records_done)

        def batches() -> Iterator[tuple[tuple[list[Record], int, int], list[str]]]:
            for chunk in _chunks(records, job.chunk_size):
                good, bad = rows_filter.split(chunk)
                yield (good, bad, len(chunk)), [r.values[job.text_column] for r in good]

        with bar:
            for (good, bad, consumed), results in _checked(runner.map(batches()), job.input):
                rows = [_output_row(record.values, columns, result) for record, result in zip(good, results)]
                if fmt in ("csv", "tsv") and partial.fields is None and rows:
                    partial.fields = list(rows[0])
                try:
                    part = _write_part(partial, fmt, rows, writer_options)
                except DataError as e:
                    where = f"{source.where}s {good[0].line}-{good[-1].line}" if good else "a chunk"
                    raise DataError(f"{job.input}: {where}: {e}") from None
                partial.add(Chunk(consumed, len(rows), bad), part)
                written += len(rows)
                skipped += bad
                bar.update(consumed)
                if source.kind != "parquet" and source.position[0]:
                    bar.total = max(bar.n, round(bar.n * source.size / source.position[0]))
                    bar.refresh()
        completed = True
    finally:
        runner.close(abort=not completed)  # stopped early: workers are ended, not waited for

    if skipped:
        first = rows_filter.first_skipped
        log.warning("%s: skipped %d bad row(s)%s (--skip-bad)", job.input, skipped, f" (first at {source.where} {first})" if first else "")
    return written, skipped, resumed


def _checked(results: Iterator[Any], path: Path) -> Iterator[Any]:
    """Turn a model's refusal of an input (e.g. a fill-mask text whose [MASK] lies past the
    truncation) into an error naming the lines of the chunk it came from."""
    iterator = iter(results)
    while True:
        try:
            item = next(iterator)
        except StopIteration:
            return
        except ValueError as e:
            raise DataError(f"{path}: {e}") from None
        yield item


def _output_row(values: dict[str, Any], columns: list[str] | None, result: Any) -> dict[str, Any]:
    row = dict(values) if columns is None else {c: values.get(c) for c in columns}
    row[PREDICTION] = result
    return row


def _writer_options(fmt: str, manifest: dict[str, Any], source: InputFile, columns: list[str] | None) -> dict[str, Any]:
    if fmt != "parquet":
        return {}
    from edgeft_runtime.integrations.arrow import prediction_type

    import pyarrow as pa

    if source.arrow_schema is not None:
        types = {name: source.arrow_schema.field(name).type for name in source.arrow_schema.names}
    elif source.kind in ("txt", "table"):
        types = {name: pa.string() for name in (source.columns or [])}
    else:
        types = {}
    return {"prediction_type": prediction_type(manifest), "column_types": types}


def _write_part(partial: PartialOutput, fmt: str, rows: list[dict[str, Any]], options: dict[str, Any]) -> Path | None:
    if fmt == "parquet" and not rows:
        return None  # a Parquet file needs a schema; a chunk of skipped rows has nothing to say
    tmp = partial.folder / f"part.tmp{partial.final.suffix}"
    writer = open_writer(tmp, fmt, fields=partial.fields, **options)
    try:
        writer.write(rows)
    finally:
        writer.close()
    return tmp
