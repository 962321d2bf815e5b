"""Static and mixed-precision int8 graphs run unchanged wherever a bundle runs (issue 29 pt 5): the
device check (``edgeft check``) and the JavaScript runtime load them as they load dynamic int8.

The mixed graphs are made by the real search on a tiny BERT: the gate is told that int8 in
``layer.1`` costs 50 points, so the search must keep that layer in float and nothing else; the
hybrid graph: only static int8 there costs them, so the search must put that layer in dynamic int8
(quantised per call) inside the static graph, and keep nothing in float.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from edgeft_exporters.api import ExportOptions, export_run

import edgeft_runtime
from edgeft_runtime import check
from tests.conftest import mix_timed_faster_than_fp32

ROOT = Path(__file__).resolve().parents[1]
JS = ROOT / "runtime-js"
CALIBRATION = ["good film", "awful plot and poor story", "the film was really good and the story was lovely", "poor", "bad", "it was so sad"] * 4
TEXTS = ["good film", "the plot was awful and so sad", "", "a lovely , lovely story", "bad bad bad"]
PENALISED = "layer.1"


def quantised_in(model, group: str) -> bool:
    """Whether any weight MatMul of ``group`` in the model's graph reads a DequantizeLinear output."""
    import onnx

    spec = model.manifest["variants"][model.variant]
    graph = onnx.load(str(Path(model.bundle_dir) / spec["file"]), load_external_data=False).graph
    weights = {init.name for init in graph.initializer}
    # a weight's DequantizeLinear (activations may stay quantised where another consumer needs them)
    dequantised = {out for node in graph.node if node.op_type == "DequantizeLinear" and node.input[0] in weights for out in node.output}
    return any(node.op_type == "MatMul" and f"/{group}/" in node.name and dequantised & set(node.input) for node in graph.node)


def ops_in(model, group: str) -> set[str]:
    """The op types of the nodes of ``group`` in the model's graph."""
    import onnx

    graph = onnx.load(str(Path(model.bundle_dir) / model.manifest["variants"][model.variant]["file"]), load_external_data=False).graph
    return {node.op_type for node in graph.node if f"/{group}/" in node.name}


def dynamic_in(model, group: str) -> bool:
    return "MatMulInteger" in ops_in(model, group)


def penalised_export(tiny_run, out: Path, costs_points) -> Path:
    """The real export, with the gate taking 50 points from any int8 graph where ``costs_points(model)``."""
    from edgeft_exporters import gate as gate_module

    measured = gate_module.ParityGate.check

    def check_with_a_sensitive_layer(self, model):
        report = measured(self, model)
        if model.variant != "fp32" and costs_points(model):
            report["metric"] -= 50.0
        return report

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(gate_module.ParityGate, "check", check_with_a_sensitive_layer)
        mix_timed_faster_than_fp32(patch)
        export_run(tiny_run, out, ExportOptions(int8=True, max_drop=1.0, int8_method="static", reference_samples=16), calibration_texts=CALIBRATION)
    return out


