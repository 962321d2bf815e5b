"""The row loops every reader of users' files shares, so that a blank line, a ragged CSV row, a
line that is not JSON or a bad UTF-8 byte is treated and named alike by the training readers
(``classification``, ``ner``, ``corpus``) and by `edgeft predict --input` (``edgeft.bulk.readers``).

A reader supplies its lines as ``(number, text, bad)`` triples: ``bad`` is the first byte of the
line that is not UTF-8 (the streaming reader decodes line by line and decides per line what a
bad byte means), or None (a file decoded whole, strictly, has none).
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Iterable, Iterator

from ..errors import DataError

Line = tuple[int, str, int | None]  # (line number from 1, text with its ending, first bad byte)

UTF8_BOM = b"\xef\xbb\xbf"


def not_utf8(path: str | Path, line: int, byte: int) -> DataError:
    """The error for a byte that is not UTF-8, naming its line."""
    return DataError(f"{path}:{line}: byte 0x{byte:02x} is not valid UTF-8; re-save the file as UTF-8")


def text_lines(text: str) -> Iterator[Line]:
    """The lines of an already decoded file, split as the csv module expects (newline="")."""
    for number, line in enumerate(io.StringIO(text, newline=""), start=1):
        yield number, line, None


def decoded_lines(stream: BinaryIO, position: list[int] | None = None) -> Iterator[Line]:
    """Each physical line of a binary stream, decoded on its own: a bad byte marks only its line
    (decoded with ``surrogateescape``, its first bad byte given). ``position[0]`` advances by the
    bytes read, for progress."""
    for number, raw in enumerate(stream, start=1):
        if position is not None:
            position[0] += len(raw)
        if number == 1 and raw.startswith(UTF8_BOM):
            raw = raw[len(UTF8_BOM) :]
        try:
            yield number, raw.decode("utf-8"), None
        except UnicodeDecodeError as e:
            yield number, raw.decode("utf-8", "surrogateescape"), raw[e.start]


def json_object(path: str | Path, number: int, line: str) -> dict[str, Any]:
    """One JSONL line as a JSON object; a DataError naming ``path:number`` otherwise."""
    try:
        record = json.loads(line)
    except json.JSONDecodeError as e:
        raise DataError(f"{path}:{number}: not valid JSON ({e.msg}); each line must be one JSON object") from None
    if not isinstance(record, dict):
        raise DataError(f"{path}:{number}: expected a JSON object, got {type(record).__name__}")
    return record


def jsonl_records(path: str | Path, lines: Iterable[tuple[int, str]]) -> Iterator[tuple[int, dict[str, Any]]]:
    """``(line number, object)`` for every non-blank line."""
    for number, line in lines:
        if line.strip():
            yield number, json_object(path, number, line)


@dataclass
class TableRow:
    """A CSV/TSV row: the line it starts on, its fields by header name, and the first bad byte on
    its lines as ``(line, byte)`` (None: all UTF-8). ``values`` is None for a row that has a bad byte
    and the wrong number of fields: the byte, not the quoting, is what the user has to fix."""

    start: int
    values: dict[str, str] | None
    bad: tuple[int, int] | None = None


def table_rows(path: str | Path, lines: Iterator[Line], delimiter: str) -> tuple[list[str], Iterator[TableRow]]:
    """The header of a CSV/TSV file and an iterator over its rows (blank lines skipped).

    Errors name ``path:line``: an unparsable header or row, a header with a bad byte, a row
    with more or fewer fields than the header."""
    bad_lines: dict[int, int] = {}
    current = [0]

    def texts() -> Iterator[str]:
        for number, text, bad in lines:
            current[0] = number
            if bad is not None:
                bad_lines[number] = bad
            yield text

    reader = csv.reader(texts(), delimiter=delimiter)
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        raise DataError(f"{path}: file is empty") from None
    except csv.Error as e:
        raise DataError(f"{path}:1: cannot parse the header row ({e})") from None
    if 1 in bad_lines:
        raise not_utf8(path, 1, bad_lines[1])
    return header, _rows(path, reader, header, delimiter, current, bad_lines)


def _rows(path: str | Path, reader: Any, header: list[str], delimiter: str, current: list[int], bad_lines: dict[int, int]) -> Iterator[TableRow]:
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
                yield TableRow(start, None, bad)
                continue
            raise DataError(
                f"{path}:{start}: row has {len(row)} fields but the header has {len(header)}; "
                f"quote fields that contain {'a tab' if delimiter == chr(9) else 'commas'}"
            )
        yield TableRow(start, dict(zip(header, row)), bad)
