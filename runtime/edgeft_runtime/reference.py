"""The reference set a bundle carries: held-out texts, their gold targets, and the PyTorch
original's answers on them, so that any device can check the bundle without torch
(``edgeft_runtime.check``).

The answers are stored as *observations*: what this module computes from a model's raw outputs,
by the same functions at export (from PyTorch's outputs) and on the device (from the bundle's).
So the device compares like with like, and computes PyTorch's metric on the same examples with
the same code as its own.

What each task stores and how it is compared: ``reference_tasks`` (one object per task). Arrays
are ``.npy`` files, loaded with ``allow_pickle=False``; the rest is JSON.

On disk: ``reference/texts.json`` (``{"texts", "gold", ...JSON observations}``) and
``reference/<name>.npy``; the manifest's ``reference`` entry names them, and ``files`` lists them
with their sha256 like every other file.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from .constants import MANIFEST_FILE, REFERENCE_DIR, REFERENCE_TEXTS_FILE
from .errors import BundleError
from .reference_tasks import task_of


@dataclass
class ReferenceSet:
    """Texts, gold targets (None where the data had none) and the reference's observations."""

    task: str
    texts: list[str]
    gold: Any
    observed: dict[str, Any]
    info: dict[str, Any] = field(default_factory=dict)  # the manifest's ``reference`` entry

    def __len__(self) -> int:
        return len(self.texts)

    def head(self, n: int) -> "ReferenceSet":
        """The first ``n`` examples (a shorter check, e.g. on a slow device or under emulation)."""
        if n >= len(self):
            return self
        obs, gold = task_of(self.task).head(self.observed, self.gold, n)
        # The exporting machine's figures are for the whole set, not for its first n examples.
        info = {key: value for key, value in self.info.items() if key != "exporter"}
        return ReferenceSet(self.task, self.texts[:n], gold, obs, {**info, "samples": n})


def observe(model: Any, texts: Sequence[str], reference: ReferenceSet | None = None) -> dict[str, Any]:
    """A loaded bundle model's observations on ``texts``, as the reference set stores them."""
    return task_of(model.task, model.bundle_dir).observe(model, texts, reference)


# --- Files -------------------------------------------------------------------------------------


def save_reference(folder: str | Path, task: str, texts: Sequence[str], gold: Any, observed: dict[str, Any], info: dict[str, Any]) -> dict[str, Any]:
    """Write the reference set into a bundle folder being built; return the manifest's ``reference`` entry.

    info: what else the entry says (where the texts came from, the metric, the limits).
    """
    folder = Path(folder)
    (folder / REFERENCE_DIR).mkdir(exist_ok=True)
    arrays = {k: v for k, v in observed.items() if isinstance(v, np.ndarray)}
    document = {"texts": list(texts), "gold": _jsonable(gold), **{k: v for k, v in observed.items() if k not in arrays}}
    (folder / REFERENCE_TEXTS_FILE).write_text(json.dumps(document, ensure_ascii=False) + "\n", encoding="utf-8")
    files = {}
    for name, array in arrays.items():
        rel = f"{REFERENCE_DIR}/{name}.npy"
        np.save(folder / rel, np.ascontiguousarray(array), allow_pickle=False)
        files[name] = rel
    return {"task": task, "samples": len(texts), "texts": REFERENCE_TEXTS_FILE, "arrays": files, "gold": gold is not None, **info}


def _jsonable(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, np.ndarray):
        return value.tolist()
    return [_jsonable(v) if isinstance(v, np.ndarray) else v for v in value]


def reference_files(entry: dict[str, Any]) -> list[str]:
    """Every file a manifest's ``reference`` entry names."""
    return [entry["texts"], *entry.get("arrays", {}).values()]


def load_reference(bundle_dir: str | Path, manifest: dict[str, Any]) -> ReferenceSet | None:
    """The bundle's reference set, its files verified against the manifest; None when it has none."""
    from .manifest import verify_file

    entry = manifest.get("reference")
    if not entry:
        return None
    bundle_dir = Path(bundle_dir)
    where = bundle_dir / MANIFEST_FILE
    try:
        texts_path = verify_file(bundle_dir, entry["texts"], manifest)
        document = json.loads(texts_path.read_text(encoding="utf-8"))
        observed: dict[str, Any] = {k: v for k, v in document.items() if k not in ("texts", "gold")}
        for name, rel in entry.get("arrays", {}).items():
            data = verify_file(bundle_dir, rel, manifest).read_bytes()
            observed[name] = np.load(io.BytesIO(data), allow_pickle=False)
    except (KeyError, TypeError, AttributeError) as e:
        raise BundleError(f"{where}: field 'reference' is malformed ({e!r}); re-export the bundle or strip the reference set") from None
    except (ValueError, json.JSONDecodeError, UnicodeDecodeError) as e:
        raise BundleError(f"{where}: a reference-set file cannot be read ({e}); re-export the bundle") from None
    texts = document.get("texts")
    if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
        raise BundleError(f"{bundle_dir / entry['texts']}: 'texts' is not a list of strings; re-export the bundle")
    reference = ReferenceSet(manifest["task"], texts, document.get("gold"), observed, dict(entry))
    # Refuse a reference set that lacks what the check reads, holds numbers no model outputs, or
    # whose parts do not fit together (a damaged or hand-edited bundle).
    misfit = task_of(reference.task, where).misfit(observed, reference.gold, len(texts))
    if misfit is None and bool(entry.get("gold")) != (reference.gold is not None):
        misfit = f"field 'reference.gold' says the set {'has' if entry.get('gold') else 'has no'} gold targets, its texts file disagrees"
    if misfit:
        raise BundleError(f"{where}: {misfit}; re-export the bundle, or strip the reference set (`edgeft bundle strip-reference`)")
    return reference
