"""Unlabelled text for masked-LM pretraining: plain text, JSONL, several files or a folder.

Plain text holds one document per line, or documents separated by blank lines (``auto`` picks
the second when the file has a blank line between two lines of text). JSONL holds one object per
line with the text in a field, and a CSV/TSV file (a task's own training file: task-adaptive
pretraining) one document per row in a column of that name. Every error names the file (and line
where there is one).
"""

from __future__ import annotations

import json
import logging
import random
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from .classification import JSONL_SUFFIXES, TABLE_SUFFIXES, iter_records, read_text_file
from ..errors import DataError

log = logging.getLogger(__name__)

# How a plain-text file is cut into documents.
DOCUMENT_MODES = ("auto", "line", "blank")

_BLANK_SEPARATED = re.compile(r"\S[^\n]*\n[ \t\r\f\v]*\n\s*\S")


@dataclass
class Document:
    """One document of a corpus: its text, and where it starts."""

    text: str
    source: str
    line: int


def corpus_files(paths: Iterable[str | Path]) -> list[Path]:
    """Expand files and folders into the list of files to read (a folder: every non-hidden file
    under it, sorted); refuse missing paths and folders without files."""
    files: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if not path.exists():
            raise DataError(f"{path}: corpus file or folder not found")
        if path.is_dir():
            found = sorted(
                p for p in path.rglob("*")
                if p.is_file() and not any(part.startswith(".") for part in p.relative_to(path).parts)
            )
            if not found:
                raise DataError(f"{path}: folder has no files; pass text or JSONL files, or a folder of them")
            files.extend(found)
        else:
            files.append(path)
    if not files:
        raise DataError("no corpus given: pass --corpus FILE_OR_FOLDER (repeatable)")
    return files


def _plain_documents(path: Path, text: str, mode: str) -> list[Document]:
    if mode == "auto":
        mode = "blank" if _BLANK_SEPARATED.search(text) else "line"
    docs: list[Document] = []
    if mode == "line":
        for number, line in enumerate(text.splitlines(), start=1):
            if line.strip():
                docs.append(Document(" ".join(line.split()), str(path), number))
        return docs
    start, lines = 0, []
    for number, line in enumerate(text.splitlines() + [""], start=1):
        if line.strip():
            start = start or number
            lines.append(line.strip())
        elif lines:
            docs.append(Document(" ".join(" ".join(lines).split()), str(path), start))
            start, lines = 0, []
    return docs


def _record_documents(path: Path, text_field: str) -> list[Document]:
    docs: list[Document] = []
    empty = 0
    for number, record in iter_records(path):
        if text_field not in record:
            fields = ", ".join(map(str, record)) or "(none)"
            raise DataError(f"{path}:{number}: no field or column {text_field!r} (found: {fields}); pass --text-field NAME")
        value = record[text_field]
        if not isinstance(value, str):
            raise DataError(f"{path}:{number}: field {text_field!r} must be text, got {json.dumps(value)[:40]}")
        if value.strip():
            docs.append(Document(" ".join(value.split()), str(path), number))
        else:
            empty += 1
    if empty:
        log.warning("%s: skipped %d record(s) with empty %r", path, empty, text_field)
    return docs


def read_corpus_file(path: str | Path, *, text_field: str = "text", documents: str = "auto") -> list[Document]:
    """The documents of one file: JSONL (.jsonl/.ndjson/.json) and CSV/TSV by ``text_field``, anything
    else as UTF-8 plain text cut by ``documents`` (auto | line | blank). A file without text is an error."""
    if documents not in DOCUMENT_MODES:
        raise DataError(f"documents={documents!r}: choose one of {', '.join(DOCUMENT_MODES)}")
    path = Path(path)
    if path.suffix.lower() in JSONL_SUFFIXES or path.suffix.lower() in TABLE_SUFFIXES:
        docs = _record_documents(path, text_field)
    else:
        docs = _plain_documents(path, read_text_file(path), documents)
    if not docs:
        raise DataError(f"{path}: no text in this corpus file; remove it or fill it")
    return docs


def read_corpus(paths: Iterable[str | Path], *, text_field: str = "text", documents: str = "auto") -> list[Document]:
    """Every document of every file of ``paths`` (files and folders), in order."""
    docs: list[Document] = []
    files = corpus_files(paths)
    for path in files:
        docs.extend(read_corpus_file(path, text_field=text_field, documents=documents))
    log.info("corpus: %d documents, %d words from %d file(s)", len(docs), sum(len(d.text.split()) for d in docs), len(files))
    return docs


def split_documents(docs: list[Document], ratio: float, seed: int) -> tuple[list[Document], list[Document]]:
    """Hold out ``ratio`` of the documents (at least one), seeded; returns (train, held_out) in corpus order."""
    if len(docs) < 2:
        raise DataError(
            f"{docs[0].source if docs else 'corpus'}: one document cannot be split for a held-out share; "
            "add documents (one per line or blank-line separated) or pass --eval FILE"
        )
    order = list(range(len(docs)))
    random.Random(seed).shuffle(order)
    k = min(max(1, int(round(len(docs) * ratio))), len(docs) - 1)
    held = set(order[:k])
    return [d for i, d in enumerate(docs) if i not in held], [d for i, d in enumerate(docs) if i in held]
