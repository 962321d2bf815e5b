"""How engines are measured: batch-1 latency and throughput in one process (engines alternating in
blocks, see ``edgeft_runtime.timing``), cold start and peak memory in fresh processes."""

from __future__ import annotations

import json
import resource
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from ..timing import timed_blocks

THROUGHPUT_BATCH = 32

# Called after each finished step with the step's name: a progress bar's hook.
Progress = Callable[[str], None]


@dataclass
class Engine:
    """Something to benchmark: a predict function plus how to start it cold in a child process."""

    name: str
    kind: str  # "edgeft-runtime" or "pytorch"
    predict: Callable[[list[str]], Any]
    child_argv: list[str]
    size_bytes: int
    file: str
    batch_size: int = THROUGHPUT_BATCH
    extra: dict[str, Any] = field(default_factory=dict)


def percentiles(values_s: Sequence[float]) -> dict[str, float]:
    ms = sorted(1000 * v for v in values_s)
    p90 = ms[min(len(ms) - 1, int(round(0.9 * (len(ms) - 1))))]
    return {"p50": round(statistics.median(ms), 4), "p90": round(p90, 4), "mean": round(statistics.fmean(ms), 4), "runs": len(ms)}


def runs_for_duration(fns: Mapping[str, Callable[..., Any]], inputs: Sequence[Any], seconds: float) -> int:
    """How many timed calls per engine fit in ``seconds`` for all engines together (at least 10)."""
    start = time.perf_counter()
    for fn in fns.values():
        for i in range(3):
            fn(inputs[i % len(inputs)])
    per_round = (time.perf_counter() - start) / 3
    return max(10, int(seconds / max(per_round, 1e-6)))


def measure_latency(
    engines: Sequence[Engine],
    texts_by_length: dict[int, list[str]],
    runs: int,
    duration: float | None = None,
    progress: Progress | None = None,
) -> dict[str, dict]:
    """Batch-1 latency per engine and length (engines alternate in blocks, see timing.py).

    duration: seconds per length for all engines together, instead of a fixed number of runs.
    """
    result: dict[str, dict] = {e.name: {} for e in engines}
    for length, texts in texts_by_length.items():
        fns = {e.name: (lambda text, e=e: e.predict([text])) for e in engines}
        n = runs_for_duration(fns, texts, duration) if duration else runs
        times = timed_blocks(fns, texts, n)
        for engine in engines:
            result[engine.name][str(length)] = percentiles(times[engine.name])
        if progress:
            progress(f"latency at {length} tokens")
    return result


def measure_throughput(engines: Sequence[Engine], texts: list[str], repeats: int) -> dict[str, dict]:
    """Texts per second over a mixed-length workload in the engine's batches (median of ``repeats``)."""
    fns = {e.name: e.predict for e in engines}
    times = timed_blocks(fns, [texts], repeats, block=repeats, warmup=1)
    sizes = {e.name: e.batch_size for e in engines}
    return {
        name: {"texts_per_s": round(len(texts) / statistics.median(t), 2), "batch_size": sizes[name], "texts": len(texts)}
        for name, t in times.items()
    }


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MB (2**20 bytes).

    Linux: VmHWM from /proc/self/status. Not ru_maxrss: Linux carries it across fork+exec, so a
    child would report its parent's peak. Elsewhere ru_maxrss (KiB on Linux/BSD, bytes on macOS).
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(peak / (2**20 if sys.platform == "darwin" else 2**10), 1)


def measure_cold_start(engines: Sequence[Engine], passes: int, progress: Progress | None = None) -> dict[str, dict]:
    """Process start -> first prediction, and peak RSS, each engine in fresh processes (median of passes)."""
    samples: dict[str, list[dict]] = {e.name: [] for e in engines}
    for _ in range(passes):
        for engine in engines:
            started = time.time()
            proc = subprocess.run(engine.child_argv, capture_output=True, text=True, timeout=600)
            if proc.returncode != 0:
                tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
                raise RuntimeError(f"cold-start child for {engine.name} failed: {tail[0]}")
            report = json.loads(proc.stdout.strip().splitlines()[-1])
            samples[engine.name].append(
                {"cold_start_s": report["first_prediction_at"] - started, "peak_rss_mb": report["peak_rss_mb"]}
            )
            if progress:
                progress(f"cold start of {engine.name}")
    return {
        name: {
            "cold_start_s": round(statistics.median(s["cold_start_s"] for s in rows), 4),
            "peak_rss_mb": round(statistics.median(s["peak_rss_mb"] for s in rows), 1),
            "passes": len(rows),
        }
        for name, rows in samples.items()
    }


def child_report(first_prediction_at: float) -> str:
    """The line a cold-start child prints for ``measure_cold_start``."""
    return json.dumps({"first_prediction_at": first_prediction_at, "peak_rss_mb": peak_rss_mb()})


def run_benchmark(
    engines: Sequence[Engine],
    texts_by_length: dict[int, list[str]],
    mix: list[str],
    *,
    runs: int = 50,
    duration: float | None = None,
    throughput_repeats: int = 3,
    cold_passes: int = 3,
    progress: Progress | None = None,
) -> dict[str, dict]:
    """Measure every engine on the workload; returns {engine name: results}."""
    latency = measure_latency(engines, texts_by_length, runs, duration, progress)
    throughput = measure_throughput(engines, mix, throughput_repeats)
    if progress:
        progress("throughput")
    cold = measure_cold_start(engines, cold_passes, progress) if cold_passes > 0 else {}
    return {
        e.name: {
            "engine": e.kind,
            "file": e.file,
            "size_mb": round(e.size_bytes / 1e6, 2),
            "latency_ms": latency[e.name],
            "throughput": throughput[e.name],
            **cold.get(e.name, {}),
        }
        for e in engines
    }


def step_count(lengths: int, engines: int, cold_passes: int) -> int:
    """How many times ``run_benchmark`` calls ``progress``."""
    return lengths + 1 + engines * max(cold_passes, 0)
