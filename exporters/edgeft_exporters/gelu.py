"""GELU by its tanh approximation in an int8 graph (``edgeft export --int8 --gelu tanh``).

The fused graph computes GELU with erf (``BiasGelu``/``Gelu``, as the model was trained). In
onnxruntime-web's WebAssembly build erf is slow: the exact GELUs took 11% of an int8 MiniLM's
128-token run in Chromium, and the same graph with ``FastGelu`` (the tanh approximation, the
original BERT code's) ran 9% faster (benchmarks/RESULTS.md, "Beside transformers.js in the
browser"). The two differ by at most 4.7e-4 per value, well under the step of int8's activation
quantisation that follows; the parity gate holds the int8 variant to ``--max-drop`` as usual.
Only int8 graphs are rewritten: the fp32 variant stays exact, under the fp32 gate's tight bound
on logits.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

MS_DOMAIN = "com.microsoft"
# Fused erf GELUs, inputs (X, bias) and (X): FastGelu takes the same inputs (its bias is optional).
ERF_GELU_OPS = ("BiasGelu", "Gelu")


def use_tanh_gelu(model: Any) -> int:
    """Rewrite ``model``'s fused erf GELUs (an onnx ModelProto, in place) as ``FastGelu``; return
    how many. A graph without fused GELUs (unfused, e.g. the static int8 graph) is left as it is."""
    count = 0
    for node in model.graph.node:
        if node.domain == MS_DOMAIN and node.op_type in ERF_GELU_OPS:
            node.op_type = "FastGelu"
            count += 1
    if count and not any(o.domain == MS_DOMAIN for o in model.opset_import):
        model.opset_import.add(domain=MS_DOMAIN, version=1)
    return count


def tanh_gelu_file(path: Path) -> int:
    """``use_tanh_gelu`` on the .onnx file at ``path``, rewritten in place when it changed anything."""
    import onnx

    model = onnx.load(str(path))
    count = use_tanh_gelu(model)
    if count:
        onnx.save(model, str(path))
    return count


def tanh_gelu_record(path: Path) -> dict[str, Any]:
    """``tanh_gelu_file`` on an int8 candidate; the fields its manifest ``quantization`` entry gets
    (none when the graph had no fused GELU to rewrite, so the manifest never claims a tanh GELU it lacks)."""
    count = tanh_gelu_file(path)
    return {"gelu": "tanh", "tanh_gelu_nodes": count} if count else {}
