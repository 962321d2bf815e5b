"""What each graph choice and onnxruntime-web build moves in the browser, apart from the runtimes:
raw sessions on token ids in one headless Chromium page, alternating blocks.

    python benchmarks/browser_graph_variants.py RUN [--bundle BUNDLE] [--runs 40]

RUN is an `edgeft train` run folder, BUNDLE its edgeft bundle (default RUN-int8). The graphs, each
beside transformers.js' own q8 conversion on transformers.js' onnxruntime-web build (the baseline,
ratio 1.00; above 1: faster):

- tjs_q8: transformers.js' conversion (benchmarks/browser_vs_transformersjs.py), also on edgeft's build
- fused_int8: edgeft's fused graph, int8 as the bundle's, without the first-token trim
- edgeft_int8: the bundle's int8 graph (fused, first-token trim)
- int8_u8w / int8_per_tensor: the same with unsigned weights / one scale per tensor
- static_qdq: static int8 (QDQ, 32 SST-2 dev texts to calibrate) of the trimmed unfused graph
- int8_offline: the bundle's int8 graph optimised offline by onnxruntime (extended level)
- int8_tanh_gelu: the bundle's int8 graph with its erf GELUs as FastGelu (`edgeft export --gelu tanh`)
- fp32: the bundle's fp32 graph

Writes benchmarks/results/browser_graph_variants.json with the machine, its load and the date.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from browser_vs_transformersjs import machine, transformers_js_conversion  # noqa: E402
from shared_data import SST2_LABELS, read_label_text, require  # noqa: E402

DRIVER = ROOT / "runtime-js" / "browser" / "graph_variants.js"
PAIRS = [("tjs_q8", "a131"), ("tjs_q8", "p130"), ("fused_int8", "p130"), ("edgeft_int8", "p130"), ("edgeft_int8", "a131"),
         ("int8_u8w", "p130"), ("int8_per_tensor", "p130"), ("static_qdq", "p130"), ("int8_offline", "p130"), ("fp32", "p130"),
         ("int8_tanh_gelu", "p130")]


def build_graphs(run: Path, bundle: Path, work: Path) -> dict:
    import shutil

    import onnx
    import onnxruntime as ort
    from edgeft_exporters.first_token import trim_file
    from edgeft_exporters.gelu import tanh_gelu_file
    from edgeft_exporters.onnx_export import export_with_optimum
    from edgeft_exporters.optimize import fuse_transformer
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_dynamic, quantize_static

    manifest = json.loads((bundle / "edgeft.json").read_text())
    quant = manifest["variants"]["int8"]["quantization"]
    config = json.loads((run / "config.json").read_text())
    made = {}
    work.mkdir(parents=True, exist_ok=True)
    g = lambda name: work / f"{name}.onnx"  # noqa: E731
    tjs = work.parent / ".transformersjs" / run.name
    made["tjs_q8"] = transformers_js_conversion(run, tjs)
    shutil.copyfile(tjs / "onnx" / "model_quantized.onnx", g("tjs_q8"))
    shutil.copyfile(bundle / manifest["variants"]["int8"]["file"], g("edgeft_int8"))
    shutil.copyfile(bundle / manifest["variants"]["fp32"]["file"], g("fp32"))
    dynamic = dict(extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT, "MatMulConstBOnly": True})
    if not g("fused_int8").exists():
        raw = export_with_optimum(run, work / "optimum", "text-classification")
        shutil.copyfile(raw, g("raw"))
        fuse_transformer(g("raw"), g("fused_fp32"), num_heads=config["num_attention_heads"], hidden_size=config["hidden_size"])
        quantize_dynamic(str(g("fused_fp32")), str(g("fused_int8")), weight_type=QuantType.QInt8, per_channel=quant["per_channel"], reduce_range=quant["reduce_range"], **dynamic)
        shutil.copyfile(g("raw"), g("raw_trimmed"))
        trim_file(g("raw_trimmed"))
    quantize_dynamic(str(g("fp32")), str(g("int8_u8w")), weight_type=QuantType.QUInt8, per_channel=quant["per_channel"], reduce_range=quant["reduce_range"], **dynamic)
    quantize_dynamic(str(g("fp32")), str(g("int8_per_tensor")), weight_type=QuantType.QInt8, per_channel=False, reduce_range=quant["reduce_range"], **dynamic)
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
    options.optimized_model_filepath = str(g("int8_offline"))
    ort.InferenceSession(str(g("edgeft_int8")), options, providers=["CPUExecutionProvider"])
    shutil.copyfile(g("edgeft_int8"), g("int8_tanh_gelu"))
    tanh_gelu_file(g("int8_tanh_gelu"))
    texts = [t for t, _ in read_label_text(require("sst2") / "dev.txt", SST2_LABELS)][:32]

    class Texts(CalibrationDataReader):
        def __init__(self) -> None:
            from tokenizers import Tokenizer

            tok = Tokenizer.from_file(str(bundle / "tokenizer.json"))
            self.items = iter(
                {"input_ids": [e.ids], "attention_mask": [e.attention_mask], "token_type_ids": [e.type_ids]} for e in map(tok.encode, texts)
            )

        def get_next(self):
            import numpy as np

            item = next(self.items, None)
            return None if item is None else {k: np.array(v, np.int64) for k, v in item.items()}

    quantize_static(str(g("raw_trimmed")), str(g("static_qdq")), Texts(), quant_format=QuantFormat.QDQ, op_types_to_quantize=["MatMul"],
                    activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8, per_channel=False, extra_options={"MatMulConstBOnly": True})
    made["nodes"] = {name: len(onnx.load(str(g(name)), load_external_data=False).graph.node) for name, _ in dict.fromkeys(PAIRS)}
    return made


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run", type=Path)
    parser.add_argument("--bundle", type=Path, default=None)
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--lengths", default="16,128")
    parser.add_argument("--only", default=None, help="comma-separated graph:build pairs to time beside the baseline (default: every pair in PAIRS)")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "browser_graph_variants.json")
    args = parser.parse_args()
    run = args.run.resolve()
    bundle = (args.bundle or run.with_name(f"{run.name}-int8")).resolve()
    work = ROOT / "models" / ".graph_variants"
    made = build_graphs(run, bundle, work)
    load_before = [round(x, 2) for x in os.getloadavg()]
    pairs = [f"{g}:{b}" for g, b in PAIRS]
    if args.only:
        pairs = ["tjs_q8:a131"] + [p for p in args.only.split(",") if p != "tjs_q8:a131"]  # any graph:build, e.g. edgeft_int8:p1311
    argv = ["node", str(DRIVER), "--folder", str(work), "--graphs", ",".join(pairs),
            "--runs", str(args.runs), "--threads", str(args.threads), "--lengths", args.lengths]
    result = json.loads(subprocess.run(argv, cwd=ROOT, check=True, capture_output=True, text=True).stdout)
    base = "tjs_q8:a131"
    ratios = {n: {k: round(ms[base] / v, 3) for k, v in ms.items()} for n, ms in result["ms"].items()}
    report = {
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": machine(),
        "load_average": {"before": load_before, "after": [round(x, 2) for x in os.getloadavg()]},
        "builds": {"p130": "edgeft-runtime's onnxruntime-web 1.30 (wasm build)", "a131": "transformers.js' onnxruntime-web 1.31-dev (asyncify build)",
                   "p1311": "onnxruntime-web 1.31.1 (wasm build; runtime-js/browser/graph_variants.js says how to install it)"},
        "threads": args.threads,
        "runs": args.runs,
        "baseline": base,
        "graphs": made,
        "median_ms": result["ms"],
        "session_start_ms": result["start_ms"],
        "speedup_vs_baseline": ratios,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"{'graph:build':<24}" + "".join(f"{n + ' tok':>12}" for n in ratios) + f"{'start ms':>10}")
    for key in result["start_ms"]:
        print(f"{key:<24}" + "".join(f"{ratios[n][key]:>11.2f}x" for n in ratios) + f"{result['start_ms'][key]:>10}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
