"""`edgeft export --format transformers.js`: one folder that edgeft's runtimes and transformers.js
pipeline() both open, with the same labels. transformers.js runs in Node (onnxruntime-node) where
runtime-js's node_modules hold it (make test installs them; skipped otherwise, saying so)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from edgeft_exporters.api import ExportOptions, export_run
from edgeft_exporters.errors import ExportError
from edgeft_exporters.transformers_js import check_layout
from edgeft_runtime.options import OptionError

import edgeft_runtime

ROOT = Path(__file__).resolve().parents[1]
JS = ROOT / "runtime-js"
TEXTS = ["the film was good", "awful plot and poor story", "it", "really " * 40, "", "Café crème à Zürich 😀"]
needs_js = pytest.mark.skipif(
    shutil.which("node") is None or not (JS / "node_modules" / "@huggingface" / "transformers").is_dir(),
    reason="needs node and runtime-js/node_modules with @huggingface/transformers (make js-deps installs them)",
)


@pytest.fixture(scope="module")
def web_bundle(tmp_path_factory, tiny_run) -> Path:
    out = tmp_path_factory.mktemp("layout") / "sentiment-web"
    export_run(tiny_run, out, ExportOptions(int8=True, max_drop=100.0, layout="transformers.js", reference_samples=8))
    return out


def test_the_folder_has_both_layouts_and_each_graph_once(web_bundle):
    manifest = json.loads((web_bundle / "edgeft.json").read_text())
    assert manifest["variants"]["int8"]["file"] == "onnx/model_quantized.onnx"
    assert manifest["variants"]["fp32"]["file"] == "onnx/model.onnx"
    assert manifest["transformers_js"]["dtypes"] == {"q8": "onnx/model_quantized.onnx", "fp32": "onnx/model.onnx"}
    assert not list(web_bundle.glob("*.onnx"))  # moved, not copied
    config = json.loads((web_bundle / "config.json").read_text())
    assert config["id2label"] == {"0": "neg", "1": "pos"} and config["model_type"] == "bert"
    assert json.loads((web_bundle / "tokenizer_config.json").read_text())["model_max_length"] == manifest["max_length"]
    assert {"config.json", "tokenizer_config.json", "onnx/model_quantized.onnx"} <= set(manifest["files"])
    assert edgeft_runtime.load(web_bundle).predict(["good"])[0]["label"] in ("neg", "pos")  # hashes verified


def test_an_unknown_layout_is_refused_as_an_option(tiny_run, tmp_path):
    with pytest.raises(OptionError, match="--format"):
        export_run(tiny_run, tmp_path / "x", ExportOptions(layout="onnx-community"))
    with pytest.raises(ExportError, match="no transformers.js pipeline"):
        check_layout("transformers.js", "setfit")


def _node(*args: str, texts: list[str]) -> object:
    done = subprocess.run(["node", *args], cwd=JS, input=json.dumps(texts), capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout)


@needs_js
@pytest.mark.parametrize("variant,dtype", [("int8", "q8"), ("fp32", "fp32")])
def test_transformers_js_pipeline_gives_edgefts_labels(web_bundle, variant, dtype):
    model = edgeft_runtime.load(web_bundle, variant=variant)
    expected = model.predict_proba(TEXTS)
    out = _node("test/transformersjs_cli.mjs", str(web_bundle), dtype, texts=TEXTS)
    got = np.array([[next(r["score"] for r in rows if r["label"] == label) for label in model.labels] for rows in out])
    assert [model.labels[i] for i in got.argmax(1)] == [model.labels[i] for i in expected.argmax(1)]
    # Texts over max_length: transformers.js' tokenizer cuts the final [SEP] away when it truncates
    # (measured: 32 ids ending in the text's tokens), edgeft's keeps it, so only the labels compare.
    short = [i for i, t in enumerate(TEXTS) if len(model.tokenizer.encode([t])[0].ids) < model.manifest["max_length"]]
    assert len(short) == len(TEXTS) - 1
    # one text at a time in both (no batch padding); int8: the same graph and kernels in Node
    np.testing.assert_allclose(got[short], expected[short], atol=1e-4 if variant == "fp32" else 2e-2)


@needs_js
def test_edgeft_js_runtime_opens_the_folder_and_explains_a_plain_transformers_js_one(web_bundle, tmp_path):
    out = _node("test/cli.js", "run", str(web_bundle), texts=TEXTS)
    assert [r["label"] for r in out["predict"]] == [r["label"] for r in edgeft_runtime.load(web_bundle).predict(TEXTS)]
    plain = tmp_path / "plain"
    shutil.copytree(web_bundle, plain)
    (plain / "edgeft.json").unlink()
    done = subprocess.run(["node", "test/cli.js", "run", str(plain)], cwd=JS, input="[]", capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode != 0
    assert "transformers.js model folder" in done.stderr and "--format transformers.js" in done.stderr
