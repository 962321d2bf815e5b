"""``load(bundle)``: read the manifest, verify the files, open the session, pick the task class."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from .archive import cached_extract, is_archive
from .base import BundleModel
from .classifier import Classifier
from .constants import MANIFEST_FILE, TASK_CLASSIFIER, TASK_FILL_MASK, TASK_NER, TASK_SETFIT
from .errors import BundleError
from .fill_mask import FillMask
from .manifest import read_manifest, verify_file
from .session import create_session
from .tagger import Tagger
from .tokenizer import BundleTokenizer

# task name in the manifest -> the class that serves it
TASK_CLASSES: dict[str, type[BundleModel]] = {
    TASK_CLASSIFIER: Classifier,
    TASK_SETFIT: Classifier,
    TASK_NER: Tagger,
    TASK_FILL_MASK: FillMask,
}


def resolve_variant(manifest: dict, variant: str, bundle_dir: Path) -> tuple[str, str]:
    """Map ``variant`` ("auto", a variant name, or a file listed in the bundle) to (name, file)."""
    variants = manifest["variants"]
    if variant == "auto":
        variant = manifest.get("default_variant") or next(iter(variants))
    if variant in variants:
        return variant, variants[variant]["file"]
    for name, spec in variants.items():  # a file name: e.g. the .ort copy of a variant
        if variant in (spec.get("file"), spec.get("ort_file")):
            return name, variant
    raise BundleError(
        f"{bundle_dir / MANIFEST_FILE}: no variant {variant!r}; this bundle has {', '.join(sorted(variants))}"
    )


def load(
    bundle: str | Path,
    *,
    variant: str = "auto",
    threads: int | None = None,
    inter_op_threads: int | None = None,
    providers: Sequence[str] | None = None,
    spinning: bool | None = None,
    memory_arena: bool | None = None,
    verify: bool = True,
    cache_dir: str | Path | None = None,
) -> BundleModel:
    """Load an edgeft bundle folder (or .zip / .tar.gz archive) and return the model for its task.

    bundle: the folder ``edgeft export`` wrote, or an archive of it (``edgeft export --archive``);
        an archive is unpacked safely once into ``cache_dir`` (default ``$EDGEFT_CACHE`` or
        ``~/.cache/edgeft/bundles``), keyed by its sha256.
    variant: "auto" (the manifest's default, int8 when exported with ``--int8``), "fp32", "int8",
        or the name of a model file in the bundle (e.g. ``model_int8.ort``).
    threads / inter_op_threads / providers / spinning / memory_arena: passed to the onnxruntime
        session (see session.create_session); None keeps onnxruntime's default.
    verify: check the sha256 of the tokenizer and model file against the manifest (on by default;
        costs a few milliseconds).
    """
    bundle_dir = Path(bundle)
    if is_archive(bundle_dir):
        bundle_dir = cached_extract(bundle_dir, cache_dir)
    manifest = read_manifest(bundle_dir)
    task = manifest["task"]
    cls = TASK_CLASSES.get(task)
    if cls is None:
        raise BundleError(
            f"{bundle_dir / MANIFEST_FILE}: task {task!r} is not supported by this runtime "
            f"(supported: {', '.join(sorted(TASK_CLASSES))}); upgrade edgeft-runtime"
        )
    name, model_file = resolve_variant(manifest, variant, bundle_dir)
    tokenizer_file = manifest["tokenizer"]
    if verify:
        model_path = verify_file(bundle_dir, model_file, manifest)
        tokenizer_path = verify_file(bundle_dir, tokenizer_file, manifest)
    else:
        model_path, tokenizer_path = bundle_dir / model_file, bundle_dir / tokenizer_file
    static = manifest.get("static_shape") or {}
    tokenizer = BundleTokenizer(tokenizer_path, manifest["max_length"], fixed_length=static.get("sequence"))
    session = create_session(
        model_path,
        threads=threads,
        inter_op_threads=inter_op_threads,
        providers=providers,
        spinning=spinning,
        memory_arena=memory_arena,
    )
    return cls(bundle_dir, manifest, session, tokenizer, name)
