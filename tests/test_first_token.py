"""The first-token trim: the same outputs for less work, and only where the head reads one token."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from edgeft_exporters.first_token import trim_to_first_token

H = 8


def _model(hidden_is_output: bool = False, mix_rows: bool = False) -> onnx.ModelProto:
    """x [B,S,H] -> a row-mixing step -> MatMul/Add/LayerNorm/MatMul/Gelu-ish rows -> Gather(first) -> logits."""
    rng = np.random.default_rng(0)
    w = lambda name, *shape: numpy_helper.from_array(rng.standard_normal(shape).astype(np.float32), name)  # noqa: E731
    nodes = [
        # rows mix here (like attention): x @ x^T @ x, so the trim must stop above it
        helper.make_node("Transpose", ["x"], ["xt"], perm=[0, 2, 1]),
        helper.make_node("MatMul", ["x", "xt"], ["scores"]),
        helper.make_node("MatMul", ["scores", "x"], ["mixed"]),
        helper.make_node("MatMul", ["mixed", "w1"], ["h1"]),
        helper.make_node("Add", ["h1", "b1"], ["h2"]),
        helper.make_node("Add", ["h2", "mixed"], ["h3"]),  # a residual: two row inputs
        helper.make_node("LayerNormalization", ["h3", "gamma", "beta"], ["h4"], axis=-1),
        helper.make_node("MatMul", ["h4", "w2"], ["h5"]),
        helper.make_node("Tanh", ["h5"], ["hidden"]),
        helper.make_node("Gather", ["hidden", "zero"], ["first"], axis=1),
        helper.make_node("MatMul", ["first", "w3"], ["logits"]),
    ]
    if mix_rows:  # a ReduceMean over the sequence inside the top: not row by row
        nodes.insert(8, helper.make_node("ReduceMean", ["h5"], ["h5m"], axes=[1], keepdims=1))
        nodes[9] = helper.make_node("Add", ["h5", "h5m"], ["h5b"])
        nodes.insert(10, helper.make_node("Tanh", ["h5b"], ["hidden"]))
        nodes = [n for n in nodes if not (n.op_type == "Tanh" and n.input[0] == "h5")]
    inits = [w("w1", H, H), w("b1", H), w("gamma", H), w("beta", H), w("w2", H, H), w("w3", H, 2), numpy_helper.from_array(np.array(0, np.int64), "zero")]
    outputs = [helper.make_tensor_value_info("logits", TensorProto.FLOAT, None)]
    if hidden_is_output:
        outputs.append(helper.make_tensor_value_info("hidden", TensorProto.FLOAT, None))
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["b", "s", H])], outputs, inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model


def _run(model: onnx.ModelProto, x: np.ndarray) -> list[np.ndarray]:
    return ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"x": x})


@pytest.mark.parametrize("length", [1, 5, 17])
def test_trimmed_graph_gives_the_same_outputs_with_slices_above_the_row_mixing(length):
    model = _model()
    x = np.random.default_rng(length).standard_normal((3, length, H)).astype(np.float32)
    expected = _run(model, x)
    count = trim_to_first_token(model)
    ops = [n.op_type for n in model.graph.node]
    assert count == 6  # MatMul, Add, Add, LayerNorm, MatMul, Tanh
    assert ops.count("Slice") == 1  # "mixed" feeds two region nodes: sliced once
    assert ops.index("Slice") > ops.index("MatMul") + 1  # after the row-mixing products
    np.testing.assert_allclose(_run(model, x)[0], expected[0], rtol=0, atol=1e-6)


def test_graphs_that_read_every_token_are_left_alone():
    for model in (_model(hidden_is_output=True), _model(mix_rows=True)):
        before = model.SerializeToString()
        count = trim_to_first_token(model)
        if count:  # a ReduceMean stops the region below it: only the Tanh above it is trimmed
            assert "ReduceMean" not in [n.op_type for n in model.graph.node if any(i.endswith("/first_token") for i in n.input)]
            x = np.random.default_rng(0).standard_normal((2, 6, H)).astype(np.float32)
            np.testing.assert_allclose(_run(model, x)[0], _run(onnx.load_from_string(before), x)[0], atol=1e-6)
        else:
            assert model.SerializeToString() == before
