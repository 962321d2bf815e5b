"""What issue 27's checks cost on the normal path of `edgeft predict`: with them, and without.

    python benchmarks/reliability_overhead.py [BUNDLE] [--runs 20] [--out benchmarks/results/reliability_overhead.json]

Two workloads, each timed in one process in alternating blocks (edgeft_runtime.timing) in two
forms that differ only in the checks:

  predict          load(bundle) + run_task on the 300 demo texts: what `edgeft predict BUNDLE ...`
                   does after parsing its arguments
  predict --input  predict_file on a 600-row .txt in chunks of 100 (6 part files, hashed and
                   recorded in state.json), what `edgeft predict --input/--output` does

  checked          as shipped: manifest values checked (manifest_values), every file's resolved
                   path confined to the bundle (manifest.inside_bundle), thread counts checked,
                   each part's sha256 recorded for --resume
  unchecked        the same code with those checks replaced by no-ops (the path before issue 27)

It prints the medians and checked/unchecked ratios and writes them with the machine, its load and
the date. On a loaded machine those ratios carry the machine's noise, so it also times the checks
alone (thousands of calls): their cost per load and per part, as a share of the workloads'
medians, bounds what they can add whatever the noise. Needs an int8 classifier bundle (default: models/demo-int8 from `make demo`).
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Iterator

ROOT = Path(__file__).resolve().parents[1]


@contextlib.contextmanager
def unchecked() -> Iterator[None]:
    """The checks of issue 27 as no-ops, for the length of the block."""
    from edgeft.bulk import resume
    from edgeft_runtime import loader, manifest, session

    saved = [(manifest, "check_values"), (manifest, "inside_bundle"), (loader, "inside_bundle"), (session, "check_value"), (resume, "file_digest")]
    originals = [(module, name, getattr(module, name)) for module, name in saved]
    manifest.check_values = lambda *a: None
    manifest.inside_bundle = loader.inside_bundle = lambda folder, name: Path(folder) / name
    session.check_value = lambda *a: None
    resume.file_digest = lambda path: (0, "")
    try:
        yield
    finally:
        for module, name, value in originals:
            setattr(module, name, value)


def checks_alone(bundle: Path, work: Path, results: dict) -> dict:
    """Microseconds of the added checks per load (manifest values, three confined paths, threads)
    and per part (its sha256), and their share of each workload's checked median."""
    from edgeft.bulk.resume import file_digest
    from edgeft_runtime.manifest import check_values, inside_bundle, read_manifest
    from edgeft_runtime.options import THREADS, check_value

    manifest = read_manifest(bundle)
    names = ["edgeft.json", manifest["tokenizer"], manifest["variants"][manifest.get("default_variant") or next(iter(manifest["variants"]))]["file"]]
    part = work / "part.jsonl"
    part.write_bytes(next(work.glob("out-*.jsonl")).read_bytes()[: 100 * 160])  # about one chunk of 100 rows

    def per_call(fn: Any, n: int) -> float:
        start = time.perf_counter()
        for _ in range(n):
            fn()
        return (time.perf_counter() - start) / n

    load_checks = per_call(lambda: (check_values(manifest, "x"), [inside_bundle(bundle, n) for n in names], check_value("threads", None, THREADS)), 2000)
    part_hash = per_call(lambda: file_digest(part), 2000)
    return {
        "per_load_us": round(1e6 * load_checks, 1),
        "per_part_us": round(1e6 * part_hash, 1),
        "share_of_predict": round(load_checks / (results["predict"]["checked_ms"] / 1000), 6),
        "share_of_predict_input": round((load_checks + 6 * part_hash) / (results["predict --input"]["checked_ms"] / 1000), 6),
    }


def demo_texts() -> list[str]:
    rows: list[str] = []
    for name in ("dev.csv", "test.csv"):
        with open(ROOT / "examples" / "demo" / name, newline="", encoding="utf-8") as f:
            rows += [row["text"] for row in csv.DictReader(f)]
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("bundle", nargs="?", default=str(ROOT / "models" / "demo-int8"))
    parser.add_argument("--runs", type=int, default=20, help="timed calls per workload and form")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "reliability_overhead.json")
    args = parser.parse_args()
    if not (Path(args.bundle) / "edgeft.json").is_file():
        sys.exit(f"{args.bundle}: no bundle; run `make demo` first, or name an int8 classifier bundle")

    import edgeft_runtime
    from edgeft.bulk import FileJob, predict_file
    from edgeft_runtime.device import device_info
    from edgeft_runtime.timing import timed_blocks

    texts = demo_texts()
    work = Path(tempfile.mkdtemp(prefix="reliability-overhead-"))
    source = work / "in.txt"
    source.write_text("".join(t + "\n" for t in texts * 2), encoding="utf-8")
    counter = iter(range(10**9))

    def predict(_: Any) -> None:
        edgeft_runtime.load(args.bundle).run_task(texts)

    def predict_input(_: Any) -> None:
        predict_file(FileJob(Path(args.bundle), source, work / f"out-{next(counter)}.jsonl", chunk_size=100, progress=False))

    def without(fn: Any) -> Any:
        def run(x: Any) -> None:
            with unchecked():
                fn(x)

        return run

    load_before = os.getloadavg()
    results = {}
    for name, fn in (("predict", predict), ("predict --input", predict_input)):
        times = timed_blocks({"checked": fn, "unchecked": without(fn)}, [None], args.runs, block=2, warmup=1)
        medians = {form: statistics.median(values) for form, values in times.items()}
        results[name] = {
            "checked_ms": round(1000 * medians["checked"], 2),
            "unchecked_ms": round(1000 * medians["unchecked"], 2),
            "ratio": round(medians["checked"] / medians["unchecked"], 4),
            "runs": args.runs,
        }
        print(f"{name:16} checked {1000 * medians['checked']:8.1f} ms  unchecked {1000 * medians['unchecked']:8.1f} ms  ratio {results[name]['ratio']:.4f}")
    report = {
        "what": "issue 27 checks on the normal predict path: medians of alternating blocks, checked / unchecked",
        "bundle": str(args.bundle),
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": {k: v for k, v in device_info(None).items() if k in ("cpu_model", "cpu_flags", "architecture", "cores", "onnxruntime")},
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "results": results,
    }
    report["checks_alone"] = checks_alone(Path(args.bundle), work, results)
    print(json.dumps(report["checks_alone"]))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.out} (load {load_before[0]:.1f} before, {os.getloadavg()[0]:.1f} after)")


if __name__ == "__main__":
    main()
