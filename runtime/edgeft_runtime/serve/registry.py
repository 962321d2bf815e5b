"""The served bundles: loading, the device check at start-up, and verified reloads.

A bundle is served only once its files match their sha256 and, unless ``--no-check``, the
loaded variant passed the device check (``edgeft_runtime.check``) on this machine. A bundle that
fails stays unserved (503, with the reason in the log and in ``/ready``); a reload that fails
keeps the previous model serving.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from ..errors import BundleError
from .batcher import Batcher
from .metrics import ServeMetrics
from .options import BundleSpec, ServeOptions
from .protocol import run_batch

log = logging.getLogger("edgeft_runtime.serve")


class Refused(Exception):
    """A bundle that may not be served here; the message says why and what to do."""


def open_bundle(spec: BundleSpec, options: ServeOptions) -> tuple[Any, dict[str, Any] | None]:
    """Verify, load and check ``spec``'s bundle; return (model, check summary or None with --no-check)."""
    from ..check import bundle_folder
    from ..loader import load
    from ..manifest import read_manifest, verify_bundle

    folder = bundle_folder(spec.path)
    manifest = read_manifest(folder)
    verify_bundle(folder, manifest)  # every file, the reference set included, before anything runs
    # Spinning intra-op threads would keep burning a core after each batch, taking it from the
    # event loop that parses the next requests: off.
    model = load(folder, variant=options.variant, threads=options.threads, spinning=False, verify=False)
    if not options.check:
        model.run_task(["warm-up"] if not model.required_tokens else [f"warm-up {model.required_tokens[0]}"])
        return model, None
    return model, device_check(model, folder, manifest, options.check_samples)


def device_check(model: Any, folder: Any, manifest: dict, samples: int | None) -> dict[str, Any]:
    """The device check of the loaded variant on the bundle's reference set; Refused when it fails."""
    from ..check import check_model, limits_of
    from ..reference import load_reference

    reference = load_reference(folder, manifest)
    if reference is None:
        raise Refused(
            "the bundle has no reference set, so its accuracy cannot be checked on this machine; "
            "re-export it with a reference set, or serve it unchecked with --no-check"
        )
    if samples is not None:
        reference = reference.head(samples)
    result = check_model(model, reference, limits_of(manifest))
    summary = {k: result.get(k) for k in ("samples", "label_agreement", "max_abs_diff", "metric", "value", "reference_value", "drop", "drop_limit", "passed")}
    if not result["passed"]:
        raise Refused(f"variant {model.variant} fails the device check on this machine: {'; '.join(result['failures'])}; "
                      "serve it anyway with --no-check")
    return summary


@dataclass
class Served:
    """One bundle in the service: its state, the model serving now and its batcher."""

    spec: BundleSpec
    state: str = "loading"  # loading | ready | failed
    reason: str | None = None
    model: Any = None
    check: dict[str, Any] | None = None
    batcher: Batcher | None = None
    loaded_at: float | None = None
    last_reload: dict[str, Any] | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def status(self) -> dict[str, Any]:
        model = self.model
        return {
            "state": self.state,
            "reason": self.reason,
            "bundle": str(self.spec.path),
            "task": getattr(model, "task", None),
            "variant": getattr(model, "variant", None),
            "checked": self.check is not None,
            "check": self.check,
            "last_reload": self.last_reload,
        }


