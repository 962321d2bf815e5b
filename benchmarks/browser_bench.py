"""The browser beside Python on the same machine: `edgeft bench` reports for both, compared.

    python benchmarks/browser_bench.py [BUNDLE] [--passes 3] [--runs 30] [--cold 2]   # default models/demo-int8

Four configurations: the Python runtime (python -m edgeft_runtime.bench) with 1 thread; the
bundle in headless Chromium with onnxruntime-web (wasm SIMD, 1 thread); the Python runtime with 2
threads; Chromium on a cross-origin isolated page with 2 wasm threads. Each times fp32 and int8 in
alternating blocks (batch-1 latency at 16/64/128 tokens, mixed-length throughput in batches of 32,
cold start in fresh processes / fresh pages). The configurations cannot share a process, so they
run one after the other, in --passes passes of rotating order, and each number in the written
reports is the median over passes: drift in the machine's load then falls on all of them alike.
`edgeft compare` prints the table and draws the plot. Everything goes to
benchmarks/results/browser_* (per-pass reports under benchmarks/results/browser_passes/).
"""

from __future__ import annotations

import argparse
import copy
import json
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
CONFIGS = ("python_1t", "chromium_1t", "python_2t", "chromium_2t")


def run_config(name: str, bundle: str, out: Path, runs: int, cold: int) -> None:
    engine, threads = name.split("_")
    threads = threads.rstrip("t")
    if engine == "python":
        argv = [sys.executable, "-m", "edgeft_runtime.bench", bundle, "--threads", threads, "--runs", str(runs),
                "--cold-passes", str(cold), "--device-name", "python", "--out", str(out)]
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)
    else:
        argv = ["node", "browser/bench.js", bundle, "--threads", threads, "--runs", str(runs), "--cold", str(cold), "--out", str(out)]
        subprocess.run(argv, cwd=ROOT / "runtime-js", check=True, stdout=subprocess.DEVNULL)


def median_report(reports: list[dict]) -> dict:
    """One report whose every number under results is the median of the passes' numbers."""

    def merge(values: list):
        first = values[0]
        if isinstance(first, dict):
            return {k: merge([v[k] for v in values if k in v]) for k in first}
        if isinstance(first, (int, float)) and not isinstance(first, bool):
            return round(statistics.median(values), 4)
        return first

    merged = copy.deepcopy(reports[0])
    merged["results"] = merge([r["results"] for r in reports])
    merged["settings"]["passes"] = len(reports)
    merged.pop("ratios", None)
    return merged


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("bundle", nargs="?", type=Path, default=ROOT / "models" / "demo-int8")
    parser.add_argument("--passes", type=int, default=3)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--cold", type=int, default=2)
    args = parser.parse_args()
    bundle = str(args.bundle.resolve())
    folder = RESULTS / "browser_passes"
    folder.mkdir(parents=True, exist_ok=True)
    per_config: dict[str, list[dict]] = {c: [] for c in CONFIGS}
    for p in range(args.passes):
        order = CONFIGS[p % len(CONFIGS):] + CONFIGS[: p % len(CONFIGS)]
        for name in order:
            out = folder / f"{name}_pass{p + 1}.json"
            run_config(name, bundle, out, args.runs, args.cold)
            per_config[name].append(json.loads(out.read_text(encoding="utf-8")))
            print(f"pass {p + 1}: {name} done", flush=True)
    reports = []
    for name, passes in per_config.items():
        path = RESULTS / f"browser_{name}.json"
        path.write_text(json.dumps(median_report(passes), indent=2) + "\n", encoding="utf-8")
        reports.append(path)
    plot = RESULTS / "browser_compare.png"
    table = subprocess.run(
        [sys.executable, "-m", "edgeft", "compare", *map(str, reports), "--plot", str(plot)], capture_output=True, text=True, check=True
    ).stdout
    (RESULTS / "browser_compare.txt").write_text(table, encoding="utf-8")
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
