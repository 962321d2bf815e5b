"""Readers for labelled text: CSV, TSV and JSONL, with errors that name the file, line and field.

Files are decoded as strict UTF-8 (a BOM is allowed) before parsing, so a bad byte is reported
with its line instead of surfacing as a crash deep inside training.
"""

from __future__ import annotations

import json
import logging
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from ..errors import DataError
from .rows import UTF8_BOM, jsonl_records, not_utf8, table_rows, text_lines

log = logging.getLogger(__name__)

TABLE_SUFFIXES = {".csv": ",", ".tsv": "\t", ".tab": "\t"}
JSONL_SUFFIXES = {".jsonl", ".ndjson", ".json"}


@dataclass
class TextExample:
    """One labelled text. ``labels`` has exactly one entry for single-label data."""

    text: str
    labels: list[str]
    line: int


def read_text_file(path: str | Path) -> str:
    """Read a whole file as UTF-8; errors name the file and the line of the first bad byte."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: file not found")
    if path.is_dir():
        raise DataError(f"{path}: is a folder; pass a data file")
    raw = path.read_bytes()
    # The BOM is cut off here rather than by the utf-8-sig codec, whose error offsets do not count it.
    raw = raw[len(UTF8_BOM) :] if raw.startswith(UTF8_BOM) else raw
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise not_utf8(path, raw[: e.start].count(b"\n") + 1, raw[e.start]) from None


def iter_records(path: str | Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield ``(line_number, record)`` from a CSV/TSV (with a header row) or JSONL file."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in TABLE_SUFFIXES and suffix not in JSONL_SUFFIXES:
        raise DataError(f"{path}: unknown file type {suffix or '(none)'}; use .csv, .tsv or .jsonl")
    text = read_text_file(path)
    if not text.strip():
        raise DataError(f"{path}: file is empty")
    if suffix in JSONL_SUFFIXES:
        yield from jsonl_records(path, enumerate(text.splitlines(), start=1))
        return
    _, rows = table_rows(path, text_lines(text), TABLE_SUFFIXES[suffix])
    for row in rows:
        assert row.values is not None  # a strictly decoded file has no bad bytes
        yield row.start, row.values


def _column(path: Path, number: int, record: dict[str, Any], name: str, flag: str) -> Any:
    if name not in record:
        columns = ", ".join(map(str, record)) or "(none)"
        raise DataError(f"{path}:{number}: no column {name!r} (columns: {columns}); pass {flag} NAME")
    return record[name]


def parse_labels(value: Any, multi_label: bool, separator: str, where: str) -> list[str]:
    """A label field -> list of label strings. Multi-label: ``a;b`` or a JSON list ``["a", "b"]``."""
    if isinstance(value, list):
        if not multi_label and len(value) != 1:
            raise DataError(f"{where}: a list of labels needs --multi-label")
        labels = [str(v).strip() for v in value]
    elif value is None:
        labels = []
    elif isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise DataError(f"{where}: label must be a string or integer, got {json.dumps(value)}")
    else:
        text = str(value).strip()
        if isinstance(value, float) and value.is_integer():
            text = str(int(value))
        if multi_label and text.startswith("["):
            try:
                parsed = json.loads(text)
            except json.JSONDecodeError:
                raise DataError(f"{where}: label {text!r} looks like a JSON list but does not parse") from None
            return parse_labels(parsed, multi_label, separator, where)
        labels = [p.strip() for p in text.split(separator)] if multi_label else [text]
    labels = [label for label in labels if label]
    if not labels and not multi_label:
        raise DataError(f"{where}: empty label; fill it in or remove the row")
    return labels


def read_classification(
    path: str | Path,
    *,
    text_column: str = "text",
    label_column: str = "label",
    multi_label: bool = False,
    label_separator: str = ";",
    skip_empty: bool = False,
    require_labels: bool = True,
) -> list[TextExample]:
    """Read labelled texts; every error names ``path:line`` and the column."""
    path = Path(path)
    examples: list[TextExample] = []
    skipped: list[int] = []
    for number, record in iter_records(path):
        where = f"{path}:{number}"
        text = _column(path, number, record, text_column, "--text-column")
        if not isinstance(text, str):
            raise DataError(f"{where}: column {text_column!r} must be text, got {json.dumps(text)}")
        if not text.strip():
            if skip_empty:
                skipped.append(number)
                continue
            raise DataError(
                f"{where}: empty text in column {text_column!r}; remove the row or pass --set skip_empty=true"
            )
        labels: list[str] = []
        if require_labels:
            raw = _column(path, number, record, label_column, "--label-column")
            labels = parse_labels(raw, multi_label, label_separator, f"{where}: column {label_column!r}")
        examples.append(TextExample(text=text, labels=labels, line=number))
    if skipped:
        log.warning("%s: skipped %d row(s) with empty text (first at line %d)", path, len(skipped), skipped[0])
    if not examples:
        raise DataError(f"{path}: no usable rows")
    return examples


def _sort_key(label: str) -> tuple[int, Any]:
    try:
        return (0, int(label))
    except ValueError:
        return (1, label)


def label_space(examples: list[TextExample], path: str | Path, multi_label: bool) -> list[str]:
    """The sorted label set of a training file (integers sorted numerically). Needs two or more labels."""
    labels = sorted({label for ex in examples for label in ex.labels}, key=_sort_key)
    if len(labels) < 2 and not (multi_label and labels):
        only = labels[0] if labels else "(none)"
        raise DataError(f"{path}: only one class ({only!r}); a classifier needs at least two labels")
    return labels


def check_known_labels(examples: list[TextExample], labels: list[str], path: str | Path) -> None:
    """Refuse eval rows whose labels the model cannot predict (seen only in eval)."""
    known = set(labels)
    for ex in examples:
        for label in ex.labels:
            if label not in known:
                raise DataError(
                    f"{path}:{ex.line}: label {label!r} does not occur in the training data "
                    f"(training labels: {', '.join(labels)}); fix the label or add training examples"
                )


def split_holdout(
    examples: list[TextExample], ratio: float, seed: int, where: str | Path = "training data"
) -> tuple[list[TextExample], list[TextExample]]:
    """Hold out ``ratio`` of the examples per label (first label; at least one of every label that
    has two or more), seeded; returns (train, held_out)."""
    by_label: dict[str, list[TextExample]] = {}
    for ex in examples:
        by_label.setdefault(ex.labels[0] if ex.labels else "", []).append(ex)
    rng = random.Random(seed)
    train, held = [], []
    for group in by_label.values():
        group = group[:]
        rng.shuffle(group)
        k = max(1, int(round(len(group) * ratio))) if len(group) > 1 else 0
        held.extend(group[:k])
        train.extend(group[k:])
    if not held:
        raise DataError(f"{where}: too few examples to hold out {ratio:.0%} for evaluation; pass --eval FILE")
    train.sort(key=lambda e: e.line)
    held.sort(key=lambda e: e.line)
    return train, held


def sample_shots(
    examples: list[TextExample], labels: list[str], shots: int, seed: int, path: str | Path
) -> tuple[list[TextExample], list[TextExample]]:
    """Take ``shots`` examples per label (seeded); return (sampled, the rest), each in file order.

    Multi-label rows count for every label they carry: labels are filled in order, rows chosen
    for an earlier label count towards later ones, so every label ends up with at least ``shots``
    rows carrying it (co-occurring labels may get more). Raises DataError naming the first label
    with fewer than ``shots`` examples.
    """
    by_label: dict[str, list[int]] = {label: [] for label in labels}
    for i, ex in enumerate(examples):
        for label in ex.labels:
            by_label[label].append(i)
    short = [(label, len(rows)) for label, rows in by_label.items() if len(rows) < shots]
    if short:
        label, count = short[0]
        raise DataError(
            f"{path}: --shots {shots}: label {label!r} has only {count} example(s); "
            f"lower --shots to {min(n for _, n in short)} or add examples"
        )
    rng = random.Random(seed)
    chosen: set[int] = set()
    for label in labels:
        # Rows already chosen for an earlier label count towards this one (multi-label).
        have = [i for i in by_label[label] if i in chosen]
        pool = [i for i in by_label[label] if i not in chosen]
        rng.shuffle(pool)
        chosen.update(pool[: max(0, shots - len(have))])
    sampled = [ex for i, ex in enumerate(examples) if i in chosen]
    rest = [ex for i, ex in enumerate(examples) if i not in chosen]
    return sampled, rest
