"""The Tagger on a committed tiny NER bundle (PER, LOC; windows of 12 tokens): raw text in, spans
with exact character offsets out, long texts windowed, manifest settings checked."""

from __future__ import annotations

import json

import numpy as np
import pytest

import edgeft_runtime
from edgeft_runtime import BundleError, Tagger


def test_loads_as_tagger_with_manifest_settings(entities_bundle):
    tagger = edgeft_runtime.load(entities_bundle)
    assert isinstance(tagger, Tagger) and tagger.variant == "int8"
    assert tagger.labels[0] == "O" and set(tagger.labels) == {"O", "B-LOC", "I-LOC", "B-PER", "I-PER"}
    assert tagger.scheme == "IOB2" and tagger.aggregation == "first" and tagger.stride == 3 and tagger.max_length == 12


@pytest.mark.parametrize("variant", ["fp32", "int8"])
def test_offsets_are_exact(entities_bundle, variant):
    tagger = edgeft_runtime.load(entities_bundle, variant=variant)
    texts = ["Anna met Otto in Paris.", "Zoë  visited 😀 BERLIN", "北京 anna", "", " ", "otto\tin\nparis"]
    for aggregation in ("first", "average", "max"):
        results = tagger.tag(texts, aggregation=aggregation)
        assert len(results) == len(texts) and results[3] == [] and results[4] == []
        for text, entities in zip(texts, results):
            for e in entities:
                assert set(e) == {"entity", "text", "start", "end", "score"}
                assert text[e["start"] : e["end"]] == e["text"] and e["text"].strip() == e["text"]
                assert e["entity"] in ("PER", "LOC") and 0 <= e["score"] <= 1


def test_long_text_is_windowed_not_cut(entities_bundle):
    tagger = edgeft_runtime.load(entities_bundle, variant="fp32")
    text = "anna met otto in paris . " * 10
    tokens, (logits,) = tagger.token_logits(text)
    assert logits.shape == (len(tokens[0]), len(tagger.labels)) and len(tokens[0]) == 60  # 6 windows of 10
    entities = tagger.tag(text)
    assert max(e["end"] for e in entities) > len(text) // 2
    # batching does not change fp32 results
    assert tagger.tag([text, "anna in paris"], batch_size=1)[0] == entities


def test_single_text_and_bad_input(entities_bundle):
    tagger = edgeft_runtime.load(entities_bundle)
    assert tagger.tag("anna in paris") == tagger.tag(["anna in paris"])[0]
    with pytest.raises(TypeError):
        tagger.tag([b"bytes"])
    with pytest.raises(ValueError, match="aggregation"):
        tagger.tag("anna", aggregation="mean")


def test_bad_manifest_settings_are_refused(entities_bundle):
    from edgeft_runtime.constants import MANIFEST_FILE

    path = entities_bundle / MANIFEST_FILE
    manifest = json.loads(path.read_text())
    manifest["ner"]["aggregation"] = "median"
    path.write_text(json.dumps(manifest))
    with pytest.raises(BundleError, match="ner.aggregation 'median'"):
        edgeft_runtime.load(entities_bundle)
    manifest["ner"] = {"scheme": "BIOES"}
    path.write_text(json.dumps(manifest))
    with pytest.raises(BundleError, match="ner.scheme 'BIOES'"):
        edgeft_runtime.load(entities_bundle)


def test_word_scores_are_probabilities(entities_bundle):
    from edgeft_runtime import ner

    tagger = edgeft_runtime.load(entities_bundle)
    tokens, (logits,) = tagger.token_logits("anna met otto")
    for aggregation in ner.AGGREGATIONS:
        probs = ner.word_scores(logits, tokens[0].words, aggregation)
        assert probs.shape == (3, len(tagger.labels)) and np.allclose(probs.sum(-1), 1.0, atol=1e-5)


def test_bundle_without_word_split_keeps_the_tokenizer_words(entities_bundle):
    # The committed fixture predates ner.word_split: its words stay the tokenizer's, as before.
    from edgeft_runtime.constants import MANIFEST_FILE

    assert "word_split" not in json.loads((entities_bundle / MANIFEST_FILE).read_text())["ner"]
    tagger = edgeft_runtime.load(entities_bundle, variant="fp32")
    assert tagger.word_split == "tokenizer"
    tokens, _ = tagger.token_logits("otto in paris.")
    assert int(tokens[0].words[-1]) + 1 == 4  # otto / in / paris / .


def _with_word_split(bundle, value):
    from edgeft_runtime.constants import MANIFEST_FILE

    path = bundle / MANIFEST_FILE
    manifest = json.loads(path.read_text())
    manifest["ner"]["word_split"] = value
    path.write_text(json.dumps(manifest))


def test_whitespace_word_split_from_the_manifest(entities_bundle):
    plain = edgeft_runtime.load(entities_bundle, variant="fp32")
    _with_word_split(entities_bundle, "whitespace")
    tagger = edgeft_runtime.load(entities_bundle, variant="fp32")
    assert tagger.word_split == "whitespace"
    texts = ["otto in paris.", "anna met otto in paris . " * 4, "Zoë (anna) met\totto"]
    tokens, logits = tagger.token_logits(texts)
    plain_tokens, plain_logits = plain.token_logits(texts)
    assert int(tokens[0].words[-1]) + 1 == 3  # otto / in / paris.
    # the committed model tags paris as LOC: the entity is its whole whitespace word
    assert [e["text"] for e in plain.tag(texts[0])] == ["otto", "paris"]
    assert [e["text"] for e in tagger.tag(texts[0])] == ["otto", "paris."]
    for a, b, la, lb in zip(tokens, plain_tokens, logits, plain_logits):
        assert a.ids.tolist() == b.ids.tolist()  # same tokens and logits: only the words differ
        np.testing.assert_allclose(la, lb, atol=1e-6)
    for text, entities in zip(texts, tagger.tag(texts)):
        for e in entities:
            # an entity is made of whole whitespace-delimited words
            assert text[e["start"] : e["end"]] == e["text"]
            assert e["start"] == 0 or text[e["start"] - 1].isspace()
            assert e["end"] == len(text) or text[e["end"]].isspace()


def test_unknown_word_split_in_the_manifest_is_refused(entities_bundle):
    _with_word_split(entities_bundle, "spaces")
    with pytest.raises(BundleError, match="ner.word_split 'spaces' is not one of whitespace, tokenizer"):
        edgeft_runtime.load(entities_bundle)
