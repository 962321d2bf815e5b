"""After finetuning_techniques.py: the int8 graphs of full fine-tuning and LoRA (merged at
training, and adapter-only merged by export) timed against each other in one process, in both
orders and with more calls than the main script's pass, and the device check
(edgeft_runtime.check) on every SST-2 bundle's own reference set.

    python benchmarks/finetuning_graph_check.py [--runs 600]

Writes benchmarks/results/finetuning_graph_check.json.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent))

from finetuning_techniques import compare_graphs  # noqa: E402
from shared_data import ROOT  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=600, help="timed batch-1 calls per bundle and order")
    parser.add_argument("--work", type=Path, default=ROOT / "models" / "bench-finetune" / "sst2")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "finetuning_graph_check.json")
    args = parser.parse_args()
    from edgeft_runtime import check
    from edgeft_runtime.device import device_info

    folder = args.work / "bundles"
    bundles = {
        "full fine-tuning": folder / "full-fine-tuning",
        "LoRA (merged at training)": folder / "lora-r-8",
        "LoRA (adapter only, merged by export)": folder / "lora-adapter-only",
    }
    texts = [r["text"] for r in json.loads((args.work / "data" / "test.json").read_text())[:50]]
    latency = {}
    for order, items in (("forward", list(bundles.items())), ("reversed", list(reversed(bundles.items())))):
        ms = compare_graphs(dict(items), texts, args.runs)
        latency[order] = {"int8_latency_ms_p50": ms, "ratio_to_full": {k: round(v / ms["full fine-tuning"], 3) for k, v in ms.items()}}
    checks = {}
    for bundle in sorted(p for p in folder.iterdir() if (p / "edgeft.json").is_file()):
        report = check.check_bundle(bundle, threads=1)
        checks[bundle.name] = {
            "passed": report["passed"],
            "limits": report.get("limits"),
            "variants": {
                name: {k: v.get(k) for k in ("metric", "value", "reference_value", "label_agreement", "max_abs_diff", "samples", "failures")}
                for name, v in report["variants"].items()
            },
        }
    output = {"benchmark": "finetuning_graph_check", "runs": args.runs, "latency": latency, "device_check": checks, "machine": {**device_info(1), "shared_with_other_jobs": True, "load_average_at_end": os.getloadavg()}}
    args.out.write_text(json.dumps(output, indent=2) + "\n", encoding="utf-8")
    print(json.dumps({"latency": latency, "device_check_passed": {k: v["passed"] for k, v in checks.items()}}, indent=1))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
