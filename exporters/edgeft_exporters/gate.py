"""The parity gate: each exported variant against the PyTorch original on held-out data.

The reference runs once; every variant loaded through the real runtime is then checked against
it (label agreement, max |output difference| in probabilities as the device check computes it,
the task metric; ``max_abs_diff`` of the graph's raw outputs is what ``atol`` bounds). fp32 must match PyTorch within
``atol`` (an export that differs more is wrong, not imprecise); int8 may lose at most
``max_drop`` points of the task metric. Failures are ParityErrors that say what to try.

A model derived from another run (its vocabulary pruned to a domain's tokens) is exported and
checked like any other, and the run it came from is scored on the same held-out data as well
(``Original``): every variant, fp32 included, may then lose at most ``max_drop`` points against
that original too, so the gate sees what the derivation cost, not only what the export cost.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
from edgeft_runtime.device import cpu_model, cpu_target, relevant_cpu_flags
from edgeft_runtime.ops import agreement, max_abs_diff
from edgeft_runtime.parity_record import difference_key

from .errors import ParityError
from .parity import in_chunks, interleaved_latency
from .tasks import TaskExporter

REFERENCE_NAME = "pytorch-fp32"
LATENCY_SAMPLES = 32


def _run_one(model: Any, output: str, text: str) -> Any:
    return model.run_output([text], output)


@dataclass
class Original:
    """The run a derived model came from, scored on the gate's held-out data by its own PyTorch model."""

    scores: dict[str, Any]
    predictions: np.ndarray  # the task's predictions (per text, or per word for NER)
    about: dict[str, Any] = field(default_factory=dict)  # how the model was derived ("derivation", "corpus", ...), for the manifest


