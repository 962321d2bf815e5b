"""Which onnxruntime session options serve an edgeft bundle best on this machine?

    python benchmarks/session_options.py [BUNDLE] [--runs 200]

Compares intra-op threads (1, all cores), thread spinning (on/off) and the CPU memory arena
(on/off) for the int8 variant: batch-1 latency at 16 and 128 tokens and throughput on the mixed
workload, all configurations alternating in blocks within one process (edgeft_runtime/timing.py),
then peak RSS of each in a fresh process. Prints ratios against onnxruntime's defaults; the
runtime's defaults follow what this measures (see README, Performance).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"


def child(bundle: str, config: dict) -> None:
    import edgeft_runtime
    from edgeft_runtime.bench import length_mix, peak_rss_mb, text_of_length

    model = edgeft_runtime.load(bundle, **config)
    count = lambda t: len(model.tokenizer.encode([t])[0].ids)  # noqa: E731
    model.predict([text_of_length(count, 128)])
    mix = [text_of_length(count, n, seed=i) for i, n in enumerate(length_mix(256, 128))]
    model.predict(mix)
    print(json.dumps({"peak_rss_mb": peak_rss_mb()}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("bundle", nargs="?", default=str(ROOT / "models" / "bench-sst2" / "bundle-int8"))
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.bundle, json.loads(args.child))
        return

    import edgeft_runtime
    from edgeft_runtime.bench import length_mix, text_of_length
    from edgeft_runtime.device import device_info
    from edgeft_runtime.timing import timed_blocks

    cores = len(os.sched_getaffinity(0))
    configs = {"default": {}}
    for threads, spinning, arena in itertools.product(sorted({1, cores}), (True, False), (True, False)):
        configs[f"threads={threads} spin={'on' if spinning else 'off'} arena={'on' if arena else 'off'}"] = {
            "threads": threads, "spinning": spinning, "memory_arena": arena,
        }
    models = {name: edgeft_runtime.load(args.bundle, **cfg) for name, cfg in configs.items()}
    tok = next(iter(models.values())).tokenizer
    count = lambda t: len(tok.encode([t])[0].ids)  # noqa: E731
    results: dict[str, dict] = {name: {} for name in configs}
    for n in (16, 128):
        texts = [text_of_length(count, n, seed=s) for s in range(8)]
        times = timed_blocks({k: (lambda t, m=m: m.predict(t)) for k, m in models.items()}, texts, args.runs)
        for name, values in times.items():
            results[name][f"p50_ms_{n}"] = 1000 * statistics.median(values)
    mix = [text_of_length(count, n, seed=i) for i, n in enumerate(length_mix(256, 128))]
    times = timed_blocks({k: (lambda ts, m=m: m.predict(ts)) for k, m in models.items()}, [mix], 5, block=1, warmup=1)
    for name, values in times.items():
        results[name]["texts_per_s"] = len(mix) / statistics.median(values)
    for name, cfg in configs.items():
        proc = subprocess.run([sys.executable, __file__, args.bundle, "--child", json.dumps(cfg)], capture_output=True, text=True, check=True)
        results[name]["peak_rss_mb"] = json.loads(proc.stdout.strip().splitlines()[-1])["peak_rss_mb"]

    base = results["default"]
    print("| session options | p50 @16 | p50 @128 | texts/s | peak RSS MB | vs default @16 / @128 / texts/s |")
    print("|---|---|---|---|---|---|")
    for name, r in results.items():
        ratio = f"{base['p50_ms_16'] / r['p50_ms_16']:.2f}x / {base['p50_ms_128'] / r['p50_ms_128']:.2f}x / {r['texts_per_s'] / base['texts_per_s']:.2f}x"
        print(f"| {name} | {r['p50_ms_16']:.2f} | {r['p50_ms_128']:.2f} | {r['texts_per_s']:.0f} | {r['peak_rss_mb']:.0f} | {ratio} |")
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / "session_options.json"
    out.write_text(json.dumps({"device": device_info(), "bundle": args.bundle, "runs": args.runs, "results": results, "when": time.strftime("%Y-%m-%d %H:%M")}, indent=2) + "\n")
    print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
