"""Bundles are checked on load: schema version, unknown keys, file hashes, missing files."""

from __future__ import annotations

import json

import pytest

import edgeft_runtime
from edgeft_runtime import BundleError


def edit_manifest(bundle, change):
    path = bundle / "edgeft.json"
    manifest = json.loads(path.read_text())
    change(manifest)
    path.write_text(json.dumps(manifest))


def test_newer_major_schema_is_refused(sentiment_bundle):
    edit_manifest(sentiment_bundle, lambda m: m.update(schema_version="2.0"))
    with pytest.raises(BundleError, match=r"schema_version 2.0 is newer than this runtime supports \(1.2\); upgrade edgeft-runtime"):
        edgeft_runtime.load(sentiment_bundle)


def test_newer_minor_schema_with_unknown_keys_loads_with_a_warning(sentiment_bundle):
    edit_manifest(sentiment_bundle, lambda m: m.update(schema_version="1.7", shiny_new_field={"x": 1}))
    with pytest.warns(UserWarning, match="ignoring unknown manifest field.*shiny_new_field"):
        clf = edgeft_runtime.load(sentiment_bundle)
    assert clf.predict("good film")["label"] == "pos"


def test_flipped_byte_is_refused(sentiment_bundle):
    path = sentiment_bundle / "model_int8.onnx"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(BundleError, match=r"model_int8.onnx: sha256 .* does not match the manifest"):
        edgeft_runtime.load(sentiment_bundle)
    edgeft_runtime.load(sentiment_bundle, variant="fp32")  # the untouched variant still loads


def test_tampered_tokenizer_is_refused(sentiment_bundle):
    path = sentiment_bundle / "tokenizer.json"
    path.write_text(path.read_text().replace('"[UNK]"', '"[UNKNOWN]"', 1))
    with pytest.raises(BundleError, match="tokenizer.json: sha256"):
        edgeft_runtime.load(sentiment_bundle)


def test_missing_file_is_named(sentiment_bundle):
    (sentiment_bundle / "model_int8.onnx").unlink()
    with pytest.raises(BundleError, match=r"model_int8.onnx: missing from the bundle"):
        edgeft_runtime.load(sentiment_bundle)


def test_corrupt_onnx_without_verification_is_a_bundle_error(sentiment_bundle):
    (sentiment_bundle / "model_int8.onnx").write_bytes(b"not an onnx graph")
    with pytest.raises(BundleError, match="onnxruntime could not load it"):
        edgeft_runtime.load(sentiment_bundle, verify=False)


def test_not_a_bundle(tmp_path):
    with pytest.raises(BundleError, match="no such bundle folder"):
        edgeft_runtime.load(tmp_path / "nope")
    with pytest.raises(BundleError, match="edgeft.json: missing; this folder is not an edgeft bundle"):
        edgeft_runtime.load(tmp_path)
    (tmp_path / "edgeft.json").write_text("{not json")
    with pytest.raises(BundleError, match="not valid JSON"):
        edgeft_runtime.load(tmp_path)


def test_file_names_cannot_point_outside_the_bundle(sentiment_bundle):
    def escape(m):
        m["variants"]["int8"]["file"] = "../outside.onnx"
        m["files"]["../outside.onnx"] = {"sha256": "0" * 64}

    edit_manifest(sentiment_bundle, escape)
    with pytest.raises(BundleError, match="points outside the bundle"):
        edgeft_runtime.load(sentiment_bundle)


def test_verify_bundle_checks_every_file(sentiment_bundle):
    assert edgeft_runtime.verify_bundle(sentiment_bundle) == ["README.md", "model.onnx", "model_int8.onnx", "tokenizer.json"]
    (sentiment_bundle / "README.md").write_text("changed")
    with pytest.raises(BundleError, match="README.md: sha256"):
        edgeft_runtime.verify_bundle(sentiment_bundle)


def test_unknown_task_is_refused(sentiment_bundle):
    edit_manifest(sentiment_bundle, lambda m: m.update(task="speech"))
    with pytest.raises(BundleError, match="task 'speech' is not supported by this runtime"):
        edgeft_runtime.load(sentiment_bundle)
