"""Benchmark bundles on the device at hand: latency, throughput, cold start, peak memory, size.

Runs with the runtime alone, so a phone (Termux) or a Raspberry Pi can make a report and bring it
back for `edgeft compare`:

    python -m edgeft_runtime.bench models/sst2-int8 --threads 2 --out pi.json

Engines (bundle variants, and in `edgeft bench --reference` the PyTorch original) are timed in
turns within one process, so machine-load drift hits them alike; cold start and peak memory are
measured in a fresh process per engine.

Read top-down: ``workload`` (the texts), ``engines`` (a bundle variant as something to time),
``measure`` (latency, throughput, cold start), ``report`` (the JSON report and its table); this
module joins them in ``benchmark_bundle`` and ``cli`` is the command line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from .engines import bundle_engine
from .measure import THROUGHPUT_BATCH, Engine, Progress, peak_rss_mb, run_benchmark, step_count
from .report import REPORT_FORMAT, REPORT_SCHEMA_VERSION, build_report, format_table, ratios, settings
from .workload import DEFAULT_LENGTHS, length_mix, text_of_length, workload
from ..options import THREADS, Between, Whole, check_value


def benchmark_bundle(
    bundle: str | Path,
    *,
    variants: Sequence[str] | None = None,
    threads: int | None = None,
    inter_op: int | None = None,
    runs: int = 50,
    duration: float | None = None,
    cold_passes: int = 3,
    device_name: str | None = None,
    extra_engines: Sequence[Engine] = (),
    reference: str | None = None,
    progress: Progress | None = None,
    check: bool = True,
    max_drop: float | None = None,
    min_agreement: float | None = None,
) -> dict:
    """Measure every variant of ``bundle`` whose engine is installed (or those named), plus ``extra_engines``, in one run.

    reference: the name of the engine the report's ratios compare against (e.g. the PyTorch
    original passed in ``extra_engines``). progress: called after each measurement step
    (``expected_steps`` tells how many there will be). check: also run the accuracy check
    (``edgeft_runtime.check``) on the bundle's reference set, when it has one, so that the report
    carries the accuracy measured on this device; max_drop / min_agreement: its limits.
    """
    from ..device import device_info
    from ..loader import runnable_variants
    from ..manifest import read_manifest

    check_settings(threads=threads, inter_op=inter_op, runs=runs, duration=duration, cold_passes=cold_passes, max_drop=max_drop, min_agreement=min_agreement)
    manifest = read_manifest(bundle)
    engines = [bundle_engine(bundle, v, threads, inter_op) for v in (variants or runnable_variants(manifest))]
    checked = device_check(bundle, manifest, engines, max_drop, min_agreement) if check else None
    engines += list(extra_engines)
    model = engines[0].extra["model"]
    count = lambda t: len(model.tokenizer.encode([t])[0].ids)  # noqa: E731
    by_length, mix = workload(count, model.tokenizer.max_length, required=model.required_tokens)
    results = run_benchmark(engines, by_length, mix, runs=runs, duration=duration, cold_passes=cold_passes, progress=progress)
    run_settings = settings(threads, inter_op, runs, duration, cold_passes, [int(n) for n in by_length])
    return build_report(bundle, manifest, device_info(threads, device_name, inter_op), run_settings, results, reference, checked)


MAX_RUNS = 1_000_000
MIN_DURATION, MAX_DURATION = 0.01, 24 * 3600.0  # seconds per length
MAX_COLD_PASSES = 1000


def check_settings(
    *, threads: int | None, inter_op: int | None, runs: int, duration: float | None, cold_passes: int, max_drop: float | None = None, min_agreement: float | None = None
) -> None:
    """Refuse settings that measure nothing (0 runs, 0 s), never end (inf) or cannot be timed (nan),
    before anything is loaded; the check's limits by the check's own declared options."""
    from ..check import CheckOptions

    check_value("--threads", threads, THREADS)
    check_value("--inter-op", inter_op, THREADS)
    if duration is None:
        check_value("--runs", runs, (Whole(), Between(1, MAX_RUNS)))
    else:
        check_value("--duration", duration, (Between(MIN_DURATION, MAX_DURATION),))
    check_value("--cold-passes", cold_passes, (Whole(), Between(0, MAX_COLD_PASSES)))
    CheckOptions(max_drop=max_drop, min_agreement=min_agreement)


def device_check(bundle: str | Path, manifest: dict, engines: Sequence[Engine], max_drop: float | None, min_agreement: float | None) -> dict | None:
    """The accuracy check of each bundle engine on the reference set: {"limits", "variants"}; None without a reference set."""
    from ..check import bundle_folder, check_model, limits_of
    from ..reference import load_reference

    reference = load_reference(bundle_folder(bundle), manifest)
    if reference is None:
        return None
    limits = limits_of(manifest, max_drop, min_agreement)
    return {"limits": limits, "samples": len(reference), "variants": {e.name: check_model(e.extra["model"], reference, limits) for e in engines}}


def expected_steps(bundle: str | Path, engines: int, cold_passes: int) -> int:
    """How many progress steps ``benchmark_bundle`` reports for ``engines`` engines."""
    from ..manifest import read_manifest

    lengths = [n for n in DEFAULT_LENGTHS if n <= int(read_manifest(bundle)["max_length"])]
    return step_count(len(lengths), engines, cold_passes)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m edgeft_runtime.bench`` (see ``edgeft_runtime.bench.cli``)."""
    from .cli import main as cli_main

    return cli_main(argv)


__all__ = [
    "DEFAULT_LENGTHS",
    "Engine",
    "REPORT_FORMAT",
    "REPORT_SCHEMA_VERSION",
    "THROUGHPUT_BATCH",
    "benchmark_bundle",
    "build_report",
    "bundle_engine",
    "expected_steps",
    "format_table",
    "length_mix",
    "main",
    "peak_rss_mb",
    "ratios",
    "run_benchmark",
    "settings",
    "text_of_length",
    "workload",
]
