"""edgeft's int8 variants against every peer engine, in ONE process, on a real held-out set.

The same fine-tuned MiniLM SST-2 classifier (trained on SST-2 train, scored on SST-2 dev: the demo
data scores 100% for everything) served by

  edgeft-auto          edgeft_runtime.load(bundle): the variant load() picks on this CPU
  edgeft-int8-dynamic  dynamic int8 (the export's dynamic candidates, best kept)
  edgeft-int8-static   static int8 (QDQ, per-channel symmetric weights, calibrated on 128 train texts)
  edgeft-fp32          the fused fp32 graph
  openvino-fp32        OpenVINO fp32 IR of the same ONNX export (f32 precision hint)
  openvino-bf16        the same IR with the bf16 hint: only where the CPU has AMX/AVX-512 BF16
  openvino-int8        NNCF static int8 (ModelType.TRANSFORMER: SmoothQuant), same calibration texts
  optimum-int8         Optimum ORTModelForSequenceClassification on Optimum's own export, quantised by its
                       ORTQuantizer (avx512_vnni dynamic preset, per-channel)
  executorch-fp32/int8 ExecuTorch XNNPACK (pt2e dynamic int8, per-channel), where executorch is installed
  pytorch              transformers, fp32 eager

Every engine tokenises inside its timed call (edgeft's own work includes it). Latency: batch 1 at
16/64/128 tokens, engines alternating in blocks with a 50 ms pause before each (thread pools keep
spinning after a call; DESIGN.md), medians, at 1 and 2 threads; ratios against edgeft-auto.
Accuracy and label agreement with PyTorch on all 872 dev texts (batches of 32). Batch
consistency: the largest change of a text's probability between scoring it alone and in a batch
of 32 neighbours. Cold start (process start to first answer) and peak RSS: one fresh process per
engine.

    python benchmarks/int8_engines.py --run models/sst2 [--runs 40] [--threads 1,2]

ExecuTorch needs `pip install executorch==1.5.1` (torchao comes with it; it is not part of
edgeft's extras: its import warnings reach every transformers import, so install it in a venv
that layers over the project's, e.g. a .pth line `import site; site.addsitedir(".venv/...")`).

Writes benchmarks/results/int8_engines.json (--results NAME; with CPU model, flags, load and date).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
sys.path.insert(0, str(Path(__file__).resolve().parent))

from shared_data import ROOT, SST2_LABELS, read_label_text, require, token_feed  # noqa: E402

LENGTHS = (16, 64, 128)
# The forced-method bundles are gated on this many dev texts (their accuracy is measured on all 872 below).
PARITY_SAMPLES = 300
RESULTS = ROOT / "benchmarks" / "results"
ENGINES = (
    "edgeft-auto", "edgeft-int8-dynamic", "edgeft-int8-static", "edgeft-fp32", "openvino-fp32", "openvino-bf16",
    "openvino-int8", "optimum-int8", "executorch-fp32", "executorch-int8", "pytorch",
)


def build(run: Path, work: Path, auto_bundle: Path | None = None) -> dict:
    """The bundles and peer model files, built once into ``work``; returns their paths.
    ``auto_bundle``: a bundle already made by `edgeft export RUN --int8 --openvino auto` (the
    default pick's), used instead of exporting one here."""
    from edgeft_exporters.api import ExportOptions, export_run

    train = [t for t, _ in read_label_text(require("sst2") / "train.txt", SST2_LABELS)]
    calibration = train[:: len(train) // 128][:128]
    paths = {"run": str(run), "calibration": calibration}
    for method in ("dynamic", "static"):
        out = work / f"bundle-{method}"
        if not (out / "edgeft.json").exists():
            export_run(run, out, ExportOptions(int8=True, int8_method=method, max_drop=100.0, overwrite=True, reference_samples=0, parity_samples=PARITY_SAMPLES),
                       calibration_texts=calibration, calibration_source="SST-2 train, every 54th text")
        paths[method] = str(out)
    auto = auto_bundle or work / "bundle-auto"
    if not (auto / "edgeft.json").exists():
        export_run(run, auto, ExportOptions(int8=True, overwrite=True, openvino="auto", reference_samples=64),
                   calibration_texts=calibration, calibration_source="SST-2 train, every 54th text")
    paths["auto"] = str(auto)
    paths.update(build_openvino(run, work, calibration))
    paths.update(build_optimum(run, work))
    try:
        paths.update(build_executorch(run, work, calibration))
    except Exception as e:  # torch.export / the XNNPACK lowering of a given transformers release: report, go on without
        print(f"ExecuTorch engines skipped: {str(e).splitlines()[0] if str(e) else type(e).__name__}", file=sys.stderr)
    return paths


def build_openvino(run: Path, work: Path, calibration: list[str]) -> dict:
    """OpenVINO fp32 IR and NNCF int8 IR from Optimum's unfused export, with edgeft's own functions."""
    try:
        from edgeft_exporters.openvino_variant import convert, quantize_nncf
    except ImportError:
        return {}
    fp32, int8 = work / "ov" / "model.xml", work / "ov" / "model_int8.xml"
    if not int8.exists():
        from tokenizers import Tokenizer

        model = convert(optimum_export(run, work) / "model.onnx", fp32)
        tok = Tokenizer.from_file(str(Path(run) / "tokenizer.json"))
        tok.no_padding()
        feeds = [token_feed(tok, [t]) for t in calibration]
        quantize_nncf(model, feeds, int8)
    return {"ov_fp32": str(fp32), "ov_int8": str(int8)}


def optimum_export(run: Path, work: Path) -> Path:
    """Optimum's own unfused ONNX export of the run (with its config.json), shared by the OpenVINO
    and Optimum peers: what a user of those tools starts from."""
    folder = work / "optimum" / "onnx"
    if not (folder / "model.onnx").exists():
        from optimum.exporters.onnx import main_export

        main_export(str(run), output=str(folder), task="text-classification", library_name="transformers")
    return folder


def build_optimum(run: Path, work: Path) -> dict:
    """Optimum's int8 path as its docs show it: ORTQuantizer with the avx512_vnni dynamic preset on
    Optimum's export. The folder keeps config.json beside the graph: ORTModel infers the library
    from it ("library name could not be inferred" on an edgeft bundle, which has none)."""
    from optimum.onnxruntime import ORTQuantizer
    from optimum.onnxruntime.configuration import AutoQuantizationConfig

    source = optimum_export(run, work)
    out = work / "optimum" / "int8"
    if not (out / "model_quantized.onnx").exists():
        quantizer = ORTQuantizer.from_pretrained(source, file_name="model.onnx")
        quantizer.quantize(AutoQuantizationConfig.avx512_vnni(is_static=False, per_channel=True), save_dir=out)
    return {"optimum_int8": str(out)}


def build_executorch(run: Path, work: Path, calibration: list[str]) -> dict:
    """ExecuTorch XNNPACK programs (fp32, and pt2e dynamic int8 with per-channel weights); {} without executorch."""
    try:
        import executorch  # noqa: F401
    except ImportError:
        return {}
    import torch
    from executorch.backends.xnnpack.partition.xnnpack_partitioner import XnnpackPartitioner
    from executorch.exir import to_edge_transform_and_lower
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    out = {}
    tokenizer = AutoTokenizer.from_pretrained(str(run))
    model = AutoModelForSequenceClassification.from_pretrained(str(run)).eval()
    example = tokenizer(calibration[0], return_tensors="pt")
    args = (example["input_ids"], example["attention_mask"])
    seq = torch.export.Dim("seq", min=2, max=128)
    shapes = ({1: seq}, {1: seq})
    for kind in ("fp32", "int8"):
        path = work / f"executorch_{kind}.pte"
        if not path.exists():
            exported = torch.export.export(model, args, dynamic_shapes=shapes, strict=False)
            if kind == "int8":
                exported = torch.export.export(quantise_pt2e(exported, tokenizer, calibration), args, dynamic_shapes=shapes, strict=False)
            program = to_edge_transform_and_lower(exported, partitioner=[XnnpackPartitioner()]).to_executorch()
            path.write_bytes(program.buffer)
        out[f"et_{kind}"] = str(path)
    return out


def quantise_pt2e(exported, tokenizer, calibration):
    from executorch.backends.xnnpack.quantizer.xnnpack_quantizer import XNNPACKQuantizer, get_symmetric_quantization_config
    from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e

    quantizer = XNNPACKQuantizer().set_global(get_symmetric_quantization_config(is_per_channel=True, is_dynamic=True))
    prepared = prepare_pt2e(exported.module(), quantizer)
    for text in calibration[:32]:
        enc = tokenizer(text, return_tensors="pt")
        prepared(enc["input_ids"], enc["attention_mask"])
    return convert_pt2e(prepared)


def softmax(x):
    import numpy as np

    x = np.asarray(x, dtype=np.float64)
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def make_engine(name: str, paths: dict, threads: int):
    """(probabilities of one text, probabilities of a batch of texts) for one engine; None where
    the engine is missing here (no executorch; bf16 on a CPU without bf16 arithmetic)."""
    import numpy as np

    if name.startswith("edgeft-"):
        import edgeft_runtime

        bundle, variant = {"edgeft-auto": (paths["auto"], "auto"), "edgeft-int8-dynamic": (paths["dynamic"], "int8"),
                           "edgeft-int8-static": (paths["static"], "int8"), "edgeft-fp32": (paths["dynamic"], "fp32")}[name]
        model = edgeft_runtime.load(bundle, variant=variant, threads=threads)
        return (lambda t: model.predict_proba(t)), (lambda ts: model.predict_proba(ts, batch_size=32)), model.variant
    if name.startswith("openvino-"):
        return openvino_engine(name, paths, threads)
    if name.startswith("executorch-"):
        return executorch_engine(name, paths, threads)
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(paths["run"])
    if name == "optimum-int8":
        import onnxruntime as ort
        from optimum.onnxruntime import ORTModelForSequenceClassification

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        model = ORTModelForSequenceClassification.from_pretrained(paths["optimum_int8"], file_name="model_quantized.onnx", session_options=options)
        run = lambda ts: softmax(model(**tokenizer(ts, padding=True, truncation=True, max_length=128, return_tensors="np")).logits)  # noqa: E731
        return (lambda t: run([t])[0]), run, "onnxruntime"
    import torch
    from transformers import AutoModelForSequenceClassification

    torch.set_num_threads(threads)
    model = AutoModelForSequenceClassification.from_pretrained(paths["run"]).eval()

    def run(ts):
        with torch.inference_mode():
            return softmax(model(**tokenizer(ts, padding=True, truncation=True, max_length=128, return_tensors="pt")).logits.numpy())

    return (lambda t: run([t])[0]), run, f"torch {torch.__version__}"


def openvino_engine(name: str, paths: dict, threads: int):
    import openvino as ov
    from tokenizers import Tokenizer

    from edgeft_runtime.device import cpu_flags

    if "ov_fp32" not in paths or (name == "openvino-bf16" and not cpu_flags() & {"amx_bf16", "avx512_bf16"}):
        return None
    precision = "bf16" if name == "openvino-bf16" else "f32"
    xml = paths["ov_int8" if name == "openvino-int8" else "ov_fp32"]
    compiled = ov.Core().compile_model(xml, "CPU", {"PERFORMANCE_HINT": "LATENCY", "INFERENCE_NUM_THREADS": threads, "INFERENCE_PRECISION_HINT": precision})
    request = compiled.create_infer_request()
    tok = Tokenizer.from_file(str(Path(paths["run"]) / "tokenizer.json"))
    tok.no_padding()
    tok.enable_truncation(128)
    run = lambda ts: softmax(request.infer(token_feed(tok, ts))[compiled.output(0)])  # noqa: E731
    return (lambda t: run([t])[0]), run, f"openvino {ov.get_version().split('-')[0]} ({precision})"


def executorch_engine(name: str, paths: dict, threads: int):
    key = "et_" + name.split("-")[1]
    if key not in paths:
        return None
    import torch
    from executorch.runtime import Runtime
    from tokenizers import Tokenizer

    try:
        from executorch.extension.pybindings.portable_lib import _unsafe_reset_threadpool

        _unsafe_reset_threadpool(threads)
    except ImportError:
        pass
    method = Runtime.get().load_program(paths[key]).load_method("forward")
    tok = Tokenizer.from_file(str(Path(paths["run"]) / "tokenizer.json"))
    tok.no_padding()
    tok.enable_truncation(128)

    def one(text):
        f = token_feed(tok, [text])
        return softmax(method.execute([torch.from_numpy(f["input_ids"]), torch.from_numpy(f["attention_mask"])])[0].numpy())[0]

    import numpy as np

    return one, (lambda ts: np.stack([one(t) for t in ts])), "executorch (XNNPACK)"


def accuracy(engines: dict, dev: list[tuple[str, str]]) -> dict:
    """Accuracy on SST-2 dev, label agreement with PyTorch, and batch consistency, per engine."""
    import numpy as np

    texts = [t for t, _ in dev]
    gold = np.array([1 if label == "positive" else 0 for _, label in dev])
    probs = {name: np.asarray(many(texts)) for name, (one, many, _) in engines.items()}
    reference = probs["pytorch"].argmax(-1)
    out = {}
    for name, (one, many, _) in engines.items():
        alone = np.stack([np.ravel(one(t)) for t in texts[:128]])
        out[name] = {
            "accuracy": round(100 * float((probs[name].argmax(-1) == gold).mean()), 2),
            "agreement_with_pytorch": round(100 * float((probs[name].argmax(-1) == reference).mean()), 2),
            "batch_vs_alone_max_prob_diff": float(np.abs(alone - probs[name][:128]).max()),
        }
    return out


def latency(engines: dict, texts: dict, runs: int) -> dict:
    from edgeft_runtime.timing import timed_blocks

    out = {}
    for n in texts:
        times = timed_blocks({name: one for name, (one, _, _) in engines.items()}, texts[n], runs)
        out[str(n)] = {name: round(1000 * statistics.median(v), 3) for name, v in times.items()}
    return out


def cold_start(name: str, paths_file: Path, threads: int) -> dict:
    """Process start to first answer, and peak RSS after 20 answers, in a fresh process."""
    started = time.time()
    proc = subprocess.run([sys.executable, __file__, "--cold", name, "--paths", str(paths_file), "--threads", str(threads)], capture_output=True, text=True, timeout=1800)
    if proc.returncode != 0:
        return {"error": (proc.stderr.strip().splitlines() or ["?"])[-1]}
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    return {"cold_start_s": round(result["first_at"] - started, 2), "peak_rss_mb": round(result["rss_mb"], 1)}


def cold_worker(name: str, paths: dict, threads: int) -> None:
    engine = make_engine(name, paths, threads)
    if engine is None:
        print(json.dumps({"first_at": time.time(), "rss_mb": float("nan")}))
        return
    engine[0]("a first text to answer")
    first = time.time()
    for _ in range(20):
        engine[0]("the film was a delight from start to finish , and the cast is superb")
    rss = next(int(line.split()[1]) / 1024 for line in Path("/proc/self/status").read_text().splitlines() if line.startswith("VmHWM:"))
    print(json.dumps({"first_at": first, "rss_mb": rss}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", type=Path, default=ROOT / "models" / "sst2")
    parser.add_argument("--work", type=Path, default=ROOT / "models" / "int8-engines")
    parser.add_argument("--auto-bundle", type=Path, help="the default export of the run (edgeft export RUN --int8 --openvino auto)")
    parser.add_argument("--results", default="int8_engines.json", help="file name under benchmarks/results/")
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--engines", default=",".join(ENGINES))
    parser.add_argument("--cold", help=argparse.SUPPRESS)
    parser.add_argument("--paths", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.cold:
        cold_worker(args.cold, json.loads(args.paths.read_text()), int(args.threads))
        return
    args.work.mkdir(parents=True, exist_ok=True)
    paths = build(args.run, args.work, args.auto_bundle)
    paths_file = args.work / "paths.json"
    paths_file.write_text(json.dumps(paths))
    from edgeft_runtime.bench import text_of_length
    from edgeft_runtime.device import device_info
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(Path(paths["dynamic"]) / "tokenizer.json"))
    tok.no_truncation()
    count = lambda t: len(tok.encode(t).ids)  # noqa: E731
    # Lengths beyond the run's max_length would be truncated by edgeft and not by the peers: skipped.
    max_length = json.loads((Path(paths["dynamic"]) / "edgeft.json").read_text())["max_length"]
    lengths = [n for n in LENGTHS if n <= max_length]
    if len(lengths) < len(LENGTHS):
        print(f"the run truncates at {max_length} tokens: timing {lengths} only (train with --max-length 128 for all)", file=sys.stderr)
    texts = {n: [text_of_length(count, n, seed=s) for s in range(6)] for n in lengths}
    dev = read_label_text(require("sst2") / "dev.txt", SST2_LABELS)
    load_before = os.getloadavg()
    report: dict = {"benchmark": "int8_engines", "date": time.strftime("%Y-%m-%d %H:%M"), "device": device_info(), "runs": args.runs, "by_threads": {}}
    for threads in [int(t) for t in args.threads.split(",")]:
        engines = {}
        for name in args.engines.split(","):
            print(f"loading {name} ({threads} threads)", file=sys.stderr, flush=True)
            engine = make_engine(name, paths, threads)
            if engine is not None:
                engines[name] = engine
        entry = {"engines": {name: e[2] for name, e in engines.items()}, "latency_ms": latency(engines, texts, args.runs)}
        if threads == int(args.threads.split(",")[0]):
            entry["accuracy"] = accuracy(engines, dev)
            entry["cold"] = {name: cold_start(name, paths_file, threads) for name in engines}
        report["by_threads"][str(threads)] = entry
        del engines
    report["load_average"] = {"before": load_before, "after": os.getloadavg()}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / args.results).write_text(json.dumps(report, indent=2) + "\n")
    print_tables(report)


def print_tables(report: dict) -> None:
    for threads, entry in report["by_threads"].items():
        lat = entry["latency_ms"]
        lengths = [int(n) for n in lat]
        base = {n: lat[str(n)]["edgeft-auto"] for n in lengths}
        print(f"\n{threads} thread(s): p50 ms (x edgeft-auto, which is {entry['engines'].get('edgeft-auto')})")
        print(f"| engine | {' | '.join(map(str, lengths))} | SST-2 dev acc | agreement | batch Δp | cold s | RSS MB |")
        print("|---" * (len(lengths) + 6) + "|")
        for name in entry["engines"]:
            cells = [f"{lat[str(n)][name]:.2f} ({lat[str(n)][name] / base[n]:.2f})" for n in lengths]
            acc = (entry.get("accuracy") or {}).get(name, {})
            cold = (entry.get("cold") or {}).get(name, {})
            print(f"| {name} | {' | '.join(cells)} | {acc.get('accuracy', '')} | {acc.get('agreement_with_pytorch', '')} | "
                  f"{acc.get('batch_vs_alone_max_prob_diff', float('nan')):.1e} | {cold.get('cold_start_s', '')} | {cold.get('peak_rss_mb', '')} |")


if __name__ == "__main__":
    main()
