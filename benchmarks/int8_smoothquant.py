"""Does SmoothQuant-style activation smoothing help edgeft's static int8? (issue 28 point 1)

    python benchmarks/int8_smoothquant.py [--run /work/models-shared/sst2-minilm-128] [--alphas 0.5,0.8]
        [--results int8_smoothquant.json]

onnxruntime 1.32's own switch (``quantize_static(..., extra_options={"SmoothQuant": True})``)
imports ``neural_compressor.adaptor.ox_utils.smooth_quant``, which neural-compressor 3.x no
longer ships, so the transform is written here on the ONNX graph, as SmoothQuant (Xiao et al.
2023) defines it: for every activation tensor X that feeds MatMuls with constant weights W,
per input channel j, s_j = max|X_j|^alpha / max|W_j|^(1-alpha) (max|X_j| over the calibration
texts); X is divided by s (one Mul node, since in a post-LayerNorm BERT the LayerNorm output also
feeds the residual and cannot absorb it) and W's row j multiplied by s_j, which leaves the fp32
function unchanged and moves activation outliers into the weights, where per-channel scales
absorb them.

The graph is Optimum's unfused export of the run (what edgeft's static int8 quantises), quantised
by edgeft's own ``quantize_static_int8`` (QDQ, per-channel symmetric int8 weights, uint8
activations, MinMax on 128 texts spread over the run's training file) with and without the
smoothing. Per graph: SST-2 dev accuracy (872 texts, one at a time), agreement with the fp32
graph, the largest probability difference, and batch-1 latency at 16 and 128 tokens (graphs
alternating in blocks, medians, 1 thread).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent))

from shared_data import ROOT  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
SHARED = Path("/work/models-shared")


def read_csv(path: Path) -> list[dict]:
    import csv

    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def export_unfused(run: Path, out: Path) -> Path:
    from optimum.onnxruntime import ORTModelForSequenceClassification

    ORTModelForSequenceClassification.from_pretrained(run, export=True).save_pretrained(out)
    return out / "model.onnx"


def feed(tok, text: str) -> dict:
    import numpy as np

    enc = tok.encode(text)
    ids = np.array([enc.ids], np.int64)
    return {"input_ids": ids, "attention_mask": np.ones_like(ids), "token_type_ids": np.zeros_like(ids)}


def smoothed(src: Path, dst: Path, feeds: list[dict], alpha: float) -> dict:
    """``src`` with SmoothQuant's scales applied (see the module's docstring); what was smoothed."""
    import numpy as np
    import onnx
    import onnxruntime as ort
    from onnx import helper, numpy_helper

    model = onnx.load(str(src))
    weights = {i.name: i for i in model.graph.initializer}
    consumers: dict[str, list] = {}
    for node in model.graph.node:
        if node.op_type == "MatMul" and node.input[1] in weights and len(weights[node.input[1]].dims) == 2:
            consumers.setdefault(node.input[0], []).append(node)
    # max |X_j| of every smoothed activation over the calibration texts
    probe = onnx.load(str(src))
    probe.graph.output.extend(helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, None) for name in consumers)
    session = ort.InferenceSession(probe.SerializeToString(), providers=["CPUExecutionProvider"])
    names = list(consumers)
    amax = {name: None for name in names}
    for f in feeds:
        for name, value in zip(names, session.run(names, f)):
            m = np.abs(value).reshape(-1, value.shape[-1]).max(0)
            amax[name] = m if amax[name] is None else np.maximum(amax[name], m)
    for name, nodes in consumers.items():
        w_max = np.max([np.abs(numpy_helper.to_array(weights[n.input[1]])).max(1) for n in nodes], axis=0)
        s = np.clip(amax[name] ** alpha / np.maximum(w_max, 1e-8) ** (1 - alpha), 1e-5, 1e5).astype(np.float32)
        inv = numpy_helper.from_array((1.0 / s).astype(np.float32), f"{name}_smooth_inv")
        model.graph.initializer.append(inv)
        out = f"{name}_smoothed"
        model.graph.node.append(helper.make_node("Mul", [name, inv.name], [out], name=f"{name}_smooth"))
        for n in nodes:
            w = weights[n.input[1]]
            w.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(w) * s[:, None], w.name))
            n.input[0] = out
    # Mul nodes were appended at the end: put the graph back in topological order
    from onnxruntime.transformers.onnx_model import OnnxModel

    wrapped = OnnxModel(model)
    wrapped.topological_sort()
    onnx.save(wrapped.model, str(dst))
    return {"activations": len(consumers), "matmuls": sum(len(v) for v in consumers.values()), "alpha": alpha}


def evaluate(path: Path, tok, rows: list[dict], labels: list[str], reference=None) -> dict:
    import numpy as np
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    probs = []
    for row in rows:
        logits = session.run(None, feed(tok, row["text"]))[0][0]
        e = np.exp(logits - logits.max())
        probs.append(e / e.sum())
    probs = np.array(probs)
    predicted = [labels[i] for i in probs.argmax(1)]
    out = {"accuracy": round(100 * float(np.mean([p == r["label"] for p, r in zip(predicted, rows)])), 2), "probs": probs}
    if reference is not None:
        out["agreement"] = round(float(np.mean(probs.argmax(1) == reference.argmax(1))), 4)
        out["max_probability_diff"] = round(float(np.abs(probs - reference).max()), 4)
    return out


def timings(paths: dict[str, Path], tok, texts: dict[int, str], runs: int) -> dict:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    sessions = {k: ort.InferenceSession(str(p), options, providers=["CPUExecutionProvider"]) for k, p in paths.items()}
    samples = {k: {n: [] for n in texts} for k in paths}
    for r in range(runs):
        order = list(sessions)[r % len(sessions):] + list(sessions)[: r % len(sessions)]
        for k in order:
            for n, text in texts.items():
                f = feed(tok, text)
                sessions[k].run(None, f)
                for _ in range(5):
                    t = time.perf_counter()
                    sessions[k].run(None, f)
                    samples[k][n].append((time.perf_counter() - t) * 1000)
    return {k: {str(n): round(statistics.median(v), 3) for n, v in d.items()} for k, d in samples.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", default=str(SHARED / "sst2-minilm-128"))
    parser.add_argument("--train", default=str(SHARED / "data" / "sst2_train_4000.csv"))
    parser.add_argument("--dev", default=str(SHARED / "data" / "sst2_dev.csv"))
    parser.add_argument("--alphas", default="0.5,0.8")
    parser.add_argument("--runs", type=int, default=12)
    parser.add_argument("--results", default="int8_smoothquant.json")
    args = parser.parse_args()
    for p in (args.run, args.train, args.dev):
        if not Path(p).exists():
            sys.exit(f"skipped: {p} is absent (a run and SST-2 CSVs made as /work/models-shared/README.md says)")

    from tokenizers import Tokenizer

    from edgeft_exporters.quantize import resolve_preset, detect_preset
    from edgeft_exporters.static_quant import CALIBRATION_TEXTS, quantize_static_int8

    run = Path(args.run)
    labels = json.loads((run / "edgeft_run.json").read_text())["labels"]
    tok = Tokenizer.from_file(str(run / "tokenizer.json"))
    tok.no_padding()
    tok.enable_truncation(128)
    train = [r["text"] for r in read_csv(Path(args.train))]
    step = max(1, len(train) // CALIBRATION_TEXTS)
    feeds = [feed(tok, t) for t in train[::step][:CALIBRATION_TEXTS]]
    rows = read_csv(Path(args.dev))
    preset = resolve_preset(detect_preset())
    started = time.time()
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        fp32 = export_unfused(run, tmp / "fp32")
        graphs = {"fp32": fp32, "static": tmp / "static.onnx"}
        quantize_static_int8(fp32, graphs["static"], preset, feeds, per_channel=True)
        smoothing = {}
        for alpha in (float(a) for a in args.alphas.split(",")):
            name = f"static+smooth{alpha:g}"
            smoothing[name] = smoothed(fp32, tmp / f"smooth{alpha:g}.onnx", feeds, alpha)
            graphs[name] = tmp / f"{name}.onnx"
            quantize_static_int8(tmp / f"smooth{alpha:g}.onnx", graphs[name], preset, feeds, per_channel=True)
        reference = evaluate(fp32, tok, rows, labels)
        quality = {"fp32": {"accuracy": reference["accuracy"]}}
        for name, path in graphs.items():
            if name != "fp32":
                q = evaluate(path, tok, rows, labels, reference["probs"])
                quality[name] = {k: v for k, v in q.items() if k != "probs"}
                print(name, quality[name], flush=True)
        words = " ".join(rows[i]["text"] for i in range(40)).split()
        texts = {n: " ".join(words[: n - 2]) for n in (16, 128)}  # about n tokens with [CLS]/[SEP]
        latency = timings({k: v for k, v in graphs.items()}, tok, texts, args.runs)
    result = {
        "benchmark": "int8_smoothquant", "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "seconds": round(time.time() - started), "load_average": {"before": load_before, "after": os.getloadavg()},
        "cpu_flags": sorted(f for f in open("/proc/cpuinfo").read().split() if f in {"avx2", "avx512_vnni", "amx_int8", "avx512_bf16"}),
        "preset": preset.name, "run": str(run), "dev_texts": len(rows), "calibration_texts": len(feeds),
        "smoothing": smoothing, "quality": quality, "latency_ms_batch1_1thread": latency,
    }
    (RESULTS / args.results).write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    print(json.dumps({"quality": quality, "latency": latency}, indent=1))


if __name__ == "__main__":
    main()