class Registry:
    """Every served bundle, by name; the first is also served at the root."""

    def __init__(self, options: ServeOptions, metrics_factory=ServeMetrics):
        self.options = options
        self.models: dict[str, Served] = {s.name: Served(s) for s in options.bundles}
        self.root = options.bundles[0].name
        self.metrics = metrics_factory(self._queue_depths, self._readiness, options.max_batch)
        self.stopping = False  # set at shutdown: bundles not yet loaded are not loaded any more

    def _queue_depths(self):
        return [((name, ), float(s.batcher.queued if s.batcher else 0)) for name, s in self.models.items()]

    def _readiness(self):
        return [((name,), 1.0 if s.state == "ready" else 0.0) for name, s in self.models.items()]

    @property
    def ready(self) -> bool:
        return all(s.state == "ready" for s in self.models.values())

    def load_all(self) -> None:
        """Load and check every bundle, one after another (called from a background thread)."""
        for served in self.models.values():
            if self.stopping:
                served.state, served.reason = "failed", "the service stopped before this bundle was loaded"
                continue
            self._load(served)

    def _load(self, served: Served) -> None:
        start = time.perf_counter()
        try:
            model, check = open_bundle(served.spec, self.options)
        except Exception as e:  # noqa: BLE001 - any failure leaves this bundle unserved, not the others
            log.error("%s: not served: %s", served.spec.name, _reason(e))
            served.state, served.reason = "failed", _reason(e)
            return
        served.model, served.check, served.loaded_at = model, check, time.time()
        served.batcher = self._batcher(served)
        served.state, served.reason = "ready", None
        checked = f"device check passed ({_check_words(check)})" if check else "device check skipped (--no-check)"
        log.info("%s: serving %s (%s, variant %s) in %.1f s; %s", served.spec.name, served.spec.path, model.task, model.variant, time.perf_counter() - start, checked)

    def _batcher(self, served: Served) -> Batcher:
        name, size = served.spec.name, self.options.max_batch

        def run(key, texts):
            return run_batch(served.model, key, texts, size)  # the model serving now: reload swaps it

        def on_batch(count: int, seconds: float) -> None:
            self.metrics.batch_size.observe(count, name)
            self.metrics.batch_time.observe(seconds, name)
            self.metrics.texts.inc(name, amount=count)

        return Batcher(name, run, max_batch=size, max_wait=self.options.max_wait_ms / 1000, max_queue=self.options.max_queue, on_batch=on_batch, workers=self.options.batch_workers)

    def reload(self, name: str) -> dict[str, Any]:
        """Verify and check the bundle on disk again; serve it only if it passes (blocking)."""
        served = self.models[name]
        with served.lock:
            start = time.perf_counter()
            try:
                model, check = open_bundle(served.spec, self.options)
                if served.model is not None and model.task != served.model.task:
                    raise Refused(f"the bundle's task changed from {served.model.task} to {model.task}; restart the service to serve another task")
            except Exception as e:  # noqa: BLE001 - whatever went wrong, the previous model keeps serving
                reason = _reason(e)
                keeping = "keeps serving the previous model" if served.state == "ready" else "still not served"
                served.last_reload = {"ok": False, "reason": reason, "at": time.time()}
                self.metrics.reloads.inc(name, "failed")
                log.error("%s: reload refused, %s: %s", name, keeping, reason)
                return {"reloaded": False, "reason": reason, "serving": served.state == "ready"}
            served.model, served.check, served.loaded_at = model, check, time.time()
            if served.batcher is None:
                served.batcher = self._batcher(served)
            served.state, served.reason = "ready", None
            served.last_reload = {"ok": True, "at": time.time()}
            self.metrics.reloads.inc(name, "ok")
            log.info("%s: reloaded %s (variant %s) in %.1f s; %s", name, served.spec.path, model.variant, time.perf_counter() - start,
                     f"device check passed ({_check_words(check)})" if check else "device check skipped (--no-check)")
            return {"reloaded": True, "serving": True}

    def close(self, timeout: float | None = None) -> None:
        """Run what is queued, then stop every batcher."""
        for served in self.models.values():
            if served.batcher is not None:
                served.batcher.close(timeout)


def _reason(error: Exception) -> str:
    """One line for the log and /ready: the message of errors meant for users, else the type too."""
    text = " ".join(str(error).split())
    return text if isinstance(error, (BundleError, Refused, OSError)) else f"{type(error).__name__}: {text}"


def _check_words(check: dict[str, Any] | None) -> str:
    if not check:
        return "-"
    words = f"{check['samples']} reference texts, agreement {100 * check['label_agreement']:.1f}%"
    if check.get("metric"):
        words += f", {check['metric']} {check['value']:.2f} vs PyTorch {check['reference_value']:.2f}"
    return words
