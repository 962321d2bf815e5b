"""Streaming readers for `edgeft predict --input`: one record at a time, whatever the file's size.

Formats by suffix: ``.txt`` (one text per line), ``.csv`` / ``.tsv`` (header row), ``.jsonl``
(one object per line) and ``.parquet``. The rules for bad input are the training readers'
(edgeft/data/): blank lines are not rows; a bad UTF-8 byte names its line; a wrong column or a
ragged CSV row is an error naming file:line. Lines are decoded one at a time with
``surrogateescape``, so that a bad byte marks only its own line, which the pipeline then refuses
or (with --skip-bad) skips and counts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from ..data.rows import decoded_lines, json_object, table_rows
from ..errors import DataError

TEXT_SUFFIXES = {".txt", ".text"}
TABLE_SUFFIXES = {".csv": ",", ".tsv": "\t", ".tab": "\t"}
JSONL_SUFFIXES = {".jsonl", ".ndjson"}
PARQUET_SUFFIXES = {".parquet", ".pq"}
INPUT_SUFFIXES = sorted(TEXT_SUFFIXES | set(TABLE_SUFFIXES) | JSONL_SUFFIXES | PARQUET_SUFFIXES)


@dataclass
class Record:
    """One input row: where it starts, its text field and every column, and whether a bad byte
    (shown in ``bad_byte``) sits on one of its lines."""

    line: int
    values: dict[str, Any]
    bad_byte: int | None = None
    bad_line: int = 0


@dataclass
class InputFile:
    """An opened input: its records (lazily), a name for messages, and how far reading has got."""

    path: Path
    kind: str  # "txt", "table", "jsonl" or "parquet"
    records: Iterator[Record]
    where: str = "line"  # how a record's position is named in messages ("line" or "row")
    size: int = 0  # bytes (text formats) or rows (parquet): the unit of ``position``
    position: list[int] = field(default_factory=lambda: [0])  # advanced by the reader as it goes
    columns: list[str] | None = None  # known up front for tables and parquet
    arrow_schema: Any = None  # parquet: the input's own column types, for a parquet output


def input_kind(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in TEXT_SUFFIXES:
        return "txt"
    if suffix in TABLE_SUFFIXES:
        return "table"
    if suffix in JSONL_SUFFIXES:
        return "jsonl"
    if suffix in PARQUET_SUFFIXES:
        return "parquet"
    raise DataError(f"{path}: unknown input type {suffix or '(none)'}; use {', '.join(INPUT_SUFFIXES)}")


def open_input(path: str | Path, text_column: str = "text") -> InputFile:
    """Open ``path`` for streaming; the file is read as its records are consumed."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: file not found")
    if path.is_dir():
        raise DataError(f"{path}: is a folder; pass a data file")
    kind = input_kind(path)
    if kind == "parquet":
        return _open_parquet(path)
    size = path.stat().st_size
    if size == 0:
        raise DataError(f"{path}: file is empty")
    info = InputFile(path, kind, iter(()), size=size)
    if kind == "txt":
        info.records = _txt_records(path, text_column, info.position)
        info.columns = [text_column]
    elif kind == "jsonl":
        info.records = _jsonl_records(path, info.position)
    else:
        header, records = _table_records(path, TABLE_SUFFIXES[path.suffix.lower()], info.position)
        info.columns, info.records = header, records
    return info


def _txt_records(path: Path, column: str, position: list[int]) -> Iterator[Record]:
    with open(path, "rb") as stream:
        for number, line, bad in decoded_lines(stream, position):
            text = line.rstrip("\r\n")
            if not text.strip():
                continue  # blank line
            yield Record(number, {column: text}, bad, number if bad is not None else 0)


def _jsonl_records(path: Path, position: list[int]) -> Iterator[Record]:
    with open(path, "rb") as stream:
        for number, line, bad in decoded_lines(stream, position):
            if not line.strip():
                continue
            if bad is not None:
                # The line cannot be trusted as JSON; the pipeline reports or skips it by its byte.
                yield Record(number, {}, bad, number)
                continue
            yield Record(number, json_object(path, number, line))


def _table_records(path: Path, delimiter: str, position: list[int]) -> tuple[list[str], Iterator[Record]]:
    stream = open(path, "rb")
    try:
        header, rows = table_rows(path, decoded_lines(stream, position), delimiter)
    except BaseException:
        stream.close()
        raise

    def records() -> Iterator[Record]:
        with stream:
            for row in rows:
                if row.values is None:  # a ragged row with a bad byte: reported or skipped by its byte
                    assert row.bad is not None
                    yield Record(row.start, {}, row.bad[1], row.bad[0])
                    continue
                record = Record(row.start, row.values)
                if row.bad is not None:
                    record.bad_line, record.bad_byte = row.bad
                yield record

    return header, records()


def _open_parquet(path: Path) -> InputFile:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise DataError(f"{path}: reading Parquet needs pyarrow: pip install pyarrow") from None
    try:
        parquet = pq.ParquetFile(path)
    except Exception as e:  # noqa: BLE001 - pyarrow raises several types for a file that is not Parquet
        raise DataError(f"{path}: not a readable Parquet file ({e})") from None
    info = InputFile(path, "parquet", iter(()), where="row", size=parquet.metadata.num_rows)
    info.columns = list(parquet.schema_arrow.names)
    info.arrow_schema = parquet.schema_arrow

    def records() -> Iterator[Record]:
        number = 0
        for batch in parquet.iter_batches(batch_size=4096):
            for values in batch.to_pylist():
                number += 1
                info.position[0] = number
                yield Record(number, values)

    info.records = records()
    return info