class ParityGate:
    """The held-out data, the reference's outputs on it, and the checks of each variant."""

    def __init__(self, task: TaskExporter, texts: Sequence[str], gold: Any, source: str, original: Original | None = None):
        self.task = task
        self.original = original
        self.texts = list(texts)
        self.gold = gold
        self.source = source
        forward, self.reference_one = task.reference()
        self.reference_out = in_chunks(forward, self.texts, "PyTorch reference")
        self.reference_pred = task.predictions(self.reference_out)
        self.reference_scores = task.score(self.reference_out, gold)
        # In the device check's terms (probabilities), for the output difference and the reference set.
        self.reference_observed = task.observe(self.reference_out)
        self.metric = task.metric_name

    def check(self, model) -> dict[str, Any]:
        """One loaded variant on the held-out data: its metric, scores, agreement and difference."""
        out = self.task.bundle_outputs(model, self.texts)
        scores = self.task.score(out, self.gold)
        return {
            "metric": scores[self.metric],
            "scores": scores,
            "label_agreement": agreement(self.reference_pred, self.task.predictions(out)),
            "max_abs_diff": max_abs_diff(self.reference_out, out),
            difference_key(self.task.bundle_task): self.probability_difference(out),
            **self.task.compare(self.reference_out, out),
            **self.against_original(scores, out),
        }

    def probability_difference(self, out: np.ndarray) -> float:
        """Max |difference| from PyTorch of what the runtime returns (the task's ``compared``): the
        figure ``edgeft check`` reports on the device, here on the whole held-out set."""
        from edgeft_runtime.reference_tasks import task_of

        observed = self.task.observe(out, against=self.reference_observed)
        return task_of(self.task.bundle_task).agreement_and_difference(self.reference_observed, observed)[1]

    def against_original(self, scores: dict[str, Any], out: np.ndarray) -> dict[str, Any]:
        """Points lost against the original run, and label agreement with it where the predictions
        line up (per text always; per word while both tokenisations give the same words)."""
        if self.original is None:
            return {}
        mine, theirs = self.task.predictions(out), self.original.predictions
        same = agreement(theirs, mine) if np.shape(mine) == np.shape(theirs) else None
        return {"original_drop": round(self.original.scores[self.metric] - scores[self.metric], 4), "original_label_agreement": same}

    def require_original(self, report: dict[str, Any], max_drop: float, variant: str) -> None:
        """A derived model may lose at most ``max_drop`` points against the run it came from."""
        if self.original is None or report["original_drop"] <= max_drop:
            return
        raise ParityError(
            f"{variant} {self.metric} {report['metric']:.2f} is {report['original_drop']:.2f} points below the model before "
            f"{self.original.about['derivation']} ({self.original.scores[self.metric]:.2f}) on {len(self.texts)} examples of "
            f"{self.source} (--max-drop {max_drop:g}); no bundle written. Prune with a corpus closer to the texts the model "
            "will see, or export without --prune-vocab"
        )

    def require_fp32(self, report: dict[str, Any], atol: float, max_drop: float) -> None:
        """The fp32 graph must reproduce PyTorch: outputs within ``atol`` (and every label, where the
        task asks); a derived model must also stay within ``max_drop`` points of its original."""
        if report["max_abs_diff"] > atol:
            raise ParityError(
                f"fp32 ONNX output differs from PyTorch by {report['max_abs_diff']:.2e} "
                f"(> --atol {atol:g}) on {self.source}; the export is wrong, not just imprecise "
                "(retry with --no-optimize to rule out graph fusion)"
            )
        if self.task.require_label_agreement and report["label_agreement"] < 1.0:
            raise ParityError(
                f"fp32 ONNX predicts a different label than PyTorch on "
                f"{100 * (1 - report['label_agreement']):.2f}% of {len(self.texts)} examples of {self.source}; "
                "no bundle written (retry with --no-optimize to rule out graph fusion)"
            )
        self.require_original(report, max_drop, "fp32")

    def require_int8(self, report: dict[str, Any], max_drop: float, variant: str = "int8") -> None:
        """int8 may lose at most ``max_drop`` points of the task metric against PyTorch (and against
        the original run, for a derived model)."""
        reference = self.reference_scores[self.metric]
        drop = reference - report["metric"]
        if drop > max_drop:
            tried = report.get("candidates") or []
            best = f", the best of {len(tried)} quantisation settings tried" if len(tried) > 1 else ""
            hint = "Raise --max-drop if that loss is acceptable" if tried else "Try --per-channel auto"
            searched = report.get("mixed_precision") or {}
            if searched.get("stopped"):
                hint = f"Mixed precision searched {len(searched.get('sensitivity') or [])} node groups: {searched['stopped']}. {hint}"
            raise ParityError(
                f"{variant} {self.metric} {report['metric']:.2f} is {drop:.2f} points below PyTorch "
                f"({reference:.2f}) on {len(self.texts)} examples of {self.source} "
                f"(--max-drop {max_drop:g}{best}); no bundle written. {hint}, or export fp32 only (omit --int8)"
            )
        self.require_original(report, max_drop, variant)

    def write_reference_set(self, folder: Path, samples: int) -> dict[str, Any]:
        """Store the first ``samples`` held-out examples with the reference's answers in ``folder``
        (from the observations made once above: no second PyTorch pass); return the manifest's
        ``reference`` entry. The device check's default limit is the parity record's ``max_drop``."""
        from edgeft_runtime.reference import ReferenceSet, save_reference
        from edgeft_runtime.reference_tasks import task_of

        name = self.task.bundle_task
        sample = ReferenceSet(name, self.texts, self.task.gold_record(self.gold), self.reference_observed).head(samples)
        multi = bool(getattr(self.task, "multi_label", False))
        metric = task_of(name).headline(multi)
        pytorch = task_of(name).scores(sample.observed, task_of(name).gold_of(sample), len(getattr(self.task, "labels", ())), multi)
        info = {"reference": REFERENCE_NAME, "data": self.source, "metric": metric, "reference_metric": pytorch[metric]}
        return save_reference(folder, name, sample.texts, sample.gold, sample.observed, info)

    def latency(self, variants: dict[str, Any]) -> dict[str, float]:
        """Median batch-1 milliseconds of PyTorch and each loaded variant, measured interleaved."""
        output = self.task.output_name
        timers: dict[str, Callable[[str], Any]] = {"pytorch": self.reference_one}
        for name, model in variants.items():
            timers[name] = partial(_run_one, model, output)
        return interleaved_latency(timers, self.texts[:LATENCY_SAMPLES])

    def record(self, reports: dict[str, dict[str, Any]], latency: dict[str, float], *, atol: float, max_drop: float) -> dict[str, Any]:
        """The manifest's ``parity`` field; ``max_drop`` (the gate's limit) is also the device check's
        default (``edgeft_runtime.parity_record.gate_max_drop``)."""
        for name, report in reports.items():
            report["latency_ms"] = latency[name]
        return {
            "reference": REFERENCE_NAME,
            "data": self.source,
            "samples": len(self.texts),
            "metric": self.metric,
            "reference_metric": self.reference_scores[self.metric],
            "reference_scores": self.reference_scores,
            "reference_latency_ms": latency["pytorch"],
            "atol": atol,
            "max_drop": max_drop,
            "cpu": cpu_model(),
            "cpu_flags": relevant_cpu_flags(),
            "int8_target": cpu_target(),
            "onnxruntime": onnxruntime_version(),
            "variants": reports,
            **({"original": {"metric": self.original.scores[self.metric], "scores": self.original.scores, **self.original.about}} if self.original else {}),
        }


def onnxruntime_version() -> str:
    import onnxruntime

    return onnxruntime.__version__


__all__ = ["LATENCY_SAMPLES", "Original", "ParityGate", "REFERENCE_NAME"]
