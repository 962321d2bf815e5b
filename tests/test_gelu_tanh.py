"""`edgeft export --int8 --gelu tanh`: the int8 graph's fused erf GELUs become FastGelu (the tanh
approximation, faster in onnxruntime-web), outputs within the approximation's bound; fp32 stays exact."""

from __future__ import annotations

import json

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from edgeft_exporters.api import export_run
from edgeft_exporters.gelu import tanh_gelu_file, use_tanh_gelu
from edgeft_exporters.options import ExportOptions

H = 16


def _model(op: str) -> onnx.ModelProto:
    rng = np.random.default_rng(0)
    bias = numpy_helper.from_array(rng.standard_normal(H).astype(np.float32), "bias")
    inputs = ["x", "bias"] if op == "BiasGelu" else ["x"]
    domain = "" if op == "Tanh" else "com.microsoft"
    node = helper.make_node(op, inputs, ["y"], domain=domain)
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["b", H])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], [bias] if op == "BiasGelu" else [])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)])
    model.ir_version = 8
    return model


def _run(model: onnx.ModelProto, x: np.ndarray) -> np.ndarray:
    return ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]


@pytest.mark.parametrize("op", ["BiasGelu", "Gelu"])
def test_erf_gelu_becomes_fastgelu_within_the_approximations_bound(op):
    model = _model(op)
    x = np.linspace(-6, 6, 64 * H, dtype=np.float32).reshape(64, H)
    exact = _run(model, x)
    assert use_tanh_gelu(model) == 1
    assert [(n.op_type, n.domain) for n in model.graph.node] == [("FastGelu", "com.microsoft")]
    approx = _run(model, x)
    diff = np.abs(approx - exact).max()
    assert 1e-6 < diff < 5e-4  # it did change (tanh, not erf), by no more than the approximation's 4.7e-4


def test_a_graph_without_fused_gelu_is_left_as_it_is(tmp_path):
    path = tmp_path / "m.onnx"
    onnx.save(_model("Tanh"), str(path))
    before = path.read_bytes()
    assert tanh_gelu_file(path) == 0
    assert path.read_bytes() == before


def test_export_rewrites_the_int8_graph_only_and_says_so(tiny_run, tmp_path):
    out = tmp_path / "tanh"
    export_run(tiny_run, out, ExportOptions(int8=True, max_drop=100.0, int8_method="dynamic", per_channel="off", gelu="tanh"))
    manifest = json.loads((out / "edgeft.json").read_text())
    int8 = manifest["variants"]["int8"]
    ops = lambda f: [n.op_type for n in onnx.load(str(out / f)).graph.node]  # noqa: E731
    assert int8["quantization"]["gelu"] == "tanh"
    assert int8["quantization"]["tanh_gelu_nodes"] == ops(int8["file"]).count("FastGelu") > 0
    assert "BiasGelu" not in ops(int8["file"])
    assert "FastGelu" not in ops(manifest["variants"]["fp32"]["file"])  # fp32 keeps erf, under the fp32 gate


def test_gelu_option_is_checked():
    with pytest.raises(ValueError, match="gelu"):
        ExportOptions(gelu="sigmoid")
