"""The bad-input matrix: every case ends in one line naming the file, line or field and what to
do, a non-zero exit, and no traceback."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from edgeft.cli import app
from tests.conftest import assert_one_error_line

RUNTIME_FIXTURE = Path(__file__).resolve().parents[1] / "runtime" / "tests" / "fixtures" / "sentiment"
GOOD = "text,label\n" + "".join(f"good film {i},pos\nbad film {i},neg\n" for i in range(5))


def run_cli(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


TRAIN_CASES = {
    "missing file": (None, None, ["missing.csv: file not found"]),
    "empty file": ("", None, ["train.csv: file is empty"]),
    "missing text column": ("sentence,label\nhi,pos\nho,neg\n", None, ["train.csv:2: no column 'text'", "--text-column"]),
    "missing label column": ("text,y\nhi,pos\nho,neg\n", None, ["train.csv:2: no column 'label'", "--label-column"]),
    "empty text": ("text,label\nhi,pos\n,neg\n", None, ["train.csv:3: empty text", "skip_empty=true"]),
    "single class": ("text,label\na,pos\nb,pos\n", None, ["train.csv: only one class ('pos')"]),
    "non-UTF-8": (b"text,label\nhi,pos\ncaf\xe9,neg\n", None, ["train.csv:3: byte 0xe9 is not valid UTF-8"]),
    "ragged row": ("text,label\nhi,pos\nho,neg,extra\n", None, ["train.csv:3: row has 3 fields but the header has 2"]),
    "label only in eval": (GOOD, "text,label\ngood,pos\nmeh,neutral\nbad,neg\n", ["dev.csv:3: label 'neutral' does not occur in the training data"]),
    "label absent from eval": (GOOD, "text,label\ngood,pos\ngreat,pos\n", ["dev.csv: training label(s) 'neg' never occur in the eval data", "allow_missing_eval_labels"]),
}


@pytest.mark.parametrize("case", list(TRAIN_CASES))
def test_training_data_errors(tmp_path, tiny_base, case):
    train_text, dev_text, fragments = TRAIN_CASES[case]
    train = tmp_path / ("missing.csv" if train_text is None else "train.csv")
    if isinstance(train_text, bytes):
        train.write_bytes(train_text)
    elif train_text is not None:
        train.write_text(train_text)
    args = ["train", "classifier", "--train", train, "--out", tmp_path / "out", "--base", tiny_base]
    if dev_text is not None:
        (tmp_path / "dev.csv").write_text(dev_text)
        args += ["--eval", tmp_path / "dev.csv"]
    assert_one_error_line(run_cli(*args), *fragments)
    assert not (tmp_path / "out").exists()


def test_base_errors_and_existing_output(tmp_path, tiny_base):
    (tmp_path / "train.csv").write_text(GOOD)
    common = ["train", "classifier", "--train", tmp_path / "train.csv"]
    assert_one_error_line(run_cli(*common, "--out", tmp_path / "o", "--base", tmp_path / "nowhere"), "--base", "no such folder")
    (tmp_path / "plain").mkdir()
    assert_one_error_line(run_cli(*common, "--out", tmp_path / "o", "--base", tmp_path / "plain"), "folder has no config.json")
    (tmp_path / "t5").mkdir()
    (tmp_path / "t5" / "config.json").write_text(json.dumps({"model_type": "t5", "is_encoder_decoder": True}))
    assert_one_error_line(run_cli(*common, "--out", tmp_path / "o", "--base", tmp_path / "t5"), "not a BERT-family encoder")
    (tmp_path / "exists").mkdir()
    assert_one_error_line(run_cli(*common, "--out", tmp_path / "exists", "--base", tiny_base), "already exists; pass --overwrite")


@pytest.fixture
def bundle(tmp_path) -> Path:
    return Path(shutil.copytree(RUNTIME_FIXTURE, tmp_path / "bundle"))


def test_bundle_missing_a_file(bundle):
    (bundle / "tokenizer.json").unlink()
    assert_one_error_line(run_cli("predict", bundle, "hi"), "tokenizer.json: missing from the bundle")


def test_corrupt_onnx(bundle):
    (bundle / "model_int8.onnx").write_bytes(b"\x08\x07garbage")
    assert_one_error_line(run_cli("predict", bundle, "hi"), "model_int8.onnx: sha256", "does not match the manifest")
    assert_one_error_line(run_cli("info", bundle), "model_int8.onnx: sha256")


def test_a_file_linked_from_outside_the_bundle_is_never_counted_as_verified(bundle, tmp_path):
    outside = tmp_path / "elsewhere.onnx"
    (bundle / "model_int8.onnx").rename(outside)  # the very bytes the manifest hashes
    (bundle / "model_int8.onnx").symlink_to(outside)
    assert_one_error_line(run_cli("info", bundle), "model_int8.onnx: resolves to", "outside the bundle folder", "copy the real file into the bundle")
    assert_one_error_line(run_cli("predict", bundle, "hi"), "outside the bundle folder")
    result = run_cli("info", bundle, "--no-verify")
    assert result.exit_code == 0 and "files         4 not verified" in result.output


def test_newer_major_manifest(bundle):
    manifest = json.loads((bundle / "edgeft.json").read_text())
    manifest["schema_version"] = "3.1"
    (bundle / "edgeft.json").write_text(json.dumps(manifest))
    assert_one_error_line(run_cli("predict", bundle, "hi"), "schema_version 3.1 is newer than this runtime supports", "upgrade edgeft-runtime")


def test_eval_file_errors(bundle, tmp_path):
    (tmp_path / "test.csv").write_text("text,label\ngood,pos\nhmm,neutral\n")
    assert_one_error_line(run_cli("eval", bundle, "--data", tmp_path / "test.csv"), "test.csv:3: label 'neutral' does not occur")


def test_unexpected_errors_are_one_line_too(monkeypatch, bundle):
    import edgeft_runtime

    def boom(*args, **kwargs):
        raise RuntimeError("something broke\nacross lines")

    monkeypatch.setattr(edgeft_runtime, "load", boom)
    result = run_cli("predict", bundle, "hi")
    assert result.exit_code == 70  # a bug, told apart from a usage error (2) and the user's problem (1)
    assert "error: unexpected RuntimeError: something broke across lines (run `edgeft --debug ...` for the traceback)" in result.output
