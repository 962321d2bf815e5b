"""``load(bundle)``: read the manifest, verify the files, open the session, pick the task class."""

from __future__ import annotations

import importlib
import threading
from pathlib import Path
from typing import Sequence

from .base import BundleModel
from .constants import ARCHIVE_SUFFIXES, ENGINE_ONNXRUNTIME, MANIFEST_FILE, OPTIONAL_ENGINES, TASK_CLASSIFIER, TASK_EMBEDDING, TASK_FILL_MASK, TASK_NER, TASK_SETFIT
from .errors import BundleError
from .manifest import inside_bundle, read_manifest, verify_file
from .session import create_session
from .tokenizer import BundleTokenizer

# Task name in the manifest -> (module, class) that serves it. Imported on first use, as is the
# archive module below: an app serving one classifier should not pay, at every cold start, for
# the NER decoder or tarfile/zipfile (about 30 ms of imports measured on a 2-core EPYC).
TASK_CLASSES: dict[str, tuple[str, str]] = {
    TASK_CLASSIFIER: ("classifier", "Classifier"),
    TASK_SETFIT: ("classifier", "Classifier"),
    TASK_NER: ("tagger", "Tagger"),
    TASK_FILL_MASK: ("fill_mask", "FillMask"),
    TASK_EMBEDDING: ("embedder", "Embedder"),
}


def task_class(task: str) -> type[BundleModel]:
    module, name = TASK_CLASSES[task]
    return getattr(importlib.import_module(f".{module}", __package__), name)


def resolve_variant(manifest: dict, variant: str, bundle_dir: Path) -> tuple[str, str]:
    """Map ``variant`` ("auto", a variant name, or a file listed in the bundle) to (name, file)."""
    variants = manifest["variants"]
    if variant == "auto":
        variant = variant_for_cpu(variants) or manifest.get("default_variant") or next(iter(variants))
    if variant in variants:
        return variant, variants[variant]["file"]
    for name, spec in variants.items():  # a file name: e.g. the .ort copy of a variant
        if variant in (spec.get("file"), spec.get("ort_file")):
            return name, variant
    raise BundleError(
        f"{bundle_dir / MANIFEST_FILE}: no variant {variant!r}; this bundle has {', '.join(sorted(variants))}"
    )


def engine_of(spec: dict) -> str:
    """The engine that runs a variant: ``spec["engine"]``, onnxruntime when absent."""
    return str(spec.get("engine") or ENGINE_ONNXRUNTIME)


def engine_installed(engine: str) -> bool:
    """Whether ``engine`` can run here (found without importing it: loading another variant must
    not pay for, or depend on, an optional engine)."""
    if engine == ENGINE_ONNXRUNTIME:
        return True
    import importlib.util

    return engine in OPTIONAL_ENGINES and importlib.util.find_spec(engine) is not None


def runnable_variants(manifest: dict) -> list[str]:
    """The variants whose engine is installed here, in manifest order: what ``edgeft check`` and
    ``edgeft bench`` run when not told which (an OpenVINO variant where openvino is installed)."""
    return [name for name, spec in manifest["variants"].items() if engine_installed(engine_of(spec))]


def variant_for_cpu(variants: dict, flags: set[str] | None = None, machine: str | None = None, installed=engine_installed) -> str | None:
    """The variant ``load(variant="auto")`` picks: the first, in the manifest's order, whose
    ``suits`` rules match this CPU and whose engine is installed, when the bundle offers more than
    one such variant; else None (the default variant serves).

    The exporter writes the variants that name CPUs fastest first (measured on the exporting
    machine where it runs their kernels; see ``edgeft_exporters.variants.order_variants``), so the
    first match is the fastest variant that suits the CPU. Every variant in a bundle passed the
    export's gate (or, built for another CPU, carries the reference set its device checks it on).
    The CPU is read only for bundles that offer a choice, so other loads pay nothing for it.
    """
    choices = [name for name, spec in variants.items() if spec.get("suits") and installed(engine_of(spec))]
    if len(choices) < 2:
        return None
    from .device import arch_family, cpu_flags, rule_matches

    arch, flags = arch_family(machine), cpu_flags() if flags is None else flags
    for name in choices:
        if any(rule_matches(rule, arch, flags) for rule in variants[name]["suits"]):
            return name
    return None


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
    variant: "auto" (the int8 build that suits this CPU when the bundle has several, see
        ``variant_for_cpu``; else the manifest's default, int8 when exported with ``--int8``),
        a variant name ("fp32", "int8", "int8_avx2", ...), or the name of a model file in the
        bundle (e.g. ``model_int8.ort``).
    threads / inter_op_threads / providers / spinning / memory_arena: passed to the onnxruntime
        session (see session.create_session); None keeps onnxruntime's default.
    verify: check the sha256 of the tokenizer and model file against the manifest (on by default;
        costs a few milliseconds).
    """
    bundle_dir = Path(bundle)
    if str(bundle_dir).lower().endswith(ARCHIVE_SUFFIXES) and bundle_dir.is_file():
        from .archive import cached_extract

        bundle_dir = cached_extract(bundle_dir, cache_dir)
    manifest = read_manifest(bundle_dir)
    task = manifest["task"]
    if task not in TASK_CLASSES:
        raise BundleError(
            f"{bundle_dir / MANIFEST_FILE}: task {task!r} is not supported by this runtime "
            f"(supported: {', '.join(sorted(TASK_CLASSES))}); upgrade edgeft-runtime"
        )
    cls = task_class(task)
    name, model_file = resolve_variant(manifest, variant, bundle_dir)
    static = manifest.get("static_shape") or {}
    tokenizer_file = manifest["tokenizer"]
    if verify:
        tokenizer_path = verify_file(bundle_dir, tokenizer_file, manifest)
        # Hash the model file (hashlib releases the GIL) while tokenizer.json is parsed: the two
        # are most of load()'s time. The session is opened only after the hash has matched.
        model_check = _Background(verify_file, bundle_dir, model_file, manifest)
        tokenizer = BundleTokenizer(tokenizer_path, manifest["max_length"], fixed_length=static.get("sequence"))
        model_path = model_check.result()
    else:
        model_path = inside_bundle(bundle_dir, model_file)
        tokenizer = BundleTokenizer(inside_bundle(bundle_dir, tokenizer_file), manifest["max_length"], fixed_length=static.get("sequence"))
    spec = manifest["variants"][name]
    if spec.get("weights"):  # an OpenVINO IR's .bin beside its .xml: inside the bundle, and verified
        inside_bundle(bundle_dir, spec["weights"])
        if verify:
            verify_file(bundle_dir, spec["weights"], manifest)
    session = create_session(
        model_path,
        threads=threads,
        inter_op_threads=inter_op_threads,
        providers=providers,
        spinning=spinning,
        memory_arena=memory_arena,
        engine=engine_of(spec),
        engine_options=spec.get("engine_options"),
    )
    return cls(bundle_dir, manifest, session, tokenizer, name)


class _Background:
    """Run ``fn(*args)`` in a thread; ``result()`` joins it and returns its value or raises its error.

    A plain thread rather than concurrent.futures, whose import alone costs 8 ms of start-up here.
    """

    def __init__(self, fn, *args):
        self._value = self._error = None
        self._thread = threading.Thread(target=self._run, args=(fn, args), daemon=True)
        self._thread.start()

    def _run(self, fn, args) -> None:
        try:
            self._value = fn(*args)
        except BaseException as e:  # re-raised in the caller's thread by result()
            self._error = e

    def result(self):
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._value
