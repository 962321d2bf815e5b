"""`edgeft bench BUNDLE`: latency, throughput, cold start, memory and size on this device."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from . import options as opt
from .common import command


@command
def bench(
    bundle: opt.Bundle,
    reference: Annotated[
        Optional[Path],
        typer.Option("--reference", "-r", help="The run folder the bundle came from: adds PyTorch fp32 and the speed-up ratios.", show_default=False),
    ] = None,
    variant: Annotated[Optional[list[str]], typer.Option(help="Variant(s) to run. [default: all in the bundle]", show_default=False)] = None,
    threads: Annotated[Optional[int], typer.Option("--threads", "--intra-op", help="Intra-op threads for every engine. [default: one per core]", show_default=False)] = None,
    inter_op: Annotated[Optional[int], typer.Option("--inter-op", help="onnxruntime inter-op threads (parallel execution of independent nodes).", show_default=False)] = None,
    runs: Annotated[int, typer.Option(help="Timed calls per sequence length and engine (batch 1).")] = 50,
    duration: Annotated[Optional[float], typer.Option(help="Seconds per sequence length for all engines together, instead of --runs.", show_default=False)] = None,
    cold_passes: Annotated[int, typer.Option(help="Fresh processes per engine for cold start and peak RSS (0: skip).")] = 3,
    device_name: Annotated[Optional[str], typer.Option(help="A name for this device in the report. [default: host name]", show_default=False)] = None,
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="Write the JSON report here.", show_default=False)] = None,
) -> None:
    """Benchmark a bundle on this device and write a JSON report.

    Measures batch-1 latency (median, p90) at 16/64/128 tokens, throughput in batches of 32 on a
    mixed-length workload, cold start (process start to first prediction), peak RSS and model size.
    Engines alternate in blocks of calls, so load drift hits them alike; ratios come from one run.

    \b
    Examples:
      edgeft bench models/sst2-int8 --reference models/sst2 --out report.json
      edgeft bench models/sst2-int8 --variant int8 --threads 1 --out pi-like.json
      edgeft bench models/sst2-mobile --variant model_int8.ort --duration 5 --out ort.json
    """
    from edgeft_runtime.bench import bench_settings, build_report, bundle_engine, format_table, run_benchmark
    from edgeft_runtime.device import device_info
    from edgeft_runtime.manifest import read_manifest

    manifest = read_manifest(bundle)
    engines = [bundle_engine(bundle, v, threads, inter_op) for v in (variant or list(manifest["variants"]))]
    reference_name = None
    if reference is not None:
        from ..bench_reference import REFERENCE_NAME, reference_engine

        engines.append(reference_engine(reference, threads))
        reference_name = REFERENCE_NAME
    tok = engines[0].extra["model"].tokenizer
    budget = f"{duration:g} s per length" if duration else f"{runs} runs per length"
    typer.echo(f"benchmarking {', '.join(e.name for e in engines)} ({budget}, {cold_passes} cold starts each)", err=True)
    results = run_benchmark(
        engines,
        count_tokens=lambda t: len(tok.encode([t])[0].ids),
        max_length=tok.max_length,
        runs=runs,
        duration=duration,
        cold_passes=cold_passes,
    )
    settings = bench_settings(threads, inter_op, runs, duration, cold_passes)
    report = build_report(bundle, manifest, device_info(threads, device_name, inter_op), settings, results, reference_name)
    typer.echo(format_table(report))
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        typer.echo(f"wrote {out}")
