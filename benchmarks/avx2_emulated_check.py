"""The device check on an x86 CPU without VNNI (AVX2 only), under emulation, next to this machine.

    python benchmarks/avx2_emulated_check.py BUNDLE [BUNDLE ...] [--variant V ...] [--samples N]
        [--results NAME]

int8 answers depend on the CPU's int8 kernels: on AVX2 without VNNI, onnxruntime multiplies
uint8 activations by int8 weights with ``vpmaddubsw``, whose 16-bit pair sums saturate; AVX-512
VNNI (``vpdpbusd``) does not. An export made on a VNNI machine cannot see that in its gate. This
runs the torch-free device check (``python -m edgeft_runtime.check BUNDLE --json``) twice: with
this machine's Python, and with the same Python under ``qemu-x86_64-static -cpu Haswell`` (AVX2,
FMA, no AVX-512), whose CPUID makes onnxruntime pick its AVX2 kernels, executed instruction by
instruction, saturation included. A probe proves it first: one ``MatMulInteger`` of 255s by 127s
must saturate under emulation (its exact value here); the results record both values.

Only the numerics mean something: the emulated check's labels, metric and output differences are
an AVX2 machine's; its timings are qemu's (about 160x slower) and are not reported. Needs Debian's
``qemu-user-static`` (``apt-get install qemu-user-static``). Writes
benchmarks/results/avx2_emulated_check.json (``--results NAME``) and prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
QEMU = "qemu-x86_64-static"
EMULATED_CPU = "Haswell"  # AVX2 + FMA, no AVX-512: the int8 target `avx2`

# u8 x s8 dot products of 64 terms, each pair 255*127*2 = 64770 > int16 max: an AVX2 kernel
# saturates every pair to 32767 (32 pairs: 1048544), a VNNI kernel returns the exact 2072640.
PROBE = """
import json, numpy as np, onnxruntime as ort
from onnx import TensorProto, helper
k = 64
w = helper.make_tensor("w", TensorProto.INT8, [k, 1], np.full((k, 1), 127, np.int8).tobytes(), raw=True)
graph = helper.make_graph([helper.make_node("MatMulInteger", ["a", "w"], ["y"])], "probe",
    [helper.make_tensor_value_info("a", TensorProto.UINT8, [1, k])], [helper.make_tensor_value_info("y", TensorProto.INT32, [1, 1])], [w])
model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
print(json.dumps({"value": int(session.run(None, {"a": np.full((1, k), 255, np.uint8)})[0][0, 0]), "exact": 255 * 127 * k}))
"""


def emulator() -> list[str]:
    if shutil.which(QEMU) is None:
        sys.exit(f"error: {QEMU} not found: install Debian's qemu-user-static (apt-get install qemu-user-static)")
    return [QEMU, "-cpu", EMULATED_CPU]


def run_json(cmd: list[str]) -> dict:
    done = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "PYTHONWARNINGS": "ignore"})
    if not done.stdout.strip():
        lines = [line for line in done.stderr.splitlines() if "TCG doesn't support" not in line]
        return {"error": (lines or [f"exit {done.returncode}"])[-1]}
    return json.loads(done.stdout)


def check(prefix: list[str], bundle: Path, variants: list[str], samples: int | None) -> dict:
    cmd = [*prefix, sys.executable, "-m", "edgeft_runtime.check", str(bundle), "--json", "--threads", "2"]
    for name in variants:
        cmd += ["--variant", name]
    if samples:
        cmd += ["--samples", str(samples)]
    started = time.monotonic()
    report = run_json(cmd)
    report["seconds"] = round(time.monotonic() - started, 1)
    return report


def row(report: dict, variant: str) -> str:
    if "error" in report:
        return f"error: {report['error']}"
    v = report["variants"].get(variant)
    if v is None:
        return "-"
    ok = "within" if v.get("passed", v["drop"] <= v["drop_limit"]) else "**misses**"
    return f"{v['value']:.2f} (drop {v['drop']:+.2f}, {ok} {v['drop_limit']:g}), agreement {100 * v['label_agreement']:.1f}%"


def table(results: dict) -> str:
    lines = [
        "| bundle | variant | samples | this machine (VNNI) | emulated AVX2 (qemu Haswell) |",
        "|---|---|---|---|---|",
    ]
    for item in results["bundles"]:
        native, emulated = item["native"], item["emulated"]
        for variant in (native.get("variants") or emulated.get("variants") or {}):
            samples = (native.get("variants") or {}).get(variant, {}).get("samples", "")
            lines.append(f"| {Path(item['bundle']).name} | {variant} | {samples} | {row(native, variant)} | {row(emulated, variant)} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bundles", nargs="+", type=Path)
    parser.add_argument("--variant", action="append", default=[], help="variant(s) to check [default: every variant]")
    parser.add_argument("--samples", type=int, default=None, help="first N reference examples [default: all]")
    parser.add_argument("--results", default="avx2_emulated_check", help="results file name (without .json)")
    args = parser.parse_args()
    for bundle in args.bundles:
        if not (bundle / "edgeft.json").is_file() and not bundle.is_file():  # a folder, or a .zip / .tar.gz bundle
            sys.exit(f"error: {bundle}: not a bundle (no edgeft.json); pass a folder written by `edgeft export`")
    prefix = emulator()
    probes = {"native": run_json([sys.executable, "-c", PROBE]), "emulated": run_json([*prefix, sys.executable, "-c", PROBE])}
    emulated = probes["emulated"]
    if emulated.get("value") == emulated.get("exact"):
        sys.exit(f"error: the emulated CPU did not saturate the probe ({emulated}): onnxruntime did not run AVX2 int8 kernels")
    results = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": platform.processor() or platform.machine(),
        "load_before": os.getloadavg(),
        "emulator": f"{QEMU} -cpu {EMULATED_CPU}",
        "saturation_probe": probes,
        "bundles": [],
    }
    for bundle in args.bundles:
        print(f"checking {bundle} here and under emulation ...", flush=True)
        native = check([], bundle, args.variant, args.samples)
        results["bundles"].append({"bundle": str(bundle), "native": native, "emulated": check(prefix, bundle, args.variant, args.samples)})
    results["load_after"] = os.getloadavg()
    out = ROOT / "benchmarks" / "results" / f"{args.results}.json"
    out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(table(results))
    print(f"wrote {out}")
    failed = [item["bundle"] for item in results["bundles"] for side in ("native", "emulated") if "error" in item[side]]
    if failed:
        sys.exit(f"error: the check could not run on {', '.join(sorted(set(failed)))} (see the table)")


if __name__ == "__main__":
    main()
