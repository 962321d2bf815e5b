"""Where an int8 MiniLM's time goes in onnxruntime-web at 128 tokens, operator by operator: small
graphs of one operator at the model's shapes, and the bundle's own graph with one kind of step
replaced by a cheap stand-in (an ablation: what the whole run loses without it), each in one
headless Chromium page, blocks alternating.

    python benchmarks/browser_op_costs.py BUNDLE [--runs 20] [--threads 1]

The operators (6 of each, as in MiniLM-L6's 6 layers; 12 layer norms), on a 128-token row block:
- gelu_erf: the fused erf GELU the bundle runs (BiasGelu, 128x1536); gelu_tanh: FastGelu with bias
  (`edgeft export --gelu tanh`); gelu_erf_ops / gelu_tanh_ops: each written as standard ONNX
  operators (constants shaped so onnxruntime does not fuse them back); bias_add: the Add alone
- erf, tanh: the bare functions on 128x1536
- skip_layernorm: SkipLayerNormalization (128x384, x12); add_layernorm: Add + LayerNormalization
- ffn_int8: the int8 feed-forward matrix products (384 -> 1536 -> 384, dynamic int8), for scale
Ablations of the bundle's int8 graph: no_gelu (BiasGelu -> its bias Add), tanh_gelu (-> FastGelu),
no_layernorm (SkipLayerNormalization -> its residual Add). Their outputs are wrong; only time counts.

Writes benchmarks/results/browser_op_costs.json with the machine, its load and the date.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from browser_vs_transformersjs import machine  # noqa: E402

S, H, F = 128, 384, 1536


def _save(work: Path, name: str, nodes: list, inits: list, width: int, out: str) -> None:
    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph(nodes, name, [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, S, width])],
                              [helper.make_tensor_value_info(out, TensorProto.FLOAT, None)], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)])
    model.ir_version = 8
    onnx.save(model, str(work / f"{name}.onnx"))


def _chain(steps, n: int) -> tuple[list, str]:
    """``n`` copies of ``steps(prev, i) -> (nodes, out)`` one after another, from the input x."""
    nodes, prev = [], "x"
    for i in range(n):
        more, prev = steps(prev, i)
        nodes += more
    return nodes, prev


def operator_graphs(work: Path) -> list[str]:
    import numpy as np
    from onnx import helper, numpy_helper
    from onnxruntime.quantization import QuantType, quantize_dynamic

    rng = np.random.default_rng(0)
    t = lambda name, v: numpy_helper.from_array(np.asarray(v, np.float32), name)  # noqa: E731
    full = lambda name, v: t(name, np.full(F, v))  # vectors, not scalars: onnxruntime fuses only scalar-constant GELU patterns  # noqa: E731
    bias = t("b", rng.standard_normal(F) * 0.1)
    node = helper.make_node
    one = lambda op, domain="", extra=(): lambda p, i: ([node(op, [p, *extra], [f"y{i}"], domain=domain)], f"y{i}")  # noqa: E731

    def erf_ops(p, i):
        return [node("Add", [p, "b"], [f"v{i}"]), node("Mul", [f"v{i}", "r2"], [f"s{i}"]), node("Erf", [f"s{i}"], [f"e{i}"]),
                node("Add", [f"e{i}", "one"], [f"p{i}"]), node("Mul", [f"v{i}", f"p{i}"], [f"q{i}"]), node("Mul", [f"q{i}", "half"], [f"y{i}"])], f"y{i}"

    def tanh_ops(p, i):
        return [node("Add", [p, "b"], [f"v{i}"]), node("Mul", [f"v{i}", f"v{i}"], [f"sq{i}"]), node("Mul", [f"sq{i}", "c"], [f"c{i}"]),
                node("Add", [f"c{i}", "one"], [f"c1{i}"]), node("Mul", [f"v{i}", f"c1{i}"], [f"u{i}"]), node("Mul", [f"u{i}", "k"], [f"uk{i}"]),
                node("Tanh", [f"uk{i}"], [f"t{i}"]), node("Add", [f"t{i}", "one"], [f"p{i}"]), node("Mul", [f"v{i}", f"p{i}"], [f"q{i}"]),
                node("Mul", [f"q{i}", "half"], [f"y{i}"])], f"y{i}"

    def add_ln(p, i):
        return [node("Add", [p, "x"], [f"a{i}"]), node("LayerNormalization", [f"a{i}", "g", "be"], [f"y{i}"], axis=-1, epsilon=1e-12)], f"y{i}"

    consts = [bias, full("r2", 1 / np.sqrt(2)), full("one", 1.0), full("half", 0.5), full("c", 0.044715), full("k", np.sqrt(2 / np.pi))]
    ln = [t("g", np.ones(H)), t("be", np.zeros(H))]
    made = {
        "gelu_erf": (_chain(one("BiasGelu", "com.microsoft", ["b"]), 6), [bias], F),
        "gelu_tanh": (_chain(one("FastGelu", "com.microsoft", ["b"]), 6), [bias], F),
        "gelu_erf_ops": (_chain(erf_ops, 6), consts, F),
        "gelu_tanh_ops": (_chain(tanh_ops, 6), consts, F),
        "bias_add": (_chain(one("Add", "", ["b"]), 6), [bias], F),
        "erf": (_chain(one("Erf"), 6), [], F),
        "tanh": (_chain(one("Tanh"), 6), [], F),
        "skip_layernorm": (_chain(lambda p, i: ([node("SkipLayerNormalization", [p, "x", "g", "be"], [f"y{i}"], domain="com.microsoft", epsilon=1e-12)], f"y{i}"), 12), ln, H),
        "add_layernorm": (_chain(add_ln, 12), ln, H),
        "ffn_fp32": (_chain(lambda p, i: ([node("MatMul", [p, "w1"], [f"u{i}"]), node("MatMul", [f"u{i}", "w2"], [f"y{i}"])], f"y{i}"), 6),
                     [t("w1", rng.standard_normal((H, F)) * 0.05), t("w2", rng.standard_normal((F, H)) * 0.05)], H),
    }
    for name, ((nodes, out), inits, width) in made.items():
        used = {i for n in nodes for i in n.input}
        _save(work, name, nodes, [c for c in inits if c.name in used], width, out)
    quantize_dynamic(str(work / "ffn_fp32.onnx"), str(work / "ffn_int8.onnx"), weight_type=QuantType.QInt8, per_channel=True)
    return [n for n in made if n != "ffn_fp32"] + ["ffn_int8"]


def ablations(bundle: Path, work: Path) -> list[str]:
    import onnx

    manifest = json.loads((bundle / "edgeft.json").read_text())
    src = onnx.load(str(bundle / manifest["variants"][manifest["default_variant"]]["file"]))
    onnx.save(src, str(work / "bundle_int8.onnx"))

    def rewrite(name: str, op: str, to: str, keep_inputs: int) -> str:
        model = copy.deepcopy(src)
        for n in model.graph.node:
            if n.op_type == op:
                n.op_type, n.domain = to, "com.microsoft" if to == "FastGelu" else ""
                del n.input[keep_inputs:], n.attribute[:], n.output[1:]
        onnx.save(model, str(work / f"{name}.onnx"))
        return name

    return ["bundle_int8", rewrite("no_gelu", "BiasGelu", "Add", 2), rewrite("tanh_gelu", "BiasGelu", "FastGelu", 2),
            rewrite("no_layernorm", "SkipLayerNormalization", "Add", 2)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("bundle", type=Path)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "browser_op_costs.json")
    args = parser.parse_args()
    work = ROOT / "models" / ".op_costs"
    work.mkdir(parents=True, exist_ok=True)
    ops, models = operator_graphs(work), ablations(args.bundle.resolve(), work)
    before = [round(x, 2) for x in os.getloadavg()]
    run = lambda argv: json.loads(subprocess.run(argv, cwd=ROOT, check=True, capture_output=True, text=True).stdout)  # noqa: E731
    op_ms = run(["node", "runtime-js/browser/op_costs.js", "--folder", str(work), "--graphs", ",".join(ops), "--runs", str(args.runs), "--threads", str(args.threads)])
    model_ms = run(["node", "runtime-js/browser/graph_variants.js", "--folder", str(work), "--graphs", ",".join(f"{m}:p130" for m in models),
                    "--runs", str(2 * args.runs), "--threads", str(args.threads), "--lengths", "128"])["ms"]["128"]
    report = {
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": machine(),
        "load_average": {"before": before, "after": [round(x, 2) for x in os.getloadavg()]},
        "threads": args.threads,
        "bundle": str(args.bundle),
        "operator_ms": op_ms,
        "bundle_at_128_tokens_ms": {k.split(":")[0]: v for k, v in model_ms.items()},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps({k: report[k] for k in ("load_average", "operator_ms", "bundle_at_128_tokens_ms")}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
