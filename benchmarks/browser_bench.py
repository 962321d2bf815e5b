"""The browser beside Python on the same machine: `edgeft bench` reports for both, compared.

    python benchmarks/browser_bench.py [BUNDLE] [--runs 50] [--cold 3]    # default models/demo-int8

Runs, one after the other: the Python runtime (python -m edgeft_runtime.bench) with 1 thread, the
bundle in headless Chromium with onnxruntime-web (wasm SIMD, 1 thread), the Python runtime with 2
threads, and Chromium on a cross-origin isolated page with 2 wasm threads. Each step times fp32
and int8 in alternating blocks (batch-1 latency at 16/64/128 tokens, mixed-length throughput in
batches of 32, cold start in fresh processes / fresh pages). Then `edgeft compare` prints one
table and draws the plot. Reports, table and plot go to benchmarks/results/browser_*.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("bundle", nargs="?", type=Path, default=ROOT / "models" / "demo-int8")
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--cold", type=int, default=3)
    args = parser.parse_args()
    bundle = str(args.bundle.resolve())
    reports = []
    for threads in (1, 2):
        python = RESULTS / f"browser_python_{threads}t.json"
        subprocess.run(
            [sys.executable, "-m", "edgeft_runtime.bench", bundle, "--threads", str(threads), "--runs", str(args.runs),
             "--cold-passes", str(args.cold), "--device-name", "python", "--out", str(python)],
            check=True,
        )
        browser = RESULTS / f"browser_chromium_{threads}t.json"
        subprocess.run(
            ["node", "browser/bench.js", bundle, "--threads", str(threads), "--runs", str(args.runs), "--cold", str(args.cold),
             "--out", str(browser)],
            cwd=ROOT / "runtime-js", check=True,
        )
        reports += [python, browser]
    plot = RESULTS / "browser_compare.png"
    table = subprocess.run(
        [sys.executable, "-m", "edgeft", "compare", *map(str, reports), "--plot", str(plot)], capture_output=True, text=True, check=True
    ).stdout
    (RESULTS / "browser_compare.txt").write_text(table, encoding="utf-8")
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
