"""Fair timing of several engines on one machine.

Engines take turns in blocks of calls, and each block starts with untimed warm-up calls: thread
pools (onnxruntime's, PyTorch's OpenMP) keep spinning for a moment after their last call, so
timing engine A straight after engine B measures B's spinning too (seen here: PyTorch 11 ms alone,
24 ms when alternated call by call with onnxruntime). Blocks spread drift in machine load over
every engine alike.
"""

from __future__ import annotations

import time
from typing import Any, Callable, Sequence


def timed_blocks(
    fns: dict[str, Callable[[Any], Any]],
    inputs: Sequence[Any],
    runs: int,
    *,
    block: int = 10,
    warmup: int = 3,
) -> dict[str, list[float]]:
    """Call each function ``runs`` times (cycling through ``inputs``); return seconds per call."""
    times: dict[str, list[float]] = {name: [] for name in fns}
    done = 0
    while done < runs:
        size = min(block, runs - done)
        for name, fn in fns.items():
            for i in range(warmup):
                fn(inputs[i % len(inputs)])
            for i in range(done, done + size):
                start = time.perf_counter()
                fn(inputs[i % len(inputs)])
                times[name].append(time.perf_counter() - start)
        done += size
    return times
