"""`edgeft predict --engine ray`: the file job on Ray Data, on this machine or on a cluster.

Ray Data reads the input (every node must see the path: shared storage), the actors of
``edgeft_runtime.integrations.ray`` predict, and this process writes the one output file in the
input's order, through a temporary file renamed at the end. Ray retries failed tasks itself; the
chunk-level ``--resume`` belongs to the local engine.

Differences from the local engine, all from Ray Data's readers: a bad row is named by its text,
not its line (Ray does not number rows), bad UTF-8 fails the read without a line number (the
local engine finds it), and ``.txt`` lines are split at every Unicode line break, not only ``\\n``.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from pathlib import Path
from typing import Any

from ..errors import ConfigError, DataError
from .pipeline import FileJob, FileResult, carried_columns, check_output
from .readers import open_input
from .writers import PREDICTION, open_writer

log = logging.getLogger(__name__)


def _ray() -> Any:
    from edgeft_runtime.integrations.ray import INSTALL_HINT, require_ray

    try:
        return require_ray()
    except ImportError:
        raise ConfigError(f"--engine ray needs Ray: {INSTALL_HINT}") from None


def read_dataset(path: Path, kind: str, columns: list[str] | None) -> Any:
    """The input as a Ray Dataset, with the same columns (and, for CSV, all strings) as the local readers give."""
    import ray.data

    where = str(path.resolve())
    # Reading takes no CPU slot: the actors hold one each, and with as many actors as cores
    # (2 on a 2-core laptop) a read waiting for a free CPU would wait for ever.
    if kind == "txt":
        return ray.data.read_text(where, drop_empty_lines=True, num_cpus=0)  # one column, "text"
    if kind == "jsonl":
        return ray.data.read_json(where, lines=True, num_cpus=0)
    if kind == "parquet":
        return ray.data.read_parquet(where, num_cpus=0)
    import pyarrow as pa
    import pyarrow.csv as pacsv

    delimiter = "\t" if path.suffix.lower() in (".tsv", ".tab") else ","
    return ray.data.read_csv(
        where,
        parse_options=pacsv.ParseOptions(delimiter=delimiter, newlines_in_values=True),
        # Every column as text, as the local CSV reader gives it: type inference would turn an
        # id "007" into 7.
        convert_options=pacsv.ConvertOptions(column_types={c: pa.string() for c in columns or []}),
        num_cpus=0,
    )


def predict_file_ray(
    job: FileJob,
    *,
    address: str | None = None,
    concurrency: int = 2,
    ship_bundle: bool = False,
) -> FileResult:
    """Run ``job`` with Ray Data: ``address`` None starts a local Ray (or joins ``RAY_ADDRESS``)."""
    started = time.perf_counter()
    if job.resume:
        raise ConfigError("--resume works with the local engine; Ray retries failed tasks itself: rerun without --resume")
    fmt = check_output(job)
    source = open_input(job.input, job.text_column)  # checks the file and reads its columns
    columns = carried_columns(source, job.keep_columns, job.text_column)
    ray = _ray()
    from edgeft_runtime.integrations import ray as er

    if not ray.is_initialized():
        ray.init(address=address, include_dashboard=False, logging_level=logging.WARNING, log_to_driver=False)
    context = ray.data.DataContext.get_current()
    context.execution_options.preserve_order = True
    context.enable_progress_bars = job.progress and sys.stderr.isatty()

    ds = read_dataset(job.input, source.kind, source.columns)
    bundle = er.ship_bundle(job.bundle) if ship_bundle else str(job.bundle.resolve())
    # A .txt input's one column is "text" in Ray; the output names it --text-column, as the local engine does.
    ray_text_column = "text" if source.kind == "txt" else job.text_column
    ds = er.predict_dataset(
        ds,
        bundle,
        text_column=ray_text_column,
        variant=job.variant,
        concurrency=concurrency,
        batch_size=job.chunk_size,
        threads=job.threads or 1,
        skip_bad=job.skip_bad,
        source=str(job.input),
    )
    # Columns are chosen here, not with ds.select_columns: that would be one more Ray task
    # waiting for a CPU slot the actors hold.
    keep = None if columns is None else [*columns, PREDICTION]

    tmp = job.output.parent / f".{job.output.name}.partial"
    written = skipped = 0
    writer = None
    try:
        for batch in ds.iter_batches(batch_size=None, batch_format="pyarrow"):
            if ray_text_column != job.text_column:
                batch = batch.rename_columns([job.text_column if n == ray_text_column else n for n in batch.column_names])
            if keep is not None:
                batch = batch.select(keep)
            if writer is None:
                writer = _writer(tmp, fmt, batch)
            rows = [row for row in batch.to_pylist() if row[PREDICTION] is not None]
            skipped += batch.num_rows - len(rows)
            written += len(rows)
            writer.write(rows)
    except Exception as e:  # noqa: BLE001 - Ray wraps the actors' errors; the cause is what the user needs
        if writer is not None:
            writer.close()
        tmp.unlink(missing_ok=True)
        raise DataError(_cause(e)) from None
    if writer is None:
        raise DataError(f"{job.input}: no rows")
    writer.close()
    if skipped:
        log.warning("%s: skipped %d bad row(s) (--skip-bad)", job.input, skipped)
    os.replace(tmp, job.output)
    return FileResult(job.output, written, skipped, 0, time.perf_counter() - started)


def _writer(tmp: Path, fmt: str, batch: Any) -> Any:
    prediction_type = batch.schema.field(PREDICTION).type
    column_types = {name: batch.schema.field(name).type for name in batch.schema.names if name != PREDICTION}
    return open_writer(tmp, fmt, fields=list(batch.schema.names), prediction_type=prediction_type, column_types=column_types)


def _cause(error: BaseException) -> str:
    """The message of the error Ray wrapped (an actor's ValueError, a reader's decode error):
    Ray's own exceptions wrap it, with advice about retries that does not apply to bad input."""
    chain: list[BaseException] = []
    stack: list[BaseException | None] = [error]
    while stack:
        item = stack.pop()
        if item is None or any(item is seen for seen in chain):
            continue
        chain.append(item)
        stack += [getattr(item, "cause", None), item.__cause__, item.__context__]
    ours = [item for item in chain if not type(item).__module__.startswith("ray")]
    # Bad input surfaces as a ValueError (the actor's refusal; UnicodeDecodeError and pyarrow's
    # ArrowInvalid are ValueErrors too); other exceptions in the chain are Ray's plumbing.
    item = next((x for x in reversed(ours) if isinstance(x, ValueError)), None)
    if item is not None:
        message = " ".join(str(item).split())
    else:
        # Ray may pass the worker's error on as text only: its traceback's last "ValueError: ..." line.
        lines = [line.split(": ", 1)[1] for item in chain for line in str(item).splitlines() if line.startswith(("ValueError: ", "UnicodeDecodeError: "))]
        item = error
        message = lines[-1] if lines else (str(error).strip().splitlines() or [type(error).__name__])[0]
    if isinstance(item, UnicodeDecodeError) or "utf-8" in message.lower() or "utf8" in message.lower():
        return f"{message}: the input is not valid UTF-8; run with --engine local to find the line, or re-save it as UTF-8"
    return message
