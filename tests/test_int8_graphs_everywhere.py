"""Static and mixed-precision int8 graphs run unchanged wherever a bundle runs (issue 29 pt 5): the
device check (``edgeft check``) and the JavaScript runtime load them as they load dynamic int8.

The mixed graph is made by the real search on a tiny BERT: the gate is told that int8 in
``layer.1`` costs 50 points, so the search must keep that layer in float and nothing else.
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


@pytest.fixture(scope="module")
def static_bundle(tiny_run, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("static") / "bundle"
    export_run(tiny_run, out, ExportOptions(int8=True, max_drop=100.0, int8_method="static", reference_samples=16), calibration_texts=CALIBRATION)
    return out


@pytest.fixture(scope="module")
def mixed_bundle(tiny_run, tmp_path_factory) -> Path:
    from edgeft_exporters import gate as gate_module

    measured = gate_module.ParityGate.check

    def check_with_a_sensitive_layer(self, model):
        report = measured(self, model)
        if model.variant != "fp32" and quantised_in(model, PENALISED):
            report["metric"] -= 50.0
        return report

    out = tmp_path_factory.mktemp("mixed") / "bundle"
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(gate_module.ParityGate, "check", check_with_a_sensitive_layer)
        export_run(tiny_run, out, ExportOptions(int8=True, max_drop=1.0, int8_method="static", reference_samples=16), calibration_texts=CALIBRATION)
    return out


def test_the_mixed_bundle_keeps_exactly_the_sensitive_layer_in_float(mixed_bundle):
    manifest = json.loads((mixed_bundle / "edgeft.json").read_text())
    quant = manifest["variants"]["int8"]["quantization"]
    assert quant["float_nodes"] and all(f"/{PENALISED}/" in name for name in quant["float_nodes"])
    record = manifest["parity"]["variants"]["int8"]["mixed_precision"]
    assert record["found"] and record["float_groups"] == [PENALISED]
    model = edgeft_runtime.load(mixed_bundle)
    assert model.variant == "int8" and not quantised_in(model, PENALISED) and quantised_in(model, "layer.0")


@pytest.mark.parametrize("which", ["static", "mixed"])
def test_edgeft_check_runs_static_and_mixed_graphs_unchanged(which, static_bundle, mixed_bundle):
    from typer.testing import CliRunner

    from edgeft.cli import app

    bundle = {"static": static_bundle, "mixed": mixed_bundle}[which]
    report = check.check_bundle(bundle)
    assert set(report["variants"]) == {"fp32", "int8"} and report["passed"], check.failure_line(report)
    assert report["variants"]["int8"]["batch_effect"]["max_prob_diff"] < 1e-4  # static scales: same text, same answer
    result = CliRunner().invoke(app, ["check", str(bundle)])
    assert result.exit_code == 0, result.output
    assert "int8" in result.output and "FAILED" not in result.output


@pytest.mark.skipif(
    shutil.which("node") is None or not (JS / "node_modules" / "onnxruntime-node").is_dir(),
    reason="needs node and runtime-js/node_modules (make test-js installs them)",
)
@pytest.mark.parametrize("which", ["static", "mixed"])
def test_the_javascript_runtime_runs_static_and_mixed_graphs_unchanged(which, static_bundle, mixed_bundle):
    bundle = {"static": static_bundle, "mixed": mixed_bundle}[which]
    done = subprocess.run(["node", "test/cli.js", "run", str(bundle), "int8"], cwd=JS, input=json.dumps(TEXTS), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    js = json.loads(done.stdout)
    model = edgeft_runtime.load(bundle, variant="int8")
    # onnxruntime-node and the Python wheel run the same QDQ kernels on this CPU: float rounding apart.
    np.testing.assert_allclose(np.array(js["proba"]), model.predict_proba(TEXTS), atol=1e-4)
    assert [r["label"] for r in js["predict"]] == [r["label"] for r in model.predict(TEXTS)]
