"""Classifier bundles: predictions, probabilities, batching with dynamic padding, threads."""

from __future__ import annotations

import numpy as np
import pytest

import edgeft_runtime
from edgeft_runtime.ops import sigmoid, softmax

TEXTS = ["good film", "the plot was awful and poor", "", "really " * 60, "great story, lovely", "sad"]


def test_single_label_predict(sentiment_bundle):
    clf = edgeft_runtime.load(sentiment_bundle)
    assert clf.variant == "int8" and clf.labels == ["neg", "pos"]
    results = clf.predict(["good film", "awful plot"])
    assert [r["label"] for r in results] == ["pos", "neg"]
    assert all(0.5 <= r["score"] <= 1.0 for r in results)
    single = clf.predict("good film")
    # int8 quantises activations per batch, so batch-mates move scores in the 3rd-4th decimal
    assert single["label"] == results[0]["label"] and single["score"] == pytest.approx(results[0]["score"], abs=0.01)


def test_probabilities_are_softmax_of_logits(sentiment_bundle):
    clf = edgeft_runtime.load(sentiment_bundle, variant="fp32")
    probs = clf.predict_proba(TEXTS)
    assert probs.shape == (len(TEXTS), 2)
    np.testing.assert_allclose(probs.sum(1), 1.0, rtol=1e-6)
    np.testing.assert_allclose(probs, softmax(clf.run_output(TEXTS, "logits")), rtol=1e-6)


def test_batching_and_padding_do_not_change_results(sentiment_bundle):
    clf = edgeft_runtime.load(sentiment_bundle, variant="fp32")
    one_by_one = np.stack([clf.predict_proba([t])[0] for t in TEXTS])
    for batch_size in (1, 2, 4, 32):
        np.testing.assert_allclose(clf.predict_proba(TEXTS, batch_size=batch_size), one_by_one, atol=1e-5)
    reordered = clf.predict_proba(TEXTS[::-1])
    np.testing.assert_allclose(reordered[::-1], one_by_one, atol=1e-5)


def test_dynamic_padding_pads_to_the_batch_not_max_length(sentiment_bundle):
    clf = edgeft_runtime.load(sentiment_bundle)
    arrays = clf.tokenizer.to_arrays(clf.tokenizer.encode(["good film", "good"]))
    assert arrays["input_ids"].shape == (2, 4)
    assert arrays["attention_mask"].tolist() == [[1, 1, 1, 1], [1, 1, 1, 0]]
    long = clf.tokenizer.encode(["really " * 100])[0]
    assert len(long.ids) == clf.manifest["max_length"]


def test_multi_label_uses_sigmoid_and_threshold(topics_bundle):
    clf = edgeft_runtime.load(topics_bundle)
    assert clf.multi_label and clf.labels == ["music", "science", "sport"]
    probs = clf.predict_proba(TEXTS)
    np.testing.assert_allclose(probs, sigmoid(clf.run_output(TEXTS, "logits")), rtol=1e-6)
    for row, result in zip(probs, clf.predict(TEXTS)):
        expected = {clf.labels[i] for i in np.flatnonzero(row >= clf.threshold)}
        assert {r["label"] for r in result} == expected
        assert [r["score"] for r in result] == sorted((r["score"] for r in result), reverse=True)


def test_empty_input_and_types(sentiment_bundle):
    clf = edgeft_runtime.load(sentiment_bundle)
    assert clf.predict([]) == []
    assert clf.predict_proba([]).shape == (0, 2)
    with pytest.raises(TypeError, match=r"texts\[1\] is int"):
        clf.predict(["ok", 3])
    with pytest.raises(TypeError, match="not bytes"):
        clf.predict(b"bytes")


def test_threads_and_variant_options(sentiment_bundle):
    a = edgeft_runtime.load(sentiment_bundle, variant="fp32", threads=1)
    b = edgeft_runtime.load(sentiment_bundle, variant="model.onnx", threads=2, spinning=False)
    assert a.variant == b.variant == "fp32"
    np.testing.assert_allclose(a.predict_proba(TEXTS), b.predict_proba(TEXTS), atol=1e-6)
    with pytest.raises(edgeft_runtime.BundleError, match="no variant 'fp16'; this bundle has fp32, int8"):
        edgeft_runtime.load(sentiment_bundle, variant="fp16")


def test_int8_stays_close_to_fp32(sentiment_bundle):
    fp32 = edgeft_runtime.load(sentiment_bundle, variant="fp32").predict_proba(TEXTS)
    int8 = edgeft_runtime.load(sentiment_bundle, variant="int8").predict_proba(TEXTS)
    assert np.abs(fp32 - int8).max() < 0.1
