"""Bundles are checked on load: schema version, unknown keys, file hashes, missing files."""

from __future__ import annotations

import json
import re
from pathlib import Path

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
    with pytest.raises(BundleError, match=r"schema_version 2.0 is newer than this runtime supports \(1.4\); upgrade edgeft-runtime"):
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


def _move_out(bundle, name, tmp_path_factory):
    """Move ``name`` out of the bundle and leave a symlink to it: the same bytes, hashed alike."""
    outside = tmp_path_factory.mktemp("outside") / name.replace("/", "_")
    (bundle / name).rename(outside)
    (bundle / name).symlink_to(outside)
    return outside


@pytest.mark.parametrize("name", ["tokenizer.json", "model_int8.onnx", "edgeft.json"])
def test_a_symlink_to_a_file_outside_the_bundle_is_refused_unread(sentiment_bundle, tmp_path_factory, monkeypatch, name):
    from edgeft_runtime import manifest as manifest_module
    from edgeft_runtime.manifest import verify_bundle

    outside = _move_out(sentiment_bundle, name, tmp_path_factory)
    hashed = []
    real_hash = manifest_module.sha256_file
    monkeypatch.setattr(manifest_module, "sha256_file", lambda p: hashed.append(str(p)) or real_hash(p))
    pattern = rf"{name}: resolves to .*outside the bundle folder \(a symlink\?\); refusing it unread"
    with pytest.raises(BundleError, match=pattern):
        verify_bundle(sentiment_bundle)  # what `edgeft info` counts as verified
    for verify in (True, False):
        with pytest.raises(BundleError, match=pattern):
            edgeft_runtime.load(sentiment_bundle, verify=verify)
    assert all(Path(h).resolve() != outside for h in hashed)  # refused before a byte of it was read


def test_a_symlinked_folder_inside_the_bundle_that_leads_out_is_refused(sentiment_bundle, tmp_path_factory):
    away = tmp_path_factory.mktemp("away")
    (sentiment_bundle / "tokenizer.json").rename(away / "tokenizer.json")
    (sentiment_bundle / "sub").mkdir()
    (sentiment_bundle / "sub" / "link").symlink_to(away)
    (sentiment_bundle / "tokenizer.json").symlink_to("sub/link/tokenizer.json")
    with pytest.raises(BundleError, match=r"tokenizer.json: resolves to .*outside the bundle folder"):
        edgeft_runtime.load(sentiment_bundle)


def test_links_that_stay_inside_and_a_linked_bundle_folder_load(sentiment_bundle, tmp_path):
    (sentiment_bundle / "tokenizer.json").rename(sentiment_bundle / "tokenizer.real.json")
    (sentiment_bundle / "tokenizer.json").symlink_to("tokenizer.real.json")
    linked = tmp_path / "linked"
    linked.symlink_to(sentiment_bundle)
    assert edgeft_runtime.load(linked).predict("good film")["label"] == "pos"


def test_packing_a_bundle_refuses_a_symlink_that_leads_out(sentiment_bundle, tmp_path_factory, tmp_path):
    from edgeft_runtime.archive import pack_bundle

    _move_out(sentiment_bundle, "tokenizer.json", tmp_path_factory)
    with pytest.raises(BundleError, match="outside the bundle folder"):
        pack_bundle(sentiment_bundle, tmp_path / "b.zip")
    assert not (tmp_path / "b.zip").exists()


@pytest.mark.parametrize(
    "change, fragment",
    [
        (lambda m: m.update(max_length=0), "field 'max_length' is 0: give a number from 1 to 1048576"),
        (lambda m: m.update(max_length="64"), "field 'max_length' is '64': give a whole number"),
        (lambda m: m.update(max_length=10**12), "field 'max_length' is 1000000000000"),
        (lambda m: m.update(static_shape={"batch": 0, "sequence": 0}), "field 'static_shape.batch' is 0"),
        (lambda m: m.update(static_shape={"batch": 1, "sequence": -5}), "field 'static_shape.sequence' is -5"),
        (lambda m: m.update(threshold=float("nan")), "field 'threshold' is nan: give a finite number from 0 to 1"),
        (lambda m: m.update(labels=["neg", 7]), "field 'labels' is list: give a list of strings"),
        (lambda m: m.update(variants={}), "field 'variants' is dict: give an object with at least one variant"),
        (lambda m: m.update(default_variant="bogus"), "field 'default_variant' is 'bogus', not one of the variants"),
        (lambda m: m["files"].update({"tokenizer.json": "abc"}), "field 'files.tokenizer.json' has no sha256"),
        (lambda m: m.update(parity={**m["parity"], "max_drop": -1}), "field 'parity.max_drop' is -1: give a number from 0 to 100"),
        (lambda m: m.update(tokenizer=None), "field 'tokenizer' is missing or null"),
    ],
)
def test_manifest_values_of_the_wrong_type_or_out_of_range_are_refused_naming_the_field(sentiment_bundle, change, fragment):
    edit_manifest(sentiment_bundle, change)
    with pytest.raises(BundleError, match=re.escape(fragment)):
        edgeft_runtime.load(sentiment_bundle)


@pytest.mark.parametrize("threads", [-1, 0, 10**20, 1.5, float("nan")])
def test_thread_counts_are_checked_before_onnxruntime_sees_them(sentiment_bundle, threads):
    from edgeft_runtime.options import OptionError

    with pytest.raises(OptionError, match=r"threads .*: give (a whole number|a finite number from 1 to 1024|a number from 1 to 1024)"):
        edgeft_runtime.load(sentiment_bundle, threads=threads)
