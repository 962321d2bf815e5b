"""Removing the reference set from an existing bundle (its held-out texts ship with the bundle).

The bundle is rebuilt beside itself and swapped in whole (``staging.StagedDir``): the kept files
are hard links (copies where links are impossible), the model card and the manifest are written
anew, the result is verified, and only then does it replace the old folder. A crash at any
point leaves either the old bundle or the new one, never a manifest that disagrees with its files.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

from edgeft_runtime.constants import MANIFEST_FILE, MODEL_CARD_FILE, REFERENCE_DIR
from edgeft_runtime.manifest import read_manifest, sha256_file, verify_bundle
from edgeft_runtime.reference import reference_files

from .bundle import model_card
from .errors import ExportError
from .staging import StagedDir


def strip_reference(bundle: str | Path) -> dict[str, Any]:
    """Remove the reference set from the bundle folder ``bundle`` and rewrite its manifest and
    model card; return the new manifest. Raises ExportError when there is nothing to remove."""
    folder = Path(bundle)
    if folder.is_file():
        raise ExportError(f"{folder}: strip-reference works on a bundle folder; unpack the archive, strip it, and pack it again")
    manifest = read_manifest(folder)
    entry = manifest.get("reference")
    leftovers = (folder / REFERENCE_DIR).exists()
    if not entry and not leftovers:
        raise ExportError(f"{folder}: this bundle has no reference set; nothing to remove")
    verify_bundle(folder, manifest)  # never rewrite hashes over files that were already damaged
    dropped = set(reference_files(entry)) if entry else set()
    new = {k: v for k, v in manifest.items() if k != "reference"}
    keep = [name for name in manifest["files"] if name not in dropped and not name.startswith(f"{REFERENCE_DIR}/")]
    stage = StagedDir(folder, overwrite=True)
    with stage as work:
        for name in keep:
            _link_or_copy(folder / name, work / name)
        files = {name: manifest["files"][name] for name in keep}
        if MODEL_CARD_FILE in files:
            os.unlink(work / MODEL_CARD_FILE)  # a link to the old card: write a new file, not through it
            (work / MODEL_CARD_FILE).write_text(model_card(new), encoding="utf-8")
            files[MODEL_CARD_FILE] = {"sha256": sha256_file(work / MODEL_CARD_FILE), "bytes": (work / MODEL_CARD_FILE).stat().st_size}
        new["files"] = files
        (work / MANIFEST_FILE).write_text(json.dumps(new, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        verify_bundle(work, read_manifest(work))
        stage.commit()
    return new


def _link_or_copy(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)
