"""The values of a manifest's fields: every number and name the runtime reads, checked once, on load.

A manifest is data from outside (a download, a copy, a hand edit). ``versioned.read_versioned``
checks its format and version; the values here are checked before any of them is used, with the
same checks as the command-line options (``options.Whole``, ``Between``, ...), so a field of the
wrong type, not finite or out of range is one BundleError naming the field, never an exception
from deep inside tokenisation, onnxruntime or the device check. The JavaScript runtime holds the
same table (``runtime-js/src/core/manifest.js`` ``checkValues``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import BundleError
from .options import Between, Check, Whole, show

MAX_TOKENS = 1 << 20  # far above any encoder's positions; stops absurd lengths before allocation
MAX_BATCH = 1 << 16

_FIX = "the manifest is damaged or hand-edited; re-export the bundle"


@dataclass(frozen=True)
class Kind(Check):
    """A JSON value of one kind: "text" (a non-empty string), "texts" (a list of strings),
    "object", or "list or object"."""

    kind: str

    def problem(self, value: Any) -> str | None:
        ok = {
            "text": isinstance(value, str) and bool(value),
            "texts": isinstance(value, list) and all(isinstance(v, str) for v in value),
            "object": isinstance(value, dict),
            "list or object": isinstance(value, (list, dict)),
            "variants": isinstance(value, dict) and bool(value),
        }[self.kind]
        return None if ok else f"give {self.describe()}"

    def describe(self) -> str:
        return {"text": "a non-empty string", "texts": "a list of strings", "object": "an object", "variants": "an object with at least one variant"}.get(
            self.kind, f"a {self.kind}"
        )


def count(low: int, high: int) -> tuple[Check, ...]:
    return (Whole(), Between(low, high))


# field (dotted path into the manifest) -> (checks, required). Optional fields are checked when present.
FIELDS: dict[str, tuple[tuple[Check, ...], bool]] = {
    "task": ((Kind("text"),), True),
    "tokenizer": ((Kind("text"),), True),
    "max_length": (count(1, MAX_TOKENS), True),
    "inputs": ((Kind("list or object"),), True),
    "outputs": ((Kind("object"),), True),
    "variants": ((Kind("variants"),), True),
    "files": ((Kind("object"),), True),
    "labels": ((Kind("texts"),), False),
    "threshold": ((Between(0, 1),), False),
    "static_shape": ((Kind("object"),), False),
    "static_shape.batch": (count(1, MAX_BATCH), False),
    "static_shape.sequence": (count(1, MAX_TOKENS), False),
    "ner": ((Kind("object"),), False),
    "ner.stride": (count(0, MAX_TOKENS), False),
    "embedding_dim": (count(1, MAX_TOKENS), False),
    "fill_mask": ((Kind("object"),), False),
    "fill_mask.mask_token_id": (count(0, 1 << 31), False),
    "parity": ((Kind("object"),), False),
    "parity.max_drop": ((Between(0, 100),), False),
    "reference": ((Kind("object"),), False),
    "reference.max_drop": ((Between(0, 100),), False),
    "reference.samples": (count(0, 1 << 31), False),
}


def _lookup(manifest: dict[str, Any], dotted: str) -> tuple[bool, Any]:
    node: Any = manifest
    for key in dotted.split("."):
        if not isinstance(node, dict) or node.get(key) is None:
            return False, None
        node = node[key]
    return True, node


def check_values(manifest: dict[str, Any], where: str | Path) -> None:
    """Raise BundleError naming the first field of ``manifest`` whose value is unusable."""
    for name, (checks, required) in FIELDS.items():
        present, value = _lookup(manifest, name)
        if not present:
            if required:
                raise BundleError(f"{where}: field {name!r} is missing or null; {_FIX}")
            continue
        for check in checks:
            problem = check.problem(value)
            if problem:
                raise BundleError(f"{where}: field {name!r} is {_show(value)}: {problem}; {_FIX}")
    _check_variants(manifest, where)
    _check_files(manifest, where)


def _check_variants(manifest: dict[str, Any], where: str | Path) -> None:
    for name, spec in manifest["variants"].items():
        if not isinstance(spec, dict) or Kind("text").problem(spec.get("file")):
            raise BundleError(f"{where}: field 'variants.{name}.file' is missing or not a file name; {_FIX}")
    default = manifest.get("default_variant")
    if default is not None and default not in manifest["variants"]:
        raise BundleError(f"{where}: field 'default_variant' is {_show(default)}, not one of the variants ({', '.join(manifest['variants'])}); {_FIX}")


def _check_files(manifest: dict[str, Any], where: str | Path) -> None:
    for name, entry in manifest["files"].items():
        if not isinstance(entry, dict) or not isinstance(entry.get("sha256"), str):
            raise BundleError(f"{where}: field 'files.{name}' has no sha256; {_FIX}")


def _show(value: Any) -> str:
    if isinstance(value, (dict, list)):
        return type(value).__name__
    text = repr(value) if isinstance(value, str) else show(value)
    return text if len(text) <= 40 else text[:37] + "..."
