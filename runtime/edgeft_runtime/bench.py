"""Benchmark bundles on the device at hand: latency, throughput, cold start, peak memory, size.

Runs with the runtime alone, so a phone (Termux) or a Raspberry Pi can make a report and bring it
back for `edgeft compare`:

    python -m edgeft_runtime.bench models/sst2-int8 --threads 2 --out pi.json

Engines (bundle variants, and in `edgeft bench --reference` the PyTorch original) are timed in
turns within one process, so machine-load drift hits them alike; cold start and peak memory are
measured in a fresh process per engine.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import random
import resource
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

from .device import device_info
from .timing import timed_blocks

REPORT_FORMAT = "edgeft-bench-report"
REPORT_SCHEMA_VERSION = "1.0"
DEFAULT_LENGTHS = (16, 64, 128)
THROUGHPUT_BATCH = 32

# Common English words that are one token in BERT-style vocabularies: texts built from them hit an
# exact token count and read like (odd) prose rather than random ids.
_WORDS = (
    "the film was good and the story kept me interested until the very end but some scenes felt "
    "long while the music and the acting were strong enough to carry it through a slow middle part "
    "where nothing much happened so i would still recommend it to anyone who likes quiet drama with "
    "real people in it and a little humour here and there which made the whole thing feel warm"
).split()


@dataclass
class Engine:
    """Something to benchmark: a predict function plus how to start it cold in a child process."""

    name: str
    kind: str  # "edgeft-runtime" or "pytorch"
    predict: Callable[[list[str]], Any]
    child_argv: list[str]
    size_bytes: int
    file: str
    extra: dict[str, Any] = field(default_factory=dict)


def text_of_length(count_tokens: Callable[[str], int], n: int, seed: int = 0) -> str:
    """A text that tokenises to exactly ``n`` tokens (special tokens included)."""
    rng = random.Random(seed)
    words: list[str] = []
    current = count_tokens("")
    if current > n:
        raise ValueError(f"length {n} is shorter than the tokenizer's special tokens ({current})")
    attempts = 0
    while current < n:
        attempts += 1
        if attempts > 50 * n:
            raise ValueError(f"could not build a text of exactly {n} tokens")
        word = rng.choice(_WORDS)
        trial = count_tokens(" ".join(words + [word]))
        if trial <= n:
            words.append(word)
            current = trial
    return " ".join(words)


def length_mix(count: int, max_length: int, seed: int = 0) -> list[int]:
    """Token lengths of a realistic short-text workload: log-normal around 30 tokens, clipped."""
    rng = random.Random(seed)
    return [int(min(max_length, max(6, round(rng.lognormvariate(3.4, 0.6))))) for _ in range(count)]


def percentiles(values_s: Sequence[float]) -> dict[str, float]:
    ms = sorted(1000 * v for v in values_s)
    p90 = ms[min(len(ms) - 1, int(round(0.9 * (len(ms) - 1))))]
    return {"p50": round(statistics.median(ms), 4), "p90": round(p90, 4), "mean": round(statistics.fmean(ms), 4), "runs": len(ms)}


def runs_for_duration(fns: dict[str, Callable[[Any], Any]], inputs: Sequence[Any], seconds: float) -> int:
    """How many timed calls per engine fit in ``seconds`` for all engines together (at least 10)."""
    start = time.perf_counter()
    for fn in fns.values():
        for i in range(3):
            fn(inputs[i % len(inputs)])
    per_round = (time.perf_counter() - start) / 3
    return max(10, int(seconds / max(per_round, 1e-6)))


def measure_latency(
    engines: Sequence[Engine], texts_by_length: dict[int, list[str]], runs: int, duration: float | None = None
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
    return result


def measure_throughput(engines: Sequence[Engine], texts: list[str], repeats: int) -> dict[str, dict]:
    """Texts per second over a mixed-length workload in batches of 32 (median of ``repeats``)."""
    fns = {e.name: e.predict for e in engines}
    times = timed_blocks(fns, [texts], repeats, block=repeats, warmup=1)
    return {
        name: {"texts_per_s": round(len(texts) / statistics.median(t), 2), "batch_size": THROUGHPUT_BATCH, "texts": len(texts)}
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


def measure_cold_start(engines: Sequence[Engine], passes: int) -> dict[str, dict]:
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
    return {
        name: {
            "cold_start_s": round(statistics.median(s["cold_start_s"] for s in rows), 4),
            "peak_rss_mb": round(statistics.median(s["peak_rss_mb"] for s in rows), 1),
            "passes": len(rows),
        }
        for name, rows in samples.items()
    }


def bundle_engine(bundle: str | Path, variant: str, threads: int | None, inter_op_threads: int | None = None) -> Engine:
    """A bundle variant as a benchmark engine (predict = the task's full predict path)."""
    from .loader import load

    model = load(bundle, variant=variant, threads=threads, inter_op_threads=inter_op_threads)
    predict = getattr(model, "predict", None) or getattr(model, "tag", None) or getattr(model, "embed")
    spec = model.manifest["variants"][model.variant]
    file = spec["file"] if variant in ("auto", model.variant) else variant  # a file name, e.g. the .ort copy
    argv = [sys.executable, "-m", "edgeft_runtime.bench", "--child", str(bundle), "--variant", variant]
    if threads is not None:
        argv += ["--threads", str(threads)]
    if inter_op_threads is not None:
        argv += ["--inter-op", str(inter_op_threads)]
    return Engine(
        name=model.variant if file == spec["file"] else file,
        kind="edgeft-runtime",
        predict=lambda texts: predict(texts, batch_size=THROUGHPUT_BATCH),
        child_argv=argv,
        size_bytes=(Path(bundle) / file).stat().st_size,
        file=file,
        extra={"model": model},
    )


def run_benchmark(
    engines: Sequence[Engine],
    *,
    count_tokens: Callable[[str], int],
    max_length: int,
    lengths: Sequence[int] = DEFAULT_LENGTHS,
    runs: int = 50,
    duration: float | None = None,
    throughput_texts: int = 256,
    throughput_repeats: int = 3,
    cold_passes: int = 3,
) -> dict[str, dict]:
    """Measure every engine; returns {engine name: results}."""
    usable = [n for n in lengths if n <= max_length]
    texts_by_length = {n: [text_of_length(count_tokens, n, seed=s) for s in range(5)] for n in usable}
    mix = [text_of_length(count_tokens, n, seed=i) for i, n in enumerate(length_mix(throughput_texts, max_length))]
    latency = measure_latency(engines, texts_by_length, runs, duration)
    throughput = measure_throughput(engines, mix, throughput_repeats)
    cold = measure_cold_start(engines, cold_passes) if cold_passes > 0 else {}
    results = {}
    for e in engines:
        results[e.name] = {
            "engine": e.kind,
            "file": e.file,
            "size_mb": round(e.size_bytes / 1e6, 2),
            "latency_ms": latency[e.name],
            "throughput": throughput[e.name],
            **cold.get(e.name, {}),
        }
    return results


def ratios(results: dict[str, dict], reference: str) -> dict[str, dict]:
    """Speed-ups and memory ratios of each engine against ``reference`` (same run, same device)."""
    ref = results[reference]
    out = {}
    for name, res in results.items():
        if name == reference:
            continue
        entry: dict[str, Any] = {
            "vs": reference,
            "latency_speedup_p50": {
                k: round(ref["latency_ms"][k]["p50"] / v["p50"], 3) for k, v in res["latency_ms"].items() if k in ref["latency_ms"]
            },
            "throughput_speedup": round(res["throughput"]["texts_per_s"] / ref["throughput"]["texts_per_s"], 3),
            "size_ratio": round(res["size_mb"] / ref["size_mb"], 3) if ref["size_mb"] else None,
        }
        if "peak_rss_mb" in res and "peak_rss_mb" in ref:
            entry["peak_rss_ratio"] = round(res["peak_rss_mb"] / ref["peak_rss_mb"], 3)
            entry["cold_start_speedup"] = round(ref["cold_start_s"] / res["cold_start_s"], 3)
        out[name] = entry
    return out


def build_report(bundle: str | Path, manifest: dict, device: dict, settings: dict, results: dict, reference: str | None) -> dict:
    """The versioned report `edgeft compare` reads (documented in the README)."""
    parity = manifest.get("parity") or {}
    accuracy = {name: rep.get("metric") for name, rep in (parity.get("variants") or {}).items()}
    if parity.get("reference_metric") is not None:
        accuracy["pytorch-fp32"] = parity["reference_metric"]
    for name, res in results.items():
        if name in accuracy:
            res["accuracy"] = {"metric": parity.get("metric"), "value": accuracy[name], "source": "bundle parity check"}
    model_files = {n: manifest["files"].get(s["file"], {}).get("sha256") for n, s in manifest["variants"].items()}
    report = {
        "format": REPORT_FORMAT,
        "schema_version": REPORT_SCHEMA_VERSION,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "device": device,
        "bundle": {
            "path": str(bundle),
            "task": manifest["task"],
            "source_run": (manifest.get("source") or {}).get("run"),
            "base_model": (manifest.get("source") or {}).get("base_model"),
            "max_length": manifest["max_length"],
            "model_sha256": model_files,
        },
        "settings": settings,
        "results": results,
    }
    if reference:
        report["ratios"] = ratios(results, reference)
    return report


def bench_settings(threads, inter_op, runs, duration, cold_passes) -> dict:
    return {
        "threads": threads,
        "inter_op_threads": inter_op,
        "runs": None if duration else runs,
        "duration_s": duration,
        "lengths": list(DEFAULT_LENGTHS),
        "batch_size_throughput": THROUGHPUT_BATCH,
        "cold_passes": cold_passes,
    }


def format_table(report: dict) -> str:
    """A plain-text table of a report, one row per engine."""
    results = report["results"]
    lengths = sorted({k for r in results.values() for k in r["latency_ms"]}, key=int)
    head = ["engine", *[f"p50@{n} ms" for n in lengths], *[f"p90@{n}" for n in lengths], "texts/s", "cold s", "RSS MB", "size MB"]
    rows = [head]
    for name, r in results.items():
        rows.append(
            [
                name,
                *[f"{r['latency_ms'][n]['p50']:.2f}" for n in lengths],
                *[f"{r['latency_ms'][n]['p90']:.2f}" for n in lengths],
                f"{r['throughput']['texts_per_s']:.1f}",
                f"{r['cold_start_s']:.2f}" if "cold_start_s" in r else "-",
                f"{r['peak_rss_mb']:.0f}" if "peak_rss_mb" in r else "-",
                f"{r['size_mb']:.1f}",
            ]
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(head))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)) for row in rows]
    for name, ratio in (report.get("ratios") or {}).items():
        speed = ", ".join(f"{n}: {v:.2f}x" for n, v in ratio["latency_speedup_p50"].items())
        extra = f", RSS {ratio['peak_rss_ratio']:.2f}x" if "peak_rss_ratio" in ratio else ""
        lines.append(f"{name} vs {ratio['vs']}: latency speed-up {speed}; throughput {ratio['throughput_speedup']:.2f}x{extra}")
    return "\n".join(lines)


