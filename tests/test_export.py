"""The export stage on a tiny trained run: the bundle contract, the parity gates, nothing half-written."""

from __future__ import annotations

import json

import numpy as np
import pytest
from edgeft_exporters.api import ExportOptions, export_run
from edgeft_exporters.errors import ExportError, ParityError
from edgeft_exporters.quantize import detect_preset
from edgeft_runtime.constants import MANIFEST_FILE
from edgeft_runtime.manifest import sha256_file

import edgeft_runtime


def test_bundle_contract(tiny_bundle):
    files = sorted(p.name for p in tiny_bundle.iterdir())
    assert files == ["README.md", "edgeft.json", "model.onnx", "model_int8.onnx", "reference", "tokenizer.json"]
    manifest = json.loads((tiny_bundle / MANIFEST_FILE).read_text())
    assert manifest["format"] == "edgeft-bundle" and manifest["schema_version"] == "1.4"
    assert manifest["task"] == "classifier" and manifest["labels"] == ["neg", "pos"]
    assert manifest["problem_type"] == "single_label" and manifest["max_length"] == 32
    assert manifest["inputs"] == ["input_ids", "attention_mask", "token_type_ids"]
    assert manifest["default_variant"] == "int8"
    quant = manifest["variants"]["int8"]["quantization"]
    assert quant["method"] == "dynamic" and quant["preset"] == detect_preset()
    for name, entry in manifest["files"].items():
        assert sha256_file(tiny_bundle / name) == entry["sha256"]
    parity = manifest["parity"]
    assert parity["samples"] == 40 and parity["metric"] == "accuracy"
    assert parity["variants"]["fp32"]["max_abs_diff"] <= 1e-4
    assert parity["variants"]["fp32"]["label_agreement"] == 1.0
    # the pooler reads the first token: the layer above the last attention runs on it alone
    assert manifest["variants"]["fp32"]["first_token_only"] >= 5
    assert {c["per_channel"] for c in parity["variants"]["int8"]["candidates"]} == {True, False}
    card = (tiny_bundle / "README.md").read_text()
    assert "## Parity check" in card and "PyTorch fp32 (reference)" in card
    assert "| max abs diff (probability) |" in card


def test_output_differences_are_probabilities_as_the_device_check_computes_them(tiny_bundle):
    from edgeft_runtime import check

    manifest = json.loads((tiny_bundle / MANIFEST_FILE).read_text())
    parity, reference = manifest["parity"], manifest["reference"]
    # The gate's limit is written once: parity.max_drop, which the check reads.
    assert parity["max_drop"] == 100.0 and "max_drop" not in reference and "original" not in parity
    assert check.limits_of(manifest)["max_drop"] == 100.0
    for report in parity["variants"].values():
        assert 0 <= report["max_probability_diff"] <= 1
    # The reference set holds every held-out text here (40), so the export's fp32 figure is the
    # device check's on this machine: one unit, one definition.
    assert reference["samples"] == parity["samples"] == 40
    checked = check.check_bundle(tiny_bundle, variants=["fp32"], threads=1)["variants"]["fp32"]
    assert parity["variants"]["fp32"]["max_probability_diff"] == pytest.approx(checked["max_abs_diff"], abs=1e-6)


def test_tokenizer_is_baked_for_dynamic_padding(tiny_bundle):
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(tiny_bundle / "tokenizer.json"))
    assert tok.truncation["max_length"] == 32
    assert tok.padding["length"] is None  # pad per batch, never to a fixed 128
    assert len(tok.encode("good film").ids) == 4


def test_fp32_bundle_matches_pytorch(tiny_run, tiny_bundle):
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    texts = ["the film was good", "awful plot and poor story", "it", "really " * 40]
    tok = AutoTokenizer.from_pretrained(tiny_run)
    model = AutoModelForSequenceClassification.from_pretrained(tiny_run).eval()
    with torch.no_grad():
        enc = tok(texts, padding=True, truncation=True, max_length=32, return_tensors="pt")
        expected = torch.softmax(model(**enc).logits, -1).numpy()
    got = edgeft_runtime.load(tiny_bundle, variant="fp32").predict_proba(texts)
    np.testing.assert_allclose(got, expected, atol=1e-5)


def test_int8_gate_refuses_and_writes_nothing(tiny_run, tmp_path, break_variants):
    break_variants("int8")
    out = tmp_path / "never"
    with pytest.raises(ParityError, match=r"int8 accuracy .* points below PyTorch .*--max-drop 1\b.*no bundle written"):
        export_run(tiny_run, out, ExportOptions(int8=True, per_channel="off"))
    assert not out.exists()
    assert not (tmp_path / ".never.partial").exists()


def test_fp32_gate_refuses(tiny_run, tmp_path):
    with pytest.raises(ParityError, match=r"fp32 ONNX output differs from PyTorch by .* \(> --atol 0\)"):
        export_run(tiny_run, tmp_path / "x", ExportOptions(atol=0.0))
    assert not (tmp_path / "x").exists()


def test_failed_export_keeps_the_good_bundle(tiny_run, tiny_bundle, tmp_path, break_variants):
    break_variants("int8")
    import shutil

    good = tmp_path / "good"
    shutil.copytree(tiny_bundle, good)
    before = {p.relative_to(good): sha256_file(p) for p in good.rglob("*") if p.is_file()}
    with pytest.raises(ParityError):
        export_run(tiny_run, good, ExportOptions(int8=True, max_drop=0.0, per_channel="off", overwrite=True))
    assert {p.relative_to(good): sha256_file(p) for p in good.rglob("*") if p.is_file()} == before


def test_fp32_only_export_with_explicit_eval(tiny_run, sentiment_files, tmp_path):
    rows = [{"text": "good film", "labels": ["pos"]}, {"text": "bad film", "labels": ["neg"]}]
    result = export_run(tiny_run, tmp_path / "fp32", ExportOptions(), eval_rows=rows, eval_source="two rows")
    manifest = result.manifest
    assert list(manifest["variants"]) == ["fp32"] and manifest["default_variant"] == "fp32"
    assert manifest["parity"]["samples"] == 2 and manifest["parity"]["data"] == "two rows"
    assert not (tmp_path / "fp32" / "model_int8.onnx").exists()


def test_not_a_run_is_a_clear_error(tmp_path):
    with pytest.raises(ExportError, match="not an edgeft run"):
        export_run(tmp_path, tmp_path / "out")
    with pytest.raises(ExportError, match="no such run folder"):
        export_run(tmp_path / "missing", tmp_path / "out")


@pytest.mark.parametrize(
    "flags, machine, preset",
    [({"avx2", "avx512_vnni"}, "x86_64", "avx512_vnni"), ({"avx2"}, "x86_64", "avx2"), (set(), "aarch64", "arm64")],
)
def test_preset_follows_cpu_flags(flags, machine, preset):
    assert detect_preset(flags, machine) == preset
