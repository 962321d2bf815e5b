"""The CLI through typer's CliRunner: the whole pipeline, and bad input as one line with no traceback."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from edgeft.cli import app
from tests.conftest import assert_one_error_line
from tests import tiny

runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture(scope="module")
def cli_run(tmp_path_factory, tiny_base, sentiment_files):
    out = tmp_path_factory.mktemp("cli") / "run"
    result = invoke(
        "train", "classifier", "--train", sentiment_files["train"], "--eval", sentiment_files["dev"],
        "--out", out, "--base", tiny_base, "--epochs", 6, "--lr", 3e-3, "--max-length", 32,
        "--set", "early_stopping_patience=0", "--set", "logging_steps=1000",
    )
    assert result.exit_code == 0, result.output
    assert f"saved run to {out}" in result.output
    return out


def test_train_writes_a_complete_run(cli_run):
    names = {p.name for p in cli_run.iterdir()}
    assert {"config.json", "model.safetensors", "tokenizer.json", "edgeft_run.json", "train_config.json", "metrics.json", "eval.jsonl"} <= names
    assert "checkpoints" not in names and "training_args.bin" not in names
    metrics = json.loads((cli_run / "metrics.json").read_text())
    assert set(metrics) >= {"accuracy", "macro_f1"}
    config = json.loads((cli_run / "train_config.json").read_text())
    assert config["epochs"] == 6 and config["early_stopping_patience"] == 0 and config["max_length"] == 32
    run = json.loads((cli_run / "edgeft_run.json").read_text())
    assert run["labels"] == ["neg", "pos"] and run["versions"]["torch"].startswith("2.13")


def test_export_predict_eval_info_bench(cli_run, sentiment_files, tmp_path):
    bundle = tmp_path / "bundle"
    result = invoke("export", cli_run, "--int8", "--out", bundle, "--max-drop", 100)
    assert result.exit_code == 0, result.output
    assert "ONNX int8: accuracy" in result.output and (bundle / "edgeft.json").is_file()
    export_lines = [line.strip() for line in result.output.splitlines() if line.strip().startswith("ONNX ")]
    assert len(export_lines) == 2 and all("max |diff| (probability)" in line for line in export_lines), result.output

    result = invoke("predict", bundle, "good film", "awful plot")
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.output.strip().splitlines()]
    assert [line["text"] for line in lines] == ["good film", "awful plot"]
    assert all(line["prediction"]["label"] in ("pos", "neg") for line in lines)

    result = invoke("eval", bundle, "--data", sentiment_files["dev"], "--out", tmp_path / "m.json")
    assert result.exit_code == 0, result.output
    metrics = json.loads((tmp_path / "m.json").read_text())
    assert metrics["examples"] == 40 and 0 <= metrics["accuracy"] <= 1

    result = invoke("info", bundle)
    assert result.exit_code == 0 and "variant       int8 (default)" in result.output and "verified (sha256)" in result.output
    # info prints the parity lines export printed, with the same unit
    assert all(line in result.output for line in export_lines), result.output

    report = tmp_path / "report.json"
    result = invoke("bench", bundle, "--reference", cli_run, "--runs", 3, "--cold-passes", 1, "--out", report)
    assert result.exit_code == 0, result.output
    data = json.loads(report.read_text())
    assert set(data["results"]) == {"fp32", "int8", "pytorch-fp32"}
    assert set(data["ratios"]) == {"fp32", "int8"} and data["ratios"]["int8"]["vs"] == "pytorch-fp32"
    assert "int8 vs pytorch-fp32: latency speed-up" in result.output


def test_export_with_eval_file_and_existing_output(cli_run, sentiment_files, tmp_path):
    bundle = tmp_path / "b"
    assert invoke("export", cli_run, "--out", bundle, "--eval", sentiment_files["dev"]).exit_code == 0
    manifest = json.loads((bundle / "edgeft.json").read_text())
    assert manifest["parity"]["data"] == str(sentiment_files["dev"])
    assert manifest["parity"]["max_drop"] == 1.0  # recorded without --int8 too: the device check's default limit
    assert_one_error_line(invoke("export", cli_run, "--out", bundle), f"{bundle}: already exists; pass --overwrite")


def test_int8_gate_failure_is_one_line(cli_run, tmp_path, break_variants):
    break_variants("int8")
    result = invoke("export", cli_run, "--int8", "--out", tmp_path / "x", "--max-drop", 0.5, "--per-channel", "off")
    assert_one_error_line(result, "int8 accuracy", "--max-drop 0.5", "no bundle written")
    assert not (tmp_path / "x").exists()


def test_train_refuses_existing_output(cli_run, sentiment_files):
    result = invoke("train", "classifier", "--train", sentiment_files["train"], "--out", cli_run)
    assert_one_error_line(result, f"{cli_run}: already exists; pass --overwrite")


@pytest.mark.parametrize(
    "make_args, fragments",
    [
        (lambda d, b: ["train", "classifier", "--train", d / "missing.csv", "--out", d / "o", "--base", b], ["missing.csv: file not found"]),
        (lambda d, b: ["train", "classifier", "--train", tiny.write_csv(d / "one.csv", [("a", "x"), ("b", "x")]), "--out", d / "o", "--base", b], ["one.csv: only one class ('x')"]),
        (lambda d, b: ["train", "classifier", "--train", d / "t.csv", "--out", d / "o", "--base", d / "nobase"], ["--base", "no such folder"]),
        (lambda d, b: ["train", "classifier", "--train", d / "t.csv", "--out", d / "o", "--base", b, "--set", "epoch=2"], ["unknown config key 'epoch'; did you mean 'epochs'?"]),
        (lambda d, b: ["train", "classifier", "--train", d / "t.csv", "--base", b], ["no output folder: pass --out DIR"]),
        (lambda d, b: ["export", d / "notarun", "--out", d / "x"], ["no such run folder"]),
        (lambda d, b: ["predict", d / "nobundle", "hi"], ["no such bundle folder"]),
        (lambda d, b: ["info", d], ["edgeft.json: missing; this folder is not an edgeft bundle"]),
    ],
)
def test_bad_input_gives_one_line(tmp_path, tiny_base, make_args, fragments):
    tiny.write_csv(tmp_path / "t.csv", tiny.sentiment_rows(20))
    assert_one_error_line(invoke(*make_args(tmp_path, tiny_base)), *fragments)


def test_base_that_is_not_an_encoder(tmp_path):
    (tmp_path / "gpt").mkdir()
    (tmp_path / "gpt" / "config.json").write_text(json.dumps({"model_type": "gpt2"}))
    tiny.write_csv(tmp_path / "t.csv", tiny.sentiment_rows(20))
    result = invoke("train", "classifier", "--train", tmp_path / "t.csv", "--out", tmp_path / "o", "--base", tmp_path / "gpt")
    assert_one_error_line(result, "model type 'gpt2' is not a BERT-family encoder")


def test_debug_shows_the_traceback(tmp_path):
    result = runner.invoke(app, ["--debug", "predict", str(tmp_path / "nobundle"), "x"])
    assert result.exit_code != 0 and result.exception is not None


def test_help_teaches():
    result = invoke("--help")
    assert result.exit_code == 0 and "train" in result.output and "export" in result.output
    result = invoke("export", "--help")
    assert "--max-drop" in result.output and "Examples:" in result.output


def test_closed_output_pipe_ends_quietly():
    """`edgeft ... | head` must not print an error when head stops reading."""
    import subprocess
    import sys

    proc = subprocess.Popen(
        [sys.executable, "-m", "edgeft", "train", "mlm", "--print-config"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    proc.stdout.close()  # the reader goes away before the command writes anything
    stderr = proc.stderr.read()
    assert proc.wait(timeout=120) == 141, stderr
    assert stderr == ""


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["--max-drop", "nan"], "--max-drop nan: give a finite number from 0 to 100 points"),
        (["--max-drop", "-1"], "--max-drop -1: give a number from 0 to 100 points"),
        (["--atol", "-0.1"], "--atol -0.1: give 0 or more"),
        (["--per-channel", "bogus"], "--per-channel bogus: choose auto, on or off"),
        (["--static-shape", "0x0"], "--static-shape 0x0: expected BATCHxSEQUENCE"),
        (["--parity-samples", "0"], "--parity-samples 0: give 1 or more"),
        (["--target", "arm64,riscv"], "--target arm64,riscv: unknown target riscv"),
    ],
)
def test_export_refuses_option_values_before_any_work(cli_run, tmp_path, args, fragment):
    assert_one_error_line(invoke("export", cli_run, "--int8", "--out", tmp_path / "x", *args), fragment)
    assert not (tmp_path / "x").exists()


def test_export_options_are_checked_in_python_too():
    from edgeft_exporters.api import ExportOptions
    from edgeft_runtime.check import DEFAULT_MAX_DROP
    from edgeft_runtime.options import OptionError

    assert ExportOptions().max_drop == DEFAULT_MAX_DROP  # the gate's default is the check's, stated once
    with pytest.raises(OptionError, match="--max-drop nan"):
        ExportOptions(max_drop=float("nan"))
    with pytest.raises(OptionError, match="--archive rar: choose zip or tar.gz"):
        ExportOptions(archive="rar")

