"""The parity gate's measurements: the reference in chunks and interleaved latency (output differences
and label agreement: ``edgeft_runtime.ops``, shared with the device check)."""

from __future__ import annotations

import statistics
from typing import Any, Callable, Sequence

import numpy as np
from edgeft_runtime.timing import timed_blocks


def in_chunks(fn: Callable[[Sequence[str]], np.ndarray], texts: Sequence[str], desc: str, chunk: int = 256) -> np.ndarray:
    """``fn(texts)`` computed ``chunk`` texts at a time and concatenated, with a progress bar on
    stderr (shown only on a terminal): the PyTorch reference on thousands of held-out examples
    takes minutes on a CPU. ``fn`` must return one row (or a run of rows) per text, in order."""
    from tqdm import tqdm

    if len(texts) <= chunk:
        return fn(texts)
    parts = []
    with tqdm(total=len(texts), desc=desc, unit="text", disable=None, leave=False) as bar:
        for start in range(0, len(texts), chunk):
            part = texts[start : start + chunk]
            parts.append(fn(part))
            bar.update(len(part))
    return np.concatenate(parts)


def interleaved_latency(fns: dict[str, Callable[[str], Any]], texts: Sequence[str], runs: int = 64) -> dict[str, float]:
    """Median milliseconds per call of each function at batch 1 (engines alternate in blocks)."""
    times = timed_blocks(fns, texts, runs)
    return {name: round(1000 * statistics.median(values), 3) for name, values in times.items()}
