"""OpenVINO variants in a bundle: built, gated, ordered and loaded like the others.

Whether OpenVINO int8 is kept depends on which engine is faster on the machine that exports, so
the tests assert that the bundle records that decision consistently, not which way it went.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from edgeft_exporters.api import ExportOptions, export_run
from edgeft_exporters.openvino_variant import AMX_RULE, BF16_RULE, KEEP_IF_FASTER, order_fastest_first

import edgeft_runtime
from edgeft_runtime import check, device
from edgeft_runtime.loader import variant_for_cpu

pytest.importorskip("openvino", reason="OpenVINO variants need edgeft[openvino]")
pytest.importorskip("nncf", reason="OpenVINO variants need edgeft[openvino]")

TEXTS = ["good film", "awful plot and poor story", "the film was really good", "poor", "bad", "it was so sad and broken"]


@pytest.fixture(scope="module")
def ov_bundle(tiny_run, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("openvino") / "bundle"
    options = ExportOptions(int8=True, max_drop=100.0, openvino="on", int8_method="dynamic", reference_samples=8)
    export_run(tiny_run, out, options, calibration_texts=TEXTS * 4, calibration_source="test texts")
    return out


def test_openvino_variants_are_recorded_with_their_engine_and_rules(ov_bundle):
    manifest = json.loads((ov_bundle / "edgeft.json").read_text())
    variants, parity = manifest["variants"], manifest["parity"]
    assert manifest["default_variant"] == "int8" and "engine" not in variants["int8"]  # JS and hosts without OpenVINO
    bf16 = variants["openvino_bf16"]
    assert bf16["engine"] == "openvino" and bf16["engine_options"] == {"precision": "bf16"}
    assert {bf16["file"], bf16["weights"]} <= set(manifest["files"])
    has_bf16 = device.rule_matches(BF16_RULE, device.arch_family(), device.cpu_flags())
    assert parity["variants"]["openvino_bf16"]["gate"].startswith("applied" if has_bf16 else "not applied")
    if has_bf16:  # timed here against onnxruntime: every bf16 CPU only where it was faster by the margin
        ratio = float(parity["variants"]["openvino_bf16"]["choice"].split(" took ")[1].split("x")[0])
        assert bf16["suits"] == ([BF16_RULE] if ratio > 1 + KEEP_IF_FASTER else [AMX_RULE])
    else:
        assert bf16["suits"] == [BF16_RULE]
    assert parity["openvino"]["openvino"]  # the version that built it
    if "openvino_int8" in variants:  # kept: OpenVINO int8 was faster than onnxruntime's int8 here by the margin
        ratio = float(parity["variants"]["openvino_int8"]["choice"].split(" took ")[1].split("x")[0])
        assert ratio > 1 + KEEP_IF_FASTER and variants["openvino_int8"]["weights"] in manifest["files"]
    else:
        dropped = parity["openvino"]["openvino_int8"]
        assert dropped["kept"] is False and "kept where above" in dropped["choice"]
        assert not list(ov_bundle.glob("model_openvino_int8.*"))
    suited = [n for n, s in variants.items() if s.get("suits")]
    assert suited[0] == "openvino_bf16" and suited[-1] == "int8"  # fastest first; onnxruntime's build last


def test_openvino_variant_runs_through_the_runtime_and_the_check(ov_bundle, monkeypatch):
    fp32 = edgeft_runtime.load(ov_bundle, variant="fp32")
    ov = edgeft_runtime.load(ov_bundle, variant="openvino_bf16")
    assert type(ov.session).__name__ == "OpenVinoSession"
    assert np.abs(ov.predict_proba(TEXTS) - fp32.predict_proba(TEXTS)).max() < (5e-2 if device.cpu_flags() & {"amx_bf16", "avx512_bf16"} else 1e-4)
    report = check.check_bundle(ov_bundle)
    assert "openvino_bf16" in report["variants"] and report["passed"]
    monkeypatch.setattr(device, "cpu_flags", lambda: {"avx2", "amx_bf16"})
    manifest = json.loads((ov_bundle / "edgeft.json").read_text())
    assert variant_for_cpu(manifest["variants"], machine="x86_64") == "openvino_bf16"


def test_order_fastest_first_keeps_plain_variants_ahead():
    variants = {"fp32": {}, "int8": {"suits": [1]}, "openvino_int8": {"suits": [1]}, "openvino_bf16": {"suits": [1]}}
    assert list(order_fastest_first(variants, ["openvino_bf16", "openvino_int8"])) == ["fp32", "openvino_bf16", "openvino_int8", "int8"]


def test_bf16_suits_every_bf16_cpu_only_where_it_measured_faster():
    from edgeft_exporters.openvino_variant import bf16_suits

    assert bf16_suits(1.3, "int8", False)[0] == [BF16_RULE]
    rules, why = bf16_suits(0.69, "int8", False)  # measured on an EPYC with avx512_bf16, no AMX
    assert rules == [AMX_RULE] and "0.69x" in why and "AMX CPUs only" in why
    assert bf16_suits(1.05, "int8", True)[0] == [AMX_RULE]  # within the tie band: onnxruntime serves
