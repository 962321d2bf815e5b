"""Fair timing of several engines on one machine.

Engines take turns in blocks of calls. Thread pools (onnxruntime's, PyTorch's OpenMP) keep
spinning for a while after their last call, so timing engine A straight after engine B measures
B's spinning too (seen here: PyTorch 11 ms alone, 24 ms when alternated call by call with
onnxruntime; two onnxruntime sessions of the same int8 MiniLM at 64 tokens, 4.1-4.3 ms each alone,
6.8-8.0 ms in alternating blocks that began with 3 warm-up calls). So each block starts with a
short pause, which lets the previous engine's threads go idle (10-30 ms sufficed here; 4.0-4.7 ms
with the pause), then untimed warm-up calls, which wake this engine's own threads and caches.
Blocks spread drift in machine load over every engine alike.
"""

from __future__ import annotations

import time
from typing import Any, Callable, Mapping, Sequence


def timed_blocks(
    fns: Mapping[str, Callable[..., Any]],
    inputs: Sequence[Any],
    runs: int,
    *,
    block: int = 10,
    warmup: int = 3,
    pause: float = 0.05,
) -> dict[str, list[float]]:
    """Call each function ``runs`` times (cycling through ``inputs``); return seconds per call.

    pause: seconds of idle before each engine's block, for the other engines' threads to stop
    spinning (0 for a single engine, where there is no other engine to wait for).
    """
    times: dict[str, list[float]] = {name: [] for name in fns}
    pause = pause if len(fns) > 1 else 0.0
    done = 0
    while done < runs:
        size = min(block, runs - done)
        for name, fn in fns.items():
            if pause:
                time.sleep(pause)
            for i in range(warmup):
                fn(inputs[i % len(inputs)])
            for i in range(done, done + size):
                start = time.perf_counter()
                fn(inputs[i % len(inputs)])
                times[name].append(time.perf_counter() - start)
        done += size
    return times
