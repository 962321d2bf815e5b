"""The parity gate's measurements: output differences, label agreement and interleaved latency."""

from __future__ import annotations

import statistics
from typing import Any, Callable, Sequence

import numpy as np
from edgeft_runtime.timing import timed_blocks


def max_abs_diff(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.max(np.abs(np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)))) if np.size(a) else 0.0


def label_agreement(pred_a: np.ndarray, pred_b: np.ndarray) -> float:
    """Share of rows predicted identically (whole rows for multi-label indicator matrices)."""
    a, b = np.asarray(pred_a), np.asarray(pred_b)
    if len(a) == 0:
        return 1.0
    same = np.all(a == b, axis=1) if a.ndim == 2 else a == b
    return float(np.mean(same))


def interleaved_latency(fns: dict[str, Callable[[str], Any]], texts: Sequence[str], runs: int = 64) -> dict[str, float]:
    """Median milliseconds per call of each function at batch 1 (engines alternate in blocks)."""
    times = timed_blocks(fns, texts, runs)
    return {name: round(1000 * statistics.median(values), 3) for name, values in times.items()}
