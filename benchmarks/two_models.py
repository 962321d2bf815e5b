"""Two bundles in one app process, both run for every request: what do their thread pools cost?

    python benchmarks/two_models.py [BUNDLE] [--passes 3] [--runs 300]

Each onnxruntime session has its own intra-op thread pool, and by default its threads spin for a
while after every call, waiting for more work. An app that runs two models per request (say a
classifier, then a tagger) runs the second while the first one's threads still spin. This
measures, each configuration in its own fresh process, passes in rotating order:

  one model                  the per-request latency of a single model (onnxruntime defaults:
                             one thread per core, spinning on); and with ``spinning=False``
  two models, spin on        model A then model B for each request, both with the defaults
  two models, spin off       the same with ``spinning=False`` for both
  two models, 1 thread each  the same with ``threads=1`` for both

Both models are the same int8 bundle loaded twice (two sessions, as two different bundles would
be). Batch-1 requests of 16 and 64 tokens. Prints medians over passes and the pair's cost
relative to twice "one model": 1.0 means two models cost exactly twice one.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
LENGTHS = (16, 64)
CONFIGS = {
    "one model": {"models": 1, "spinning": None, "threads": None},
    "one model, spin off": {"models": 1, "spinning": False, "threads": None},
    "two models, spin on": {"models": 2, "spinning": None, "threads": None},
    "two models, spin off": {"models": 2, "spinning": False, "threads": None},
    "two models, 1 thread each": {"models": 2, "spinning": None, "threads": 1},
}


def child(bundle: str, config: dict, runs: int) -> None:
    import edgeft_runtime
    from edgeft_runtime.bench import text_of_length
    from edgeft_runtime.timing import timed_blocks

    models = [
        edgeft_runtime.load(bundle, variant="int8", spinning=config["spinning"], threads=config["threads"])
        for _ in range(config["models"])
    ]
    count = lambda t: len(models[0].tokenizer.encode([t])[0].ids)  # noqa: E731
    result = {}
    for n in LENGTHS:
        texts = [text_of_length(count, n, seed=s) for s in range(8)]

        def request(text: str) -> None:
            for model in models:
                model.predict(text)

        times = timed_blocks({"request": request}, texts, runs)["request"]
        result[str(n)] = 1000 * statistics.median(times)
    print(json.dumps(result))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("bundle", nargs="?", default=str(ROOT / "models" / "bench-sst2" / "bundle-int8"))
    parser.add_argument("--passes", type=int, default=3)
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.bundle, json.loads(args.child), args.runs)
        return
    if not (Path(args.bundle) / "edgeft.json").is_file():
        sys.exit(f"missing {args.bundle}: run benchmarks/sst2_classifier.py first, or name an int8 bundle")

    names = list(CONFIGS)
    passes: list[dict[str, dict]] = []
    for p in range(args.passes):
        order = names[p % len(names) :] + names[: p % len(names)]
        row = {}
        for name in order:
            argv = [sys.executable, __file__, args.bundle, "--runs", str(args.runs), "--child", json.dumps(CONFIGS[name])]
            proc = subprocess.run(argv, capture_output=True, text=True, timeout=1800)
            if proc.returncode != 0:
                sys.exit(f"{name} failed: {proc.stderr.strip().splitlines()[-1:]}")
            row[name] = json.loads(proc.stdout.strip().splitlines()[-1])
            print(f"pass {p + 1}/{args.passes}: {name} {row[name]}", file=sys.stderr, flush=True)
        passes.append(row)

    from edgeft_runtime.device import device_info

    summary = {
        name: {str(n): statistics.median(p[name][str(n)] for p in passes) for n in LENGTHS} for name in names
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = {"benchmark": "two_models", "device": device_info(None), "runs": args.runs, "passes": passes, "summary_ms": summary}
    (RESULTS / "two_models.json").write_text(json.dumps(out, indent=2) + "\n")
    one = summary["one model"]
    print("| configuration | per request @16 tokens | @64 | vs twice one model @16 / @64 |")
    print("|---|---|---|---|")
    for name in names:
        ms = summary[name]
        pair = " / ".join(f"{ms[str(n)] / (2 * one[str(n)]):.2f}x" for n in LENGTHS) if CONFIGS[name]["models"] == 2 else "–"
        print(f"| {name} | {ms['16']:.2f} ms | {ms['64']:.2f} ms | {pair} |")
    print(f"\nwrote {RESULTS / 'two_models.json'}")


if __name__ == "__main__":
    main()
