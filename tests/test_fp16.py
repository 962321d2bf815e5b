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
