"""`edgeft export --fp16`: a float16 variant, gated against PyTorch like int8 and carried into the
reference set's figures, with the normalisation ops in float32 where that scores better."""

from __future__ import annotations

import json

import numpy as np
from edgeft_exporters.api import ExportOptions, export_run
from edgeft_exporters.fp16 import NORM_OPS

import edgeft_runtime


def test_fp16_variant_is_gated_and_gives_fp32s_labels(tiny_run, tmp_path):
    out = tmp_path / "fp16"
    export_run(tiny_run, out, ExportOptions(int8=False, fp16=True, max_drop=1.0, reference_samples=16))
    manifest = json.loads((out / "edgeft.json").read_text())
    spec = manifest["variants"]["fp16"]
    assert spec["file"] == "model_fp16.onnx" and spec["precision"] == "fp16"
    report = manifest["parity"]["variants"]["fp16"]
    tried = report["candidates"]
    assert [c["kept_fp32"] for c in tried][0] == [] and set(tried[1]["kept_fp32"]) <= set(NORM_OPS) and tried[1]["kept_fp32"]
    assert sum(c["kept"] for c in tried) == 1
    assert report["label_agreement"] == 1.0 and report["max_abs_diff"] < 5e-3
    assert "fp16" in manifest["reference"]["exporter"]["variants"]  # the device check has its figures
    texts = ["the film was good", "awful plot", "", "really " * 40]
    fp16 = edgeft_runtime.load(out, variant="fp16").predict_proba(texts)
    fp32 = edgeft_runtime.load(out, variant="fp32").predict_proba(texts)
    np.testing.assert_allclose(fp16, fp32, atol=5e-3)
    assert (out / "model_fp16.onnx").stat().st_size < 0.6 * (out / "model.onnx").stat().st_size


def test_fp16_of_a_setfit_body_skips_the_conversion_onnxruntime_cannot_load(tmp_path, tiny_base, sentiment_files):
    """sentence-transformers' unfused graph: with LayerNormalization kept in float32 over float16
    weights, onnxruntime refuses the graph (mixed types). That candidate is recorded as failed and
    the export goes on with the other (it used to end the export)."""
    from typer.testing import CliRunner

    from edgeft.cli import app

    run = tmp_path / "fewshot"
    result = CliRunner().invoke(app, [str(a) for a in (
        "train", "setfit", "--train", sentiment_files["train"], "--base", tiny_base, "--out", run, "--max-length", 32,
        "--num-iterations", 2, "--batch-size", 16,
    )])
    assert result.exit_code == 0, result.output
    out = tmp_path / "fp16"
    export_run(run, out, ExportOptions(int8=False, fp16=True, max_drop=1.0, reference_samples=8))
    report = json.loads((out / "edgeft.json").read_text())["parity"]["variants"]["fp16"]
    kept = [c for c in report["candidates"] if c.get("kept")]
    assert len(kept) == 1 and report["label_agreement"] == 1.0
    assert all("failed" in c or "metric" in c for c in report["candidates"])
    texts = ["the film was good", "awful plot"]
    np.testing.assert_allclose(
        edgeft_runtime.load(out, variant="fp16").predict_proba(texts), edgeft_runtime.load(out, variant="fp32").predict_proba(texts), atol=5e-3
    )
