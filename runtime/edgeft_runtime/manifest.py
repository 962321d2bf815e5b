"""Reading, checking and verifying a bundle's ``edgeft.json`` manifest."""

from __future__ import annotations

import hashlib
import os
import stat
import warnings
from pathlib import Path
from typing import Any

from .constants import BUNDLE_FORMAT, MANIFEST_FILE, SCHEMA_VERSION
from .errors import BundleError
from .manifest_values import check_values
from .versioned import JsonFormat, read_versioned

# Every top-level key a schema 1.x manifest may hold. Anything else came from a newer writer:
# ignored, with a warning, so old runtimes keep working with bundles that add information.
KNOWN_KEYS = frozenset(
    {
        "format",
        "schema_version",
        "edgeft_version",
        "created",
        "task",
        "labels",
        "problem_type",
        "threshold",
        "max_length",
        "inputs",
        "outputs",
        "variants",
        "default_variant",
        "tokenizer",
        "pooling",
        "normalize",
        "embedding_dim",
        "ner",
        "fill_mask",
        "static_shape",
        "mobile",
        "parity",
        "reference",
        "metrics",
        "source",
        "files",
        "transformers_js",
    }
)
REQUIRED_KEYS = ("format", "schema_version", "task", "max_length", "inputs", "outputs", "variants", "tokenizer", "files")

_CHUNK = 1 << 20


def sha256_file(path: str | Path) -> str:
    """Hex sha256 of a file, read in 1 MiB chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


MANIFEST_FORMAT = JsonFormat(
    name=BUNDLE_FORMAT,
    version=SCHEMA_VERSION,
    what="an edgeft bundle manifest",
    reader="runtime",
    upgrade="upgrade edgeft-runtime (pip install -U edgeft-runtime)",
    remake="re-export the bundle with a current edgeft (`edgeft export`)",
    required=REQUIRED_KEYS,
)


def read_manifest(bundle_dir: str | Path) -> dict[str, Any]:
    """Load and check ``edgeft.json`` from a bundle folder.

    Raises BundleError when the folder or manifest is missing or unreadable, when required keys
    are absent, or when the schema's major version is not the one this runtime reads.
    Unknown top-level keys produce one warning and are otherwise ignored.
    """
    bundle_dir = Path(bundle_dir)
    if not bundle_dir.exists():
        raise BundleError(f"{bundle_dir}: no such bundle folder; pass the folder `edgeft export` wrote")
    if not bundle_dir.is_dir():
        raise BundleError(f"{bundle_dir}: a bundle is a folder, not a file; pass the folder `edgeft export` wrote")
    path = bundle_dir / MANIFEST_FILE
    if not path.is_file():
        raise BundleError(f"{path}: missing; this folder is not an edgeft bundle (re-run `edgeft export`)")
    inside_bundle(bundle_dir, MANIFEST_FILE)
    manifest = read_versioned(path, MANIFEST_FORMAT)
    check_values(manifest, path)
    unknown = sorted(set(manifest) - KNOWN_KEYS)
    if unknown:
        warnings.warn(
            f"{path}: ignoring unknown manifest field(s) {', '.join(unknown)} (written by a newer edgeft?)",
            stacklevel=2,
        )
    return manifest


def inside_bundle(bundle_dir: str | Path, name: str) -> Path:
    """The path of bundle file ``name``, refused (without being read) when its name or the file it
    resolves to, symlinks followed, lies outside the bundle folder."""
    bundle_dir = Path(bundle_dir)
    if not isinstance(name, str) or not name or Path(name).is_absolute() or ".." in Path(name).parts or "\\" in name:
        raise BundleError(f"{bundle_dir / MANIFEST_FILE}: file name {name!r} points outside the bundle; refusing it")
    path = bundle_dir / name
    if "/" not in name:
        # A file at the top level that is no symlink lies in the folder whatever the folder itself
        # resolves to: one lstat, the cost of every load (realpath walks every component).
        try:
            if not stat.S_ISLNK(os.lstat(path).st_mode):
                return path
        except OSError:
            return path  # missing: the caller says so
    # realpath follows every symlink on the way (the file's and its folders'); the folder itself
    # may be a link (models/x -> /data/x), so it is resolved too and the two compared.
    target, root = os.path.realpath(path), os.path.realpath(bundle_dir)
    if target != root and not target.startswith(root.rstrip(os.sep) + os.sep):
        raise BundleError(
            f"{path}: resolves to {target}, outside the bundle folder (a symlink?); refusing it unread: "
            "copy the real file into the bundle"
        )
    return path


def verify_file(bundle_dir: str | Path, name: str, manifest: dict[str, Any]) -> Path:
    """Check that ``name`` is listed in the manifest, lies inside the bundle folder (symlinks
    resolved) and that its sha256 matches; return its path."""
    bundle_dir = Path(bundle_dir)
    path = inside_bundle(bundle_dir, name)
    entry = manifest["files"].get(name)
    if entry is None:
        raise BundleError(f"{bundle_dir / MANIFEST_FILE}: file {name!r} is not listed under 'files'; the bundle is incomplete")
    if not path.is_file():
        raise BundleError(f"{path}: missing from the bundle; copy the whole bundle folder or re-run `edgeft export`")
    actual = sha256_file(path)
    if actual != entry.get("sha256"):
        raise BundleError(
            f"{path}: sha256 {actual[:12]}… does not match the manifest ({str(entry.get('sha256'))[:12]}…); "
            "the file was modified or corrupted, re-copy or re-export the bundle"
        )
    return path


def verify_bundle(bundle_dir: str | Path, manifest: dict[str, Any] | None = None) -> list[str]:
    """Verify every file the manifest lists; return their names. Raises BundleError on the first problem."""
    manifest = manifest if manifest is not None else read_manifest(bundle_dir)
    for name in manifest["files"]:
        verify_file(bundle_dir, name, manifest)
    return sorted(manifest["files"])
