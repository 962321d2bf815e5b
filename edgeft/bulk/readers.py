"""Streaming readers for `edgeft predict --input`: one record at a time, whatever the file's size.

Formats by suffix: ``.txt`` (one text per line), ``.csv`` / ``.tsv`` (header row), ``.jsonl``
(one object per line) and ``.parquet``. The rules for bad input are the training readers'
(edgeft/data/): blank lines are not rows; a bad UTF-8 byte names its line; a wrong column or a
ragged CSV row is an error naming file:line. Lines are decoded one at a time with
``surrogateescape``, so that a bad byte marks only its own line, which the pipeline then refuses
or (with --skip-bad) skips and counts.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Iterator

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


def _lines(stream: BinaryIO, position: list[int]) -> Iterator[tuple[int, str, int | None]]:
    """(line number, decoded line with its ending, first bad byte or None) for each physical line."""
    for number, raw in enumerate(stream, start=1):
        position[0] += len(raw)
        if number == 1 and raw.startswith(b"\xef\xbb\xbf"):
            raw = raw[3:]
        try:
            yield number, raw.decode("utf-8"), None
        except UnicodeDecodeError as e:
            yield number, raw.decode("utf-8", "surrogateescape"), raw[e.start]


def _txt_records(path: Path, column: str, position: list[int]) -> Iterator[Record]:
    with open(path, "rb") as stream:
        for number, line, bad in _lines(stream, position):
            text = line.rstrip("\r\n")
            if not text.strip():
                continue  # blank line
            yield Record(number, {column: text}, bad, number if bad is not None else 0)


def _jsonl_records(path: Path, position: list[int]) -> Iterator[Record]:
    with open(path, "rb") as stream:
        for number, line, bad in _lines(stream, position):
            if not line.strip():
                continue
            if bad is not None:
                # The line cannot be trusted as JSON; the pipeline reports or skips it by its byte.
                yield Record(number, {}, bad, number)
                continue
            try:
                value = json.loads(line)
            except json.JSONDecodeError as e:
                raise DataError(f"{path}:{number}: not valid JSON ({e.msg}); each line must be one JSON object") from None
            if not isinstance(value, dict):
                raise DataError(f"{path}:{number}: expected a JSON object, got {type(value).__name__}")
            yield Record(number, value)


def _table_records(path: Path, delimiter: str, position: list[int]) -> tuple[list[str], Iterator[Record]]:
    stream = open(path, "rb")
    lines = _lines(stream, position)
    bad_lines: dict[int, int] = {}
    current = [0]

    def text_lines() -> Iterator[str]:
        for number, line, bad in lines:
            current[0] = number
            if bad is not None:
                bad_lines[number] = bad
            yield line

    reader = csv.reader(text_lines(), delimiter=delimiter)
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        stream.close()
        raise DataError(f"{path}: file is empty") from None
    except csv.Error as e:
        stream.close()
        raise DataError(f"{path}:1: cannot parse the header row ({e})") from None
    if 1 in bad_lines:
        stream.close()
        raise DataError(f"{path}:1: byte 0x{bad_lines[1]:02x} is not valid UTF-8; re-save the file as UTF-8")

    def records() -> Iterator[Record]:
        with stream:
            line = current[0]
            while True:
                start = line + 1
                try:
                    row = next(reader)
                except StopIteration:
                    return
                except csv.Error as e:
                    raise DataError(f"{path}:{start}: cannot parse row ({e}); check its quoting") from None
                line = current[0]
                bad = next(((n, b) for n, b in bad_lines.items() if start <= n <= line), None)
                bad_lines.clear()
                if not row or (len(row) == 1 and not row[0].strip()):
                    continue  # blank line
                if len(row) != len(header):
                    if bad is not None:
                        yield Record(start, {}, bad[1], bad[0])
                        continue
                    raise DataError(
                        f"{path}:{start}: row has {len(row)} fields but the header has {len(header)}; "
                        f"quote fields that contain {'a tab' if delimiter == chr(9) else 'commas'}"
                    )
                record = Record(start, dict(zip(header, row)))
                if bad is not None:
                    record.bad_line, record.bad_byte = bad
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
