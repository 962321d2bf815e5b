"""Deploying to devices: ORT-format models, fixed shapes, reports from several devices compared."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from edgeft_exporters.api import ExportOptions, export_run
from typer.testing import CliRunner

import edgeft_runtime
from edgeft.cli import app
from edgeft.bench.compare import collect_rows, format_comparison, plot_comparison
from edgeft.errors import EdgeftError
from edgeft_runtime import bench

FIXTURE = Path(__file__).resolve().parents[1] / "runtime" / "tests" / "fixtures" / "sentiment"
TEXTS = ["good film", "the plot was awful and poor", "", "really " * 40, "lovely story"]


def test_mobile_export_adds_ort_model_with_the_same_results(tiny_run, tmp_path):
    manifest = export_run(tiny_run, tmp_path / "mobile", ExportOptions(int8=True, max_drop=100.0, mobile=True)).manifest
    bundle = tmp_path / "mobile"
    assert (bundle / "model_int8.ort").is_file() and (bundle / "required_operators.config").is_file()
    assert manifest["mobile"] == {"variant": "int8", "ort_file": "model_int8.ort", "required_operators": "required_operators.config", "optimization_style": "runtime"}
    assert manifest["parity"]["variants"]["int8"]["ort_max_abs_diff"] <= 1e-5
    ops = (bundle / "required_operators.config").read_text()
    assert "MatMulInteger" in ops and "/tmp" not in ops
    onnx_model = edgeft_runtime.load(bundle)
    ort_model = edgeft_runtime.load(bundle, variant="model_int8.ort")
    assert ort_model.variant == "int8"
    np.testing.assert_allclose(ort_model.predict_proba(TEXTS), onnx_model.predict_proba(TEXTS), atol=1e-6)


def test_static_shape_export_pads_and_truncates(tiny_run, tmp_path):
    manifest = export_run(tiny_run, tmp_path / "static", ExportOptions(static_shape=(2, 16))).manifest
    assert manifest["static_shape"] == {"batch": 2, "sequence": 16} and manifest["max_length"] == 16
    static = edgeft_runtime.load(tmp_path / "static")
    assert [i.shape for i in static.session.get_inputs()] == [[2, 16]] * 3
    dynamic = edgeft_runtime.load(tmp_path / "static", variant="fp32")
    short = ["good film", "awful", "lovely story"]  # three texts: a batch of 2 plus one padded row
    probs = static.predict_proba(short)
    assert probs.shape == (3, 2)
    exported = export_run(tiny_run, tmp_path / "dyn", ExportOptions()).out
    np.testing.assert_allclose(probs, edgeft_runtime.load(exported).predict_proba(short), atol=1e-5)
    long = static.tokenizer.encode(["really " * 40])[0]
    assert len(long.ids) == 16  # truncated to the fixed length
    assert dynamic.predict_proba(["really " * 40]).shape == (1, 2)


@pytest.fixture(scope="module")
def two_reports(tmp_path_factory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("reports")
    paths = []
    for name, threads in (("laptop", 2), ("pi-like", 1)):
        out = folder / f"{name}.json"
        args = [str(FIXTURE), "--threads", str(threads), "--runs", "5", "--cold-passes", "1", "--device-name", name, "--out", str(out)]
        assert bench.main(args) == 0
        paths.append(out)
    return paths[0], paths[1]


def test_report_schema(two_reports):
    report = json.loads(two_reports[1].read_text())
    assert report["format"] == "edgeft-bench-report" and report["schema_version"] == "1.1"
    device = report["device"]
    for key in ("name", "cpu_model", "architecture", "cpu_flags", "logical_cores", "threads", "memory_gb", "os", "onnxruntime", "edgeft_runtime"):
        assert key in device, key
    assert device["threads"] == 1 and device["name"] == "pi-like"
    assert report["settings"]["runs"] == 5 and report["settings"]["cold_passes"] == 1
    assert set(report["bundle"]["model_sha256"]) == {"fp32", "int8"}


def test_compare_table_and_plot(two_reports, tmp_path):
    rows, notes = collect_rows(list(two_reports))
    # The committed fixture predates reference sets: its reports say the accuracy was not measured there.
    assert len(notes) == 2 and all("accuracy not measured on the device" in n for n in notes)
    assert {(r.device, r.variant) for r in rows} == {("laptop (2t)", "fp32"), ("laptop (2t)", "int8"), ("pi-like (1t)", "fp32"), ("pi-like (1t)", "int8")}
    table = format_comparison(rows, notes)
    assert table.splitlines()[0].split()[:3] == ["device", "variant", "p50@16"]
    assert len(table.splitlines()) == 5 + len(notes)
    png = tmp_path / "latency.png"
    series = plot_comparison(rows, png)
    assert series == [f"{r.device} / {r.variant}" for r in rows]
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000


def test_compare_cli_flags_different_models_and_refuses_other_schemas(two_reports, tmp_path):
    other = json.loads(two_reports[0].read_text())
    other["bundle"]["model_sha256"] = {"fp32": "f" * 64}
    other["bundle"]["source_run"] = "another-run"
    (tmp_path / "other.json").write_text(json.dumps(other))
    result = CliRunner().invoke(app, ["compare", str(two_reports[0]), str(tmp_path / "other.json"), "--plot", str(tmp_path / "p.png")])
    assert result.exit_code == 0, result.output
    assert "note: these reports measure DIFFERENT models" in result.output and "another-run@ffffffff" in result.output
    assert "wrote" in result.output and (tmp_path / "p.png").is_file()

    other["schema_version"] = "2.0"
    (tmp_path / "v2.json").write_text(json.dumps(other))
    result = CliRunner().invoke(app, ["compare", str(two_reports[0]), str(tmp_path / "v2.json")])
    assert result.exit_code == 1 and "schema_version 2.0 is newer than this edgeft supports (1.1)" in result.output
    with pytest.raises(EdgeftError, match="not an edgeft bench report"):
        (tmp_path / "x.json").write_text("{}")
        collect_rows([tmp_path / "x.json"])


def test_bench_an_ort_file_variant(tiny_run, tmp_path):
    bundle = export_run(tiny_run, tmp_path / "m", ExportOptions(int8=True, max_drop=100.0, mobile=True)).out
    out = tmp_path / "ort.json"
    assert bench.main([str(bundle), "--variant", "model_int8.ort", "--duration", "0.5", "--cold-passes", "1", "--out", str(out)]) == 0
    report = json.loads(out.read_text())
    assert list(report["results"]) == ["model_int8.ort"] and report["settings"]["duration_s"] == 0.5
    shutil.rmtree(bundle)
