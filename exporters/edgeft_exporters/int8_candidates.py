"""The int8 candidates of one build and the choice among them.

Each candidate is one quantisation of the fp32 graph: dynamic int8 with per-tensor or
per-channel scales and 7- or 8-bit weights (``quantize.quantisation_candidates``), and static
int8 (``static_quant``: ranges calibrated on training texts, per-channel symmetric weights) where
calibration texts exist. Every candidate is scored on the gate's held-out data through the real
runtime. The choice, recorded in the manifest with its reason:

1. Only candidates within the budget (``max_drop`` points of the task metric) compete; when none
   is, the best-scoring one goes to the gate, which refuses it and says what it reached.
2. Within a method, the best score wins (then agreement with PyTorch, then output difference).
3. Between the best dynamic and the best static candidate: where this machine runs the build's
   kernels, both are timed interleaved at batch 1 and the faster wins when it is faster by more
   than ``SPEED_TIE`` (less is within the noise of a shared machine); otherwise, and where the
   kernels cannot be timed here, static wins, because its answer for a text does not depend on the
   other texts in its batch.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

log = logging.getLogger(__name__)

METHOD_DYNAMIC = "dynamic"
METHOD_STATIC = "static"
# Candidates whose batch-1 latencies differ by less than this share count as equally fast: pass-to-
# pass drift on a shared 2-core machine is of this order (DESIGN.md, timing trap).
SPEED_TIE = 0.10
# Texts timed per candidate when dynamic and static compete on speed.
TIMED_TEXTS = 16


@dataclass
class Candidate:
    """One quantised graph: how it was made, its file, its gate report, its measured latency."""

    method: str
    per_channel: bool
    reduce_range: bool
    path: Path
    spec: dict[str, Any]
    report: dict[str, Any] = field(default_factory=dict)
    latency_ms: float | None = None

    def summary(self, kept: bool = False) -> dict[str, Any]:
        """The candidate as the manifest's ``parity.variants[...].candidates`` lists it (in the
        order tried, fixed by the options and the target; ``kept`` marks the one chosen)."""
        row = {"method": self.method, "per_channel": self.per_channel, "reduce_range": self.reduce_range}
        row.update({k: self.report[k] for k in ("metric", "label_agreement", "max_abs_diff", "max_probability_diff") if k in self.report})
        row["kept"] = kept
        if self.latency_ms is not None:
            row["latency_ms"] = self.latency_ms
        return row


def score_key(c: Candidate) -> tuple:
    """Best metric first, then agreement with PyTorch, then the smaller output difference."""
    return (-c.report["metric"], -c.report["label_agreement"], c.report["max_abs_diff"])


def within_budget(c: Candidate, reference_metric: float, max_drop: float) -> bool:
    """The gate's own rule: at most ``max_drop`` points below PyTorch (and below the original run)."""
    return reference_metric - c.report["metric"] <= max_drop and c.report.get("original_drop", 0.0) <= max_drop


def choose(
    candidates: Sequence[Candidate],
    reference_metric: float,
    max_drop: float,
    time_them: Callable[[list[Candidate]], dict[str, float]] | None,
) -> tuple[Candidate, str]:
    """(the candidate to keep, why). ``time_them`` measures the latency of the finalists (name ->
    ms, by ``Candidate.method``) where this machine runs the build's kernels; None elsewhere."""
    fitting = [c for c in candidates if within_budget(c, reference_metric, max_drop)]
    if not fitting:
        best = min(candidates, key=score_key)
        return best, f"no candidate within --max-drop {max_drop:g}; the best scored {best.report['metric']:.2f}"
    finalists = [min(group, key=score_key) for group in _by_method(fitting).values()]
    if len(finalists) == 1:
        only = finalists[0]
        return only, f"{only.method}: the best-scoring candidate within --max-drop {max_drop:g}" + _others(candidates, only)
    static = next(c for c in finalists if c.method == METHOD_STATIC)
    dynamic = next(c for c in finalists if c.method == METHOD_DYNAMIC)
    if time_them is None:
        return static, "static: within --max-drop and its answers do not depend on batch neighbours (speed not measurable here: built for another CPU)"
    times = time_them([dynamic, static])
    static.latency_ms, dynamic.latency_ms = times[METHOD_STATIC], times[METHOD_DYNAMIC]
    ratio = static.latency_ms / dynamic.latency_ms
    if ratio > 1 + SPEED_TIE:
        return dynamic, f"dynamic: {ratio:.2f}x faster than static here (batch 1), both within --max-drop {max_drop:g}"
    if ratio < 1 - SPEED_TIE:
        return static, f"static: {1 / ratio:.2f}x faster than dynamic here (batch 1), within --max-drop {max_drop:g}, batch-independent answers"
    return static, f"static: as fast as dynamic here (static/dynamic {ratio:.2f} at batch 1), within --max-drop {max_drop:g}, batch-independent answers"


def _by_method(candidates: Sequence[Candidate]) -> dict[str, list[Candidate]]:
    groups: dict[str, list[Candidate]] = {}
    for c in candidates:
        groups.setdefault(c.method, []).append(c)
    return groups


def _others(candidates: Sequence[Candidate], chosen: Candidate) -> str:
    missed = sorted({c.method for c in candidates} - {chosen.method})
    return f" ({', '.join(missed)} missed it)" if missed else ""