def _child(bundle: str, variant: str, threads: int | None, inter_op_threads: int | None) -> None:
    """Cold start: import, load, first prediction; then a 32x128-token batch for peak memory."""
    from .loader import load

    model = load(bundle, variant=variant, threads=threads, inter_op_threads=inter_op_threads)
    predict = getattr(model, "predict", None) or getattr(model, "tag", None) or getattr(model, "embed")
    predict(["warm up the model with the first prediction"])
    ready = time.time()
    text = text_of_length(lambda t: len(model.tokenizer.encode([t])[0].ids), min(128, model.tokenizer.max_length))
    predict([text] * THROUGHPUT_BATCH)
    print(json.dumps({"first_prediction_at": ready, "peak_rss_mb": peak_rss_mb()}))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m edgeft_runtime.bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("bundle")
    parser.add_argument("--variant", action="append", help="variant(s) to run (default: every variant in the bundle)")
    parser.add_argument("--threads", "--intra-op", type=int, default=None, help="intra-op threads (default: one per core)")
    parser.add_argument("--inter-op", type=int, default=None, help="inter-op threads (parallel execution of independent nodes)")
    parser.add_argument("--runs", type=int, default=50, help="timed batch-1 calls per length and engine")
    parser.add_argument("--duration", type=float, default=None, help="seconds per length for all engines, instead of --runs")
    parser.add_argument("--cold-passes", type=int, default=3, help="fresh processes per engine for cold start and peak RSS (0: skip)")
    parser.add_argument("--device-name", default=None, help="a name for this device in reports")
    parser.add_argument("--out", default=None, help="write the JSON report here")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        _child(args.bundle, (args.variant or ["auto"])[0], args.threads, args.inter_op)
        return 0
    from .manifest import read_manifest

    manifest = read_manifest(args.bundle)
    variants = args.variant or list(manifest["variants"])
    engines = [bundle_engine(args.bundle, v, args.threads, args.inter_op) for v in variants]
    tok = engines[0].extra["model"].tokenizer
    results = run_benchmark(
        engines,
        count_tokens=lambda t: len(tok.encode([t])[0].ids),
        max_length=tok.max_length,
        runs=args.runs,
        duration=args.duration,
        cold_passes=args.cold_passes,
    )
    settings = bench_settings(args.threads, args.inter_op, args.runs, args.duration, args.cold_passes)
    report = build_report(args.bundle, manifest, device_info(args.threads, args.device_name, args.inter_op), settings, results, None)
    print(format_table(report))
    if args.out:
        Path(args.out).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return 0

if __name__ == "__main__":
    raise SystemExit(main())
