"""Writers for `edgeft predict --output`: JSON Lines, CSV/TSV or Parquet, chosen by the suffix.

A row is a dict: the input columns carried through, then ``prediction`` (the bundle's
``run_task`` result for the row's text). JSON Lines keeps the prediction as JSON; CSV holds it as
JSON text in one column; Parquet as a typed column (a struct for a single-label classifier, lists
of structs for multi-label, NER and fill-mask: see ``edgeft_runtime.integrations.arrow``).

A writer appends rows to one file; ``merge`` joins finished part files into one output.
"""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path
from typing import Any, Sequence

from ..errors import DataError

PREDICTION = "prediction"
OUTPUT_SUFFIXES = {".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv", ".tsv": "tsv", ".parquet": "parquet", ".pq": "parquet"}


def output_format(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix not in OUTPUT_SUFFIXES:
        raise DataError(f"{path}: unknown output type {suffix or '(none)'}; use .jsonl, .csv, .tsv or .parquet")
    return OUTPUT_SUFFIXES[suffix]


def _json_default(value: Any) -> Any:
    # Parquet inputs carry dates, decimals and bytes, which JSON has no type for.
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def to_json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=_json_default)


class RowWriter:
    """Appends rows to one file of the output's format; ``close()`` finishes the file."""

    def write(self, rows: Sequence[dict[str, Any]]) -> None:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError


class JsonlWriter(RowWriter):
    def __init__(self, path: Path):
        self.file = open(path, "w", encoding="utf-8", newline="\n")

    def write(self, rows: Sequence[dict[str, Any]]) -> None:
        self.file.write("".join(to_json(row) + "\n" for row in rows))

    def close(self) -> None:
        self.file.close()


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, (dict, list, tuple)):
        return to_json(value)
    return str(value)


class CsvWriter(RowWriter):
    """Rows under a fixed list of fields (the first row's keys); a later row with another field
    is refused, one without a field gets an empty cell. Writes no header: ``merge`` adds it."""

    def __init__(self, path: Path, fields: list[str], delimiter: str = ","):
        self.file = open(path, "w", encoding="utf-8", newline="")
        self.fields = fields
        self.known = set(fields)
        self.csv = csv.writer(self.file, delimiter=delimiter, lineterminator="\n")

    def write(self, rows: Sequence[dict[str, Any]]) -> None:
        for row in rows:
            if len(row) > len(self.fields) or not self.known.issuperset(row):
                extra = ", ".join(repr(k) for k in row if k not in self.known)
                raise DataError(
                    f"a row has field(s) {extra} that the first row did not have; a CSV output needs the same "
                    "fields in every row: choose them with --keep-columns, or write .jsonl"
                )
            self.csv.writerow([_cell(row.get(name)) for name in self.fields])

    def close(self) -> None:
        self.file.close()


class ParquetWriter(RowWriter):
    """Rows as Arrow record batches: the prediction column with the task's declared type, the
    carried columns with ``column_types`` where known (a Parquet input's own types, strings for
    text and CSV inputs) and inferred otherwise."""

    def __init__(self, path: Path, prediction_type: Any, column_types: dict[str, Any] | None = None):
        self.path = path
        self.prediction_type = prediction_type
        self.column_types = column_types or {}
        self.writer: Any = None

    def table(self, rows: Sequence[dict[str, Any]]) -> Any:
        import pyarrow as pa

        names = list(rows[0]) if rows else []
        arrays, fields = [], []
        for name in names:
            values = [row.get(name) for row in rows]
            kind = self.prediction_type if name == PREDICTION else self.column_types.get(name)
            try:
                array = pa.array(values, type=kind) if kind is not None else pa.array(values)
            except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, OverflowError) as e:
                # JSONL rows may give one field a number here and text there: Parquet needs one type.
                raise DataError(
                    f"column {name!r} holds values of different types ({' '.join(str(e).split())[:160]}); "
                    f"a Parquet column has one type: write .jsonl, or leave the column out with --keep-columns"
                ) from None
            arrays.append(array)
            fields.append(pa.field(name, array.type))
        return pa.Table.from_arrays(arrays, schema=pa.schema(fields))

    def write(self, rows: Sequence[dict[str, Any]]) -> None:
        import pyarrow.parquet as pq

        if not rows:
            return
        table = self.table(rows)
        if self.writer is None:
            self.writer = pq.ParquetWriter(self.path, table.schema)
        elif table.schema != self.writer.schema:
            table = _cast(table, self.writer.schema)
        self.writer.write_table(table)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def _cast(table: Any, schema: Any) -> Any:
    import pyarrow as pa

    try:
        return table.select(schema.names).cast(schema)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, KeyError) as e:
        raise DataError(f"rows whose columns change type or name midway cannot share one Parquet file ({e}); write .jsonl") from None


def open_writer(path: Path, fmt: str, *, fields: list[str] | None = None, prediction_type: Any = None, column_types: dict[str, Any] | None = None) -> RowWriter:
    """A writer of ``fmt`` (see ``output_format``) on ``path``; CSV needs ``fields``, Parquet ``prediction_type``."""
    if fmt == "jsonl":
        return JsonlWriter(path)
    if fmt in ("csv", "tsv"):
        return CsvWriter(path, fields or [], "\t" if fmt == "tsv" else ",")
    return ParquetWriter(path, prediction_type, column_types)


def merge(parts: Sequence[Path], out: Path, fmt: str, *, fields: list[str] | None = None) -> None:
    """Join finished part files, in order, into ``out`` (CSV/TSV gets its header row here)."""
    if fmt == "parquet":
        _merge_parquet(parts, out)
        return
    with open(out, "wb") as dest:
        if fmt in ("csv", "tsv"):
            header = io.StringIO()
            csv.writer(header, delimiter="\t" if fmt == "tsv" else ",", lineterminator="\n").writerow(fields or [])
            dest.write(header.getvalue().encode("utf-8"))
        for part in parts:
            with open(part, "rb") as src:
                shutil.copyfileobj(src, dest, 1 << 20)


def _merge_parquet(parts: Sequence[Path], out: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    schemas = [pq.read_schema(p) for p in parts]
    if not schemas:
        raise DataError("no rows to write: every input row was skipped")
    try:
        # Columns inferred from JSON values may differ between parts (an all-null column, int
        # then float): widen them to one schema.
        schema = pa.unify_schemas(schemas, promote_options="permissive")
    except (pa.ArrowInvalid, pa.ArrowTypeError) as e:
        raise DataError(f"a column changes type midway through the input ({e}); write .jsonl, or keep other columns") from None
    with pq.ParquetWriter(out, schema) as writer:
        for part in parts:
            for batch in pq.ParquetFile(part).iter_batches():
                writer.write_table(_cast(pa.Table.from_batches([batch]), schema))
