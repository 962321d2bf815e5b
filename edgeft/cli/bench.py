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
    check: Annotated[bool, typer.Option("--check/--no-check", help="Also run the accuracy check on the bundle's reference set (see `edgeft check`).")] = True,
    max_drop: Annotated[Optional[float], typer.Option(help="Accuracy check: most points a variant may lose. [default: the export gate's]", show_default=False)] = None,
    min_agreement: Annotated[Optional[float], typer.Option(help="Accuracy check: least label agreement with PyTorch, in percent.", show_default=False)] = None,
) -> None:
    """Benchmark a bundle on this device and write a JSON report.

    Measures batch-1 latency (median, p90) at 16/64/128 tokens, throughput in batches of 32 on a
    mixed-length workload, cold start (process start to first prediction), peak RSS and model size.
    Engines alternate in blocks of calls, so load drift hits them alike; ratios come from one run.
    With a reference set in the bundle, the accuracy of each variant is measured on this device
    too (`edgeft check`) and the report says whether it stays within the limits.

    \b
    Examples:
      edgeft bench models/sst2-int8 --reference models/sst2 --out report.json
      edgeft bench models/sst2-int8 --variant int8 --threads 1 --out pi-like.json
      edgeft bench models/sst2-mobile --variant model_int8.ort --duration 5 --out ort.json
    """
    from edgeft_runtime.bench import benchmark_bundle, expected_steps, format_table
    from edgeft_runtime.manifest import read_manifest
    from tqdm import tqdm

    from edgeft_runtime.bench import check_settings

    # Before the PyTorch reference is loaded: a setting that measures nothing fails in a second.
    check_settings(threads=threads, inter_op=inter_op, runs=runs, duration=duration, cold_passes=cold_passes, max_drop=max_drop, min_agreement=min_agreement)
    extra, reference_name = [], None
    if reference is not None:
        from ..bench.pytorch_reference import REFERENCE_NAME, reference_engine

        extra, reference_name = [reference_engine(reference, threads)], REFERENCE_NAME
    names = (variant or list(read_manifest(bundle)["variants"])) + [e.name for e in extra]
    budget = f"{duration:g} s per length" if duration else f"{runs} runs per length"
    typer.echo(f"benchmarking {', '.join(names)} ({budget}, {cold_passes} cold starts each)", err=True)
    with tqdm(total=expected_steps(bundle, len(names), cold_passes), desc="bench", unit="step", disable=None, leave=False) as bar:
        report = benchmark_bundle(
            bundle,
            variants=variant,
            threads=threads,
            inter_op=inter_op,
            runs=runs,
            duration=duration,
            cold_passes=cold_passes,
            device_name=device_name,
            extra_engines=extra,
            reference=reference_name,
            progress=lambda step: (bar.set_postfix_str(step), bar.update()),
            check=check,
            max_drop=max_drop,
            min_agreement=min_agreement,
        )
    typer.echo(format_table(report))
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        typer.echo(f"wrote {out}")
