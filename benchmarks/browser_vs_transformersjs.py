"""edgeft-runtime beside transformers.js in headless Chromium: the same fine-tuned model, a real
held-out set, one page, blocks alternating.

    python benchmarks/browser_vs_transformersjs.py RUN [--bundle BUNDLE] [--threads 1,2] [--passes 2]

RUN is an `edgeft train` run folder, BUNDLE its edgeft bundle (default RUN-int8). transformers.js
gets the model as its own conversion script makes it for a BERT (Optimum export, onnxslim when
installed, dynamic int8 with per-channel 7-bit weights: `dtype: 'q8'`, written to
models/.transformersjs/RUN/), read by `pipeline('text-classification')` with its own
onnxruntime-web build; with --graphs edgeft it gets the bundle's own graph instead (the
`--format transformers.js` folder), which separates the runtimes from the graphs. Texts: SST-2 dev
from ../shared/data. Per thread count and pass, runtime-js/browser/vs_transformersjs.js reports
p50/p90 at 16/64/128 tokens, throughput, first prediction on a fresh page and bytes fetched, and
the labels of every text; the summary is the median over passes of each ratio. Written to
benchmarks/results/browser_vs_transformersjs.json with the machine, its load and the date.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from shared_data import SST2_LABELS, read_label_text, require  # noqa: E402

DRIVER = ROOT / "runtime-js" / "browser" / "vs_transformersjs.js"
RESULTS = ROOT / "benchmarks" / "results" / "browser_vs_transformersjs.json"


def transformers_js_conversion(run: Path, out: Path) -> dict:
    """The run converted as transformers.js' scripts/convert.py does for a BERT (its q8)."""
    import onnx
    from edgeft_exporters.onnx_export import export_with_optimum
    from onnxruntime.quantization import QuantType, quantize_dynamic

    recipe = {"export": "optimum", "weight_type": "int8", "per_channel": True, "reduce_range": True, "onnxslim": False}
    if (out / "onnx" / "model_quantized.onnx").is_file():
        return json.loads((out / "recipe.json").read_text())
    with tempfile.TemporaryDirectory() as tmp:
        raw = export_with_optimum(run, Path(tmp), "text-classification")
        try:
            import onnxslim

            onnx.save(onnxslim.slim(str(raw)), str(raw))
            recipe["onnxslim"] = True
        except ImportError:
            pass  # its convert.py slims first; without onnxslim the graph is Optimum's as exported
        (out / "onnx").mkdir(parents=True, exist_ok=True)
        quantize_dynamic(str(raw), str(out / "onnx" / "model_quantized.onnx"), weight_type=QuantType.QInt8, per_channel=True,
                         reduce_range=True, extra_options={"EnableSubgraph": True, "MatMulConstBOnly": True})
    for name in ("config.json", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt"):
        if (run / name).is_file():
            shutil.copyfile(run / name, out / name)
    (out / "recipe.json").write_text(json.dumps(recipe, indent=2) + "\n")
    return recipe


def edgeft_graph_folder(bundle: Path, run: Path, out: Path) -> Path:
    """The bundle's own int8 graph in transformers.js' layout (what `--format transformers.js` writes)."""
    from edgeft_exporters.transformers_js import write_transformers_js_layout

    if out.exists():
        shutil.rmtree(out)
    manifest = json.loads((bundle / "edgeft.json").read_text())
    shutil.copytree(bundle, out)
    fields = {k: manifest[k] for k in ("task", "labels", "problem_type", "max_length", "variants", "default_variant") if k in manifest}
    fields["variants"] = {k: v for k, v in fields["variants"].items() if k == manifest["default_variant"]}
    write_transformers_js_layout(out, run, fields)
    return out


def machine() -> dict:
    from edgeft_runtime.device import device_info

    info = device_info()
    return {k: info.get(k) for k in ("cpu_model", "cpu_flags", "logical_cores", "architecture")}


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def python_labels(bundle: Path, variant: str, texts: list[str]) -> list[str]:
    """The Python runtime's label of each text, one text at a time as the browser pass runs them
    (int8 quantises activations per batch, so batching could move a label)."""
    from edgeft_runtime import load

    model = load(bundle, variant=variant, threads=1)
    return [model.predict(t)["label"] for t in texts]


def run_pass(bundle: Path, tjs: Path, texts: Path, threads: int, args: argparse.Namespace, reference: list[str]) -> dict:
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        argv = ["node", str(DRIVER), "--bundle", str(bundle), "--tjs", str(tjs), "--texts", str(texts), "--threads", str(threads),
                "--runs", str(args.runs), "--block", str(args.block), "--cold", str(args.cold), "--out", out.name]
        before = load_average()
        subprocess.run(argv, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
        result = json.loads(Path(out.name).read_text())
    browser = result["labels"].pop("edgeft_labels")
    result["labels"]["edgeft_equal_python"] = sum(a == b for a, b in zip(browser, reference, strict=True))
    result["load_average_before"] = before
    result["load_average_after"] = load_average()
    return result


def summary(passes: list[dict]) -> dict:
    """The median over passes of each ratio (transformers.js time / edgeft time) and figure."""
    med = lambda xs: round(statistics.median(xs), 3)  # noqa: E731
    first = passes[0]
    return {
        "ratio_p50": {n: med([p["ratio_p50"][n] for p in passes]) for n in first["ratio_p50"]},
        "p50_ms": {n: {e: med([p["latency_ms"][n][e]["p50"] for p in passes]) for e in ("edgeft", "transformers.js")} for n in first["latency_ms"]},
        "p90_ms": {n: {e: med([p["latency_ms"][n][e]["p90"] for p in passes]) for e in ("edgeft", "transformers.js")} for n in first["latency_ms"]},
        "throughput_texts_per_s": {e: med([p["throughput"][e]["texts_per_s"] for p in passes]) for e in ("edgeft", "transformers.js")},
        "first_prediction_s": {e: {v: med([p["first_prediction"][e][v]["seconds"] for p in passes]) for v in ("first_visit", "second_visit")} for e in ("edgeft", "transformers.js")},
        "bytes_fetched": {e: {v: {k: first["first_prediction"][e][v][k] for k in ("model_bytes", "runtime_bytes")} for v in ("first_visit", "second_visit")} for e in ("edgeft", "transformers.js")},
        "labels_equal": f"{min(p['labels']['equal'] for p in passes)}/{first['labels']['texts']}",
        "edgeft_labels_equal_python": f"{min(p['labels']['edgeft_equal_python'] for p in passes)}/{first['labels']['texts']}",
        "accuracy": first["labels"]["accuracy"],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run", type=Path)
    parser.add_argument("--bundle", type=Path, default=None)
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--passes", type=int, default=2)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--block", type=int, default=5, help="timed calls per engine between switches (smaller: more alternations, less drift inside a block)")
    parser.add_argument("--cold", type=int, default=3)
    parser.add_argument("--graphs", default="own", help="what transformers.js runs: own (its conversion), edgeft (the bundle's graph), or both: own,edgeft")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    run = args.run.resolve()
    bundle = (args.bundle or run.with_name(f"{run.name}-int8")).resolve()
    manifest = json.loads((bundle / "edgeft.json").read_text())
    rows = read_label_text(require("sst2") / "dev.txt", SST2_LABELS)
    names = {"negative": manifest["labels"][0], "positive": manifest["labels"][-1]}
    work = ROOT / "models" / ".transformersjs"
    texts = work / "sst2_dev.json"
    texts.parent.mkdir(parents=True, exist_ok=True)
    texts.write_text(json.dumps({"texts": [t for t, _ in rows], "labels": [names[label] for _, label in rows]}))
    recipe = transformers_js_conversion(run, work / run.name)
    reference = python_labels(bundle, manifest["default_variant"], [t for t, _ in rows])
    graphs = {}
    if "own" in args.graphs.split(","):
        graphs["transformers.js conversion"] = work / run.name
    if "edgeft" in args.graphs.split(","):
        graphs["edgeft graph"] = edgeft_graph_folder(bundle, run, work / f"{run.name}-edgeft-graph")
    report = {
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": machine(),
        "bundle": {"path": str(bundle), "variant": manifest["default_variant"], "first_token_only": manifest["variants"]["fp32"].get("first_token_only", 0),
                   "gelu": manifest["variants"][manifest["default_variant"]].get("quantization", {}).get("gelu", "erf")},
        "transformers_js": {"package": "@huggingface/transformers " + json.loads((ROOT / "runtime-js/node_modules/@huggingface/transformers/package.json").read_text())["version"],
                            "conversion": recipe, "call": "pipeline('text-classification', name, {dtype: 'q8', device: 'wasm'})"},
        "texts": f"SST-2 dev ({len(rows)} sentences); 16/64/128-token texts cut from its words",
        "timing": {"runs_per_length": args.runs, "block": args.block, "pause_ms": 200, "passes": args.passes},
        "results": {},
    }
    for graph, folder in graphs.items():
        for threads in [int(t) for t in args.threads.split(",")]:
            passes = []
            for p in range(args.passes):
                passes.append(run_pass(bundle, folder, texts, threads, args, reference))
                s = passes[-1]
                print(f"{graph}, {threads} thread(s), pass {p + 1}: transformers.js/edgeft p50 {s['ratio_p50']}, labels equal "
                      f"{s['labels']['equal']}/{s['labels']['texts']} (edgeft = Python: {s['labels']['edgeft_equal_python']}), load {s['load_average_before']}", flush=True)
            report["results"][f"{graph}, {threads}t"] = {"summary": summary(passes), "passes": passes}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    for key, r in report["results"].items():
        print(f"{key}: {json.dumps(r['summary'])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
