"""Agreement of the JavaScript runtime (Node: onnxruntime-node; Chromium: onnxruntime-web wasm)
with the Python runtime on a real bundle, both variants.

    python benchmarks/js_agreement.py [BUNDLE]      # default models/demo-int8 (make demo)

Texts: the demo test split (150 product reviews) plus long texts (over max_length: truncated),
empty and whitespace-only strings, emoji, accents and CJK. Reports per engine and variant: label
agreement with Python's same variant, the largest probability difference, and the largest
difference from Python's fp32 (how far int8 moves from the unquantised model in each runtime).
Writes benchmarks/results/js_agreement.json. Needs runtime-js/node_modules and Chromium.
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np

import edgeft_runtime
from edgeft_runtime.device import device_info

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
EXTRA = [
    "",
    "   ",
    "Café crème, très bon ! The screen is gorgeous 😍😍",
    "バッテリーは素晴らしい。 The battery is great.",
    "ΟΔΟΣ the app crashes 💥 constantly",
    "cafe\u0301 decomposed accents, lovely strap",
    " ".join(["The battery is brilliant, I must say, but the screen keeps failing after an hour."] * 12),
    " ".join(["Awful support; the charger broke twice and nobody answered."] * 15),
]


def texts() -> list[str]:
    with open(ROOT / "examples" / "demo" / "test.csv", newline="", encoding="utf-8") as f:
        return [row["text"] for row in csv.DictReader(f)] + EXTRA


def node(command: list[str], bundle: Path, variant: str, items: list[str]) -> dict:
    done = subprocess.run(
        ["node", *command, str(bundle.resolve()), variant], cwd=ROOT / "runtime-js", input=json.dumps(items),
        capture_output=True, text=True, timeout=600, check=True,
    )
    return json.loads(done.stdout)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("bundle", nargs="?", type=Path, default=ROOT / "models" / "demo-int8")
    parser.add_argument("--out", type=Path, default=RESULTS / "js_agreement.json")
    args = parser.parse_args()
    items = texts()
    python = {v: edgeft_runtime.load(args.bundle, variant=v) for v in ("fp32", "int8")}
    proba = {v: m.predict_proba(items) for v, m in python.items()}
    labels = {v: [r["label"] for r in m.predict(items)] for v, m in python.items()}
    rows = []
    engines = {"node (onnxruntime-node)": ["test/cli.js", "run"], "chromium (onnxruntime-web wasm)": ["browser/run.js"]}
    for engine, command in engines.items():
        for variant in ("fp32", "int8"):
            js = node(command, args.bundle, variant, items)
            p = np.asarray(js["proba"])
            rows.append({
                "engine": engine,
                "variant": variant,
                "texts": len(items),
                "label_agreement": float(np.mean([a["label"] == b for a, b in zip(js["predict"], labels[variant])])),
                "max_abs_diff_vs_python_same_variant": float(np.abs(p - proba[variant]).max()),
                "max_abs_diff_vs_python_fp32": float(np.abs(p - proba["fp32"]).max()),
            })
    python_int8 = float(np.abs(proba["int8"] - proba["fp32"]).max())
    report = {
        "bundle": str(args.bundle),
        "device": device_info(),
        "python_int8_vs_python_fp32_max_abs_diff": python_int8,
        "python_int8_vs_fp32_label_agreement": float(np.mean([a == b for a, b in zip(labels["int8"], labels["fp32"])])),
        "rows": rows,
    }
    args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"python int8 vs python fp32: max |diff| {python_int8:.2e}")
    for r in rows:
        print(
            f"{r['engine']:32} {r['variant']}: labels {100 * r['label_agreement']:.1f}% of {r['texts']}, "
            f"max |diff| vs Python {r['variant']} {r['max_abs_diff_vs_python_same_variant']:.2e}, vs Python fp32 {r['max_abs_diff_vs_python_fp32']:.2e}"
        )
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
