"""SST-2 end to end on real data: fine-tune all-MiniLM-L6-v2 on the train split, export int8, and
report dev/test accuracy of PyTorch fp32, ONNX fp32 and ONNX int8 with latency ratios, all in one run.

    python benchmarks/sst2_classifier.py [--epochs 3] [--runs 200] [--threads N]

Writes benchmarks/results/sst2_classifier.json and prints a Markdown table for the README.
Latency: batch 1 at 16/64/128 tokens, engines alternating in blocks in one process (see
edgeft_runtime/timing.py); the ratios are the numbers to quote, not the absolute milliseconds.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent))

from shared_data import ROOT, sst2_csvs  # noqa: E402


def accuracy_of(predict_proba, rows, labels) -> float:
    import numpy as np

    probs = predict_proba([t for t, _ in rows])
    gold = np.array([labels.index(label) for _, label in rows])
    return float((probs.argmax(-1) == gold).mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=float, default=3.0)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--work", type=Path, default=ROOT / "models" / "bench-sst2")
    parser.add_argument("--reuse", action="store_true", help="reuse the run and bundle of an earlier pass; re-measure only")
    args = parser.parse_args()

    import csv

    from edgeft.bench.pytorch_reference import reference_engine
    from edgeft.config import ClassifierConfig
    from edgeft.tasks.classifier import train_classifier
    from edgeft_exporters.api import ExportOptions, export_run
    from edgeft_runtime.bench import bundle_engine, text_of_length
    from edgeft_runtime.bench.measure import measure_latency
    from edgeft_runtime.device import device_info

    files = sst2_csvs(args.work / "data")
    rows = {s: list(csv.reader(open(p, encoding="utf-8")))[1:] for s, p in files.items()}
    run_dir, bundle_dir = args.work / "run", args.work / "bundle-int8"

    started = time.time()
    if args.reuse and (bundle_dir / "edgeft.json").is_file():
        train_seconds = json.loads((run_dir / "edgeft_run.json").read_text())["train_seconds"]
        manifest = json.loads((bundle_dir / "edgeft.json").read_text())
    else:
        config = ClassifierConfig(
            train=str(files["train"]), eval=str(files["dev"]), out=str(run_dir), epochs=args.epochs,
            batch_size=32, lr=5e-5, max_length=128, seed=42,
        )
        train_classifier(config, overwrite=True)
        train_seconds = time.time() - started
        manifest = export_run(run_dir, bundle_dir, ExportOptions(int8=True, overwrite=True)).manifest

    engines = [bundle_engine(bundle_dir, v, args.threads) for v in ("fp32", "int8")]
    reference = reference_engine(run_dir, args.threads)
    labels = manifest["labels"]
    accuracy = {}
    predictors = {
        "pytorch-fp32": reference.predict,
        "onnx-fp32": engines[0].extra["model"].predict_proba,
        "onnx-int8": engines[1].extra["model"].predict_proba,
    }
    for name, fn in predictors.items():
        accuracy[name] = {split: round(100 * accuracy_of(fn, [tuple(r) for r in rows[split]], labels), 2) for split in ("dev", "test")}

    tok = engines[0].extra["model"].tokenizer
    count = lambda t: len(tok.encode([t])[0].ids)  # noqa: E731
    texts = {n: [text_of_length(count, n, seed=s) for s in range(5)] for n in (16, 64, 128)}
    latency = measure_latency(engines + [reference], texts, args.runs)
    speedups = {
        name: {n: round(latency["pytorch-fp32"][n]["p50"] / latency[name][n]["p50"], 2) for n in latency[name]}
        for name in ("fp32", "int8")
    }
    result = {
        "benchmark": "sst2_classifier",
        "device": device_info(args.threads),
        "python": platform.python_version(),
        "epochs": args.epochs,
        "train_examples": len(rows["train"]),
        "train_seconds": round(train_seconds, 1),
        "accuracy_points": accuracy,
        "latency_ms": latency,
        "speedup_vs_pytorch_p50": speedups,
        "quantization": manifest["variants"]["int8"]["quantization"],
        "parity": manifest["parity"],
    }
    out = ROOT / "benchmarks" / "results" / "sst2_classifier.json"
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")

    print("| model | dev acc | test acc | p50 ms @16 | @64 | @128 | speed-up vs PyTorch @16 / 64 / 128 |")
    print("|---|---|---|---|---|---|---|")
    for label, acc_key, lat_key in (("PyTorch fp32", "pytorch-fp32", "pytorch-fp32"), ("ONNX fp32", "onnx-fp32", "fp32"), ("ONNX int8", "onnx-int8", "int8")):
        lat = latency[lat_key]
        speed = " / ".join(f"{speedups[lat_key][n]:.2f}x" for n in ("16", "64", "128")) if lat_key in speedups else "1.00x"
        print(f"| {label} | {accuracy[acc_key]['dev']:.2f} | {accuracy[acc_key]['test']:.2f} | {lat['16']['p50']:.2f} | {lat['64']['p50']:.2f} | {lat['128']['p50']:.2f} | {speed} |")
    print(f"\ntrained {args.epochs:g} epochs on {len(rows['train'])} examples in {train_seconds / 60:.1f} min; wrote {out}")


if __name__ == "__main__":
    main()
