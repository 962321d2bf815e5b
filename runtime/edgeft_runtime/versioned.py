"""Reading a versioned JSON file: a bundle's manifest, a bench report, a run folder's run file.

Each of these files names its ``format`` and a ``schema_version`` MAJOR.MINOR: a newer minor only
adds keys (readers ignore them), a different major is refused. One reader checks all of that, so
that every such file fails the same way: one message naming the file, what is wrong and what to do.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import BundleError


@dataclass(frozen=True)
class JsonFormat:
    """What a versioned JSON file must hold, and what to tell a user whose file does not."""

    name: str  # the value of its "format" field
    version: str  # the MAJOR.MINOR this code writes; files of another major are refused
    what: str  # what the file is, for "this is not ...": "an edgeft bundle manifest"
    reader: str  # who reads it, for "newer than this ... supports": "runtime"
    upgrade: str  # what to do with a file of a newer major
    remake: str  # what to do with a damaged file, or one of an older major
    required: tuple[str, ...] = ()  # fields it must have besides format and schema_version


def parse_version(text: Any, where: str, error: type[Exception] = BundleError) -> tuple[int, int]:
    """``"1.2"`` -> ``(1, 2)``; anything else is ``error`` naming ``where``."""
    try:
        major, minor = (int(p) for p in str(text).split("."))
    except ValueError:
        raise error(f"{where}: schema_version {text!r} is not of the form MAJOR.MINOR") from None
    return major, minor


def read_json(path: Path, remake: str, error: type[Exception] = BundleError) -> Any:
    """The JSON value in ``path``; ``error`` naming the file when it is not UTF-8 JSON."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise error(f"{path}: not valid JSON ({e}); {remake}") from None


def read_versioned(path: str | Path, spec: JsonFormat, error: type[Exception] = BundleError) -> dict[str, Any]:
    """The JSON object in ``path``, checked against ``spec``: format, schema major version and the
    required fields. The caller says first what a missing file means (it knows where it looked)."""
    path = Path(path)
    data = read_json(path, spec.remake, error)
    if not isinstance(data, dict) or data.get("format") != spec.name:
        raise error(f"{path}: field 'format' is not {spec.name!r}; this is not {spec.what}")
    check_version(data.get("schema_version"), spec, str(path), error)
    missing = [key for key in spec.required if key not in data]
    if missing:
        raise error(f"{path}: missing field(s) {', '.join(missing)}; the file is incomplete, {spec.remake}")
    return data


def check_version(found: Any, spec: JsonFormat, where: str, error: type[Exception] = BundleError) -> None:
    """Refuse a schema_version whose major differs from ``spec.version``'s."""
    major, _ = parse_version(found, where, error)
    supported, _ = parse_version(spec.version, spec.reader, error)
    if major > supported:
        raise error(f"{where}: schema_version {found} is newer than this {spec.reader} supports ({spec.version}); {spec.upgrade}")
    if major < supported:
        raise error(f"{where}: schema_version {found} is older than this {spec.reader} supports ({spec.version}); {spec.remake}")
