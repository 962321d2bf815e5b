"""Contract details that a runtime in another language must reproduce (runtime-js follows them),
pinned here on the reference runtime: truncation, padding id, static shapes, offsets."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

import edgeft_runtime

FIXTURES = Path(__file__).parent / "fixtures"


def _rehash(bundle, name):
    manifest = json.loads((bundle / "edgeft.json").read_text())
    manifest["files"][name]["sha256"] = hashlib.sha256((bundle / name).read_bytes()).hexdigest()
    (bundle / "edgeft.json").write_text(json.dumps(manifest))


def test_truncation_keeps_the_specials_and_the_head_of_the_text(sentiment_bundle):
    clf = edgeft_runtime.load(sentiment_bundle)
    tok = clf.tokenizer
    text = "good film " * 40
    (enc,) = tok.encode([text])
    content = tok.tokenizer.encode(text, add_special_tokens=False).ids
    cls, sep = tok.tokenizer.token_to_id("[CLS]"), tok.tokenizer.token_to_id("[SEP]")
    assert enc.ids == [cls] + content[: clf.manifest["max_length"] - 2] + [sep]


def test_truncation_length_falls_back_to_the_manifest_when_tokenizer_json_has_none(sentiment_bundle):
    path = sentiment_bundle / "tokenizer.json"
    data = json.loads(path.read_text())
    data["truncation"] = None
    path.write_text(json.dumps(data))
    _rehash(sentiment_bundle, "tokenizer.json")
    clf = edgeft_runtime.load(sentiment_bundle)
    assert len(clf.tokenizer.encode(["good " * 100])[0].ids) == clf.manifest["max_length"]


def test_padding_uses_the_pad_id_of_tokenizer_json_per_batch(sentiment_bundle):
    path = sentiment_bundle / "tokenizer.json"
    data = json.loads(path.read_text())
    data["padding"]["pad_id"], data["padding"]["pad_type_id"] = 7, 1
    path.write_text(json.dumps(data))
    _rehash(sentiment_bundle, "tokenizer.json")
    tok = edgeft_runtime.load(sentiment_bundle).tokenizer
    arrays = tok.to_arrays(tok.encode(["good", "the film was good"]))
    short = len(tok.encode(["good"])[0].ids)
    width = arrays["input_ids"].shape[1]
    assert width == len(tok.encode(["the film was good"])[0].ids), "to the longest row of the batch, not max_length"
    assert arrays["input_ids"][0, short:].tolist() == [7] * (width - short)
    assert arrays["token_type_ids"][0, short:].tolist() == [1] * (width - short)
    assert arrays["attention_mask"][0].tolist() == [1] * short + [0] * (width - short)


def test_static_shape_fixes_batch_and_sequence(sentiment_bundle):
    manifest = json.loads((sentiment_bundle / "edgeft.json").read_text())
    manifest["static_shape"] = {"batch": 4, "sequence": 16}
    (sentiment_bundle / "edgeft.json").write_text(json.dumps(manifest))
    model = edgeft_runtime.load(sentiment_bundle, variant="fp32")
    feeds = []
    run = model.session.run
    model.session.run = lambda names, feed: feeds.append({k: v.shape for k, v in feed.items()}) or run(names, feed)
    texts = ["good", "the film was bad", "lovely", "poor", "sad film", "great"]
    probs = model.predict_proba(texts)
    assert [f["input_ids"] for f in feeds] == [(4, 16), (4, 16)]
    assert len(model.tokenizer.encode(["good " * 40])[0].ids) == 16
    dynamic = edgeft_runtime.load(FIXTURES / "sentiment", variant="fp32").predict_proba(texts)
    np.testing.assert_allclose(probs, dynamic, atol=1e-5)


def test_offsets_are_code_point_indices(entities_bundle):
    tagger = edgeft_runtime.load(entities_bundle, variant="fp32")
    text = "😀😀 anna met otto in paris"
    entities = tagger.tag(text)
    assert entities and all(text[e["start"] : e["end"]] == e["text"] for e in entities)
    first = entities[0]
    assert first["start"] == text.index(first["text"]), "code points: each emoji counts one (JavaScript counts two)"
