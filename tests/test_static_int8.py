"""Static int8 (calibrated QDQ) as an export candidate beside dynamic int8, and the choice among them.

The choice is tested as a decision on given figures (``choose``), never on which kernel happens to
be faster on the machine running the tests; the export tests assert what the bundle records.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from edgeft_exporters.api import ExportOptions, export_run
from edgeft_exporters.errors import ExportError
from edgeft_exporters.int8_candidates import SPEED_TIE, Candidate, choose
from edgeft_exporters.quantize import int8_methods, static_settings

import edgeft_runtime
from edgeft_runtime import check

TEXTS = ["good film", "awful plot and poor story", "the film was really good and the story was lovely", "poor", "bad", "it was so sad and broken"]


def candidate(method: str, metric: float, agreement: float = 1.0, diff: float = 0.01, **extra) -> Candidate:
    return Candidate(method, True, False, Path(f"{method}-{metric}.onnx"), {}, {"metric": metric, "label_agreement": agreement, "max_abs_diff": diff, **extra})


def test_methods_and_static_settings():
    assert int8_methods("auto", object()) == ["dynamic", "static"]
    assert int8_methods("auto", None) == ["dynamic"]  # no calibration texts: dynamic only
    assert int8_methods("dynamic", object()) == ["dynamic"]
    with pytest.raises(ExportError, match="needs calibration texts"):
        int8_methods("static", None)
    with pytest.raises(ExportError, match="--int8-method fast"):
        int8_methods("fast", None)
    # static: per-channel weights wherever allowed, each weight range the dynamic candidates try
    assert static_settings([(False, True), (True, True), (False, False), (True, False)]) == [(True, True), (True, False)]
    assert static_settings([(False, True)]) == [(False, True)]


def test_choose_keeps_candidates_within_the_budget_only():
    static, dynamic = candidate("static", 88.0), candidate("dynamic", 90.0)
    chosen, why = choose([dynamic, static], 90.5, 1.0, None)
    assert chosen is dynamic and "static missed it" in why  # static lost 2.5 points
    chosen, why = choose([candidate("dynamic", 80.0), candidate("static", 85.0)], 90.0, 1.0, None)
    assert chosen.method == "static" and "no candidate within --max-drop 1" in why  # the gate refuses it later
    derived = candidate("static", 90.0, original_drop=1.5)  # fine against PyTorch, not against the original run
    assert choose([derived, dynamic], 90.5, 1.0, None)[0] is dynamic


def test_choose_between_methods_by_measured_speed_with_a_tie_band():
    def timer(ms_dynamic, ms_static):
        return lambda finalists: {"dynamic": ms_dynamic, "static": ms_static}

    fits = lambda: [candidate("dynamic", 90.0), candidate("dynamic", 89.8), candidate("static", 89.6)]  # noqa: E731
    assert choose(fits(), 90.0, 1.0, None)[0].method == "static"  # kernels not timeable here: batch-independent wins
    chosen, why = choose(fits(), 90.0, 1.0, timer(10.0, 10.0 * (1 + 2 * SPEED_TIE)))
    assert chosen.method == "dynamic" and chosen.report["metric"] == 90.0 and "faster than static" in why
    chosen, why = choose(fits(), 90.0, 1.0, timer(10.0, 10.0 * (1 + SPEED_TIE / 2)))
    assert chosen.method == "static" and "as fast as dynamic" in why and chosen.latency_ms == pytest.approx(10.0 * (1 + SPEED_TIE / 2))
    assert choose(fits(), 90.0, 1.0, timer(10.0, 5.0))[0].method == "static"


@pytest.fixture(scope="module")
def static_bundle(tiny_run, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("static") / "bundle"
    options = ExportOptions(int8=True, max_drop=100.0, int8_method="static", reference_samples=8)
    export_run(tiny_run, out, options, calibration_texts=TEXTS * 4, calibration_source="test texts")
    return out


def test_static_export_records_how_it_was_quantised(static_bundle):
    import onnx

    manifest = json.loads((static_bundle / "edgeft.json").read_text())
    quant = manifest["variants"]["int8"]["quantization"]
    assert quant["method"] == "static" and quant["format"] == "qdq" and quant["per_channel"] is True
    assert quant["calibration"]["texts"] == len(TEXTS) * 4 and quant["calibration"]["source"].startswith("test texts")
    ops = {n.op_type for n in onnx.load(str(static_bundle / "model_int8.onnx")).graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops
    assert "static" in manifest["parity"]["variants"]["int8"]["choice"]
    assert not list(static_bundle.glob("candidate_*")) and not list(static_bundle.glob("*.typed.onnx"))


def test_static_int8_answers_do_not_depend_on_batch_neighbours(static_bundle):
    """Same text, same answer: the scales are fixed in the graph, so a text's probabilities are
    its own whichever texts share its batch (only float rounding differs)."""
    model = edgeft_runtime.load(static_bundle)
    assert model.variant == "int8"
    texts = TEXTS + ["good"] * 3
    together = model.predict_proba(texts, batch_size=len(texts))
    alone = np.stack([np.ravel(model.predict_proba(t)) for t in texts])
    assert np.abs(together - alone).max() < 1e-4


def test_device_check_runs_the_static_bundle_unchanged(static_bundle):
    report = check.check_bundle(static_bundle)
    assert set(report["variants"]) == {"fp32", "int8"}
    assert all(v["passed"] for v in report["variants"].values())


@pytest.fixture(scope="module")
def dynamic_bundle(tiny_run, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("dynamic") / "bundle"
    export_run(tiny_run, out, ExportOptions(int8=True, max_drop=100.0, int8_method="dynamic", reference_samples=24))
    return out


def exporter_figures(bundle: Path) -> dict:
    return json.loads((bundle / "edgeft.json").read_text())["reference"]["exporter"]["variants"]


def test_the_export_records_how_far_a_text_moves_with_its_batch_neighbours(dynamic_bundle, static_bundle):
    """Same text, same answer: the bound the device check holds each variant to is measured at export
    on the reference texts; fp32 and static int8 move by float rounding only."""
    from edgeft_runtime.batch_effect import FLOAT_ROUNDING, batch_effect

    for bundle in (dynamic_bundle, static_bundle):
        figures = exporter_figures(bundle)
        assert figures["fp32"]["batch_effect"] < FLOAT_ROUNDING
        assert 0 <= figures["int8"]["batch_effect"] < 0.5
    assert exporter_figures(static_bundle)["int8"]["batch_effect"] < FLOAT_ROUNDING
    # the recorded figure is the runtime's own measurement on the stored texts
    model = edgeft_runtime.load(dynamic_bundle, variant="int8")
    from edgeft_runtime.reference import load_reference

    reference = load_reference(dynamic_bundle, model.manifest)
    assert batch_effect(model, reference.texts) == pytest.approx(exporter_figures(dynamic_bundle)["int8"]["batch_effect"], abs=1e-7)


def test_device_check_holds_each_variant_to_its_batch_effect_bound(dynamic_bundle, monkeypatch):
    from edgeft_runtime.batch_effect import bound
    from edgeft_runtime.classifier import Classifier

    report = check.check_bundle(dynamic_bundle)
    effect = report["variants"]["int8"]["batch_effect"]
    assert report["passed"] and effect["bound"] == bound(exporter_figures(dynamic_bundle)["int8"]["batch_effect"])
    assert effect["max_prob_diff"] <= effect["bound"] and "batch dp/bound" in check.format_report(report)

    # A device whose kernels let batch neighbours move a text by 0.2 fails, naming it.
    measured = Classifier.predict_proba

    def neighbours_matter(self, texts, batch_size=32):
        probs = measured(self, texts, batch_size=batch_size)
        if not isinstance(texts, str) and len(texts) > 1:
            probs = np.abs(probs - 0.2)
        return probs

    monkeypatch.setattr(Classifier, "predict_proba", neighbours_matter)
    report = check.check_bundle(dynamic_bundle, variants=["int8"])
    assert not report["passed"]
    assert "move by up to 2.0e-01 with its batch neighbours" in check.failure_line(report)


def test_named_nodes_go_dynamic_inside_the_static_graph_and_a_gemm_stays_float(tmp_path):
    """The mixed-precision hybrid on a three-layer graph: the first MatMul in dynamic int8, the Gemm
    asked for dynamic but stays float (dynamic int8 has no Gemm kernel), the last MatMul static."""
    import onnx
    import onnxruntime as ort
    from edgeft_exporters.quantize import PRESETS
    from edgeft_exporters.static_quant import quantize_static_int8
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    weights = [numpy_helper.from_array(rng.normal(size=shape).astype(np.float32), name) for name, shape in (("w1", (8, 8)), ("w2", (8, 8)), ("w3", (8, 4)))]
    nodes = [
        helper.make_node("MatMul", ["x", "w1"], ["h1"], name="/layer.0/dense/MatMul"),
        helper.make_node("Gemm", ["h1", "w2"], ["h2"], name="/head/Gemm", transB=1),
        helper.make_node("MatMul", ["h2", "w3"], ["y"], name="/layer.1/dense/MatMul"),
    ]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 8])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 4])], weights)
    src = tmp_path / "float.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)]), str(src))
    feeds = [{"x": rng.normal(size=(1, 8)).astype(np.float32)} for _ in range(16)]
    dst = tmp_path / "hybrid.onnx"
    settings = quantize_static_int8(src, dst, PRESETS["avx512_vnni"], feeds, dynamic=[(False, ["/layer.0/dense/MatMul", "/head/Gemm"])])

    assert settings["dynamic_nodes"] == ["/layer.0/dense/MatMul"] and settings["float_nodes"] == ["/head/Gemm"]
    assert settings["dynamic"] == [{"per_channel": False, "reduce_range": False, "nodes": ["/layer.0/dense/MatMul"], "tool": "onnxruntime.quantization.quantize_dynamic"}]
    out = onnx.load(str(dst)).graph
    ops = [n.op_type for n in out.node]
    assert "MatMulInteger" in ops and "DynamicQuantizeLinear" in ops and ops.count("Gemm") == 1 and "Transpose" not in ops
    weight_dq = {o for n in out.node if n.op_type == "DequantizeLinear" and n.input[0].startswith("w") for o in n.output}
    static = next(n for n in out.node if n.name == "/layer.1/dense/MatMul")
    gemm = next(n for n in out.node if n.op_type == "Gemm")
    assert weight_dq & set(static.input) and not weight_dq & set(gemm.input)
    x = rng.normal(size=(3, 8)).astype(np.float32)
    want = ort.InferenceSession(str(src), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    got = ort.InferenceSession(str(dst), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    assert np.abs(got - want).max() < 0.1 * np.abs(want).max()
