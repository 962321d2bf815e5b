"""The check that travels with the bundle: its reference set, `edgeft check`, stripping it, int8
builds per target CPU, and bench reports that carry (or lack) the device's own accuracy."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from edgeft_exporters.api import ExportOptions, export_run
from edgeft_exporters.quantize import plan_int8_builds, quantisation_candidates
from typer.testing import CliRunner

import edgeft_runtime
from edgeft.cli import app
from edgeft.bench.compare import collect_rows, format_comparison
from edgeft_runtime import check
from edgeft_runtime.device import cpu_target
from edgeft_runtime.manifest import verify_bundle
from tests.conftest import assert_one_error_line
from tests.reference_checks import assert_reference_round_trip


def invoke(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


@pytest.fixture
def bundle_copy(tiny_bundle, tmp_path) -> Path:
    return Path(shutil.copytree(tiny_bundle, tmp_path / "copy"))


def test_classifier_reference_set_holds_pytorch_probabilities(tiny_run, tiny_bundle):
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    rows = [json.loads(line) for line in (tiny_run / "eval.jsonl").read_text().splitlines()]
    reference, report = assert_reference_round_trip(tiny_bundle, [r["text"] for r in rows], "accuracy")
    assert len(reference) == 40  # every held-out example: fewer than the default 256
    assert reference.gold == [["neg", "pos"].index(r["labels"][0]) for r in rows]
    tok = AutoTokenizer.from_pretrained(tiny_run)
    model = AutoModelForSequenceClassification.from_pretrained(tiny_run).eval()
    with torch.no_grad():
        enc = tok(reference.texts, padding=True, truncation=True, max_length=32, return_tensors="pt")
        expected = torch.softmax(model(**enc).logits, -1).numpy()
    np.testing.assert_allclose(reference.observed["probabilities"], expected, atol=1e-5)
    assert report["variants"]["int8"]["compared"] == "class probabilities"


def test_edgeft_check_prints_what_the_runtime_command_prints(tiny_bundle):
    result = invoke("check", tiny_bundle, "--threads", "1")
    assert result.exit_code == 0, result.output
    runtime = subprocess.run(
        [sys.executable, "-m", "edgeft_runtime.check", str(tiny_bundle), "--threads", "1"], capture_output=True, text=True, check=True
    )
    assert result.output == runtime.stdout
    assert "variant" in result.output and "int8" in result.output and "PyTorch" in result.output


def test_a_check_that_cannot_pass_exits_1_with_one_line(tiny_bundle, break_variants):
    break_variants("fp32", "int8")
    result = invoke("check", tiny_bundle, "--max-drop", "0")
    line = assert_one_error_line(result, "fails the accuracy check on this device", "fp32: accuracy", "int8: accuracy", "limit 0, --max-drop")
    assert "points below PyTorch's" in line
    as_json = invoke("check", tiny_bundle, "--variant", "int8", "--max-drop", "100", "--min-agreement", "99.5", "--json")
    assert_one_error_line(as_json, "int8: agreement with PyTorch", "below --min-agreement 99.5%")
    assert '"passed": false' in as_json.output
    assert_one_error_line(invoke("check", tiny_bundle, "--variant", "int4"), "no variant 'int4'")


def test_info_and_model_card_say_the_texts_ship(tiny_bundle):
    result = invoke("info", tiny_bundle)
    assert result.exit_code == 0, result.output
    assert "reference     40 held-out texts" in result.output and "PRIVACY: these texts ship with the bundle" in result.output
    card = (tiny_bundle / "README.md").read_text()
    assert "## Reference set (check on the device)" in card and "**Privacy:**" in card and "strip-reference" in card


def test_strip_reference_keeps_the_bundle_loadable_and_verified(bundle_copy):
    before = json.loads((bundle_copy / "edgeft.json").read_text())
    result = invoke("bundle", "strip-reference", bundle_copy)
    assert result.exit_code == 0, result.output
    assert "removed the reference set" in result.output
    manifest = json.loads((bundle_copy / "edgeft.json").read_text())
    assert "reference" not in manifest and not (bundle_copy / "reference").exists()
    assert not [name for name in manifest["files"] if name.startswith("reference/")]
    assert {k: v for k, v in manifest.items() if k != "files"} == {k: v for k, v in before.items() if k not in ("files", "reference")}
    assert verify_bundle(bundle_copy) == ["README.md", "model.onnx", "model_int8.onnx", "tokenizer.json"]
    assert "Reference set" not in (bundle_copy / "README.md").read_text()
    assert edgeft_runtime.load(bundle_copy).predict("good film")["label"] in ("neg", "pos")
    assert not list(bundle_copy.parent.glob(".copy*"))  # nothing left beside it
    assert "reference     none" in invoke("info", bundle_copy).output
    assert_one_error_line(invoke("check", bundle_copy), "has no reference set")
    assert_one_error_line(invoke("bundle", "strip-reference", bundle_copy), "has no reference set; nothing to remove")


def test_strip_reference_refuses_a_damaged_bundle(bundle_copy):
    (bundle_copy / "model.onnx").write_bytes(b"changed")
    assert_one_error_line(invoke("bundle", "strip-reference", bundle_copy), "model.onnx: sha256")
    assert (bundle_copy / "reference" / "texts.json").is_file()  # left as it was


def test_reference_samples_zero_leaves_it_out(tiny_run, tmp_path):
    out = tmp_path / "plain"
    result = invoke("export", tiny_run, "--out", out, "--reference-samples", 0)
    assert result.exit_code == 0, result.output
    assert "reference set" not in result.output
    manifest = json.loads((out / "edgeft.json").read_text())
    assert "reference" not in manifest and not (out / "reference").exists()
    assert "Reference set" not in (out / "README.md").read_text()
    assert_one_error_line(invoke("export", tiny_run, "--out", tmp_path / "x", "--reference-samples", -1), "--reference-samples -1")


def test_targets_build_one_int8_variant_per_quantisation_and_load_picks_by_cpu(tiny_run, tmp_path, monkeypatch):
    options = ExportOptions(int8=True, max_drop=100.0, per_channel="off", target="avx2,arm64,avx512_vnni", reference_samples=5)
    manifest = export_run(tiny_run, tmp_path / "both", options).manifest
    bundle = tmp_path / "both"
    variants = manifest["variants"]
    assert list(variants) == ["fp32", "int8", "int8_arm64"] and manifest["default_variant"] == "int8"
    # 7-bit weights, unless this machine runs the avx2 kernels and measured 8 bits to score better
    assert variants["int8"]["quantization"]["reduce_range"] is True or cpu_target() == "avx2"
    assert variants["int8"]["file"] == "model_int8.onnx"
    assert variants["int8_arm64"]["quantization"]["reduce_range"] is False and variants["int8_arm64"]["file"] == "model_int8_arm64.onnx"
    assert [r["target"] for r in variants["int8"]["suits"]] == ["avx2"]
    assert [r["target"] for r in variants["int8_arm64"]["suits"]] == ["arm64", "avx512_vnni"]
    parity = manifest["parity"]["variants"]
    here = cpu_target()
    native = "int8" if here == "avx2" else "int8_arm64"
    assert parity[native]["gate"].startswith("applied on this machine")
    assert parity["int8" if native == "int8_arm64" else "int8_arm64"]["gate"].startswith("not applied")
    assert manifest["reference"]["samples"] == 5
    # the exporting machine's figures, which loosen a device's check, only for builds whose kernels ran here
    assert set(manifest["reference"]["exporter"]["variants"]) == {"fp32", native}
    assert edgeft_runtime.load(bundle).variant == native
    from edgeft_runtime import device

    monkeypatch.setattr(device, "cpu_flags", lambda: {"avx2", "avx512_vnni"})
    assert edgeft_runtime.load(bundle).variant == "int8_arm64" or device.arch_family() != "x86"
    monkeypatch.setattr(device, "cpu_flags", lambda: {"avx2"})
    assert edgeft_runtime.load(bundle).variant == "int8" or device.arch_family() != "x86"
    assert edgeft_runtime.load(bundle, variant="int8_arm64").variant == "int8_arm64"
    report = check.check_bundle(bundle)
    assert set(report["variants"]) == {"fp32", "int8", "int8_arm64"} and report["reference"]["samples"] == 5
    info = invoke("info", bundle).output
    assert "int8_arm64: model_int8_arm64.onnx" in info and "for arm64/avx512_vnni CPUs" in info
    assert_one_error_line(invoke("export", tiny_run, "--int8", "--target", "riscv", "--out", tmp_path / "r"), "--target riscv: unknown")


def test_quantisation_candidates_try_8_bits_for_avx2_only_where_its_kernels_run():
    avx2, full = plan_int8_builds("avx2,arm64")
    seven, eight = True, False
    assert quantisation_candidates(avx2, "auto", "auto", "avx2") == [(False, seven), (True, seven), (False, eight), (True, eight)]
    assert quantisation_candidates(avx2, "on", "auto", "avx512_vnni") == [(True, seven)]  # saturation not observable here
    assert quantisation_candidates(full, "off", "auto", "avx2") == [(False, eight)]
    assert quantisation_candidates(avx2, "off", "on", "avx2") == [(False, seven)]
    assert quantisation_candidates(full, "on", "on", "arm64") == [(True, seven)]


def test_an_avx2_export_on_avx2_kernels_keeps_the_better_weight_range(tiny_run, tmp_path, monkeypatch):
    from edgeft_runtime import device

    monkeypatch.setattr(device, "cpu_flags", lambda: {"avx2", "fma"})  # this machine: avx2 kernels
    options = ExportOptions(int8=True, max_drop=100.0, per_channel="off", target="avx2", reference_samples=0, int8_method="dynamic")
    manifest = export_run(tiny_run, tmp_path / "b", options).manifest
    tried = manifest["parity"]["variants"]["int8"]["candidates"]
    # Recorded in the order tried (the preset's 7 bits, then 8), whichever this CPU's kernels favour.
    assert [c["reduce_range"] for c in tried] == [True, False] and {c["per_channel"] for c in tried} == {False}
    best = max(tried, key=lambda c: (c["metric"], c["label_agreement"], -c["max_abs_diff"]))
    assert [c["kept"] for c in tried] == [c is best for c in tried]
    assert manifest["variants"]["int8"]["quantization"]["reduce_range"] == best["reduce_range"]
    assert manifest["parity"]["variants"]["int8"]["metric"] == best["metric"]
    assert sorted(p.name for p in (tmp_path / "b").glob("*.onnx")) == ["model.onnx", "model_int8.onnx"]  # the loser is gone
    assert_one_error_line(invoke("export", tiny_run, "--int8", "--reduce-range", "7", "--out", tmp_path / "x"), "--reduce-range")


def _report(path: Path, change) -> Path:
    report = json.loads(path.read_text())
    change(report)
    out = path.with_name(f"{path.stem}-{change.__name__}.json")
    out.write_text(json.dumps(report))
    return out


def test_compare_flags_failures_and_reads_reports_from_before_the_check(tiny_bundle, tmp_path):
    from edgeft_runtime import bench

    measured = tmp_path / "measured.json"
    assert bench.main([str(tiny_bundle), "--runs", "3", "--cold-passes", "0", "--threads", "1", "--device-name", "box", "--out", str(measured)]) == 0
    report = json.loads(measured.read_text())
    assert report["schema_version"] == "1.1" and report["check"]["status"] == "passed"
    assert report["results"]["int8"]["accuracy"]["source"] == "measured on this device"

    def failing(r):
        r["device"]["name"] = "phone"
        r["results"]["int8"]["accuracy"].update(passed=False, label_agreement=0.9, failures=["accuracy 80.00 is 20.00 points below PyTorch's 100.00 (limit 1)"])

    def old(r):  # a report written before schema 1.1: parity figures only
        r["schema_version"] = "1.0"
        r["device"]["name"] = "old-laptop"
        del r["check"]
        for res in r["results"].values():
            res["accuracy"] = {"metric": "accuracy", "value": 100.0, "source": "bundle parity check"}

    result = invoke("compare", measured, _report(measured, failing), _report(measured, old))
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split()[-3:] == ["agreement", "%", "check"]
    phone_int8 = next(line for line in lines if line.startswith("phone") and " int8 " in line)
    assert phone_int8.split()[-2:] == ["90.00", "FAILED"]
    old_int8 = next(line for line in lines if line.startswith("old-laptop") and " int8 " in line)
    assert old_int8.split()[-3:] == ["100.00", "-", "-"]
    assert "note: FAILED on phone (1t): int8 is outside the accuracy limits on this device (accuracy 80.00 is 20.00 points below" in result.output
    assert "old-laptop" in result.output and "accuracy not measured on the device" in result.output
    rows, notes = collect_rows([measured])
    assert notes == [] and "ok" in format_comparison(rows, notes)


def option_flags(help_text: str) -> set[str]:
    """The flags a --help lists (lines that start with one), without --help itself."""
    return set(re.findall(r"^\s+(?:-\w, )?(--[a-z][a-z-]*)", help_text, re.M)) - {"--help"}


def test_edgeft_check_and_the_runtime_command_have_one_option_set():
    from edgeft_runtime.options import declared, flags_of

    declared_flags = {flag for f in declared(check.CheckOptions) for flag in flags_of(f)}
    runtime = subprocess.run([sys.executable, "-m", "edgeft_runtime.check", "--help"], capture_output=True, text=True, check=True)
    assert option_flags(invoke("check", "--help").output) == option_flags(runtime.stdout) == declared_flags
    assert {"--samples", "--device-name", "--max-drop", "--min-agreement", "--json"} <= declared_flags


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["--max-drop", "nan"], "--max-drop nan: give a finite number from 0 to 100 points"),
        (["--max-drop", "-1"], "--max-drop -1: give a number from 0 to 100 points"),
        (["--min-agreement", "150"], "--min-agreement 150: give a number from 0 to 100%"),
        (["--samples", "0"], "--samples 0: give 1 or more"),
    ],
)
def test_edgeft_check_refuses_option_values_as_the_runtime_command_does(tiny_bundle, args, fragment):
    line = assert_one_error_line(invoke("check", tiny_bundle, *args), fragment)
    runtime = subprocess.run([sys.executable, "-m", "edgeft_runtime.check", str(tiny_bundle), *args], capture_output=True, text=True)
    assert runtime.returncode == 1 and runtime.stderr.strip() == line and runtime.stdout == ""


def test_edgeft_check_takes_the_runtime_commands_samples_and_device_name(tiny_bundle):
    result = invoke("check", tiny_bundle, "--samples", 5, "--device-name", "bench-pi", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["reference"]["samples"] == 5 and report["device"]["name"] == "bench-pi"

