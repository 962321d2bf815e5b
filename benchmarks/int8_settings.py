"""Which dynamic-int8 setting keeps a bundle's task metric on this CPU, and at what speed.

    python benchmarks/int8_settings.py BUNDLE --data EVAL_FILE [--data TEST_FILE] [--out results.json]

BUNDLE: an exported bundle (its fused fp32 ``model.onnx`` is re-quantised here). Each setting is
quantised with ``onnxruntime.quantization.quantize_dynamic`` into a copy of the bundle, loaded
through the real runtime and scored with ``edgeft eval``'s code on each ``--data`` file; then the
int8 graphs' batch-1 latency at 128 tokens is timed in one process, settings alternating in
blocks (medians), on 1 thread. The settings:

- ``s8-7bit``: int8 weights with ``reduce_range`` (7 bits), edgeft's ``avx2`` preset: on CPUs
  without VNNI, onnxruntime's U8S8 kernel uses ``vpmaddubsw``, whose int16 sums saturate with
  full-range weights (onnxruntime's quantisation docs; issue #6004);
- ``s8-8bit``: full-range int8 weights (the ``avx512_vnni`` / ``arm64`` preset) run on this CPU;
- ``u8-8bit``: uint8 weights (U8U8), full range, which onnxruntime's docs name as the other way
  out of saturation;
- ``s8-7bit-head-fp32``, ``s8-7bit-ffn-out-fp32``: the avx2 preset with the task head, or every
  layer's second feed-forward MatMul (its input is the GELU output, the widest activations), left
  in fp32.

All per-channel. The point: find what keeps the metric within the gate's 1 point where the
avx2 preset does not (NCBI-disease NER, README "NER quality").
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SETTINGS = {
    "s8-7bit": {"weight": "int8", "reduce_range": True, "exclude": None},
    "s8-8bit": {"weight": "int8", "reduce_range": False, "exclude": None},
    "u8-8bit": {"weight": "uint8", "reduce_range": False, "exclude": None},
    "s8-7bit-head-fp32": {"weight": "int8", "reduce_range": True, "exclude": "head"},
    "s8-7bit-ffn-out-fp32": {"weight": "int8", "reduce_range": True, "exclude": "ffn-out"},
}


def excluded_nodes(model_path: Path, which: str | None) -> list[str]:
    """Names of the MatMuls to keep in fp32: the last one (the task head) or every layer's output dense."""
    import onnx

    matmuls = [n.name for n in onnx.load(str(model_path), load_external_data=False).graph.node if n.op_type == "MatMul"]
    if which == "head":
        return matmuls[-1:]
    if which == "ffn-out":
        return [n for n in matmuls if n.endswith("/output/dense/MatMul") and "/attention/" not in n]
    return []


def quantise(src: Path, dst: Path, weight: str, reduce_range: bool, exclude: list[str]) -> None:
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(
        str(src),
        str(dst),
        weight_type=QuantType.QInt8 if weight == "int8" else QuantType.QUInt8,
        per_channel=True,
        reduce_range=reduce_range,
        nodes_to_exclude=exclude,
        extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT, "MatMulConstBOnly": True},
    )


def bundle_with(bundle: Path, int8_file: Path, where: Path) -> Path:
    """A copy of ``bundle`` whose int8 variant is ``int8_file`` (the manifest's hash updated)."""
    from edgeft_runtime.manifest import sha256_file

    copy = where / int8_file.stem
    copy.mkdir()
    for name in ("edgeft.json", "tokenizer.json", "model.onnx"):
        shutil.copy(bundle / name, copy / name)
    manifest = json.loads((copy / "edgeft.json").read_text())
    target = manifest["variants"]["int8"]["file"]
    shutil.copy(int8_file, copy / target)
    manifest["files"] = {k: v for k, v in manifest["files"].items() if (copy / k).exists()}
    manifest["files"][target] = {"sha256": sha256_file(copy / target), "bytes": (copy / target).stat().st_size}
    manifest.pop("reference", None)
    (copy / "edgeft.json").write_text(json.dumps(manifest))
    return copy


def long_text(model, tokens: int = 128) -> str:
    words = ("the patient with hereditary breast and ovarian cancer carried a BRCA1 mutation " * 40).split()
    text = " ".join(words[:tokens])
    while len(model.tokenizer.encode([text])[0].ids) > tokens:
        text = text.rsplit(" ", 1)[0]
    return text


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("bundle", type=Path)
    parser.add_argument("--data", type=Path, action="append", required=True, help="labelled file(s) to score each setting on")
    parser.add_argument("--settings", default=",".join(SETTINGS))
    parser.add_argument("--runs", type=int, default=300, help="latency calls per setting, in blocks of 50")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "int8_settings.json")
    args = parser.parse_args()

    import edgeft_runtime
    from edgeft.evaluation import evaluate_bundle
    from edgeft_runtime.device import device_info

    names = [n for n in args.settings.split(",") if n]
    results: dict[str, dict] = {}
    models = {}
    with tempfile.TemporaryDirectory() as tmp:
        where = Path(tmp)
        fp32 = edgeft_runtime.load(args.bundle, variant="fp32", threads=1)
        results["fp32"] = {name.name: evaluate_bundle(fp32, name) for name in args.data}
        for name in names:
            setting = SETTINGS[name]
            exclude = excluded_nodes(args.bundle / "model.onnx", setting["exclude"])
            file = where / f"{name}.onnx"
            quantise(args.bundle / "model.onnx", file, setting["weight"], setting["reduce_range"], exclude)
            model = edgeft_runtime.load(bundle_with(args.bundle, file, where), variant="int8", threads=1)
            models[name] = model
            results[name] = {
                **{data.name: evaluate_bundle(model, data) for data in args.data},
                "excluded_nodes": len(exclude),
                "bytes": file.stat().st_size,
                **setting,
            }
            print(name, {d.name: round(100 * results[name][d.name].get("entity_f1", results[name][d.name].get("accuracy", 0)), 2) for d in args.data}, flush=True)
        text = long_text(fp32)
        times: dict[str, list[float]] = {n: [] for n in ["fp32", *names]}
        models["fp32"] = fp32
        for _ in range(max(1, args.runs // 50)):
            for name, model in models.items():
                model.run_task([text])
                for _ in range(50):
                    start = time.perf_counter()
                    model.run_task([text])
                    times[name].append(1000 * (time.perf_counter() - start))
        for name, values in times.items():
            results[name]["latency_ms_128_p50"] = round(statistics.median(values), 3)
    report = {"bundle": str(args.bundle), "data": [str(d) for d in args.data], "device": device_info(1), "threads": 1, "results": results}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps({n: {k: v for k, v in r.items() if k.endswith("p50")} for n, r in results.items()}))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