@pytest.fixture(scope="module")
def static_bundle(tiny_run, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("static") / "bundle"
    export_run(tiny_run, out, ExportOptions(int8=True, max_drop=100.0, int8_method="static", reference_samples=16), calibration_texts=CALIBRATION)
    return out


@pytest.fixture(scope="module")
def mixed_bundle(tiny_run, tmp_path_factory) -> Path:
    return penalised_export(tiny_run, tmp_path_factory.mktemp("mixed") / "bundle", lambda m: quantised_in(m, PENALISED) or dynamic_in(m, PENALISED))


@pytest.fixture(scope="module")
def hybrid_bundle(tiny_run, tmp_path_factory) -> Path:
    return penalised_export(tiny_run, tmp_path_factory.mktemp("hybrid") / "bundle", lambda m: quantised_in(m, PENALISED))


def test_the_mixed_bundle_keeps_exactly_the_sensitive_layer_in_float(mixed_bundle):
    manifest = json.loads((mixed_bundle / "edgeft.json").read_text())
    quant = manifest["variants"]["int8"]["quantization"]
    assert quant["float_nodes"] and all(f"/{PENALISED}/" in name for name in quant["float_nodes"])
    record = manifest["parity"]["variants"]["int8"]["mixed_precision"]
    assert record["found"] and record["float_groups"] == [PENALISED]
    assert record["steps"][0]["modes"] == {PENALISED: "dynamic"}  # dynamic int8 was tried first, and missed
    assert "dynamic_nodes" not in quant and record["dynamic_groups"] == []
    model = edgeft_runtime.load(mixed_bundle)
    assert model.variant == "int8" and not quantised_in(model, PENALISED) and not dynamic_in(model, PENALISED) and quantised_in(model, "layer.0")
    assert "timing" in record and set(record["latency_ms"]) == {"fp32", "full_int8", "mixed"}
    card = (mixed_bundle / "README.md").read_text()
    assert "kept in float" in card and "Batch-1 latency here: fp32" in card


def test_the_hybrid_bundle_runs_the_sensitive_layer_in_dynamic_int8_and_the_rest_static(hybrid_bundle):
    manifest = json.loads((hybrid_bundle / "edgeft.json").read_text())
    quant = manifest["variants"]["int8"]["quantization"]
    assert quant["method"] == "static" and "float_nodes" not in quant
    assert quant["dynamic_nodes"] and all(f"/{PENALISED}/" in name for name in quant["dynamic_nodes"])
    assert quant["dynamic"][0]["per_channel"] is False  # --per-channel auto: per-tensor tried first
    record = manifest["parity"]["variants"]["int8"]["mixed_precision"]
    assert record["found"] and record["dynamic_groups"] == [PENALISED] and record["float_groups"] == []
    assert "speedup_retained" in record or record["latency_ms"]["fp32"] <= record["latency_ms"]["full_int8"]
    model = edgeft_runtime.load(hybrid_bundle)
    assert model.variant == "int8"
    assert {"MatMulInteger", "DynamicQuantizeLinear"} <= ops_in(model, PENALISED) and not quantised_in(model, PENALISED)
    assert "MatMulInteger" not in ops_in(model, "layer.0") and quantised_in(model, "layer.0")
    assert ops_in(model, "pooler") >= {"Gemm", "DequantizeLinear"} and "Transpose" not in ops_in(model, "pooler")  # the static Gemm left as it was
    assert "in dynamic int8" in (hybrid_bundle / "README.md").read_text()


@pytest.mark.parametrize("which", ["static", "mixed", "hybrid"])
def test_edgeft_check_runs_static_and_mixed_graphs_unchanged(which, static_bundle, mixed_bundle, hybrid_bundle):
    from typer.testing import CliRunner

    from edgeft.cli import app

    bundle = {"static": static_bundle, "mixed": mixed_bundle, "hybrid": hybrid_bundle}[which]
    report = check.check_bundle(bundle)
    assert set(report["variants"]) == {"fp32", "int8"} and report["passed"], check.failure_line(report)
    if which != "hybrid":  # the hybrid's dynamic layer takes its scales from the batch: bounded by the export's figure instead
        assert report["variants"]["int8"]["batch_effect"]["max_prob_diff"] < 1e-4  # static scales: same text, same answer
    result = CliRunner().invoke(app, ["check", str(bundle)])
    assert result.exit_code == 0, result.output
    assert "int8" in result.output and "FAILED" not in result.output


@pytest.mark.skipif(
    shutil.which("node") is None or not (JS / "node_modules" / "onnxruntime-node").is_dir(),
    reason="needs node and runtime-js/node_modules (make test-js installs them)",
)
@pytest.mark.parametrize("which", ["static", "mixed", "hybrid"])
def test_the_javascript_runtime_runs_static_and_mixed_graphs_unchanged(which, static_bundle, mixed_bundle, hybrid_bundle):
    bundle = {"static": static_bundle, "mixed": mixed_bundle, "hybrid": hybrid_bundle}[which]
    done = subprocess.run(["node", "test/cli.js", "run", str(bundle), "int8"], cwd=JS, input=json.dumps(TEXTS), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    js = json.loads(done.stdout)
    model = edgeft_runtime.load(bundle, variant="int8")
    # onnxruntime-node and the Python wheel run the same QDQ kernels on this CPU: float rounding apart.
    np.testing.assert_allclose(np.array(js["proba"]), model.predict_proba(TEXTS), atol=1e-4)
    assert [r["label"] for r in js["predict"]] == [r["label"] for r in model.predict(TEXTS)]
